//! xDS limits (issue 11, DESIGN.md "Trust boundaries"): a hostile or broken
//! client is refused with the right gRPC status — streams beyond the global cap,
//! a stream that never sends, too many names, too large a message, an overlong
//! node id, an oversized NACK detail — while a real Envoy keeps being served;
//! and first-sync turns, which a client that never ACKs holds only so long.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient;
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
};
use envoy_types::pb::google::rpc::Status as RpcStatus;
use interlock::snapshot::{ResourceType, SnapshotStore};
use interlock::xds::XdsLimits;
use support::routes::{acked_routes, host, upstream_name, Routes};
use support::{get, wait_for, ControlPlane, Envoy, EnvoyOptions};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::{Code, Streaming};

const CONVERGE: Duration = Duration::from_secs(30);
/// How long a refusal may take to arrive.
const ANSWER: Duration = Duration::from_secs(5);

fn plane(routes: &Routes, ids: &[usize], limits: XdsLimits) -> ControlPlane {
    let store = SnapshotStore::new();
    store.publish(routes.snapshot(ids.iter().copied()));
    ControlPlane::start_with(0, store, |server| server.with_limits(limits))
}

async fn connect(port: u16) -> AggregatedDiscoveryServiceClient<Channel> {
    AggregatedDiscoveryServiceClient::connect(format!("http://127.0.0.1:{port}"))
        .await
        .expect("connect")
}

fn node(id: &str) -> Option<Node> {
    Some(Node {
        id: id.to_owned(),
        cluster: "limits".into(),
        ..Node::default()
    })
}

fn sotw(node_id: &str, kind: ResourceType, names: Vec<String>) -> DiscoveryRequest {
    DiscoveryRequest {
        node: node(node_id),
        type_url: kind.type_url().into(),
        resource_names: names,
        ..DiscoveryRequest::default()
    }
}

fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("cluster-{i:06}")).collect()
}

/// A SotW stream: the sender of its requests (kept open) and its responses,
/// or the status the stream was refused with.
type SotwStream = (
    mpsc::Sender<DiscoveryRequest>,
    Result<Streaming<DiscoveryResponse>, tonic::Status>,
);

async fn open_sotw(
    client: &mut AggregatedDiscoveryServiceClient<Channel>,
    first: Option<DiscoveryRequest>,
) -> SotwStream {
    let (tx, rx) = mpsc::channel(4);
    if let Some(first) = first {
        tx.send(first).await.expect("send");
    }
    let opened = client
        .stream_aggregated_resources(ReceiverStream::new(rx))
        .await
        .map(tonic::Response::into_inner);
    (tx, opened)
}

/// A SotW stream whose first request asks for every cluster as `node_id`.
async fn open_cds(
    client: &mut AggregatedDiscoveryServiceClient<Channel>,
    node_id: &str,
) -> SotwStream {
    open_sotw(client, Some(sotw(node_id, ResourceType::Cluster, vec![]))).await
}

/// The status a stream ends with (its responses skipped), within [`ANSWER`].
async fn end_status<T>(responses: &mut Streaming<T>) -> tonic::Status {
    tokio::time::timeout(ANSWER, async {
        loop {
            match responses.message().await {
                Ok(Some(_)) => continue,
                Ok(None) => return tonic::Status::ok("ended without an error"),
                Err(status) => return status,
            }
        }
    })
    .await
    .expect("the stream to end")
}

/// The first response of an accepted stream, within [`ANSWER`].
async fn first_answer(responses: &mut Streaming<DiscoveryResponse>) -> DiscoveryResponse {
    tokio::time::timeout(ANSWER, responses.message())
        .await
        .expect("an answer")
        .expect("no error")
        .expect("a response")
}

/// The status a stream was refused with: at open, or as its first answer.
async fn refusal(stream: SotwStream) -> tonic::Status {
    match stream.1 {
        Err(status) => status,
        Ok(mut responses) => end_status(&mut responses).await,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_past_the_global_cap_are_refused_while_envoy_keeps_getting_updates() {
    const CAP: usize = 8;
    let routes = Routes::start(2).await;
    let cp = plane(
        &routes,
        &[0],
        XdsLimits {
            max_streams: CAP,
            first_request_timeout: Duration::from_secs(60),
            ..XdsLimits::default()
        },
    );
    let envoy = Envoy::start(EnvoyOptions::new(cp.port, false)).await;
    let envoy_node = envoy.options().node_id.clone();
    wait_for(CONVERGE, "Envoy to ACK route 0", || async {
        acked_routes(&cp.tracker, &envoy_node) == BTreeSet::from([0])
    })
    .await;

    // The Envoy holds one stream; a client takes the rest, on two connections.
    let mut held = Vec::new();
    let mut clients = [connect(cp.port).await, connect(cp.port).await];
    for i in 0..CAP - 1 {
        let request = sotw(&format!("hog-{i}"), ResourceType::Cluster, vec![]);
        let (tx, opened) = open_sotw(&mut clients[i % 2], Some(request)).await;
        let responses = opened.unwrap_or_else(|s| panic!("stream {i} under the cap: {s:?}"));
        held.push((tx, responses));
    }
    for i in 0..5 {
        let request = sotw(&format!("over-{i}"), ResourceType::Cluster, vec![]);
        let status = refusal(open_sotw(&mut clients[i % 2], Some(request)).await).await;
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    }

    // The Envoy connected meanwhile still gets updates, and serves them.
    assert!(cp.store.publish(routes.snapshot([0, 1])));
    wait_for(CONVERGE, "Envoy to ACK routes 0 and 1", || async {
        acked_routes(&cp.tracker, &envoy_node) == BTreeSet::from([0, 1])
    })
    .await;
    let served = get(routes.listener_addr(), &host(1), "/")
        .await
        .expect("request");
    assert_eq!(served.status, 200, "{}", envoy.log());
    assert_eq!(served.body, upstream_name(1));

    // Slots are freed when streams end.
    held.clear();
    wait_for(ANSWER, "a stream to be accepted again", || async {
        let mut client = connect(cp.port).await;
        let (_tx, opened) = open_cds(&mut client, "after").await;
        match opened {
            Ok(mut responses) => tokio::time::timeout(ANSWER, responses.message())
                .await
                .is_ok_and(|r| r.is_ok_and(|m| m.is_some())),
            Err(_) => false,
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_never_sends_is_closed_after_the_first_request_timeout() {
    const TIMEOUT: Duration = Duration::from_millis(400);
    let routes = Routes::start(1).await;
    let cp = plane(
        &routes,
        &[0],
        XdsLimits {
            max_streams: 1,
            first_request_timeout: TIMEOUT,
            ..XdsLimits::default()
        },
    );
    let mut client = connect(cp.port).await;
    let started = Instant::now();
    let (_tx, opened) = open_sotw(&mut client, None).await;
    let mut responses = opened.expect("the stream is accepted");
    let status = end_status(&mut responses).await;
    let waited = started.elapsed();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(
        waited >= TIMEOUT && waited < TIMEOUT + Duration::from_secs(3),
        "closed after {waited:?}"
    );
    // Its slot under the cap (of one stream) is free again.
    let (_tx, opened) = open_cds(&mut client, "after").await;
    let mut responses = opened.expect("a new stream is accepted");
    let first = tokio::time::timeout(ANSWER, responses.message())
        .await
        .expect("an answer")
        .expect("no error");
    assert!(first.is_some_and(|r| !r.resources.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribing_to_more_names_than_the_cap_is_refused() {
    const CAP: usize = 1000;
    let routes = Routes::start(1).await;
    let cp = plane(
        &routes,
        &[0],
        XdsLimits {
            max_names: CAP,
            ..XdsLimits::default()
        },
    );
    let mut client = connect(cp.port).await;
    // SotW: the cap is accepted (the stream stays open), one more is refused.
    let at_cap = sotw("sotw-at-cap", ResourceType::Endpoints, names(CAP));
    let (_tx, opened) = open_sotw(&mut client, Some(at_cap)).await;
    let mut responses = opened.expect("accepted");
    let quiet = tokio::time::timeout(Duration::from_millis(500), responses.message()).await;
    assert!(
        quiet.is_err() || quiet.as_ref().is_ok_and(|r| r.is_ok()),
        "{quiet:?}"
    );
    let over = sotw("sotw-over", ResourceType::Endpoints, names(CAP + 1));
    let status = refusal(open_sotw(&mut client, Some(over)).await).await;
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(cp.tracker.node("sotw-over").is_none_or(|n| n.streams == 0));

    // Delta: what is already subscribed counts.
    let (tx, rx) = mpsc::channel(4);
    let delta = |names: Vec<String>| DeltaDiscoveryRequest {
        node: node("delta-over"),
        type_url: ResourceType::Endpoints.type_url().into(),
        resource_names_subscribe: names,
        ..DeltaDiscoveryRequest::default()
    };
    tx.send(delta(names(600))).await.expect("send");
    let mut responses: Streaming<DeltaDiscoveryResponse> = client
        .delta_aggregated_resources(ReceiverStream::new(rx))
        .await
        .expect("accepted")
        .into_inner();
    let more: Vec<String> = (0..401).map(|i| format!("more-{i}")).collect();
    tx.send(delta(more)).await.expect("send");
    let status = end_status(&mut responses).await;
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_over_the_message_size_limit_is_refused() {
    const MAX: usize = 64 * 1024;
    let routes = Routes::start(1).await;
    let cp = plane(
        &routes,
        &[0],
        XdsLimits {
            max_message_bytes: MAX,
            ..XdsLimits::default()
        },
    );
    let mut client = connect(cp.port).await;
    // ~100 KiB of names: under the name cap, over the size limit.
    let big: Vec<String> = (0..1600).map(|i| format!("{i:064}")).collect();
    let request = sotw("big", ResourceType::Endpoints, big);
    let status = refusal(open_sotw(&mut client, Some(request)).await).await;
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(cp.tracker.node("big").is_none());
    // A normal request on the same connection is still served.
    let (_tx, opened) = open_cds(&mut client, "small").await;
    let mut responses = opened.expect("accepted");
    first_answer(&mut responses).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overlong_node_id_is_refused() {
    let routes = Routes::start(1).await;
    let cp = plane(&routes, &[0], XdsLimits::default());
    let max = XdsLimits::default().max_node_id_bytes;
    let mut client = connect(cp.port).await;
    let long = "n".repeat(max + 1);
    let request = sotw(&long, ResourceType::Cluster, vec![]);
    let status = refusal(open_sotw(&mut client, Some(request)).await).await;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(cp.tracker.node(&long).is_none());
    let control = sotw("line\nbreak", ResourceType::Cluster, vec![]);
    let status = refusal(open_sotw(&mut client, Some(control)).await).await;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    // Exactly the limit is fine.
    let fits = "n".repeat(max);
    let request = sotw(&fits, ResourceType::Cluster, vec![]);
    let (_tx, opened) = open_sotw(&mut client, Some(request)).await;
    let mut responses = opened.expect("accepted");
    first_answer(&mut responses).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nack_error_detail_is_truncated_before_it_is_kept() {
    let routes = Routes::start(1).await;
    let cp = plane(&routes, &[0], XdsLimits::default());
    let max = XdsLimits::default().max_error_detail_bytes;
    let mut client = connect(cp.port).await;
    let (tx, opened) = open_sotw(
        &mut client,
        Some(sotw("nacker", ResourceType::Cluster, vec![])),
    )
    .await;
    let mut responses = opened.expect("accepted");
    let first = first_answer(&mut responses).await;
    let huge = format!("bad cluster\n{}", "x".repeat(1 << 20));
    tx.send(DiscoveryRequest {
        response_nonce: first.nonce.clone(),
        error_detail: Some(RpcStatus {
            code: 3,
            message: huge,
            details: vec![],
        }),
        ..sotw("nacker", ResourceType::Cluster, vec![])
    })
    .await
    .expect("NACK");
    wait_for(ANSWER, "the NACK to be recorded", || async {
        cp.tracker
            .node("nacker")
            .is_some_and(|n| n.types[ResourceType::Cluster].last_nack.is_some())
    })
    .await;
    let nack = cp.tracker.node("nacker").expect("node").types[ResourceType::Cluster]
        .last_nack
        .clone()
        .expect("NACK");
    assert!(nack.error.starts_with("bad cluster\n"), "{}", nack.error);
    assert!(
        nack.error.len() <= max + 32,
        "kept {} bytes",
        nack.error.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_beyond_the_per_connection_limit_wait_for_another_connection() {
    let routes = Routes::start(1).await;
    let cp = plane(
        &routes,
        &[0],
        XdsLimits {
            max_streams_per_connection: 2,
            first_request_timeout: Duration::from_secs(60),
            ..XdsLimits::default()
        },
    );
    let mut client = connect(cp.port).await;
    let mut held = Vec::new();
    for i in 0..2 {
        let request = sotw(&format!("conn-{i}"), ResourceType::Cluster, vec![]);
        let (tx, opened) = open_sotw(&mut client, Some(request)).await;
        held.push((tx, opened.expect("under the per-connection limit")));
    }
    // The third stream on this connection is not opened (HTTP/2 holds it back).
    let mut third = client.clone();
    let waiting = tokio::time::timeout(
        Duration::from_millis(500),
        open_sotw(
            &mut third,
            Some(sotw("conn-2", ResourceType::Cluster, vec![])),
        ),
    )
    .await;
    assert!(waiting.is_err(), "a third stream opened on one connection");
    assert!(cp.tracker.node("conn-2").is_none());
    // Another connection is not affected.
    let mut other = connect(cp.port).await;
    let (_tx, opened) = open_sotw(
        &mut other,
        Some(sotw("other", ResourceType::Cluster, vec![])),
    )
    .await;
    opened.expect("another connection opens a stream");
}

/// A control plane serving route 0 with a single first-sync turn, held at most `hold`.
fn one_turn_plane(routes: &Routes, hold: Duration) -> ControlPlane {
    let limits = XdsLimits {
        max_initial_syncs: 1,
        initial_sync_hold: hold,
        ..XdsLimits::default()
    };
    plane(routes, &[0], limits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_sync_turn_ends_when_the_envoy_is_in_sync() {
    let routes = Routes::start(1).await;
    // One turn, held for longer than the test waits: only getting in sync can
    // hand it on.
    let cp = one_turn_plane(&routes, Duration::from_secs(600));
    let envoy = Envoy::start(EnvoyOptions::new(cp.port, false)).await;
    let envoy_node = envoy.options().node_id.clone();
    wait_for(CONVERGE, "Envoy to ACK route 0", || async {
        acked_routes(&cp.tracker, &envoy_node) == BTreeSet::from([0])
    })
    .await;
    let mut client = connect(cp.port).await;
    let (_tx, opened) = open_cds(&mut client, "next").await;
    let answer = first_answer(&mut opened.expect("the stream is accepted")).await;
    assert!(!answer.resources.is_empty(), "{answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_acks_keeps_its_first_sync_turn_no_longer_than_the_hold() {
    const HOLD: Duration = Duration::from_secs(3);
    let routes = Routes::start(1).await;
    let cp = one_turn_plane(&routes, HOLD);
    let mut client = connect(cp.port).await;
    // The hog takes the only turn, gets its clusters and never ACKs them.
    let started = Instant::now();
    let (_hog_tx, opened) = open_cds(&mut client, "hog").await;
    let mut hog = opened.expect("the hog's stream is accepted");
    first_answer(&mut hog).await;
    // The next stream waits for the turn...
    let (_tx, opened) = open_cds(&mut client, "next").await;
    let mut next = opened.expect("the stream is accepted");
    let early = tokio::time::timeout(Duration::from_millis(300), next.message()).await;
    assert!(early.is_err(), "answered while the hog held the turn");
    // ...and is answered once the hog's turn has run out.
    let answer = tokio::time::timeout(HOLD + ANSWER, next.message())
        .await
        .expect("an answer after the hold")
        .expect("no error")
        .expect("a response");
    assert!(!answer.resources.is_empty());
    assert!(
        started.elapsed() >= HOLD,
        "answered after {:?}",
        started.elapsed()
    );
}

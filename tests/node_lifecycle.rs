//! Per-node state ends with the node: a grace period after a node's last
//! stream closed, the ACK tracker and `/metrics` hold nothing of it (Envoy pods
//! are named by pod name, so every rollout brings new nodes).

mod support;

use std::time::Duration;

use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient;
use envoy_types::pb::envoy::service::discovery::v3::DiscoveryRequest;
use interlock::admin::AdminServices;
use interlock::pipeline::StatusHandle;
use interlock::snapshot::{ResourceType, SnapshotStore};
use interlock::xds::AckTracker;
use support::routes::Routes;
use support::{wait_for, ControlPlane};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;

const NODES: usize = 200;
/// Long enough for all visits (concurrent) to be seen before any is forgotten.
const GRACE: Duration = Duration::from_secs(5);

/// Connects as `node`, takes the clusters and ACKs them, then leaves.
async fn visit(port: u16, node: String) {
    let mut client = AggregatedDiscoveryServiceClient::connect(format!("http://127.0.0.1:{port}"))
        .await
        .expect("connect");
    let (tx, rx) = mpsc::channel(4);
    let request = |version: &str, nonce: &str| DiscoveryRequest {
        node: Some(Node {
            id: node.clone(),
            cluster: "lifecycle".into(),
            ..Node::default()
        }),
        type_url: ResourceType::Cluster.type_url().into(),
        version_info: version.into(),
        response_nonce: nonce.into(),
        ..DiscoveryRequest::default()
    };
    tx.send(request("", "")).await.expect("send");
    let mut responses = client
        .stream_aggregated_resources(ReceiverStream::new(rx))
        .await
        .expect("stream")
        .into_inner();
    let first = responses
        .next()
        .await
        .expect("a response")
        .expect("no error");
    tx.send(request(&first.version_info, &first.nonce))
        .await
        .expect("ACK");
    // Let the ACK land before leaving.
    tokio::time::sleep(Duration::from_millis(20)).await;
}

/// `/metrics` as Prometheus reads it.
async fn scrape(mut router: axum::Router) -> String {
    use tonic::codegen::Service;
    let request = axum::http::Request::get("/metrics")
        .body(axum::body::Body::empty())
        .expect("request");
    let response = router.call(request).await.expect("infallible");
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    String::from_utf8_lossy(&body).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn departed_nodes_leave_the_tracker_and_metrics_after_the_grace() {
    let routes = Routes::start(1).await;
    let store = SnapshotStore::new();
    store.publish(routes.snapshot([0]));
    let tracker = AckTracker::new().with_departure_grace(GRACE);
    let plane = ControlPlane::start_tracking(0, store.clone(), tracker.clone(), |s| s);
    let services = AdminServices::new(store, tracker.clone(), StatusHandle::default());
    let metrics = || scrape(services.public.clone());
    let visits: Vec<_> = (0..NODES)
        .map(|i| tokio::spawn(visit(plane.port, format!("pod-{i:03}"))))
        .collect();
    for visit in visits {
        visit.await.expect("visit");
    }
    wait_for(GRACE, "every visit to be seen and ended", || async {
        let nodes = tracker.nodes();
        nodes.len() == NODES && nodes.values().all(|n| n.streams == 0)
    })
    .await;
    wait_for(
        Duration::from_secs(30),
        "ACK latency series for the visitors",
        || async { metrics().await.contains("pod-199") },
    )
    .await;
    wait_for(
        Duration::from_secs(30),
        "departed nodes to be forgotten",
        || async { tracker.nodes().is_empty() },
    )
    .await;
    wait_for(
        Duration::from_secs(30),
        "their metric series to go",
        || async { !metrics().await.contains("pod-") },
    )
    .await;
    // A node that comes back is tracked anew.
    visit(plane.port, "pod-000".into()).await;
    wait_for(
        Duration::from_secs(30),
        "a returning node to be tracked",
        || async { tracker.node("pod-000").is_some() },
    )
    .await;
}

//! A client naming a million resources (issue 11) is refused without the
//! server's memory growing by more than its caps allow. The server is
//! `interlock serve` in its own process, so its peak RSS (`VmHWM`) is what the
//! kernel says, not an estimate; the caps are the defaults an operator gets.

mod support;

use std::time::Duration;

use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient;
use envoy_types::pb::envoy::service::discovery::v3::{DeltaDiscoveryRequest, DiscoveryRequest};
use interlock::bench::process_usage::ProcessUsage;
use interlock::snapshot::ResourceType;
use support::gateway::{service_yaml, simple_ingress};
use support::InterlockProcess;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;

const STARTUP: Duration = Duration::from_secs(60);
const ANSWER: Duration = Duration::from_secs(30);
const MILLION: usize = 1_000_000;
/// The defaults: `--xds-max-names` and `--xds-max-message-bytes`.
const MAX_NAMES: usize = 100_000;
const MAX_MESSAGE: u64 = 16 * 1024 * 1024;
/// What the caps allow a client to cost: a message of the largest size buffered
/// (twice, as the buffer grows), and a subscription of the largest count. A
/// subscribed name the server does not have is kept in the subscription, in the
/// names answered missing and in the response in flight: about 350 bytes each
/// (measured). Without the names cap the million names cost ten times as much.
const ALLOWED_GROWTH: u64 = 2 * MAX_MESSAGE + MAX_NAMES as u64 * 400;

fn names(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix}{i:07}")).collect()
}

fn node(id: &str) -> Option<Node> {
    Some(Node {
        id: id.to_owned(),
        ..Node::default()
    })
}

fn peak(server: &InterlockProcess) -> u64 {
    ProcessUsage::read(server.pid())
        .expect("server's /proc entry")
        .peak_rss_bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_naming_a_million_resources_is_refused_within_the_caps_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ingress_dir = dir.path().join("ingresses");
    std::fs::create_dir(&ingress_dir).expect("ingress dir");
    let app = format!(
        "{}---\n{}",
        service_yaml("names", "app", Some(([127, 0, 0, 1], 9).into())),
        simple_ingress("names", "app", "app.example", "app")
    );
    std::fs::write(ingress_dir.join("app.yaml"), app).expect("write config");
    let server = InterlockProcess::start_files(&ingress_dir, dir.path(), "names", &[]);
    server.wait_ready(STARTUP).await;
    let mut client =
        AggregatedDiscoveryServiceClient::connect(format!("http://127.0.0.1:{}", server.xds_port))
            .await
            .expect("connect")
            .max_encoding_message_size(usize::MAX);
    let before = peak(&server);

    // SotW: one request of a million names (15 MB, under the message cap), three times.
    for attempt in 0..3 {
        let request = DiscoveryRequest {
            node: node(&format!("sotw-million-{attempt}")),
            type_url: ResourceType::Endpoints.type_url().into(),
            resource_names: names("c-", 0..MILLION),
            ..DiscoveryRequest::default()
        };
        let (tx, rx) = mpsc::channel(1);
        tx.send(request).await.expect("send");
        let status = tokio::time::timeout(ANSWER, async {
            let mut responses = client
                .stream_aggregated_resources(ReceiverStream::new(rx))
                .await?
                .into_inner();
            responses.message().await.map(|_| ())
        })
        .await
        .expect("an answer")
        .expect_err("refused");
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    }

    // Delta: a million names in chunks on one stream; the first chunk fits.
    let (tx, rx) = mpsc::channel(16);
    let mut responses = client
        .delta_aggregated_resources(ReceiverStream::new(rx))
        .await
        .expect("delta stream")
        .into_inner();
    for (i, start) in (0..MILLION).step_by(MAX_NAMES).enumerate() {
        let request = DeltaDiscoveryRequest {
            node: (i == 0).then(|| Node {
                id: "delta-million".into(),
                ..Node::default()
            }),
            type_url: ResourceType::Endpoints.type_url().into(),
            resource_names_subscribe: names("d-", start..start + MAX_NAMES),
            ..DeltaDiscoveryRequest::default()
        };
        if tx.send(request).await.is_err() {
            break;
        }
    }
    let status = tokio::time::timeout(ANSWER, async {
        loop {
            match responses.message().await {
                Ok(Some(_)) => continue,
                Ok(None) => return None,
                Err(status) => return Some(status),
            }
        }
    })
    .await
    .expect("an answer")
    .expect("refused with a status");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");

    let growth = peak(&server).saturating_sub(before);
    assert!(
        growth <= ALLOWED_GROWTH,
        "server peak RSS grew {} MB, more than the {} MB the caps allow",
        growth / 1_000_000,
        ALLOWED_GROWTH / 1_000_000
    );
    eprintln!(
        "server peak RSS growth: {:.1} MB (allowed {:.1} MB)",
        growth as f64 / 1e6,
        ALLOWED_GROWTH as f64 / 1e6
    );
    assert!(
        server.readyz().await == Some(200),
        "the server still serves; log:\n{}",
        server.log()
    );
}

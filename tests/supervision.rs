//! Supervision and admin hardening (issue 11, items 3 and 4): a supervised
//! task that dies makes `/healthz` fail and `serve` exit non-zero; slow or
//! idle admin clients (slowloris) neither delay `/healthz` for others nor stay
//! connected past the header-read timeout; the admin connection cap closes
//! connections beyond it at once.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient;
use envoy_types::pb::envoy::service::discovery::v3::{DiscoveryRequest, DiscoveryResponse};
use interlock::snapshot::ResourceType;
use support::InterlockProcess;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// Generous: how long a process may take to start and become ready.
const READY: Duration = Duration::from_secs(30);

/// A `serve --ingress-dir` on an empty directory, with `extra` flags.
fn serve(dir: &tempfile::TempDir, name: &str, extra: &[&str]) -> InterlockProcess {
    let ingress = dir.path().join("ingress");
    std::fs::create_dir_all(&ingress).expect("ingress dir");
    InterlockProcess::start_files(&ingress, dir.path(), name, extra)
}

/// An ADS stream held open (so the drain after a failure waits for it).
async fn hold_ads_stream(
    port: u16,
) -> (
    mpsc::Sender<DiscoveryRequest>,
    tonic::Streaming<DiscoveryResponse>,
) {
    let mut client = AggregatedDiscoveryServiceClient::connect(format!("http://127.0.0.1:{port}"))
        .await
        .expect("connect to xDS");
    let (tx, rx) = mpsc::channel(4);
    tx.send(DiscoveryRequest {
        node: Some(Node {
            id: "supervision-test".into(),
            cluster: "supervision".into(),
            ..Node::default()
        }),
        type_url: ResourceType::Cluster.type_url().into(),
        ..DiscoveryRequest::default()
    })
    .await
    .expect("queue the first request");
    let mut responses = client
        .stream_aggregated_resources(ReceiverStream::new(rx))
        .await
        .expect("open the ADS stream")
        .into_inner();
    tokio::time::timeout(Duration::from_secs(10), responses.message())
        .await
        .expect("a first response")
        .expect("a response, not an error")
        .expect("a response, not the end");
    (tx, responses)
}

#[tokio::test]
async fn killing_the_pipeline_task_fails_healthz_and_serve_exits_non_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut interlock = serve(
        &dir,
        "abort-pipeline",
        &[
            "--test-abort-pipeline-after",
            "3s",
            "--drain-timeout",
            "20s",
        ],
    );
    interlock.wait_ready(READY).await;
    let healthy = interlock.admin_get("/healthz").await.expect("healthz");
    assert_eq!(healthy.status, 200, "{}", healthy.body);
    // A connected Envoy keeps the drain after the failure open, so the 503 is
    // observable before the process exits.
    let (stream, _responses) = hold_ads_stream(interlock.xds_port).await;

    let deadline = Instant::now() + Duration::from_secs(15);
    let unhealthy = loop {
        if let Some(r) = interlock.admin_get("/healthz").await {
            if r.status != 200 {
                break r;
            }
        }
        assert!(
            Instant::now() < deadline,
            "/healthz still 200 after the pipeline was aborted; log:\n{}",
            interlock.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(unhealthy.status, 503, "{}", unhealthy.body);
    assert!(
        unhealthy.body.contains("task pipeline was aborted"),
        "/healthz names the task and its cause: {}",
        unhealthy.body
    );
    let ready = interlock.readyz().await;
    assert_eq!(ready, Some(503), "not ready while failing");

    // The Envoy leaves: the drain ends and serve exits with an error.
    drop(stream);
    let success = interlock.wait_exit(Duration::from_secs(30)).await;
    let log = interlock.log();
    assert!(!success, "serve must exit non-zero; log:\n{log}");
    assert!(
        log.contains("a supervised task ended unexpectedly") && log.contains("pipeline"),
        "the failure is logged with its cause; log:\n{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.starts_with("Error: ") && l.contains("task pipeline was aborted")),
        "main returns the error; log:\n{log}"
    );
}

/// A client that sends `prefix`, then one more byte of `trickle` every 100 ms
/// (none when empty), and never completes a request. Returns how long the
/// server kept it open.
async fn slow_client(admin: SocketAddr, prefix: &'static [u8], trickle: &'static [u8]) -> Duration {
    let opened = Instant::now();
    let mut tcp = TcpStream::connect(admin).await.expect("connect to admin");
    let (mut read, mut write) = tcp.split();
    let writing = async {
        let _ = write.write_all(prefix).await;
        for byte in trickle.iter().cycle() {
            // Every byte counts for the server: none forms a complete request.
            tokio::time::sleep(Duration::from_millis(100)).await;
            if write.write_all(&[*byte]).await.is_err() {
                break;
            }
        }
        std::future::pending::<()>().await;
    };
    let closed = async {
        let mut buf = [0u8; 1024];
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    };
    tokio::select! {
        () = writing => {}
        () = closed => {}
    }
    opened.elapsed()
}

#[tokio::test]
async fn slowloris_clients_do_not_delay_healthz_and_are_closed_after_the_header_read_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let timeout = Duration::from_secs(2);
    let interlock = serve(&dir, "slowloris", &["--admin-header-read-timeout", "2s"]);
    interlock.wait_ready(READY).await;
    let admin = interlock.admin;

    // 50 slow connections: headers a byte at a time (HTTP/1.1), an HTTP/2
    // preface a byte at a time, and silence.
    let mut slow = tokio::task::JoinSet::new();
    for i in 0..50 {
        let (prefix, trickle): (&[u8], &[u8]) = match i % 3 {
            0 => (
                b"GET /healthz HTTP/1.1\r\n",
                b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaa",
            ),
            1 => (b"", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
            _ => (b"", b""),
        };
        slow.spawn(slow_client(admin, prefix, trickle));
    }
    // Meanwhile /healthz answers others (each within the client's 5 s timeout).
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..10 {
        let started = Instant::now();
        let r = interlock
            .admin_get("/healthz")
            .await
            .unwrap_or_else(|| panic!("/healthz did not answer; log:\n{}", interlock.log()));
        assert_eq!(r.status, 200, "{}", r.body);
        println!(
            "/healthz with 50 slow connections open: {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Every slow connection is closed once the header-read timeout has passed.
    let all_closed = tokio::time::timeout(timeout + Duration::from_secs(10), async {
        let mut open_for = Vec::new();
        while let Some(d) = slow.join_next().await {
            open_for.push(d.expect("slow client task"));
        }
        open_for
    })
    .await
    .expect("every slow connection is closed within the header-read timeout plus a margin");
    assert_eq!(all_closed.len(), 50);
    for d in &all_closed {
        assert!(
            *d >= timeout - Duration::from_millis(200),
            "a slow connection was closed after {d:?}, before the {timeout:?} timeout"
        );
    }
    let r = interlock
        .admin_get("/healthz")
        .await
        .expect("healthz after");
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn connections_beyond_the_admin_cap_are_closed_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let interlock = serve(
        &dir,
        "admin-cap",
        &[
            "--admin-max-connections",
            "8",
            "--admin-header-read-timeout",
            "30s",
        ],
    );
    interlock.wait_ready(READY).await;
    // Let the server see the probes' connections close (each held a slot).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(TcpStream::connect(interlock.admin).await.expect("connect"));
    }
    // Let the server accept them all.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut over = TcpStream::connect(interlock.admin).await.expect("connect");
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(5), over.read(&mut buf))
        .await
        .expect("the connection over the cap is closed at once");
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "closed, not answered: {read:?}"
    );
    // Once the held connections go, /healthz answers again.
    drop(held);
    support::wait_for(
        Duration::from_secs(10),
        "/healthz answers again",
        || async { interlock.admin_get("/healthz").await.map(|r| r.status) == Some(200) },
    )
    .await;
}

#[tokio::test]
async fn readyz_turns_false_while_a_synced_source_fails_longer_than_the_threshold() {
    let cluster = support::kube_cluster::KubeCluster::start().await;
    // The replica reaches the API server through a forwarder the test can cut.
    let forwarder = support::tcp_forwarder::TcpForwarder::start(cluster.api.addr()).await;
    let kubeconfig = cluster.dir.path().join("kubeconfig-forwarded");
    let yaml = cluster.api.kubeconfig_yaml().replace(
        &cluster.api.url(),
        &format!("http://127.0.0.1:{}", forwarder.port),
    );
    std::fs::write(&kubeconfig, yaml).expect("write kubeconfig");
    let interlock = InterlockProcess::start(
        &kubeconfig,
        cluster.dir.path(),
        "outage",
        None,
        &["--source-outage-unready-after", "1s"],
    );
    interlock.wait_ready(READY).await;

    // The API server becomes unreachable: new connections go nowhere.
    let nowhere = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = nowhere.local_addr().expect("addr");
    drop(nowhere);
    forwarder.switch(dead);
    cluster.api.drop_connections();
    support::wait_for(
        Duration::from_secs(20),
        "/readyz to report the outage",
        || async {
            interlock
                .admin_get("/readyz")
                .await
                .is_some_and(|r| r.status == 503 && r.body.contains("kube/Ingress failing for"))
        },
    )
    .await;
    // Alive all the same: an outage is not a reason to restart.
    let healthz = interlock.admin_get("/healthz").await.expect("healthz");
    assert_eq!(healthz.status, 200, "{}", healthz.body);

    // The API server is back; the watches restart from their last version
    // (no event until something changes), so expire them: they re-list.
    forwarder.switch(cluster.api.addr());
    // Expired until every kind has re-listed and /readyz is back.
    support::wait_for(Duration::from_secs(60), "ready again", || async {
        cluster.api.expire_watches();
        tokio::time::sleep(Duration::from_millis(200)).await;
        interlock.readyz().await == Some(200)
    })
    .await;
}

//! The admin gRPC API against a real Envoy through the file source: events,
//! unary queries, and `interlock wait` run as users run it (the binary).

mod support;

use std::net::SocketAddr;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use interlock::admin::grpc::{grpc_service, pb};
use interlock::admin::EventHub;
use pb::admin_client::AdminClient;
use pb::event::Event;
use support::gateway::{
    service_yaml, simple_ingress, tls_ingress_with_secret, weak_rsa_pem, FileGateway,
};
use support::{get, Upstream};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::net::TcpListener;
use tokio::process::{Child, ChildStdout};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::Channel;
use tonic::Streaming;

const CONVERGE: Duration = Duration::from_secs(30);

/// Serves the admin API for `gw` on a free loopback port.
async fn serve_admin(gw: &FileGateway) -> SocketAddr {
    let store = gw.plane.store.clone();
    let tracker = gw.plane.tracker.clone();
    let hub = EventHub::spawn(store.clone(), tracker.clone(), gw.status.clone());
    let service = grpc_service(hub, store, tracker, gw.status.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind admin");
    let addr = listener.local_addr().expect("admin addr");
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await
            .expect("admin server");
    });
    addr
}

async fn client(addr: SocketAddr) -> AdminClient<Channel> {
    AdminClient::connect(format!("http://{addr}"))
        .await
        .expect("connect to the admin API")
}

/// Events until `until` matches one (returned last), or panics after `CONVERGE`.
async fn events_until(
    stream: &mut Streaming<pb::Event>,
    until: impl Fn(&Event) -> bool,
) -> Vec<Event> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + CONVERGE;
    loop {
        let next = tokio::time::timeout_at(deadline, stream.message())
            .await
            .unwrap_or_else(|_| panic!("no matching event within {CONVERGE:?}; saw {seen:#?}"))
            .expect("event stream failed")
            .expect("event stream ended");
        let Some(event) = next.event else { continue };
        let done = until(&event);
        seen.push(event);
        if done {
            return seen;
        }
    }
}

/// Every event that arrives until the stream has been quiet for 500 ms.
async fn drain(stream: &mut Streaming<pb::Event>) -> Vec<Event> {
    let mut events = Vec::new();
    while let Ok(Ok(Some(e))) =
        tokio::time::timeout(Duration::from_millis(500), stream.message()).await
    {
        events.extend(e.event);
    }
    events
}

fn programmed(name: &str) -> impl Fn(&Event) -> bool + '_ {
    move |e| matches!(e, Event::IngressProgrammed(p) if p.ingress == name)
}

/// A gateway serving Service `app/x` (backed by `up`) and, already programmed,
/// an Ingress `app/seed` routing to it.
///
/// The seed makes `app/x`'s cluster exist before the tests add Ingresses: with
/// Envoy 1.40 a cluster added later is ACKed only after Envoy's 15 s EDS
/// `initial_fetch_timeout` (its CDS ACK waits for the cluster to warm while the
/// server holds EDS back until that ACK), which would eat most of `wait`'s timeout.
async fn seeded_gateway(up: &Upstream) -> FileGateway {
    let files = [
        ("svc.yaml", service_yaml("app", "x", Some(up.addr))),
        ("seed.yaml", simple_ingress("app", "seed", "seed.test", "x")),
    ];
    let gw = FileGateway::start(false, &files).await;
    gw.wait_host("seed.test").await;
    gw
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_and_queries_follow_an_ingress_onto_envoy() {
    let up = Upstream::start("x").await;
    let gw = seeded_gateway(&up).await;
    let addr = serve_admin(&gw).await;
    let mut admin = client(addr).await;
    let mut all = admin
        .watch_events(pb::WatchEventsRequest::default())
        .await
        .expect("WatchEvents")
        .into_inner();
    let mut others = admin
        .watch_events(pb::WatchEventsRequest {
            ingresses: vec!["app/other".into()],
        })
        .await
        .expect("filtered WatchEvents")
        .into_inner();

    gw.write("x.yaml", &simple_ingress("app", "x", "x.test", "x"));
    let mut seen = events_until(&mut all, programmed("app/x")).await;
    let published = seen
        .iter()
        .position(|e| matches!(e, Event::SnapshotPublished(_)))
        .unwrap_or_else(|| panic!("no SnapshotPublished before IngressProgrammed: {seen:#?}"));
    let Some(Event::IngressProgrammed(p)) = seen.last().cloned() else {
        unreachable!()
    };
    assert!(published < seen.len() - 1);
    assert!(
        seen.iter().any(|e| matches!(e, Event::SnapshotPublished(s)
            if s.changed.iter().any(|c| c == "Ingress app/x"))),
        "the publish names the Ingress it changed: {seen:#?}"
    );
    assert_eq!(p.nodes, [gw.node()]);
    // The RDS ACK that programmed it is reported too (the hub may see the ACK in
    // the tracker an instant before its event, so it may come just after).
    seen.extend(drain(&mut all).await);
    assert!(
        seen.iter().any(|e| matches!(e, Event::NodeAcked(a)
            if a.node == gw.node() && a.r#type == "RDS" && a.latency_ms.is_some())),
        "no RDS ACK with latency: {seen:#?}"
    );
    assert_eq!(up_status(&gw, "x.test").await, 200);

    // The filtered stream gets snapshot/node events but no Ingress event of app/x.
    let filtered = drain(&mut others).await;
    assert!(filtered
        .iter()
        .any(|e| matches!(e, Event::SnapshotPublished(_))));
    assert!(
        !filtered
            .iter()
            .any(|e| matches!(e, Event::IngressProgrammed(_) | Event::IngressRejected(_))),
        "{filtered:#?}"
    );

    // GetIngresses: programmed on the Envoy; unknown names reported as such.
    let ingresses = admin
        .get_ingresses(pb::GetIngressesRequest {
            names: vec!["app/x".into(), "app/nope".into()],
        })
        .await
        .expect("GetIngresses")
        .into_inner();
    assert!(ingresses.synced);
    assert_eq!(ingresses.unknown, ["app/nope"]);
    assert_eq!(ingresses.connected_nodes, [gw.node()]);
    let x = &ingresses.ingresses[0];
    assert_eq!(x.name, "app/x");
    assert!(x.programmed, "{x:?}");
    assert_eq!(x.programmed_on, [gw.node()]);
    assert!(x.pending_on.is_empty() && x.rejected.is_none());
    assert_eq!(x.version, ingresses.version);
    let bad = admin
        .get_ingresses(pb::GetIngressesRequest {
            names: vec!["no-namespace".into()],
        })
        .await
        .expect_err("a name without namespace");
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);

    // GetSnapshot: the store's snapshot, type by type.
    let current = gw.plane.store.current().expect("a snapshot");
    let snapshot = admin
        .get_snapshot(pb::GetSnapshotRequest::default())
        .await
        .expect("GetSnapshot")
        .into_inner();
    assert!(snapshot.published);
    assert_eq!(snapshot.version, current.version());
    let types: Vec<&str> = snapshot.types.iter().map(|t| t.r#type.as_str()).collect();
    assert_eq!(types, ["CDS", "EDS", "LDS", "RDS", "SDS"]);
    for t in &snapshot.types {
        assert_eq!(t.count, t.resources.len() as u64, "{t:?}");
        assert!(!t.version.is_empty() && t.type_url.starts_with("type.googleapis.com/"));
    }
    let rds = &snapshot.types[3];
    assert!(
        rds.resources
            .iter()
            .any(|r| r.name == "http" && !r.version.is_empty()),
        "{rds:?}"
    );
    let summary = admin
        .get_snapshot(pb::GetSnapshotRequest { summary_only: true })
        .await
        .expect("GetSnapshot summary")
        .into_inner();
    assert!(summary.types.iter().all(|t| t.resources.is_empty()));
    assert_eq!(summary.types[3].count, rds.count);

    // ListNodes: the Envoy, with what it ACKed.
    let nodes = admin
        .list_nodes(pb::ListNodesRequest {})
        .await
        .expect("ListNodes")
        .into_inner();
    let node = nodes
        .nodes
        .iter()
        .find(|n| n.id == gw.node())
        .unwrap_or_else(|| panic!("{} not listed: {nodes:?}", gw.node()));
    assert_eq!(node.streams, 1);
    let rds = &node.types[3];
    assert_eq!(rds.r#type, "RDS");
    assert!(!rds.acked_version.is_empty() && rds.responses_sent >= 1 && rds.acked_resources >= 1);
    assert!(rds.last_nack.is_none() && rds.last_ack_age_ms.is_some());

    // GetDiagnostics: an Ingress whose Service does not exist is reported.
    gw.write(
        "ghost.yaml",
        &simple_ingress("app", "ghost", "ghost.test", "ghost"),
    );
    events_until(&mut all, programmed("app/ghost")).await;
    let diagnostics = admin
        .get_diagnostics(pb::GetDiagnosticsRequest {})
        .await
        .expect("GetDiagnostics")
        .into_inner();
    assert!(diagnostics.synced && diagnostics.last_error.is_empty());
    assert!(
        diagnostics
            .diagnostics
            .iter()
            .any(|d| d.kind == "Ingress" && d.object == "app/ghost" && !d.message.is_empty()),
        "{diagnostics:#?}"
    );
}

async fn up_status(gw: &FileGateway, host: &str) -> u16 {
    get(gw.http(), host, "/")
        .await
        .unwrap_or_else(|e| panic!("GET {host}: {e}"))
        .status
}

/// Starts `interlock wait` with `args` against the admin API at `admin`.
fn spawn_wait(admin: SocketAddr, args: &[&str]) -> Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_interlock"))
        .arg("wait")
        .args(args)
        .args(["--admin-address", &admin.to_string()])
        .env_remove("RUST_BACKTRACE")
        .kill_on_drop(true)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start interlock wait")
}

/// Runs `interlock wait` with `args`, returning its output and how long it took.
async fn wait_cli(admin: SocketAddr, args: &[&str]) -> (Output, Duration) {
    let started = Instant::now();
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        spawn_wait(admin, args).wait_with_output(),
    )
    .await
    .expect("interlock wait hung")
    .expect("interlock wait output");
    (output, started.elapsed())
}

/// Reads `lines` into `printed` up to and including `line`; panics if the
/// output ends first or it takes longer than `CONVERGE`.
async fn read_until(lines: &mut Lines<BufReader<ChildStdout>>, printed: &mut String, line: &str) {
    let read = async {
        while let Some(next) = lines.next_line().await.expect("read wait's output") {
            *printed += &next;
            printed.push('\n');
            if next == line {
                return true;
            }
        }
        false
    };
    let found = tokio::time::timeout(CONVERGE, read).await;
    assert!(matches!(found, Ok(true)), "no line {line:?} in:\n{printed}");
}

fn text(output: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_returns_once_served_and_fails_fast_on_rejection() {
    let up = Upstream::start("x").await;
    let gw = seeded_gateway(&up).await;
    let admin = serve_admin(&gw).await;

    // Started before the Ingress exists: returns only once it is served.
    let mut child = spawn_wait(admin, &["app/x", "--timeout", "20s"]);
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let mut printed = String::new();
    read_until(&mut lines, &mut printed, "app/x: not served (yet)").await;
    gw.write("x.yaml", &simple_ingress("app", "x", "x.test", "x"));
    read_until(&mut lines, &mut printed, "all 1 programmed").await;
    let output = child.wait_with_output().await.expect("wait's exit");
    let status = up_status(&gw, "x.test").await;
    let report = format!("{printed}{}", text(&output));
    assert!(output.status.success(), "{report}");
    assert_eq!(
        status, 200,
        "not served right after `wait` returned\n{report}"
    );
    assert!(
        printed.contains("app/x: programmed on 1/1 nodes"),
        "{report}"
    );

    // Already programmed: returns at once.
    let (output, took) = wait_cli(admin, &["app/x", "--timeout", "20s"]).await;
    assert!(
        output.status.success() && took < Duration::from_secs(5),
        "{}",
        text(&output)
    );

    // Envoy rejects the Secret this Ingress needs: fails well before the timeout,
    // with Envoy's error.
    let (cert, key) = weak_rsa_pem();
    gw.write(
        "bad.yaml",
        &tls_ingress_with_secret("app", "bad", "bad.test", "x", (&cert, &key)),
    );
    let (output, took) = wait_cli(admin, &["app/bad", "--timeout", "20s"]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{}", text(&output));
    assert!(
        took < Duration::from_secs(10),
        "took {took:?}\n{}",
        text(&output)
    );
    assert!(
        stderr.contains("app/bad was rejected by Envoy node"),
        "{}",
        text(&output)
    );
    // Asked again once the rejection is old news (no event will announce it):
    // the state shows it, and after a short grace (in case a fix is already on
    // its way) `wait` fails the same.
    let (output, took) = wait_cli(admin, &["app/bad", "--timeout", "20s"]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{}", text(&output));
    assert!(
        took < Duration::from_secs(10),
        "took {took:?}\n{}",
        text(&output)
    );
    assert!(
        stderr.contains("app/bad was rejected by Envoy node"),
        "{}",
        text(&output)
    );
    assert!(
        stderr.contains("Failed to load certificate"),
        "{}",
        text(&output)
    );
    // The good Ingress is unaffected.
    assert_eq!(up_status(&gw, "x.test").await, 200);

    // Never served: fails at the timeout, saying so.
    let (output, took) = wait_cli(admin, &["app/x", "app/typo", "--timeout", "2s"]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{}", text(&output));
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(stderr.contains("waiting for 1 of 2"), "{}", text(&output));
    assert!(
        stderr.contains("app/typo: not served by Interlock"),
        "{}",
        text(&output)
    );
}

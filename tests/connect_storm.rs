//! A connect storm (issue 11): 1,000 Envoy-like ADS clients, in a separate
//! process as Envoys would be (`interlock bench fanout`), connect to one
//! `interlock serve` at the same instant. Every one must get complete config
//! with no failed attempt, then hold a change written as an Ingress file; the
//! server must have seen every one of them as its own node.

mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use support::bench_fanout::bench_fanout;
use support::gateway::{service_yaml, simple_ingress};
use support::InterlockProcess;

const STARTUP: Duration = Duration::from_secs(60);
const CLIENTS: usize = 1_000;
/// Ingresses served before the storm (each with its own Service and endpoints).
const INGRESSES: usize = 50;

fn write_config(dir: &Path) {
    let backend = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 9)));
    let yaml: Vec<String> = (0..INGRESSES)
        .map(|i| {
            let name = format!("app-{i}");
            let host = format!("app-{i}.example");
            format!(
                "{}---\n{}",
                service_yaml("storm", &name, backend),
                simple_ingress("storm", &name, &host, &name)
            )
        })
        .collect();
    std::fs::write(dir.join("apps.yaml"), yaml.join("---\n")).expect("write config");
}

/// Runs `interlock bench fanout` as its own process and returns its JSON report.
async fn bench(server: &InterlockProcess, ingress_dir: &Path, mode: &str, out: &Path) -> Value {
    let json = out.join(format!("{mode}.json"));
    let clients = CLIENTS.to_string();
    let prefix = format!("storm-{mode}-");
    let args = [
        "--mode",
        mode,
        "--clients",
        &clients,
        "--node-prefix",
        &prefix,
        "--changes",
        "1",
        "--complete-timeout",
        "300s",
    ];
    let (output, report) = bench_fanout(server, ingress_dir, &json, &args).await;
    assert!(
        output.status.success(),
        "bench fanout {mode} failed: {}\n{}\n{}\nserver log:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        server.log()
    );
    report.expect("bench wrote its JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_clients_connecting_at_once_all_get_complete_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ingress_dir = dir.path().join("ingresses");
    std::fs::create_dir(&ingress_dir).expect("ingress dir");
    write_config(&ingress_dir);
    let server = InterlockProcess::start_files(&ingress_dir, dir.path(), "storm", &[]);
    server.wait_ready(STARTUP).await;

    for mode in ["delta", "sotw"] {
        let report = bench(&server, &ingress_dir, mode, dir.path()).await;
        assert_eq!(report["clients"], CLIENTS, "{mode}: {report}");
        assert_eq!(report["complete"], CLIENTS, "{mode}: {report}");
        assert_eq!(report["failures"], 0, "{mode}: {report}");
        assert_eq!(report["connect_to_complete"]["count"], CLIENTS, "{report}");
        assert_eq!(report["changes"][0]["held_by"], CLIENTS, "{mode}: {report}");
        assert!(
            report["bytes_received"].as_u64().is_some_and(|b| b > 0),
            "{report}"
        );

        // The server saw each client as its own node (departed ones stay listed
        // for --node-grace).
        let nodes = server.admin_get("/debug/nodes").await.expect("nodes");
        let nodes: Value = serde_json::from_str(&nodes.body).expect("nodes JSON");
        let prefix = format!("storm-{mode}-");
        let seen = nodes["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .filter(|n| n["id"].as_str().is_some_and(|id| id.starts_with(&prefix)))
            .count();
        assert_eq!(seen, CLIENTS, "{mode}: nodes the server saw");
    }
    let leftovers: Vec<_> = std::fs::read_dir(&ingress_dir)
        .expect("list")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        1,
        "the bench removed its probe files: {leftovers:?}"
    );
}

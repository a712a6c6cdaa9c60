//! `interlock bench push` end to end: a real Envoy in front of `interlock
//! serve` (the quickstart set-up: the examples plus the probes in one watched
//! directory), a broken gateway, and Ctrl-C in file and Kubernetes mode. No
//! timing is asserted: only counts, exit codes and what is left behind.

mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use support::bench_push::BenchPush;
use support::fake_kube::{ENDPOINT_SLICE, INGRESS, NAMESPACE, SERVICE};
use support::kube_cluster::KubeCluster;
use support::{wait_for, Envoy, EnvoyOptions, InterlockProcess};

const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// A directory holding the examples, served by `interlock serve`.
fn quickstart_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir("examples").expect("examples/").flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "yaml") {
            std::fs::copy(&path, dir.path().join(entry.file_name())).expect("copy an example");
        }
    }
    dir
}

/// Probe files left in `dir`.
fn probe_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read the ingress dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("interlock-bench-push-"))
        .collect()
}

fn count(report: &Value, path: &[&str]) -> u64 {
    let mut value = report;
    for key in path {
        value = &value[*key];
    }
    value
        .as_u64()
        .unwrap_or_else(|| panic!("{path:?} in {report:#}"))
}

/// `interlock serve` on a copy of the examples with a real Envoy in front:
/// the quickstart set-up the file-mode runs probe.
struct Quickstart {
    dir: tempfile::TempDir,
    scratch: tempfile::TempDir,
    server: InterlockProcess,
    envoy: Envoy,
}

impl Quickstart {
    async fn start() -> Quickstart {
        let dir = quickstart_dir();
        let scratch = tempfile::tempdir().expect("temp dir");
        let server = InterlockProcess::start_files(dir.path(), scratch.path(), "serve", &[]);
        let envoy = Envoy::start(EnvoyOptions::new(server.xds_port, false)).await;
        server.wait_ready(Duration::from_secs(30)).await;
        Quickstart {
            dir,
            scratch,
            server,
            envoy,
        }
    }

    /// `interlock bench push` into the served directory, plus `args`.
    fn bench(&self, args: &[&str]) -> BenchPush {
        let dir = self.dir.path().to_string_lossy().into_owned();
        let mut all = vec!["--ingress-dir", dir.as_str(), "--use-existing"];
        all.extend_from_slice(args);
        BenchPush::start(&self.server, self.scratch.path(), &all)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_against_a_real_envoy_programs_every_probe_with_no_bad_answer() {
    let qs = Quickstart::start().await;
    let bench = qs.bench(&["--probes", "50", "--rate", "100"]);
    let (html_path, log) = (bench.html.clone(), qs.scratch.path().join("push.log"));
    let (status, report) = bench.finish(RUN_TIMEOUT).await;
    let output = std::fs::read_to_string(log).unwrap_or_default();
    assert!(status.success(), "bench failed: {status}\n{output}");
    let report = report.expect("a JSON report");
    assert_eq!(count(&report, &["programmed"]), 50, "{output}");
    assert_eq!(count(&report, &["answered"]), 50, "{output}");
    assert_eq!(count(&report, &["bad", "total"]), 0, "{output}");
    assert!(count(&report, &["publishes"]) >= 1, "{output}");
    assert_eq!(report["probes"].as_array().map(Vec::len), Some(50));
    let html = std::fs::read_to_string(html_path).expect("an HTML report");
    let rows = html.matches("<g class=\"probe\"").count();
    assert_eq!(rows, 50, "one timeline row per probe");
    assert!(!html.contains("http:") && !html.contains("https:"));
    assert_eq!(probe_files(qs.dir.path()), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_churn_run_updates_and_deletes_every_probe_with_no_bad_answer() {
    let qs = Quickstart::start().await;
    let bench = qs.bench(&["--probes", "20", "--churn"]);
    let log = qs.scratch.path().join("push.log");
    let (status, report) = bench.finish(RUN_TIMEOUT).await;
    let output = std::fs::read_to_string(log).unwrap_or_default();
    assert!(status.success(), "bench failed: {status}\n{output}");
    let report = report.expect("a JSON report");
    assert_eq!(count(&report, &["programmed"]), 20, "{output}");
    assert_eq!(count(&report, &["bad", "total"]), 0, "{output}");
    // The writes are served before the updates go out, and the updates
    // before the deletes: at least two publishes.
    assert!(count(&report, &["publishes"]) >= 2, "{output}");
    assert_eq!(probe_files(qs.dir.path()), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_envoy_stopped_mid_run_is_counted_and_fails_the_run() {
    let mut qs = Quickstart::start().await;
    let bench = qs.bench(&[
        "--probes",
        "50",
        "--rate",
        "10",
        "--gateway-dead-after",
        "2s",
    ]);
    // The first probe answers through Envoy, then Envoy goes.
    let gateway = qs.server.http();
    wait_for(
        Duration::from_secs(60),
        "the first probe answering 200",
        || {
            let dir = qs.dir.path().to_owned();
            async move {
                let Some(file) = probe_files(&dir)
                    .into_iter()
                    .find(|f| f.ends_with("-0.yaml"))
                else {
                    return false;
                };
                let run = file
                    .trim_start_matches("interlock-bench-push-")
                    .trim_end_matches("-0.yaml");
                let host = format!("push-{run}-0.bench.invalid");
                support::get(gateway, &host, "/")
                    .await
                    .is_ok_and(|r| r.status == 200)
            }
        },
    )
    .await;
    qs.envoy.kill();
    let log = qs.scratch.path().join("push.log");
    let (status, report) = bench.finish(RUN_TIMEOUT).await;
    let output = std::fs::read_to_string(log).unwrap_or_default();
    assert!(
        !status.success(),
        "a broken gateway must fail the run\n{output}"
    );
    let report = report.expect("a JSON report, also for a failed run");
    assert!(count(&report, &["bad", "total"]) > 0, "{output}");
    assert!(count(&report, &["bad", "unreachable"]) > 0, "{output}");
    assert_eq!(report["ending"]["ending"], "gateway_died", "{output}");
    assert_eq!(probe_files(qs.dir.path()), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_mid_run_leaves_no_probe_file_behind() {
    let dir = quickstart_dir();
    let scratch = tempfile::tempdir().expect("temp dir");
    let server = InterlockProcess::start_files(dir.path(), scratch.path(), "serve", &[]);
    server.wait_ready(Duration::from_secs(30)).await;
    let dir_arg = dir.path().to_string_lossy().into_owned();
    // No Envoy: probes are written but never programmed, so the run is
    // still writing and waiting when the signal comes.
    let bench = BenchPush::start(
        &server,
        scratch.path(),
        &[
            "--ingress-dir",
            &dir_arg,
            "--use-existing",
            "--probes",
            "50",
            "--rate",
            "5",
            "--gateway-dead-after",
            "10m",
        ],
    );
    wait_for(Duration::from_secs(60), "three probe files", || {
        let dir = dir.path().to_owned();
        async move { probe_files(&dir).len() >= 3 }
    })
    .await;
    bench.interrupt();
    let (status, report) = bench.finish(RUN_TIMEOUT).await;
    assert!(!status.success(), "an interrupted run is not a clean one");
    assert_eq!(probe_files(dir.path()), Vec::<String>::new());
    let report = report.expect("a JSON report of the interrupted run");
    assert_eq!(report["ending"]["ending"], "interrupted");
    assert!(dir.path().join("hello.yaml").exists(), "the examples stay");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_mid_run_in_a_cluster_leaves_no_probe_ingress_or_namespace_behind() {
    let (cluster, _web) = KubeCluster::with_web().await;
    let server = cluster.replica("r1", &[]);
    server.wait_ready(Duration::from_secs(30)).await;
    let kubeconfig = cluster.kubeconfig.to_string_lossy().into_owned();
    let scratch = tempfile::tempdir().expect("temp dir");
    let bench = BenchPush::start(
        &server,
        scratch.path(),
        &[
            "--kubeconfig",
            &kubeconfig,
            "--backend-service",
            "default/web",
            "--probes",
            "50",
            "--rate",
            "5",
            "--gateway-dead-after",
            "10m",
        ],
    );
    let in_bench_ns = |kind| {
        cluster
            .api
            .list(kind)
            .into_iter()
            .filter(|o| o["metadata"]["namespace"] == "interlock-bench-push")
            .count()
    };
    wait_for(Duration::from_secs(60), "three probe Ingresses", || {
        let n = in_bench_ns(&INGRESS);
        async move { n >= 3 }
    })
    .await;
    let namespaces = cluster.api.list(&NAMESPACE);
    assert_eq!(namespaces.len(), 1, "the bench creates its namespace");
    bench.interrupt();
    let (status, _) = bench.finish(RUN_TIMEOUT).await;
    assert!(!status.success());
    assert_eq!(in_bench_ns(&INGRESS), 0, "probe Ingresses left behind");
    assert_eq!(in_bench_ns(&SERVICE), 0, "probe Services left behind");
    assert_eq!(
        in_bench_ns(&ENDPOINT_SLICE),
        0,
        "probe EndpointSlices left behind"
    );
    assert_eq!(cluster.api.list(&NAMESPACE), Vec::<Value>::new());
    assert_eq!(
        cluster.api.list(&SERVICE).len(),
        1,
        "the backend Service stays"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_the_bench_did_not_create_is_refused_and_left_alone() {
    let (cluster, _web) = KubeCluster::with_web().await;
    cluster.api.apply(serde_json::json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}
    }));
    let server = cluster.replica("r1", &[]);
    server.wait_ready(Duration::from_secs(30)).await;
    let kubeconfig = cluster.kubeconfig.to_string_lossy().into_owned();
    let scratch = tempfile::tempdir().expect("temp dir");
    let bench = BenchPush::start(
        &server,
        scratch.path(),
        &[
            "--kubeconfig",
            &kubeconfig,
            "--backend-service",
            "default/web",
            "--namespace",
            "team-a",
            "--probes",
            "5",
        ],
    );
    let log = scratch.path().join("push.log");
    let (status, _) = bench.finish(RUN_TIMEOUT).await;
    let output = std::fs::read_to_string(log).unwrap_or_default();
    assert!(!status.success(), "{output}");
    assert!(output.contains("--use-existing"), "{output}");
    assert_eq!(cluster.api.list(&NAMESPACE).len(), 1, "team-a stays");
    assert_eq!(cluster.api.list(&INGRESS), Vec::<Value>::new());
}

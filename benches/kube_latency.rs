//! The Kubernetes path's push latency and re-list cost, against a real Envoy.
//!
//! Interlock runs in this process as `interlock serve` wires it without
//! `--ingress-dir` (kube-rs watchers → pipeline with the default 100 ms / 1 s
//! debounce → snapshot store → ADS), reading a fake API server on loopback that
//! speaks the real list/watch protocol, with a real Envoy 1.40
//! (`--concurrency 1`, SotW) in front. For each size, one Ingress is changed
//! through the API at a time (a new path each time), and the latency is measured
//! from the API write to the moment Interlock records Envoy's ACK of the route
//! table carrying it. Then every watch is expired (410 Gone, as when watchers
//! fall out of etcd's window): the time until all five kinds are listed and
//! watched again, Interlock's CPU for it, and the snapshots published by it
//! (target 0: a re-list of an unchanged cluster changes nothing). Each size also
//! prints Interlock's own share of a change: API write → the RDS response handed
//! to Envoy's stream.
//!
//! `cargo bench --bench kube_latency`; knobs: `KUBE_SIZES` (default
//! `1000,10000`), `KUBE_CHANGES` (default 200).

mod measure;
#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use interlock::debounce::DebounceConfig;
use interlock::pipeline::{Pipeline, PipelineConfig, StatusHandle};
use interlock::snapshot::SnapshotStore;
use interlock::sources::kube::{KubeSource, KubeSourceConfig};
use interlock::translate::TranslateConfig;
use measure::{cpu_time, env_number, env_numbers, mib, percentile, rss_kib, two_worker_runtime};
use serde_json::json;
use support::control_plane::ControlPlane;
use support::fake_kube::{FakeApiServer, ENDPOINT_SLICE, INGRESS, INGRESS_CLASS, SECRET, SERVICE};
use support::kube_objects::{endpoint_slice, ingress, ingress_class, service};
use support::route_ack::{change_latencies, wait_domains_acked, ChangeLatencies};
use support::{Envoy, EnvoyOptions, Upstream};
use tokio::sync::mpsc;

const UPSTREAMS: usize = 10;
const TIMEOUT: Duration = Duration::from_secs(120);
const NS: &str = "bench";

fn host(i: usize) -> String {
    format!("h-{i}.bench.test")
}

fn service_name(i: usize) -> String {
    format!("s-{}", i % UPSTREAMS)
}

/// Ingress `i`; the changing one (0) gets path `/change-k`.
fn bench_ingress(i: usize, k: usize) -> serde_json::Value {
    let mut object = ingress(
        NS,
        &format!("ing-{i}"),
        "interlock",
        &host(i),
        &service_name(i),
    );
    if i == 0 {
        object["spec"]["rules"][0]["http"]["paths"][0]["path"] = json!(format!("/change-{k}"));
    }
    object
}

/// Interlock on the Kubernetes source, an Envoy in front.
struct Gateway {
    api: FakeApiServer,
    plane: ControlPlane,
    status: StatusHandle,
    envoy: Envoy,
}

async fn start(n: usize, upstreams: &[Upstream]) -> Gateway {
    let api = FakeApiServer::start().await;
    api.apply(ingress_class());
    for (k, upstream) in upstreams.iter().enumerate() {
        let name = format!("s-{k}");
        api.apply(service(NS, &name));
        api.apply(endpoint_slice(NS, &name, &[upstream.addr]));
    }
    for i in 0..n {
        api.apply(bench_ingress(i, 0));
    }
    let url = api.url().parse().expect("API server URL");
    let client = kube::Client::try_from(kube::Config::new(url)).expect("kube client");
    let store = SnapshotStore::new();
    let config = PipelineConfig {
        translate: TranslateConfig {
            listen_address: "127.0.0.1".into(),
            http_port: support::free_port(),
            https_port: support::free_port(),
            ..TranslateConfig::default()
        },
        debounce: DebounceConfig::default(),
        secret_refetch: None,
    };
    let (events, received) = mpsc::channel(1024);
    let pipeline = Pipeline::new(config, store.clone(), KubeSource::source_names());
    let status = pipeline.status();
    tokio::spawn(pipeline.run(received));
    tokio::spawn(KubeSource::new(client, KubeSourceConfig::default()).run(events));
    let plane = ControlPlane::start_on(0, store);
    let envoy = Envoy::start(EnvoyOptions::new(plane.port, false)).await;
    Gateway {
        api,
        plane,
        status,
        envoy,
    }
}

struct Row {
    ingresses: usize,
    latencies_ms: ChangeLatencies,
    cpu_ms: f64,
    relist_ms: f64,
    relist_cpu_ms: f64,
    relist_publishes: u64,
    rss_mb: f64,
}

async fn measure(n: usize, changes: usize, upstreams: &[Upstream]) -> Row {
    let gw = start(n, upstreams).await;
    let node = gw.envoy.options().node_id.clone();
    let tracker = gw.plane.tracker.clone();
    wait_domains_acked(&tracker, &node, n, TIMEOUT).await;
    let cpu_before = cpu_time();
    let latencies = change_latencies(&gw.plane.store, &tracker, &node, changes, TIMEOUT, |k| {
        let written = Instant::now();
        gw.api.apply(bench_ingress(0, k));
        written
    })
    .await;
    let cpu_ms = (cpu_time().saturating_sub(cpu_before)).as_secs_f64() * 1e3 / changes as f64;

    // A re-list of everything, the cluster unchanged.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let publishes = gw.status.get().publishes;
    let kinds = [&INGRESS, &INGRESS_CLASS, &SERVICE, &ENDPOINT_SLICE, &SECRET];
    for kind in kinds {
        gw.api.wait_for_watches(kind, 1, TIMEOUT).await;
    }
    gw.api.clear_requests();
    let cpu_before = cpu_time();
    let expired = Instant::now();
    assert!(gw.api.expire_watches() >= kinds.len());
    // Re-listed and watching again: every kind has a new watch after its list.
    loop {
        let requests = gw.api.requests();
        let rewatched = requests.iter().filter(|r| r.is_watch()).count();
        let relisted = requests
            .iter()
            .filter(|r| r.method == "GET" && !r.is_watch())
            .count();
        if rewatched >= kinds.len() && relisted >= kinds.len() {
            break;
        }
        assert!(expired.elapsed() < TIMEOUT, "never re-listed");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let relist_ms = expired.elapsed().as_secs_f64() * 1e3;
    // Let the pipeline take what the re-list delivered before counting publishes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    Row {
        ingresses: n,
        latencies_ms: latencies,
        cpu_ms,
        relist_ms,
        relist_cpu_ms: (cpu_time().saturating_sub(cpu_before)).as_secs_f64() * 1e3,
        relist_publishes: gw.status.get().publishes - publishes,
        rss_mb: mib(rss_kib()),
    }
}

fn main() {
    let sizes = env_numbers("KUBE_SIZES", "1000,10000");
    let changes = env_number("KUBE_CHANGES", 200);
    let runtime = two_worker_runtime();
    runtime.block_on(async {
        let mut upstreams = Vec::new();
        for k in 0..UPSTREAMS {
            upstreams.push(Upstream::start(&format!("u-{k}")).await);
        }
        println!("kube_latency: one Ingress changed through the API at a time, {changes} changes; API write → Envoy ACK of the route table carrying it (kube-rs watchers, SotW, real Envoy 1.40, default debounce); then every watch expired (410) and re-listed");
        println!(
            "{:>10} {:>8} {:>8} {:>8} {:>8} {:>24} {:>11} {:>11} {:>13} {:>15} {:>8}",
            "ingresses", "p50 ms", "p90 ms", "p99 ms", "max ms", "Interlock→sent p50/p99", "CPU ms/chg", "relist ms", "relist CPU ms", "relist publishes", "RSS MB"
        );
        let mut rows = Vec::new();
        for &n in &sizes {
            let r = measure(n, changes, &upstreams).await;
            let l = &r.latencies_ms.to_ack;
            let sent = &r.latencies_ms.to_sent;
            println!(
                "{:>10} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>24} {:>11.2} {:>11.0} {:>13.0} {:>15} {:>8.1}",
                r.ingresses,
                percentile(l, 50.0),
                percentile(l, 90.0),
                percentile(l, 99.0),
                percentile(l, 100.0),
                format!("{:.1} / {:.1}", percentile(sent, 50.0), percentile(sent, 99.0)),
                r.cpu_ms,
                r.relist_ms,
                r.relist_cpu_ms,
                r.relist_publishes,
                r.rss_mb
            );
            rows.push(json!({
                "ingresses": r.ingresses, "changes": l.len(),
                "p50_ms": percentile(l, 50.0), "p90_ms": percentile(l, 90.0),
                "p99_ms": percentile(l, 99.0), "max_ms": percentile(l, 100.0),
                "interlock_to_sent_p50_ms": percentile(sent, 50.0),
                "interlock_to_sent_p99_ms": percentile(sent, 99.0),
                "cpu_ms_per_change": r.cpu_ms, "relist_ms": r.relist_ms,
                "relist_cpu_ms": r.relist_cpu_ms, "relist_publishes": r.relist_publishes,
                "rss_mb": r.rss_mb,
            }));
        }
        println!("target at 1000 Ingresses (DESIGN.md, any source): p50 <= 15 ms, p99 <= 50 ms; re-list publishes: 0");
        println!("{}", json!({ "bench": "kube_latency", "sizes": rows }));
    });
}

//! Push latency against a real Envoy (DESIGN.md "Performance targets": a single
//! Ingress change → Envoy's ACK of the new routes, p50 ≤ 15 ms and p99 ≤ 50 ms with
//! 1,000 Ingresses present; 1,000 Ingresses created in a burst all answer within
//! 1 s of the last write with zero 404s).
//!
//! Interlock runs in this process exactly as `interlock serve --ingress-dir` wires
//! it (file source → pipeline with the default 100 ms / 1 s debounce → snapshot
//! store → ADS), with a real Envoy 1.40 (`--concurrency 1`, SotW) in front. For
//! 100, 1,000 and 10,000 Ingresses present, one Ingress file is rewritten at a time
//! (a new path each time), and the latency is measured from the write to the
//! moment Interlock records Envoy's ACK of the route table that carries it. Then
//! 1,000 Ingresses are written in one burst while a prober requests every host
//! Envoy has ACKed: time from the last write until every host answers 200, 404s
//! seen (target 0), snapshots published. RSS and CPU time are this process's
//! (Interlock plus the small bench driver; Envoy is a separate process).
//!
//! Each size also prints Interlock's own share, write → the RDS response handed
//! to Envoy's stream, and Envoy's own time applying a route table (its RDS
//! `update_duration` histogram): the part of write → ACK spent inside Envoy.
//!
//! `cargo bench --bench push_latency`; knobs: `PUSH_SIZES` (default
//! `100,1000,10000`), `PUSH_CHANGES` (default 200).

mod measure;
#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use interlock::debounce::DebounceConfig;
use measure::{cpu_time, env_number, env_numbers, mib, percentile, rss_kib, two_worker_runtime};
use serde_json::json;
use support::gateway::{acked_domains_of, service_yaml, simple_ingress, FileGateway};
use support::prober::Prober;
use support::route_ack::{
    change_latencies, wait_domains_acked, wait_initial_config, ChangeLatencies,
};
use support::Upstream;

const UPSTREAMS: usize = 10;
const PER_FILE: usize = 100;
const TIMEOUT: Duration = Duration::from_secs(120);

fn host(i: usize) -> String {
    format!("h-{i}.bench.test")
}

fn service(i: usize) -> String {
    format!("s-{}", i % UPSTREAMS)
}

/// The changing Ingress (index 0) with path `/change-k`.
fn hot(k: usize) -> String {
    support::gateway::ingress_yaml(
        "bench",
        "ing-0",
        &host(0),
        &[support::gateway::PathSpec {
            path: &format!("/change-{k}"),
            path_type: "Prefix",
            service: &service(0),
        }],
    )
}

fn ingress_files(range: std::ops::Range<usize>, prefix: &str) -> Vec<(String, String)> {
    let ids: Vec<usize> = range.collect();
    ids.chunks(PER_FILE)
        .map(|chunk| {
            let docs: Vec<String> = chunk
                .iter()
                .map(|&i| simple_ingress("bench", &format!("ing-{i}"), &host(i), &service(i)))
                .collect();
            (format!("{prefix}-{}.yaml", chunk[0]), docs.join("---\n"))
        })
        .collect()
}

struct SizeResult {
    ingresses: usize,
    latencies_ms: ChangeLatencies,
    rss_mb: f64,
    cpu_ms: f64,
    /// Envoy's own time applying a route table (its RDS `update_duration`
    /// histogram, cumulative p50 / p99), where Envoy reports it.
    envoy_rds_ms: Option<(f64, f64)>,
}

/// Envoy's RDS `update_duration` (the time its main thread spends applying a
/// route table update), cumulative p50 and p99 in ms, from the admin text
/// stats: `...rds.<table>.update_duration: P0(i,c) P25(i,c) P50(i,c) ...`.
async fn envoy_rds_update_ms(envoy: &support::Envoy) -> Option<(f64, f64)> {
    let (_, body) = envoy
        .admin_get("/stats?filter=rds%5C..*update_duration")
        .await;
    let line = body
        .lines()
        .find(|l| l.contains("rds.") && l.contains("update_duration:"))?;
    let quantile = |q: &str| -> Option<f64> {
        let start = line.find(&format!(" {q}("))? + q.len() + 2;
        let inner = &line[start..start + line[start..].find(')')?];
        inner.split(',').nth(1)?.trim().parse().ok()
    };
    Some((quantile("P50")?, quantile("P99")?))
}

async fn measure_size(n: usize, changes: usize, upstreams: &[Upstream]) -> SizeResult {
    let services: Vec<String> = upstreams
        .iter()
        .enumerate()
        .map(|(k, u)| service_yaml("bench", &format!("s-{k}"), Some(u.addr)))
        .collect();
    let mut files: Vec<(String, String)> = vec![("services.yaml".into(), services.join("---\n"))];
    files.extend(ingress_files(1..n, "ingresses"));
    files.push(("hot.yaml".into(), hot(0)));
    let refs: Vec<(&str, String)> = files.iter().map(|(n, y)| (n.as_str(), y.clone())).collect();
    let gw = FileGateway::start_with(false, &refs, DebounceConfig::default()).await;
    let node = gw.node().to_owned();
    let tracker = gw.plane.tracker.clone();
    wait_domains_acked(&tracker, &node, n, TIMEOUT).await;
    let cpu_before = cpu_time();
    let latencies = change_latencies(&gw.plane.store, &tracker, &node, changes, TIMEOUT, |k| {
        let tmp = gw.path(".hot.tmp");
        std::fs::write(&tmp, hot(k)).expect("write");
        let written = Instant::now();
        std::fs::rename(&tmp, gw.path("hot.yaml")).expect("rename");
        written
    })
    .await;
    let cpu = cpu_time().saturating_sub(cpu_before);
    SizeResult {
        ingresses: n,
        latencies_ms: latencies,
        rss_mb: mib(rss_kib()),
        cpu_ms: cpu.as_secs_f64() * 1e3 / changes as f64,
        envoy_rds_ms: envoy_rds_update_ms(&gw.envoy).await,
    }
}

struct BurstResult {
    ms_to_all_200: f64,
    not_found: usize,
    violations: usize,
    snapshots: u64,
}

async fn measure_burst(n: usize, upstreams: &[Upstream]) -> BurstResult {
    let services: Vec<String> = upstreams
        .iter()
        .enumerate()
        .map(|(k, u)| service_yaml("bench", &format!("s-{k}"), Some(u.addr)))
        .collect();
    let gw = FileGateway::start_with(
        false,
        &[("services.yaml", services.join("---\n"))],
        DebounceConfig::default(),
    )
    .await;
    let node = gw.node().to_owned();
    let tracker = gw.plane.tracker.clone();
    wait_initial_config(&tracker, &node, TIMEOUT).await;
    let publishes_before = gw.status.get().publishes;
    let live = {
        let (tracker, node) = (tracker.clone(), node.clone());
        move || {
            acked_domains_of(&tracker, &node)
                .into_iter()
                .filter(|d| d.starts_with("h-"))
                .map(|d| (d, None))
                .collect()
        }
    };
    let prober =
        Prober::start_matching(gw.http(), live, |_, _| false, |b: &str| b.starts_with("u-"));
    let mut last_write = Instant::now();
    for (name, yaml) in ingress_files(0..n, "burst") {
        std::fs::write(gw.path(&name), yaml).expect("write");
        last_write = Instant::now();
    }
    // Every host answers 200 from an upstream.
    let all: BTreeSet<usize> = (0..n).collect();
    let mut pending = all.clone();
    let mut client = support::HttpClient::new(gw.http());
    while !pending.is_empty() {
        assert!(
            last_write.elapsed() < TIMEOUT,
            "{} hosts never answered",
            pending.len()
        );
        let mut still = BTreeSet::new();
        for &i in &pending {
            match client.get(&host(i), "/").await {
                Ok(r) if r.status == 200 => {}
                _ => {
                    still.insert(i);
                }
            }
        }
        pending = still;
    }
    let elapsed = last_write.elapsed();
    let report = prober.finish().await;
    BurstResult {
        ms_to_all_200: elapsed.as_secs_f64() * 1e3,
        not_found: report
            .violations
            .iter()
            .filter(|v| v.contains("status 404"))
            .count(),
        violations: report.violations.len(),
        snapshots: gw.status.get().publishes - publishes_before,
    }
}

fn main() {
    let sizes = env_numbers("PUSH_SIZES", "100,1000,10000");
    let changes = env_number("PUSH_CHANGES", 200);
    if std::env::var("PUSH_DEBUG").is_ok() {
        tracing_subscriber::fmt()
            .with_env_filter("interlock=debug")
            .init();
    }
    let runtime = two_worker_runtime();
    runtime.block_on(async {
        let mut upstreams = Vec::new();
        for k in 0..UPSTREAMS {
            upstreams.push(Upstream::start(&format!("u-{k}")).await);
        }
        println!("push_latency: one Ingress changed at a time, {changes} changes; file write → Envoy ACK of the route table carrying it (SotW, real Envoy 1.40, default debounce)");
        println!("{:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>12} {:>24} {:>22}", "ingresses", "p50 ms", "p90 ms", "p99 ms", "max ms", "mean ms", "RSS MB", "CPU ms/chg", "Interlock→sent p50/p99", "Envoy RDS apply p50/p99");
        let mut rows = Vec::new();
        for &n in &sizes {
            let r = measure_size(n, changes, &upstreams).await;
            let l = &r.latencies_ms.to_ack;
            let sent = &r.latencies_ms.to_sent;
            let mean = l.iter().sum::<f64>() / l.len().max(1) as f64;
            let envoy_rds = r
                .envoy_rds_ms
                .map_or("n/a".to_owned(), |(p50, p99)| format!("{p50:.1} / {p99:.1}"));
            println!(
                "{:>10} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>10.1} {:>12.2} {:>24} {:>22}",
                r.ingresses,
                percentile(l, 50.0),
                percentile(l, 90.0),
                percentile(l, 99.0),
                percentile(l, 100.0),
                mean,
                r.rss_mb,
                r.cpu_ms,
                format!("{:.1} / {:.1}", percentile(sent, 50.0), percentile(sent, 99.0)),
                envoy_rds
            );
            rows.push(json!({
                "ingresses": r.ingresses, "changes": l.len(),
                "p50_ms": percentile(l, 50.0), "p90_ms": percentile(l, 90.0),
                "p99_ms": percentile(l, 99.0), "max_ms": percentile(l, 100.0), "mean_ms": mean,
                "rss_mb": r.rss_mb, "cpu_ms_per_change": r.cpu_ms,
                "interlock_to_sent_p50_ms": percentile(sent, 50.0),
                "interlock_to_sent_p99_ms": percentile(sent, 99.0),
                "envoy_rds_update_p50_ms": r.envoy_rds_ms.map(|m| m.0),
                "envoy_rds_update_p99_ms": r.envoy_rds_ms.map(|m| m.1),
            }));
        }
        println!("target at 1000 Ingresses: p50 <= 15 ms, p99 <= 50 ms");
        let burst = measure_burst(1000, &upstreams).await;
        println!(
            "burst: 1000 Ingresses written at once: every host 200 after {:.0} ms (target <= 1000), 404s seen {} (target 0), other failures {}, snapshots published {}",
            burst.ms_to_all_200, burst.not_found, burst.violations - burst.not_found, burst.snapshots
        );
        println!(
            "{}",
            json!({
                "bench": "push_latency", "sizes": rows,
                "burst": {"ingresses": 1000, "ms_to_all_200": burst.ms_to_all_200,
                          "not_found": burst.not_found, "failures": burst.violations,
                          "snapshots": burst.snapshots},
            })
        );
    });
}

//! NACK containment cost (issue 9): a batch of 1,000 Ingresses with one that
//! Envoy rejects, against the same batch with none. Time from the last write
//! until every good host is ACKed by Envoy (programmed: one Envoy), and the
//! snapshots published meanwhile. Target: at most 2x the clean batch.
//!
//! Interlock runs in this process as `interlock serve --ingress-dir` wires it
//! (file source → pipeline, default 100 ms / 1 s debounce → store → ADS), with
//! a real Envoy 1.40 (`--concurrency 1`) in front whose RE2 program-size limit
//! is 10 (Interlock checks regexes against Envoy's default, 100): the bad
//! Ingress carries a regex path this Envoy rejects, for real. Ingresses are
//! written 100 per file, as fast as possible.
//!
//! `cargo bench --bench containment`; knobs: `CONTAIN_INGRESSES` (default
//! 1000), `CONTAIN_RUNS` (default 3, the median is reported), `CONTAIN_DELTA=1`.

mod measure;
#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use interlock::debounce::DebounceConfig;
use measure::{env_number, percentile, two_worker_runtime};
use serde_json::json;
use support::gateway::{
    ingress_yaml, service_yaml, simple_ingress, FileGateway, GatewayOptions, PathSpec,
};
use support::route_ack::wait_initial_config;
use support::Upstream;

const PER_FILE: usize = 100;
const TIMEOUT: Duration = Duration::from_secs(120);

fn host(i: usize) -> String {
    format!("c-{i}.bench.test")
}

fn ingress(i: usize, bad: bool) -> String {
    let name = format!("ing-{i}");
    if !bad {
        return simple_ingress("bench", &name, &host(i), "web");
    }
    let paths = [
        PathSpec {
            path: "/",
            path_type: "Prefix",
            service: "web",
        },
        PathSpec {
            path: "/bad/(alpha|beta|gamma)/[0-9]+",
            path_type: "ImplementationSpecific",
            service: "web",
        },
    ];
    ingress_yaml("bench", &name, &host(i), &paths)
}

struct Run {
    ms_to_all_good: f64,
    publishes: u64,
    quarantined: usize,
}

async fn run(n: usize, bad: Option<usize>, delta: bool, up: &Upstream) -> Run {
    let options = GatewayOptions {
        debounce: DebounceConfig::default(),
        max_regex_program_size: Some(10),
        ..GatewayOptions::new(delta)
    };
    let services = service_yaml("bench", "web", Some(up.addr));
    let gw = FileGateway::start_opts(&[("services.yaml", services)], options).await;
    let node = gw.node().to_owned();
    let tracker = gw.plane.tracker.clone();
    wait_initial_config(&tracker, &node, TIMEOUT).await;
    let publishes_before = gw.status.get().publishes;
    let ids: Vec<usize> = (0..n).collect();
    let mut last_write = Instant::now();
    for chunk in ids.chunks(PER_FILE) {
        let docs: Vec<String> = chunk.iter().map(|&i| ingress(i, Some(i) == bad)).collect();
        std::fs::write(gw.path(&format!("b-{}.yaml", chunk[0])), docs.join("---\n"))
            .expect("write");
        last_write = Instant::now();
    }
    let good = n - usize::from(bad.is_some());
    loop {
        let acked = gw.acked_domains();
        let count = (0..n)
            .filter(|i| Some(*i) != bad && acked.contains(&host(*i)))
            .count();
        if count == good {
            break;
        }
        assert!(
            last_write.elapsed() < TIMEOUT,
            "{count}/{good} good hosts ACKed"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let elapsed = last_write.elapsed();
    if bad.is_some() {
        // Containment is over when the culprit is quarantined.
        while gw.status.get().quarantined.is_empty() || gw.status.get().searching {
            assert!(last_write.elapsed() < TIMEOUT, "never quarantined");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let status = gw.status.get();
    Run {
        ms_to_all_good: elapsed.as_secs_f64() * 1e3,
        publishes: status.publishes - publishes_before,
        quarantined: status.quarantined.len(),
    }
}

fn main() {
    let n = env_number("CONTAIN_INGRESSES", 1000);
    let runs = env_number("CONTAIN_RUNS", 3);
    let delta = std::env::var("CONTAIN_DELTA").is_ok_and(|v| v == "1");
    let runtime = two_worker_runtime();
    runtime.block_on(async {
        let up = Upstream::start("web").await;
        println!(
            "containment: {n} Ingresses written at once ({} per file), {}; last write → every good host ACKed by a real Envoy 1.40 (RE2 limit 10), median of {runs} runs",
            PER_FILE,
            if delta { "delta" } else { "SotW" }
        );
        println!(
            "{:>14} {:>12} {:>12} {:>12}",
            "batch", "ms to good", "publishes", "quarantined"
        );
        let mut rows = Vec::new();
        let mut medians = Vec::new();
        for (label, bad) in [("clean", None), ("one rejected", Some(n / 2))] {
            let mut times = Vec::new();
            let mut publishes = Vec::new();
            let mut quarantined = 0;
            for _ in 0..runs {
                let r = run(n, bad, delta, &up).await;
                times.push(r.ms_to_all_good);
                publishes.push(r.publishes as f64);
                quarantined = r.quarantined;
            }
            times.sort_by(f64::total_cmp);
            publishes.sort_by(f64::total_cmp);
            let (t, p) = (percentile(&times, 50.0), percentile(&publishes, 50.0));
            println!("{label:>14} {t:>12.0} {p:>12.0} {quarantined:>12}");
            rows.push(json!({"batch": label, "ms_to_all_good": t, "publishes": p,
                             "quarantined": quarantined, "runs_ms": times}));
            medians.push(t);
        }
        let ratio = medians[1] / medians[0].max(1.0);
        println!("ratio: {ratio:.2}x the clean batch (target <= 2x)");
        println!(
            "{}",
            json!({"bench": "containment", "ingresses": n, "delta": delta,
                   "rows": rows, "ratio": ratio})
        );
    });
}

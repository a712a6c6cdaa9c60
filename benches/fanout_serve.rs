//! Fan-out as an operator sees it (issues 11 and 12): `interlock serve` runs as
//! its own process on the file source with 1,000 Ingresses (5 endpoints each);
//! `interlock bench fanout`, another process, opens M Envoy-like ADS clients at
//! the same instant (one HTTP/2 connection each, Envoy's 256 MiB windows,
//! wildcard CDS/LDS, named EDS/RDS, every response ACKed), then writes one new
//! Ingress file at a time.
//!
//! The server runs with the test launcher's flags (`--debounce 20ms
//! --debounce-max 200ms`: a change is published 20 ms after the write, as a
//! go-control-plane `SetSnapshot` would be at once).
//!
//! Per cell (M = 100 and 1,000, SotW and delta, a fresh server each) it prints:
//! connect → complete config (p50, p99, max) of the storm and its failed
//! attempts; write → every client holding the new route, cluster and endpoints
//! (p50 and max over the changes); the server's CPU time and peak RSS over the
//! cell; the bytes the clients received.
//!
//! `cargo bench --bench fanout_serve`; knobs: `FANOUT_SERVE_CLIENTS` (default
//! `100,1000`), `FANOUT_SERVE_MODES` (default `sotw,delta`),
//! `FANOUT_SERVE_CHANGES` (default 5), `FANOUT_SERVE_INGRESSES` (default 1000).

mod measure;
#[path = "../tests/support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use measure::{env_number, env_numbers, two_worker_runtime};
use serde_json::{json, Value};
use support::bench_fanout::bench_fanout;
use support::gateway::{service_yaml, simple_ingress};
use support::InterlockProcess;

const ENDPOINTS: usize = 5;
const PER_FILE: usize = 100;
const STARTUP: Duration = Duration::from_secs(180);

/// `ingresses` Ingresses, each with its own Service of `ENDPOINTS` endpoints.
fn write_config(dir: &Path, ingresses: usize) {
    for file in 0..ingresses.div_ceil(PER_FILE) {
        let docs: Vec<String> = (file * PER_FILE..((file + 1) * PER_FILE).min(ingresses))
            .map(|i| {
                let name = format!("app-{i}");
                let mut service = service_yaml("fanout", &name, None);
                service += &format!(
                    "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n\
                     metadata:\n  name: {name}-1\n  namespace: fanout\n  labels: {{kubernetes.io/service-name: {name}}}\n\
                     addressType: IPv4\nports:\n- {{name: http, port: 8080}}\nendpoints:\n"
                );
                for e in 0..ENDPOINTS {
                    let ip = SocketAddr::from(([10, (i / 250) as u8, (i % 250) as u8, e as u8 + 1], 0));
                    service += &format!("- addresses: [\"{}\"]\n  conditions: {{ready: true}}\n", ip.ip());
                }
                format!(
                    "{service}---\n{}",
                    simple_ingress("fanout", &name, &format!("app-{i}.fanout.example"), &name)
                )
            })
            .collect();
        std::fs::write(dir.join(format!("apps-{file}.yaml")), docs.join("---\n"))
            .expect("write config");
    }
}

async fn cell(ingresses: usize, clients: usize, mode: &str, changes: usize) -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let ingress_dir = dir.path().join("ingresses");
    std::fs::create_dir(&ingress_dir).expect("ingress dir");
    write_config(&ingress_dir, ingresses);
    let server = InterlockProcess::start_files(&ingress_dir, dir.path(), "fanout", &[]);
    server.wait_ready(STARTUP).await;
    let json = dir.path().join("report.json");
    let (clients, changes) = (clients.to_string(), changes.to_string());
    let args = [
        "--mode",
        mode,
        "--clients",
        &clients,
        "--changes",
        &changes,
        "--pause",
        "1s",
        "--complete-timeout",
        "300s",
    ];
    let (output, report) = bench_fanout(&server, &ingress_dir, &json, &args).await;
    eprint!("{}", String::from_utf8_lossy(&output.stdout));
    if !output.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    }
    report.expect("bench wrote its JSON")
}

fn main() {
    let ingresses = env_number("FANOUT_SERVE_INGRESSES", 1000);
    let changes = env_number("FANOUT_SERVE_CHANGES", 5);
    let sizes = env_numbers("FANOUT_SERVE_CLIENTS", "100,1000");
    let modes = std::env::var("FANOUT_SERVE_MODES").unwrap_or_else(|_| "sotw,delta".into());
    let runtime = two_worker_runtime();
    println!(
        "fan-out through serve: {ingresses} Ingresses x {ENDPOINTS} endpoints, {changes} changes per cell"
    );
    println!(
        "| clients | mode | connect→complete p50 / p99 / max (ms) | failed attempts | write→all p50 / max (ms) | server CPU (s) | server peak RSS (MB) | received (MB) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for clients in sizes {
        for mode in modes.split(',').map(str::trim) {
            let r = runtime.block_on(cell(ingresses, clients, mode, changes));
            let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
            println!(
                "| {clients} | {mode} | {:.0} / {:.0} / {:.0} | {} | {:.0} / {:.0} | {:.2} | {:.0} | {:.1} |",
                f(&r["connect_to_complete"]["p50_ms"]),
                f(&r["connect_to_complete"]["p99_ms"]),
                f(&r["connect_to_complete"]["max_ms"]),
                r["failures"],
                f(&r["write_to_all"]["p50_ms"]),
                f(&r["write_to_all"]["max_ms"]),
                f(&r["server_cpu_seconds"]),
                f(&r["server_peak_rss_bytes"]) / 1e6,
                f(&r["bytes_received"]) / 1e6,
            );
            println!(
                "{}",
                json!({ "fanout_serve": { "clients": clients, "mode": mode, "report": r } })
            );
        }
    }
}

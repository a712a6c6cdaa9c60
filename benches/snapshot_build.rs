//! Snapshot build bench (DESIGN.md "Performance targets": 10,000 Ingresses / 10,000
//! Services / 50,000 endpoints → full rebuild ≤ 200 ms, endpoints-only change ≤ 5 ms,
//! resident memory ≤ 300 MB).
//!
//! Builds and encodes one listener, one route table with 10,000 virtual hosts (one
//! prefix route each, as a single HTTP listener's RDS table would hold 10,000
//! Ingress hosts), 10,000 EDS clusters and their ClusterLoadAssignments (5 endpoints
//! each, 50,000 in all). Prints the time to construct the typed messages (a stand-in
//! for translate), the time to build the snapshot from them (encode once, consistency
//! check, versions), the number of encodes, peak and added resident memory, and the
//! time of an endpoints-only change made with `Snapshot::edit()`, split into its
//! phases. Ends with one JSON line for scripts.
//!
//! Run with `cargo bench --bench snapshot_build`.

#[path = "../tests/support/mod.rs"]
mod support;

mod measure;

use measure::{mib, min_median, ms, peak_rss_kib, rss_kib};
use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::config::listener::v3::Listener;
use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use interlock::snapshot::{encode_count, ResourceType, Snapshot};
use serde_json::json;
use support::resources::{eds_cluster, endpoints, http_listener, route_table};

/// Services (= clusters = CLAs = virtual hosts = Ingresses).
const SERVICES: usize = 10_000;
/// Endpoints per service (50,000 in all).
const ENDPOINTS_PER_SERVICE: usize = 5;
/// Full builds timed.
const BUILD_RUNS: usize = 5;
/// Endpoints-only changes timed.
const EDIT_RUNS: usize = 20;
const ROUTE_TABLE: &str = "http-routes";

/// The typed messages a translate step would hand to the builder.
struct Inputs {
    listener: Listener,
    routes: RouteConfiguration,
    clusters: Vec<Cluster>,
    endpoints: Vec<ClusterLoadAssignment>,
}

fn service_name(i: usize) -> String {
    format!("default-svc-{i:05}-80")
}

/// The `n`th endpoint address, all distinct; `port` lets a change move them.
fn endpoint_addrs(service: usize, port: u16) -> Vec<SocketAddr> {
    (0..ENDPOINTS_PER_SERVICE)
        .map(|j| {
            let n = (service * ENDPOINTS_PER_SERVICE + j) as u32;
            let ip = Ipv4Addr::from(0x0a00_0000 | n);
            SocketAddr::V4(SocketAddrV4::new(ip, port))
        })
        .collect()
}

fn generate() -> Inputs {
    let hosts: Vec<(String, String, String)> = (0..SERVICES)
        .map(|i| {
            (
                format!("host-{i:05}.example.com"),
                "/".to_owned(),
                service_name(i),
            )
        })
        .collect();
    Inputs {
        listener: http_listener("http", 8080, ROUTE_TABLE),
        routes: route_table(ROUTE_TABLE, &hosts),
        clusters: (0..SERVICES)
            .map(|i| eds_cluster(&service_name(i)))
            .collect(),
        endpoints: (0..SERVICES)
            .map(|i| endpoints(&service_name(i), &endpoint_addrs(i, 8080)))
            .collect(),
    }
}

fn build(inputs: Inputs) -> Snapshot {
    let mut builder = Snapshot::builder()
        .listener(inputs.listener)
        .route(inputs.routes);
    for cluster in inputs.clusters {
        builder = builder.cluster(cluster);
    }
    for cla in inputs.endpoints {
        builder = builder.endpoints(cla);
    }
    builder
        .build()
        .unwrap_or_else(|e| panic!("bench snapshot is inconsistent: {e}"))
}

fn main() {
    let rss_before = rss_kib();

    let mut generate_times = Vec::new();
    let mut build_times = Vec::new();
    let mut encodes = Vec::new();
    let mut snapshot = None;
    for _ in 0..BUILD_RUNS {
        drop(snapshot.take());
        let started = Instant::now();
        let inputs = generate();
        generate_times.push(started.elapsed());
        let encodes_before = encode_count();
        let started = Instant::now();
        let built = build(inputs);
        build_times.push(started.elapsed());
        encodes.push(encode_count() - encodes_before);
        snapshot = Some(built);
    }
    let snapshot = snapshot.unwrap_or_else(|| panic!("BUILD_RUNS must be at least 1"));
    let rss_with_snapshot = rss_kib();
    let encoded_bytes: usize = ResourceType::ALL
        .iter()
        .flat_map(|kind| snapshot.resources(*kind).values())
        .map(|r| r.value().len())
        .sum();

    // Endpoints-only change: one service's endpoints move to another port.
    let mut edit_times = Vec::new();
    let mut edit_clone_times = Vec::new();
    let mut edit_build_times = Vec::new();
    let mut edit_encodes = Vec::new();
    for run in 0..EDIT_RUNS {
        let service = run * (SERVICES / EDIT_RUNS);
        let cla = endpoints(&service_name(service), &endpoint_addrs(service, 9090));
        let encodes_before = encode_count();
        let started = Instant::now();
        let changed = snapshot
            .edit()
            .endpoints(cla)
            .build()
            .unwrap_or_else(|e| panic!("edited snapshot is inconsistent: {e}"));
        edit_times.push(started.elapsed());
        edit_encodes.push(encode_count() - encodes_before);
        assert_ne!(changed.version(), snapshot.version());
        drop(black_box(changed));

        // The same change again, phase by phase.
        let cla = endpoints(&service_name(service), &endpoint_addrs(service, 9090));
        let started = Instant::now();
        let builder = black_box(snapshot.edit());
        edit_clone_times.push(started.elapsed());
        let builder = builder.endpoints(cla);
        let started = Instant::now();
        let changed = builder
            .build()
            .unwrap_or_else(|e| panic!("edited snapshot is inconsistent: {e}"));
        edit_build_times.push(started.elapsed());
        drop(black_box(changed));
    }
    let peak = peak_rss_kib();

    let (generate_min, generate_median) = min_median(&generate_times);
    let (build_min, build_median) = min_median(&build_times);
    let (edit_min, edit_median) = min_median(&edit_times);
    let (_, edit_clone_median) = min_median(&edit_clone_times);
    let (_, edit_build_median) = min_median(&edit_build_times);
    let encodes_per_build = encodes[0];
    assert!(encodes.iter().all(|&e| e == encodes_per_build));
    assert!(edit_encodes.iter().all(|&e| e == 1));

    println!(
        "snapshot_build: 1 listener, 1 route table × {SERVICES} virtual hosts (1 route each), \
         {SERVICES} EDS clusters, {SERVICES} CLAs × {ENDPOINTS_PER_SERVICE} endpoints"
    );
    println!("{:<44} {:>10} {:>10}", "measure", "min", "median");
    let row = |name: &str, min: Duration, median: Duration| {
        println!("{name:<44} {:>8.2}ms {:>8.2}ms", ms(min), ms(median));
    };
    row(
        &format!("construct typed messages ({BUILD_RUNS} runs)"),
        generate_min,
        generate_median,
    );
    row(
        &format!("full build: encode + check ({BUILD_RUNS} runs)"),
        build_min,
        build_median,
    );
    row(
        &format!("endpoints-only edit().build() ({EDIT_RUNS} runs)"),
        edit_min,
        edit_median,
    );
    println!(
        "{:<44} {:>10} {:>8.2}ms",
        "  of which edit() (clone maps)",
        "",
        ms(edit_clone_median)
    );
    println!(
        "{:<44} {:>10} {:>8.2}ms",
        "  of which build() (check + versions)",
        "",
        ms(edit_build_median)
    );
    println!("{:<44} {encodes_per_build:>10}", "encodes per full build");
    println!("{:<44} {:>10}", "encodes per endpoints-only change", 1);
    println!(
        "{:<44} {:>8.1}MB",
        "encoded bytes",
        encoded_bytes as f64 / 1e6
    );
    println!("{:<44} {:>8.1}MB", "peak RSS (VmHWM)", mib(peak));
    println!(
        "{:<44} {:>8.1}MB",
        "peak RSS increase (VmHWM - VmRSS at start)",
        mib(peak.saturating_sub(rss_before))
    );
    println!(
        "{:<44} {:>8.1}MB",
        "RSS increase (one snapshot held)",
        mib(rss_with_snapshot.saturating_sub(rss_before))
    );
    println!(
        "{}",
        json!({
            "bench": "snapshot_build",
            "listeners": 1,
            "route_tables": 1,
            "virtual_hosts": SERVICES,
            "clusters": SERVICES,
            "endpoints": SERVICES * ENDPOINTS_PER_SERVICE,
            "build_runs": BUILD_RUNS,
            "generate_ms_median": ms(generate_median),
            "build_ms_min": ms(build_min),
            "build_ms_median": ms(build_median),
            "encodes": encodes_per_build,
            "encoded_bytes": encoded_bytes,
            "peak_rss_mb": mib(peak),
            "peak_rss_increase_mb": mib(peak.saturating_sub(rss_before)),
            "rss_increase_mb": mib(rss_with_snapshot.saturating_sub(rss_before)),
            "edit_runs": EDIT_RUNS,
            "edit_endpoints_ms_min": ms(edit_min),
            "edit_endpoints_ms_median": ms(edit_median),
            "edit_clone_ms_median": ms(edit_clone_median),
            "edit_build_ms_median": ms(edit_build_median),
        })
    );
}

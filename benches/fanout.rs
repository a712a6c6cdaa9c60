//! Fan-out bench (DESIGN.md "Performance targets": one change reaches and is ACKed by
//! all streams at least 3× faster than go-control-plane's SnapshotCache, with encode
//! work proportional to changed resources, not resources × streams).
//!
//! Serves 1,000 Ingresses' worth of config (1 listener, one route table with 1,000
//! virtual hosts, 1,000 EDS clusters, 5,000 endpoints) from an `AdsServer` to M
//! in-process ADS clients (`ads_client`, Envoy-like: CDS/LDS wildcard, then EDS and
//! RDS by name, ACK at once) over gRPC on loopback, M = 100 and 1,000, SotW and delta.
//! By default every client has its own HTTP/2 connection, as every Envoy would
//! (`FANOUT_STREAMS_PER_CONNECTION=10` multiplexes ten streams per connection).
//! Server and clients run on separate 2-worker tokio runtimes so that their CPU time
//! can be told apart.
//!
//! Once all clients hold the config, each run publishes one change (a new virtual
//! host, its new cluster and CLA, built with `previous.edit()`) and measures the time
//! from publish until the server's `AckTracker` shows every client ACKed the route
//! table that contains it (clients report their ACKs over a channel, then the tracker
//! is polled every 1 ms to confirm), the encodes done to build the change (must be 3)
//! and during fan-out (must be 0). One warm-up run, then `FANOUT_RUNS` (default 5)
//! measured runs per cell; the table shows the median and go-control-plane's figures.
//!
//! Run with `cargo bench --bench fanout`. Every wait is bounded; a watchdog ends the
//! process if the whole bench takes longer than 20 minutes. Knobs (environment):
//! `FANOUT_CLIENTS` (default `100,1000`), `FANOUT_MODES` (default `sotw,delta`), `FANOUT_RUNS`, `FANOUT_STREAMS_PER_CONNECTION`,
//! `FANOUT_WORKERS`, and `FANOUT_NODELAY_INCOMING=1` to serve as `serve_on` does but
//! with TCP_NODELAY on accepted sockets (tonic ignores `tcp_nodelay` for a
//! caller-supplied listener).

mod ads_client;
#[path = "../tests/support/mod.rs"]
mod support;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ads_client::{Client, Flavor, RdsAcked};
use interlock::snapshot::{encode_count, ResourceType, Snapshot, SnapshotStore};
use interlock::xds::{AckTracker, AdsServer};
use serde_json::json;
use support::resources::{eds_cluster, endpoints, http_listener, route_table};
use tokio::runtime::Runtime;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Endpoint};

/// Virtual hosts (= clusters = CLAs) in the config; 5 endpoints each.
const SERVICES: usize = 1_000;
const ENDPOINTS_PER_SERVICE: usize = 5;
const ROUTE_TABLE: &str = "http-routes";
/// Unmeasured changes before the measured ones.
const WARMUP_RUNS: usize = 1;
const INITIAL_SYNC_TIMEOUT: Duration = Duration::from_secs(180);
const CHANGE_TIMEOUT: Duration = Duration::from_secs(60);
const BENCH_TIMEOUT: Duration = Duration::from_secs(20 * 60);
const TRACKER_POLL: Duration = Duration::from_millis(1);
/// File descriptors kept free for everything that is not a client connection.
const FD_RESERVE: u64 = 256;

/// go-control-plane's SnapshotCache on this machine (DESIGN.md), in ms.
fn reference_ms(flavor: Flavor, clients: usize) -> Option<f64> {
    match (flavor, clients) {
        (Flavor::Sotw, 100) => Some(724.0),
        (Flavor::Delta, 100) => Some(221.0),
        (Flavor::Sotw, 1_000) => Some(8_100.0),
        (Flavor::Delta, 1_000) => Some(1_900.0),
        _ => None,
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not valid")),
        Err(_) => default,
    }
}

// === config ===

/// The virtual hosts served, and the snapshot they were last built into.
struct Config {
    hosts: Vec<(String, String, String)>,
    added: usize,
}

fn service_name(i: usize) -> String {
    format!("default-svc-{i:04}-80")
}

fn addrs(service: usize) -> Vec<SocketAddr> {
    (0..ENDPOINTS_PER_SERVICE)
        .map(|j| {
            let n = (service * ENDPOINTS_PER_SERVICE + j) as u32;
            SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(0x0a00_0000 | n), 8080))
        })
        .collect()
}

impl Config {
    fn initial() -> (Config, Snapshot) {
        let hosts: Vec<_> = (0..SERVICES)
            .map(|i| {
                let host = format!("host-{i:04}.example.com");
                (host, "/".to_owned(), service_name(i))
            })
            .collect();
        let mut builder = Snapshot::builder()
            .listener(http_listener("http", 8080, ROUTE_TABLE))
            .route(route_table(ROUTE_TABLE, &hosts));
        for i in 0..SERVICES {
            builder = builder
                .cluster(eds_cluster(&service_name(i)))
                .endpoints(endpoints(&service_name(i), &addrs(i)));
        }
        let snapshot = builder
            .build()
            .unwrap_or_else(|e| panic!("initial bench snapshot is inconsistent: {e}"));
        (Config { hosts, added: 0 }, snapshot)
    }

    /// `previous` plus one virtual host and its new cluster and CLA; returns the
    /// snapshot, the time `edit()…build()` took and how many encodes it did.
    fn add_host(&mut self, previous: &Snapshot) -> (Snapshot, Duration, u64) {
        let i = SERVICES + self.added;
        self.added += 1;
        let name = service_name(i);
        self.hosts.push((
            format!("new-{i:04}.example.com"),
            "/".to_owned(),
            name.clone(),
        ));
        let (route, cluster, cla) = (
            route_table(ROUTE_TABLE, &self.hosts),
            eds_cluster(&name),
            endpoints(&name, &addrs(i)),
        );
        let encodes = encode_count();
        let started = Instant::now();
        let snapshot = previous
            .edit()
            .cluster(cluster)
            .endpoints(cla)
            .route(route)
            .build()
            .unwrap_or_else(|e| panic!("changed bench snapshot is inconsistent: {e}"));
        (snapshot, started.elapsed(), encode_count() - encodes)
    }
}

// === CPU accounting ===

/// Nanoseconds on CPU so far of this process's threads whose name starts with `prefix`.
fn thread_cpu_ns(prefix: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|comm| comm.starts_with(prefix))
        })
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

#[derive(Clone, Copy)]
struct Cpu {
    server: u64,
    clients: u64,
}

impl Cpu {
    fn now() -> Cpu {
        Cpu {
            server: thread_cpu_ns("xds-server"),
            clients: thread_cpu_ns("ads-client"),
        }
    }

    fn since(self, start: Cpu) -> (f64, f64) {
        (
            self.server.saturating_sub(start.server) as f64 / 1e6,
            self.clients.saturating_sub(start.clients) as f64 / 1e6,
        )
    }
}

/// The soft limit on open files, from /proc/self/limits.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

// === convergence ===

/// Tracks the latest RDS version each client reported.
struct Convergence {
    latest: Vec<String>,
    reports: mpsc::UnboundedReceiver<RdsAcked>,
}

impl Convergence {
    /// Waits until every client reported `version`; returns when the last one ACKed.
    async fn wait(&mut self, version: &str, deadline: Instant) -> Result<Instant, String> {
        let mut pending = self.latest.iter().filter(|v| *v != version).count();
        let mut last = Instant::now();
        while pending > 0 {
            let report = tokio::time::timeout_at(deadline.into(), self.reports.recv())
                .await
                .map_err(|_| {
                    format!(
                        "{pending} of {} clients had not ACKed RDS {version}",
                        self.latest.len()
                    )
                })?
                .ok_or("every client ended")?;
            let slot = &mut self.latest[report.client];
            if *slot != version && report.version == version {
                pending -= 1;
                last = last.max(report.at);
            }
            *slot = report.version;
        }
        Ok(last)
    }
}

/// Polls the tracker until every node has ACKed `route` at `version`.
async fn tracker_confirms(
    tracker: &AckTracker,
    nodes: &[String],
    version: &str,
    deadline: Instant,
) -> Result<Instant, String> {
    let mut pending: Vec<&String> = nodes.iter().collect();
    loop {
        pending.retain(|id| {
            !tracker
                .node(id)
                .is_some_and(|n| n.has_acked(ResourceType::Route, ROUTE_TABLE, version))
        });
        let now = Instant::now();
        if pending.is_empty() {
            return Ok(now);
        }
        if now >= deadline {
            return Err(format!(
                "tracker: {} nodes had not ACKed the route table",
                pending.len()
            ));
        }
        tokio::time::sleep(TRACKER_POLL).await;
    }
}

// === one cell ===

struct Run {
    ack_ms: f64,
    client_ack_ms: f64,
    build_ms: f64,
    build_encodes: u64,
    fanout_encodes: u64,
    server_cpu_ms: f64,
    client_cpu_ms: f64,
}

struct Cell {
    flavor: Flavor,
    clients: usize,
    connections: usize,
    initial_sync_ms: f64,
    runs: Vec<Run>,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

impl Cell {
    fn median(&self, f: impl Fn(&Run) -> f64) -> f64 {
        median(self.runs.iter().map(f).collect())
    }
}

/// Knobs from the environment.
struct Settings {
    /// `FANOUT_RUNS`: measured changes per cell.
    runs: usize,
    /// `FANOUT_STREAMS_PER_CONNECTION`: clients sharing one HTTP/2 connection.
    streams_per_connection: usize,
    /// `FANOUT_WORKERS`: worker threads of each runtime (server, clients).
    workers: usize,
    /// `FANOUT_NODELAY_INCOMING=1`: serve like `serve_on` but with TCP_NODELAY on
    /// accepted sockets (tonic ignores `tcp_nodelay` for caller-supplied incoming).
    nodelay_incoming: bool,
}

async fn run_cell(
    server_rt: &Runtime,
    flavor: Flavor,
    clients: usize,
    settings: &Settings,
) -> Result<Cell, String> {
    let (runs, streams_per_connection) = (settings.runs, settings.streams_per_connection);
    let nodelay_incoming = settings.nodelay_incoming;
    let (mut config, first) = Config::initial();
    let store = SnapshotStore::new();
    let tracker = AckTracker::new();
    let mut current = Arc::new(first);
    store.publish(Arc::clone(&current));

    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let (stop, stopped) = oneshot::channel::<()>();
    let server = AdsServer::new(store.clone(), tracker.clone());
    let server_task = server_rt.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let shutdown = async {
            let _ = stopped.await;
        };
        if nodelay_incoming {
            // `serve_on` minus its one flaw: tonic ignores `tcp_nodelay` for a
            // caller-supplied incoming stream, so set it on each accepted socket.
            let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
            tonic::transport::Server::builder()
                .add_service(server.into_service())
                .serve_with_incoming_shutdown(incoming, shutdown)
                .await
                .map_err(std::io::Error::other)
        } else {
            server
                .serve_on(listener, shutdown)
                .await
                .map_err(std::io::Error::other)
        }
    });

    let endpoint = Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| e.to_string())?
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(10));
    let connections = clients.div_ceil(streams_per_connection);
    let mut channels: Vec<Channel> = Vec::with_capacity(connections);
    for _ in 0..connections {
        channels.push(endpoint.connect().await.map_err(|e| e.to_string())?);
    }

    let (reports, received) = mpsc::unbounded_channel();
    let mut convergence = Convergence {
        latest: vec![String::new(); clients],
        reports: received,
    };
    let nodes: Vec<String> = (0..clients)
        .map(|i| format!("bench-{}-{clients}-{i}", flavor.name()))
        .collect();
    let started = Instant::now();
    let tasks: Vec<JoinHandle<Result<(), tonic::Status>>> = nodes
        .iter()
        .enumerate()
        .map(|(index, node_id)| {
            let client = Client {
                index,
                node_id: node_id.clone(),
                reports: reports.clone(),
            };
            let channel = channels[index / streams_per_connection].clone();
            tokio::spawn(client.run(flavor, channel))
        })
        .collect();
    drop(reports);

    let result = async {
        let version = current.type_version(ResourceType::Route).to_owned();
        convergence
            .wait(&version, started + INITIAL_SYNC_TIMEOUT)
            .await
            .map_err(|e| format!("initial sync: {e}"))?;
        let route = current
            .get(ResourceType::Route, ROUTE_TABLE)
            .ok_or("no route table")?;
        let synced = tracker_confirms(
            &tracker,
            &nodes,
            route.version(),
            started + INITIAL_SYNC_TIMEOUT,
        )
        .await?;
        let initial_sync_ms = (synced - started).as_secs_f64() * 1e3;

        let mut measured = Vec::new();
        for run in 0..WARMUP_RUNS + runs {
            let (next, build_time, build_encodes) = config.add_host(&current);
            current = Arc::new(next);
            let version = current.type_version(ResourceType::Route).to_owned();
            let route = current
                .get(ResourceType::Route, ROUTE_TABLE)
                .ok_or("no route table")?;
            let encodes = encode_count();
            let cpu = Cpu::now();
            let published = Instant::now();
            if !store.publish(Arc::clone(&current)) {
                return Err("the change did not change the snapshot version".to_owned());
            }
            let deadline = published + CHANGE_TIMEOUT;
            let client_acked = convergence
                .wait(&version, deadline)
                .await
                .map_err(|e| format!("change {run}: {e}"))?;
            let server_acked =
                tracker_confirms(&tracker, &nodes, route.version(), deadline).await?;
            let (server_cpu_ms, client_cpu_ms) = Cpu::now().since(cpu);
            if run >= WARMUP_RUNS {
                measured.push(Run {
                    ack_ms: (server_acked - published).as_secs_f64() * 1e3,
                    client_ack_ms: (client_acked - published).as_secs_f64() * 1e3,
                    build_ms: build_time.as_secs_f64() * 1e3,
                    build_encodes,
                    fanout_encodes: encode_count() - encodes,
                    server_cpu_ms,
                    client_cpu_ms,
                });
            }
        }
        Ok::<_, String>((initial_sync_ms, measured))
    }
    .await;

    // Tear down whatever happened: clients first, then the server.
    for task in &tasks {
        task.abort();
    }
    let mut failures = Vec::new();
    for task in tasks {
        if let Ok(Err(status)) = task.await {
            failures.push(status.to_string());
        }
    }
    drop(channels);
    let _ = stop.send(());
    match tokio::time::timeout(Duration::from_secs(10), server_task).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => failures.push(format!("server: {e}")),
        Ok(Err(e)) => failures.push(format!("server task: {e}")),
        Err(_) => eprintln!("warning: server did not shut down within 10 s"),
    }

    let (initial_sync_ms, runs) = result.map_err(|e| {
        let first: Vec<_> = failures.iter().take(3).collect();
        format!(
            "{} M={clients}: {e}; client errors: {first:?}",
            flavor.name()
        )
    })?;
    Ok(Cell {
        flavor,
        clients,
        connections,
        initial_sync_ms,
        runs,
    })
}

fn runtime(name: &str, workers: usize) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name(name)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("cannot start the {name} runtime: {e}"))
}

fn main() {
    std::thread::spawn(|| {
        std::thread::sleep(BENCH_TIMEOUT);
        eprintln!("fanout bench: still running after {BENCH_TIMEOUT:?}, giving up");
        std::process::exit(2);
    });
    let sizes: Vec<usize> = std::env::var("FANOUT_CLIENTS")
        .unwrap_or_else(|_| "100,1000".to_owned())
        .split(',')
        .map(|s| {
            s.trim()
                .parse()
                .unwrap_or_else(|_| panic!("bad FANOUT_CLIENTS {s:?}"))
        })
        .collect();
    let mut settings = Settings {
        runs: env_or("FANOUT_RUNS", 5),
        streams_per_connection: env_or("FANOUT_STREAMS_PER_CONNECTION", 1),
        workers: env_or("FANOUT_WORKERS", 2),
        nodelay_incoming: env_or("FANOUT_NODELAY_INCOMING", 0) == 1,
    };
    assert!(settings.runs > 0 && settings.streams_per_connection > 0 && settings.workers > 0);

    // Each connection costs two descriptors (client and server side).
    let largest = sizes.iter().copied().max().unwrap_or(0) as u64;
    if let Some(limit) = open_files_limit() {
        let room = limit.saturating_sub(FD_RESERVE).max(2) / 2;
        if largest.div_ceil(settings.streams_per_connection as u64) > room {
            settings.streams_per_connection = largest.div_ceil(room) as usize;
            eprintln!(
                "open files limit {limit}: multiplexing {} streams per connection",
                settings.streams_per_connection
            );
        }
    }

    let server_rt = runtime("xds-server", settings.workers);
    let client_rt = runtime("ads-client", settings.workers);
    let mut cells = Vec::new();
    for &clients in &sizes {
        for flavor in [Flavor::Sotw, Flavor::Delta] {
            if std::env::var("FANOUT_MODES").is_ok_and(|m| !m.contains(flavor.name())) {
                continue;
            }
            let cell = client_rt
                .block_on(run_cell(&server_rt, flavor, clients, &settings))
                .unwrap_or_else(|e| {
                    eprintln!("fanout bench failed: {e}");
                    std::process::exit(1);
                });
            cells.push(cell);
        }
    }
    let Settings { runs, workers, .. } = settings;

    println!(
        "fanout: 1 listener, 1 route table × {SERVICES} virtual hosts, {SERVICES} EDS clusters, \
         {} endpoints; change = +1 virtual host, +1 cluster, +1 CLA; {} CPUs, {workers}+{workers} \
         workers (server+clients); {} stream(s) per connection; server: {}; median of {runs} runs \
         after {WARMUP_RUNS} warm-up",
        SERVICES * ENDPOINTS_PER_SERVICE,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        settings.streams_per_connection,
        if settings.nodelay_incoming {
            "serve_on-equivalent with TCP_NODELAY on accepted sockets"
        } else {
            "AdsServer::serve_on"
        },
    );
    println!(
        "{:<6} {:>5} {:>5} {:>9} {:>10} {:>10} {:>8} {:>8} {:>9} {:>8} {:>9} {:>9}",
        "mode",
        "M",
        "conns",
        "sync ms",
        "ACKed ms",
        "(min-max)",
        "build ms",
        "encodes",
        "go-cp ms",
        "speedup",
        "srv CPU",
        "cli CPU"
    );
    let mut json_cells = Vec::new();
    for cell in &cells {
        let ack = cell.median(|r| r.ack_ms);
        let min = cell.runs.iter().map(|r| r.ack_ms).fold(f64::MAX, f64::min);
        let max = cell.runs.iter().map(|r| r.ack_ms).fold(0.0, f64::max);
        let reference = reference_ms(cell.flavor, cell.clients);
        let speedup = reference.map(|r| r / ack);
        let encodes: Vec<u64> = cell.runs.iter().map(|r| r.build_encodes).collect();
        let fanout_encodes: u64 = cell.runs.iter().map(|r| r.fanout_encodes).sum();
        println!(
            "{:<6} {:>5} {:>5} {:>9.0} {:>10.1} {:>10} {:>8.2} {:>8} {:>9} {:>8} {:>7.0}ms {:>7.0}ms",
            cell.flavor.name(),
            cell.clients,
            cell.connections,
            cell.initial_sync_ms,
            ack,
            format!("{min:.0}-{max:.0}"),
            cell.median(|r| r.build_ms),
            format!("{}+{}", encodes[0], fanout_encodes),
            reference.map_or("-".to_owned(), |r| format!("{r:.0}")),
            speedup.map_or("-".to_owned(), |s| format!("{s:.1}x")),
            cell.median(|r| r.server_cpu_ms),
            cell.median(|r| r.client_cpu_ms),
        );
        json_cells.push(json!({
            "mode": cell.flavor.name(),
            "clients": cell.clients,
            "connections": cell.connections,
            "initial_sync_ms": cell.initial_sync_ms,
            "acked_ms_median": ack,
            "acked_ms": cell.runs.iter().map(|r| r.ack_ms).collect::<Vec<_>>(),
            "client_acked_ms_median": cell.median(|r| r.client_ack_ms),
            "build_ms_median": cell.median(|r| r.build_ms),
            "build_encodes": encodes,
            "fanout_encodes": fanout_encodes,
            "server_cpu_ms_median": cell.median(|r| r.server_cpu_ms),
            "client_cpu_ms_median": cell.median(|r| r.client_cpu_ms),
            "go_control_plane_ms": reference,
            "speedup": speedup,
        }));
    }
    println!(
        "ACKed ms: publish → server's AckTracker shows every client ACKed the new route table \
         (clients' own last ACK: see client_acked_ms_median in the JSON). encodes: building \
         the change + during fan-out. CPU: thread time during the change."
    );
    println!(
        "{}",
        json!({
            "bench": "fanout",
            "virtual_hosts": SERVICES,
            "clusters": SERVICES,
            "endpoints": SERVICES * ENDPOINTS_PER_SERVICE,
            "runs": runs,
            "warmup_runs": WARMUP_RUNS,
            "streams_per_connection": settings.streams_per_connection,
            "nodelay_incoming": settings.nodelay_incoming,
            "workers_per_runtime": workers,
            "cells": json_cells,
        })
    );
}

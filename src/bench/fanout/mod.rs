//! Fan-out, measured as an operator sees it: M Envoy-like clients connect at once
//! to a running Interlock (connect → complete config, failed attempts), then each
//! change is one Ingress written into the directory `serve` watches, timed from
//! the write until every client holds the route, its cluster and its endpoints.

mod probe_files;
mod summary;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tonic::transport::Endpoint;

use super::envoy_like::{ClientEvent, EnvoyLike, Flavor, Probe, Seen};
use super::process_usage::ProcessUsage;

pub use super::spread::Spread;
pub use probe_files::NAMESPACE;
use probe_files::{probe_host, ProbeFile};
pub use summary::{ChangeResult, FanoutReport};

/// Envoy 1.40's HTTP/2 windows for its xDS connection (256 MiB each).
const ENVOY_WINDOW: u32 = 256 * 1024 * 1024;
/// Failure messages kept for the report.
const FAILURE_SAMPLES: usize = 5;

/// What to run.
#[derive(Clone, Debug)]
pub struct FanoutPlan {
    /// The xDS server, e.g. `http://127.0.0.1:18000`.
    pub xds: String,
    /// How many clients.
    pub clients: usize,
    /// ADS flavour.
    pub flavor: Flavor,
    /// Node ids are this followed by the client's index.
    pub node_prefix: String,
    /// How long the clients may take to all hold complete config.
    pub complete_timeout: Duration,
    /// Changes to make once they do.
    pub changes: Option<ChangePlan>,
    /// The server's process id on this machine, for its CPU and memory.
    pub server_pid: Option<u32>,
}

/// The changes of a run.
#[derive(Clone, Debug)]
pub struct ChangePlan {
    /// The directory `interlock serve --ingress-dir` watches.
    pub ingress_dir: PathBuf,
    /// How many changes (one new Ingress each).
    pub count: usize,
    /// How long every client may take to hold one.
    pub timeout: Duration,
    /// Quiet time after a change is everywhere, before the next.
    pub pause: Duration,
    /// `ingressClassName` of the probe Ingresses.
    pub class: String,
}

/// A run that could not be carried out (bad address, unwritable directory).
#[derive(Debug, thiserror::Error)]
pub enum FanoutError {
    /// The xDS address is not a URI tonic accepts.
    #[error("bad xDS address {address:?}: {message}")]
    Address {
        /// As given.
        address: String,
        /// Why.
        message: String,
    },
    /// A probe file could not be written or removed.
    #[error("probe file in {dir}: {source}")]
    ProbeFile {
        /// The directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// What the event loop has seen so far.
struct Tally {
    started: Instant,
    complete: Vec<Option<Duration>>,
    failures: usize,
    failure_samples: BTreeSet<String>,
    holds: Vec<u64>,
    held_at: Vec<Option<Instant>>,
}

// === impl Tally ===

impl Tally {
    fn record(&mut self, event: ClientEvent, probe: u64) {
        match event.seen {
            Seen::Complete => {
                self.complete[event.client] =
                    Some(event.at.saturating_duration_since(self.started));
            }
            Seen::Holds(id) => {
                self.holds[event.client] = id;
                if id == probe {
                    self.held_at[event.client] = Some(event.at);
                }
            }
            Seen::Failed(message) => {
                self.failures += 1;
                if self.failure_samples.len() < FAILURE_SAMPLES {
                    self.failure_samples.insert(message);
                }
            }
        }
    }
}

/// Runs the plan against a server that is already up. The clients stop when it
/// returns; probe files are removed.
pub async fn run(plan: FanoutPlan) -> Result<FanoutReport, FanoutError> {
    let endpoint = Endpoint::from_shared(plan.xds.clone())
        .map_err(|e| FanoutError::Address {
            address: plan.xds.clone(),
            message: e.to_string(),
        })?
        .initial_stream_window_size(ENVOY_WINDOW)
        .initial_connection_window_size(ENVOY_WINDOW)
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(10));
    let before = plan.server_pid.and_then(ProcessUsage::read);
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let (probe_tx, probe_rx) = watch::channel(None);
    let received = Arc::new(AtomicU64::new(0));
    let mut tally = Tally {
        started: Instant::now(),
        complete: vec![None; plan.clients],
        failures: 0,
        failure_samples: BTreeSet::new(),
        holds: vec![0; plan.clients],
        held_at: vec![None; plan.clients],
    };
    let mut clients = JoinSet::new();
    for index in 0..plan.clients {
        let client = EnvoyLike {
            index,
            node_id: format!("{}{index}", plan.node_prefix),
            flavor: plan.flavor,
            events: events_tx.clone(),
            probe: probe_rx.clone(),
            received: Arc::clone(&received),
        };
        clients.spawn(client.run(endpoint.clone()));
    }
    drop(events_tx);

    let deadline = tally.started + plan.complete_timeout;
    while tally.complete.iter().any(Option::is_none) {
        match tokio::time::timeout_at(deadline.into(), events.recv()).await {
            Ok(Some(event)) => tally.record(event, 0),
            Ok(None) | Err(_) => break,
        }
    }
    let mut changes = Vec::new();
    let mut files = Vec::new();
    if let Some(change) = &plan.changes {
        let run = std::process::id();
        for id in 1..=change.count as u64 {
            let host = probe_host(run, id);
            probe_tx.send_replace(Some(Probe {
                id,
                host: host.clone(),
            }));
            let file = ProbeFile::write(&change.ingress_dir, run, id, &host, &change.class)
                .map_err(|source| probe_error(change, source))?;
            let written = Instant::now();
            let result = wait_held(&mut tally, &mut events, id, written, change.timeout).await;
            changes.push(result);
            // Kept until the run ends (and removed when dropped, also on an
            // early return): each change adds one Ingress and nothing else.
            files.push(file);
            tokio::time::sleep(change.pause).await;
        }
    }
    drop(files);
    clients.abort_all();
    let after = plan.server_pid.and_then(ProcessUsage::read);
    // Failures reported while the clients were being stopped are not the server's.
    let complete: Vec<Duration> = tally.complete.iter().flatten().copied().collect();
    let all: Vec<Duration> = changes
        .iter()
        .filter_map(|c: &ChangeResult| c.write_to_all_ms)
        .map(|ms| Duration::from_secs_f64(ms / 1e3))
        .collect();
    Ok(FanoutReport {
        flavor: plan.flavor,
        clients: plan.clients,
        complete: complete.len(),
        failures: tally.failures,
        failure_samples: tally.failure_samples.into_iter().collect(),
        connect_to_complete: Spread::of(&complete),
        write_to_all: Spread::of(&all),
        changes,
        bytes_received: received.load(Ordering::Relaxed),
        server_cpu_seconds: before
            .zip(after)
            .map(|(b, a)| a.cpu.saturating_sub(b.cpu).as_secs_f64()),
        server_peak_rss_bytes: after.map(|a| a.peak_rss_bytes),
    })
}

/// Waits until every client holds probe `id` (or the deadline).
async fn wait_held(
    tally: &mut Tally,
    events: &mut mpsc::UnboundedReceiver<ClientEvent>,
    id: u64,
    written: Instant,
    timeout: Duration,
) -> ChangeResult {
    tally.held_at.iter_mut().for_each(|h| *h = None);
    let deadline = written + timeout;
    while tally.holds.iter().any(|h| *h < id) {
        match tokio::time::timeout_at(deadline.into(), events.recv()).await {
            Ok(Some(event)) => tally.record(event, id),
            Ok(None) | Err(_) => break,
        }
    }
    let latencies: Vec<Duration> = tally
        .held_at
        .iter()
        .flatten()
        .map(|at| at.saturating_duration_since(written))
        .collect();
    let held_by = latencies.len();
    let spread = Spread::of(&latencies);
    ChangeResult {
        held_by,
        write_to_all_ms: (held_by == tally.holds.len()).then_some(spread.max_ms),
        write_to_client: spread,
    }
}

fn probe_error(change: &ChangePlan, source: std::io::Error) -> FanoutError {
    FanoutError::ProbeFile {
        dir: change.ingress_dir.clone(),
        source,
    }
}

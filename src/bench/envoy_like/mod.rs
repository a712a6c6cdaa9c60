//! An Envoy-like ADS client for load and latency measurement: one HTTP/2
//! connection and one ADS stream per client, SotW or delta, subscribing the way
//! Envoy 1.40 does (CDS and LDS wildcard, then EDS for the clusters' endpoints and
//! RDS for the route tables its listeners name) and ACKing every response at once.
//!
//! It reports, with the instant it happened: when its config is first complete,
//! when it first holds a working route to the current probe host, and every failed
//! attempt (it then reconnects, as Envoy would). It decodes only what it needs.

mod decode;
mod delta;
mod held;
mod sotw;
mod wire;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use envoy_types::pb::envoy::config::core::v3::Node;
use tokio::sync::{mpsc, watch};
use tonic::transport::{Channel, Endpoint};
use tonic::Status;

use crate::snapshot::{Name, ResourceType};

pub use decode::DecodeError;
use held::{Held, Part};

/// Which ADS flavour the client speaks.
#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    /// `StreamAggregatedResources` (state of the world).
    Sotw,
    /// `DeltaAggregatedResources` (incremental).
    Delta,
}

impl Flavor {
    /// Lower-case name, as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Sotw => "sotw",
            Flavor::Delta => "delta",
        }
    }
}

/// A host the bench waits to see routed: every client reports when it holds a
/// route to it with the cluster and endpoints behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// Increases with every probe of a run.
    pub id: u64,
    /// The `Host` a request would carry.
    pub host: String,
}

/// What a client saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    /// Its config is complete for the first time.
    Complete,
    /// It holds a working route to the probe with this id.
    Holds(u64),
    /// A connection or stream failed (it reconnects).
    Failed(String),
}

/// One report, stamped when it happened.
#[derive(Clone, Debug)]
pub struct ClientEvent {
    /// Index of the client.
    pub client: usize,
    /// What it saw.
    pub seen: Seen,
    /// When.
    pub at: Instant,
}

/// One Envoy-like client.
pub struct EnvoyLike {
    /// Index reported back in [`ClientEvent`].
    pub index: usize,
    /// Its `node.id` (unique per client, as every Envoy's is).
    pub node_id: String,
    /// The ADS flavour.
    pub flavor: Flavor,
    /// Where it reports.
    pub events: mpsc::UnboundedSender<ClientEvent>,
    /// The current probe host.
    pub probe: watch::Receiver<Option<Probe>>,
    /// Bytes of responses received, summed over all clients.
    pub received: Arc<AtomicU64>,
}

/// Wait before reconnecting after a failure (Envoy's default base interval).
const RECONNECT: Duration = Duration::from_millis(500);

/// What a stream's loop keeps between responses.
struct Progress {
    held: Held,
    complete: bool,
    holds_probe: u64,
}

// === impl EnvoyLike ===

impl EnvoyLike {
    /// Connects and follows the server until the events receiver is gone;
    /// reconnects after every failure.
    pub async fn run(mut self, endpoint: Endpoint) {
        let mut progress = Progress {
            held: Held::default(),
            complete: false,
            holds_probe: 0,
        };
        loop {
            let error = match endpoint.connect().await {
                Ok(channel) => self.stream(channel, &mut progress).await,
                Err(e) => Status::unavailable(format!("connect: {}", error_chain(&e))),
            };
            if self.events.is_closed() {
                return;
            }
            self.report(Seen::Failed(format!(
                "{}: {}",
                error.code(),
                error.message()
            )));
            progress.held = Held::default();
            tokio::time::sleep(RECONNECT).await;
        }
    }

    async fn stream(&mut self, channel: Channel, progress: &mut Progress) -> Status {
        let ended = match self.flavor {
            Flavor::Sotw => sotw::follow(self, channel, progress).await,
            Flavor::Delta => delta::follow(self, channel, progress).await,
        };
        match ended {
            Ok(()) => Status::unavailable("the server ended the stream"),
            Err(status) => status,
        }
    }

    fn node(&self) -> Node {
        Node {
            id: self.node_id.clone(),
            cluster: "interlock-bench".to_owned(),
            ..Node::default()
        }
    }

    fn report(&self, seen: Seen) {
        let event = ClientEvent {
            client: self.index,
            seen,
            at: Instant::now(),
        };
        // The bench stopped listening: the run loop sees it and returns.
        let _ = self.events.send(event);
    }

    /// After every response: report what became true.
    fn check(&self, progress: &mut Progress, bytes: usize) {
        self.received.fetch_add(bytes as u64, Ordering::Relaxed);
        if !progress.complete && progress.held.complete() {
            progress.complete = true;
            self.report(Seen::Complete);
        }
        let probe = self.probe.borrow().clone();
        if let Some(probe) = probe {
            if probe.id > progress.holds_probe && progress.held.holds(&probe) {
                progress.holds_probe = probe.id;
                self.report(Seen::Holds(probe.id));
            }
        }
    }

    fn current_probe(&self) -> Option<Probe> {
        self.probe.borrow().clone()
    }
}

/// The part of the config a type is, for the types the client follows.
fn part(kind: ResourceType) -> Option<Part> {
    match kind {
        ResourceType::Cluster => Some(Part::Clusters),
        ResourceType::Endpoints => Some(Part::Endpoints),
        ResourceType::Listener => Some(Part::Listeners),
        ResourceType::Route => Some(Part::Routes),
        ResourceType::Secret => None,
    }
}

fn decode_failed(e: DecodeError) -> Status {
    Status::internal(e.to_string())
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// After a CDS or LDS response: the subscription it implies (EDS names from the
/// held clusters, RDS names from the held listeners).
fn follow_up(kind: ResourceType, held: &Held) -> Option<(ResourceType, BTreeSet<Name>)> {
    match kind {
        ResourceType::Cluster => Some((ResourceType::Endpoints, held.wanted_endpoints())),
        ResourceType::Listener => Some((ResourceType::Route, held.wanted_routes())),
        _ => None,
    }
}

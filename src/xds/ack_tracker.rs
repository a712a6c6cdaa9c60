//! What every connected Envoy has accepted or rejected, so that status writers,
//! the admin API and tests can ask "is this config live on every gateway?".

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use dashmap::DashMap;
use tokio::sync::broadcast;

use crate::snapshot::{PerType, ResourceMap, ResourceType};

use super::stream_state::Mode;

/// How many tracker events a slow subscriber may fall behind before it misses
/// some (it is told how many, by `broadcast`'s `Lagged`).
const EVENT_BUFFER: usize = 4096;

/// What happened on an xDS stream, for the admin API and metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum XdsEvent {
    /// A node opened a stream.
    StreamOpened { node: String, mode: Mode },
    /// A node's stream ended.
    StreamClosed { node: String, mode: Mode },
    /// A response was sent.
    Pushed {
        node: String,
        kind: ResourceType,
        version: String,
    },
    /// A response was ACKed, `latency` after it was pushed.
    Acked {
        node: String,
        kind: ResourceType,
        version: String,
        latency: Option<Duration>,
    },
    /// A node gone for longer than the departure grace was forgotten (its
    /// state and metric series go).
    NodeForgotten { node: String },
    /// A response was NACKed.
    Nacked {
        node: String,
        kind: ResourceType,
        version: String,
        error: String,
    },
}

/// A rejected response, kept until a later ACK of that type replaces it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nack {
    /// The version (content hash) Envoy rejected; it is never sent to this stream again.
    pub rejected_version: String,
    /// Envoy's `error_detail.message`, verbatim (multi-line, not parsed).
    pub error: String,
    /// When the NACK arrived.
    pub at: SystemTime,
}

/// One type's state on one node.
#[derive(Clone, Debug, Default)]
pub struct TypeStatus {
    /// Version of the last ACKed response (content hash of what it carried).
    pub acked_version: Option<String>,
    /// The resources the node has accepted, shared with the stream (no copy).
    pub acked: Arc<ResourceMap>,
    /// The content hash of `acked`, when it is exactly what an ACKed version
    /// hashes: nodes with the same one hold the same resources, even in maps
    /// of their own (views cut for a subscription).
    pub content: Option<String>,
    /// The last NACK, if any came after the last ACK.
    pub last_nack: Option<Nack>,
    /// Total NACKs of this type.
    pub nacks: u64,
    /// Responses sent of this type (tests count them to prove NACKed versions are not re-sent).
    pub responses_sent: u64,
    /// When the last response of this type was sent.
    pub last_pushed_at: Option<Instant>,
    /// When the last ACK of this type arrived.
    pub last_acked_at: Option<Instant>,
}

/// One node's state across types.
#[derive(Clone, Debug, Default)]
pub struct NodeStatus {
    /// Open ADS streams for this node id.
    pub streams: usize,
    /// When its last stream closed (it is forgotten a grace period later).
    pub departed_at: Option<Instant>,
    /// The namespaces whose TLS Secrets this node may receive (`None`: all):
    /// a Secret outside them is not needed for an Ingress to be programmed there.
    pub secret_namespaces: Option<Arc<BTreeSet<String>>>,
    /// Per-type state.
    pub types: PerType<TypeStatus>,
}

impl NodeStatus {
    /// True when the node has ACKed `resource` at exactly `version`.
    pub fn has_acked(&self, kind: ResourceType, name: &str, version: &str) -> bool {
        self.types[kind]
            .acked
            .get(name)
            .is_some_and(|r| r.version() == version)
    }
}

/// Shared, lock-sharded map of node id → status, plus a stream of what happens.
/// Cheap to clone.
#[derive(Clone)]
pub struct AckTracker {
    /// Each status behind its own `Arc`: readers that look at every node (the
    /// admin API's Ingress states, refreshed as ACKs arrive) share them, and a
    /// write copies one only while such a reader still holds it.
    nodes: Arc<DashMap<String, Arc<NodeStatus>>>,
    events: broadcast::Sender<XdsEvent>,
    /// How long a node without streams is remembered.
    grace: Duration,
    /// When departed nodes were last looked for.
    swept: Arc<std::sync::Mutex<Instant>>,
    /// Sees every event synchronously (see [`AckTracker::observe`]).
    observer: Arc<std::sync::OnceLock<Arc<dyn XdsObserver>>>,
}

/// Something that must see every xDS event, none lost to a slow consumer.
pub trait XdsObserver: Send + Sync {
    /// Called once per event, on the thread that caused it: keep it cheap.
    fn observe(&self, event: &XdsEvent);
}

impl Default for AckTracker {
    fn default() -> Self {
        AckTracker {
            nodes: Arc::default(),
            events: broadcast::channel(EVENT_BUFFER).0,
            grace: DEPARTURE_GRACE,
            swept: Arc::new(std::sync::Mutex::new(Instant::now())),
            observer: Arc::default(),
        }
    }
}

/// How long a node without streams is remembered by default: long enough to
/// ride out a reconnect or an Interlock rollout, short enough that Envoy pods
/// replaced by a rollout (new names) do not pile up.
pub const DEPARTURE_GRACE: Duration = Duration::from_secs(300);

impl AckTracker {
    /// An empty tracker.
    pub fn new() -> Self {
        AckTracker::default()
    }

    /// Forgets a node (its state, and its metric series through
    /// [`XdsEvent::NodeForgotten`]) `grace` after its last stream closed.
    pub fn with_departure_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Forgets nodes departed longer than the grace ago; looks at most once
    /// per tenth of the grace (and second), so callers on hot paths pay little.
    fn sweep(&self) {
        let now = Instant::now();
        {
            let mut swept = match self.swept.lock() {
                Ok(swept) => swept,
                Err(poisoned) => poisoned.into_inner(),
            };
            let every = (self.grace / 10).min(Duration::from_secs(1));
            if now.duration_since(*swept) < every {
                return;
            }
            *swept = now;
        }
        // Checked again at removal: the node may have come back and left since.
        let departed_long_ago = |n: &NodeStatus| {
            n.streams == 0
                && n.departed_at
                    .is_some_and(|at| now.duration_since(at) >= self.grace)
        };
        let gone: Vec<String> = self
            .nodes
            .iter()
            .filter(|n| departed_long_ago(n))
            .map(|n| n.key().clone())
            .collect();
        for node in gone {
            let removed = self
                .nodes
                .remove_if(&node, |_, n| departed_long_ago(n))
                .is_some();
            if removed {
                self.emit(XdsEvent::NodeForgotten { node });
            }
        }
    }

    /// Status of one node, if it ever connected.
    pub fn node(&self, node_id: &str) -> Option<NodeStatus> {
        self.nodes.get(node_id).map(|n| NodeStatus::clone(&n))
    }

    /// Every node seen within the departure grace, by id (disconnected ones
    /// have `streams == 0`).
    pub fn nodes(&self) -> BTreeMap<String, NodeStatus> {
        self.shared_nodes()
            .into_iter()
            .map(|(id, node)| (id, Arc::unwrap_or_clone(node)))
            .collect()
    }

    /// [`AckTracker::nodes`] without copying any status, sorted by node id.
    pub fn shared_nodes(&self) -> Vec<(String, Arc<NodeStatus>)> {
        self.sweep();
        let mut nodes: Vec<(String, Arc<NodeStatus>)> = self
            .nodes
            .iter()
            .map(|e| (e.key().clone(), Arc::clone(e.value())))
            .collect();
        nodes.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        nodes
    }

    /// Changes one node's status (made if it is new).
    fn update<R>(&self, node_id: &str, change: impl FnOnce(&mut NodeStatus) -> R) -> R {
        let mut node = self.nodes.entry(node_id.to_owned()).or_default();
        change(Arc::make_mut(node.value_mut()))
    }

    /// Node ids with at least one open stream.
    pub fn connected(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .nodes
            .iter()
            .filter(|e| e.streams > 0)
            .map(|e| e.key().clone())
            .collect();
        ids.sort();
        ids
    }

    /// Every event from now on (pushes, ACKs, NACKs, streams).
    pub fn subscribe(&self) -> broadcast::Receiver<XdsEvent> {
        self.events.subscribe()
    }

    /// Hands every event to `observer` as it happens, before the lossy
    /// broadcast: what must count every sample (metrics) observes here. The
    /// first observer set stays.
    pub fn observe(&self, observer: Arc<dyn XdsObserver>) {
        let _ = self.observer.set(observer);
    }

    fn emit(&self, event: XdsEvent) {
        if let Some(observer) = self.observer.get() {
            observer.observe(&event);
        }
        // No subscriber is fine: events are for whoever listens.
        let _ = self.events.send(event);
    }

    pub(crate) fn stream_opened(&self, node_id: &str, mode: Mode) {
        self.sweep();
        self.update(node_id, |node| {
            node.streams += 1;
            node.departed_at = None;
        });
        self.emit(XdsEvent::StreamOpened {
            node: node_id.to_owned(),
            mode,
        });
    }

    pub(crate) fn secret_scope(&self, node_id: &str, scope: Option<Arc<BTreeSet<String>>>) {
        self.update(node_id, |node| node.secret_namespaces = scope);
    }

    pub(crate) fn stream_closed(&self, node_id: &str, mode: Mode) {
        if let Some(mut node) = self.nodes.get_mut(node_id) {
            let node = Arc::make_mut(node.value_mut());
            node.streams = node.streams.saturating_sub(1);
            if node.streams == 0 {
                node.departed_at = Some(Instant::now());
            }
        }
        self.sweep();
        self.emit(XdsEvent::StreamClosed {
            node: node_id.to_owned(),
            mode,
        });
    }

    pub(crate) fn sent(&self, node_id: &str, kind: ResourceType, version: &str) {
        self.update(node_id, |node| {
            let status = &mut node.types[kind];
            status.responses_sent += 1;
            status.last_pushed_at = Some(Instant::now());
        });
        self.emit(XdsEvent::Pushed {
            node: node_id.to_owned(),
            kind,
            version: version.to_owned(),
        });
    }

    pub(crate) fn acked(
        &self,
        node_id: &str,
        kind: ResourceType,
        version: String,
        acked: Arc<ResourceMap>,
        whole_view: bool,
    ) {
        let content = whole_view.then(|| version.clone());
        self.record_held(node_id, kind, version, acked, content, true);
    }

    /// Records what a reconnected Envoy holds without being sent it (no push,
    /// so no push→ACK latency).
    pub(crate) fn resumed(
        &self,
        node_id: &str,
        kind: ResourceType,
        version: String,
        acked: Arc<ResourceMap>,
    ) {
        self.record_held(node_id, kind, version, acked, None, false);
    }

    fn record_held(
        &self,
        node_id: &str,
        kind: ResourceType,
        version: String,
        acked: Arc<ResourceMap>,
        content: Option<String>,
        pushed: bool,
    ) {
        let latency = self.update(node_id, |node| {
            let status = &mut node.types[kind];
            let now = Instant::now();
            status.acked_version = Some(version.clone());
            status.acked = acked;
            status.content = content;
            status.last_nack = None;
            status.last_acked_at = Some(now);
            status
                .last_pushed_at
                .filter(|_| pushed)
                .map(|at| now.saturating_duration_since(at))
        });
        self.emit(XdsEvent::Acked {
            node: node_id.to_owned(),
            kind,
            version,
            latency,
        });
    }

    /// The node unsubscribed from some of what it held; it holds `acked` now.
    pub(crate) fn released(&self, node_id: &str, kind: ResourceType, acked: Arc<ResourceMap>) {
        self.update(node_id, |node| {
            let status = &mut node.types[kind];
            status.acked = acked;
            status.content = None;
        });
    }

    pub(crate) fn nacked(
        &self,
        node_id: &str,
        kind: ResourceType,
        rejected_version: String,
        error: String,
    ) {
        self.update(node_id, |node| {
            let status = &mut node.types[kind];
            status.nacks += 1;
            status.last_nack = Some(Nack {
                rejected_version: rejected_version.clone(),
                error: error.clone(),
                at: SystemTime::now(),
            });
        });
        self.emit(XdsEvent::Nacked {
            node: node_id.to_owned(),
            kind,
            version: rejected_version,
            error,
        });
    }
}

#[cfg(test)]
#[path = "ack_tracker_properties.rs"]
mod properties;

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    struct Counting(AtomicUsize);

    impl XdsObserver for Counting {
        fn observe(&self, event: &XdsEvent) {
            if matches!(event, XdsEvent::Acked { .. }) {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    #[test]
    fn an_observer_sees_every_ack_however_many_the_broadcast_drops() {
        let tracker = AckTracker::new();
        let counting = Arc::new(Counting(AtomicUsize::new(0)));
        tracker.observe(counting.clone());
        // A subscriber that never reads: the broadcast keeps only the last
        // EVENT_BUFFER events for it.
        let _slow = tracker.subscribe();
        let n = EVENT_BUFFER * 3;
        for i in 0..n {
            tracker.sent("n", ResourceType::Route, &i.to_string());
            tracker.acked(
                "n",
                ResourceType::Route,
                i.to_string(),
                Arc::default(),
                true,
            );
        }
        assert_eq!(counting.0.load(Ordering::Relaxed), n);
    }

    #[test]
    fn a_departed_node_is_forgotten_after_the_grace_and_not_before() {
        let tracker = AckTracker::new().with_departure_grace(Duration::from_millis(30));
        tracker.stream_opened("n", Mode::Sotw);
        tracker.stream_closed("n", Mode::Sotw);
        assert!(tracker.node("n").is_some(), "within the grace");
        std::thread::sleep(Duration::from_millis(60));
        assert!(tracker.nodes().is_empty(), "forgotten");
        tracker.stream_opened("n", Mode::Sotw);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(tracker.nodes().len(), 1, "a connected node is kept");
    }
}

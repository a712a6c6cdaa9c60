//! What every connected Envoy has accepted or rejected, so that status writers,
//! the admin API and tests can ask "is this config live on every gateway?".

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use dashmap::DashMap;

use crate::snapshot::{PerType, ResourceMap, ResourceType};

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
    /// The last NACK, if any came after the last ACK.
    pub last_nack: Option<Nack>,
    /// Total NACKs of this type.
    pub nacks: u64,
    /// Responses sent of this type (tests count them to prove NACKed versions are not re-sent).
    pub responses_sent: u64,
}

/// One node's state across types.
#[derive(Clone, Debug, Default)]
pub struct NodeStatus {
    /// Open ADS streams for this node id.
    pub streams: usize,
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

/// Shared, lock-sharded map of node id → status. Cheap to clone.
#[derive(Clone, Default)]
pub struct AckTracker {
    nodes: Arc<DashMap<String, NodeStatus>>,
}

impl AckTracker {
    /// An empty tracker.
    pub fn new() -> Self {
        AckTracker::default()
    }

    /// Status of one node, if it ever connected.
    pub fn node(&self, node_id: &str) -> Option<NodeStatus> {
        self.nodes.get(node_id).map(|n| n.clone())
    }

    /// Every node ever seen, by id (disconnected ones have `streams == 0`).
    pub fn nodes(&self) -> BTreeMap<String, NodeStatus> {
        self.nodes
            .iter()
            .map(|e| (e.key().clone(), e.value().clone()))
            .collect()
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

    pub(crate) fn stream_opened(&self, node_id: &str) {
        self.nodes.entry(node_id.to_owned()).or_default().streams += 1;
    }

    pub(crate) fn stream_closed(&self, node_id: &str) {
        if let Some(mut node) = self.nodes.get_mut(node_id) {
            node.streams = node.streams.saturating_sub(1);
        }
    }

    pub(crate) fn sent(&self, node_id: &str, kind: ResourceType) {
        self.nodes.entry(node_id.to_owned()).or_default().types[kind].responses_sent += 1;
    }

    pub(crate) fn acked(
        &self,
        node_id: &str,
        kind: ResourceType,
        version: String,
        acked: Arc<ResourceMap>,
    ) {
        let mut node = self.nodes.entry(node_id.to_owned()).or_default();
        let status = &mut node.types[kind];
        status.acked_version = Some(version);
        status.acked = acked;
        status.last_nack = None;
    }

    pub(crate) fn nacked(
        &self,
        node_id: &str,
        kind: ResourceType,
        rejected_version: String,
        error: String,
    ) {
        let mut node = self.nodes.entry(node_id.to_owned()).or_default();
        let status = &mut node.types[kind];
        status.nacks += 1;
        status.last_nack = Some(Nack {
            rejected_version,
            error,
            at: SystemTime::now(),
        });
    }
}

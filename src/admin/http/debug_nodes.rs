//! `/debug/nodes`: every Envoy that ever connected — open streams, and per
//! type what it ACKed, how many responses it got and its last NACK.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::response::Response;
use serde::Serialize;

use crate::snapshot::{ResourceType, Snapshot};
use crate::xds::{Nack, NodeStatus, TypeStatus};

use super::json::json;
use super::AdminState;

/// Every known node.
#[derive(Clone, Debug, Serialize)]
pub struct NodesView {
    /// Version of the current snapshot, to compare against.
    pub snapshot_version: Option<String>,
    /// Nodes by id (disconnected ones too, with `streams == 0`).
    pub nodes: Vec<NodeView>,
}

/// One node (an Envoy `node.id`).
#[derive(Clone, Debug, Serialize)]
pub struct NodeView {
    /// The node id.
    pub id: String,
    /// Open ADS streams.
    pub streams: usize,
    /// At least one stream is open.
    pub connected: bool,
    /// Per type (CDS, EDS, LDS, RDS, SDS).
    pub types: BTreeMap<String, TypeView>,
}

/// One type on one node.
#[derive(Clone, Debug, Serialize)]
pub struct TypeView {
    /// Version of the last ACKed response.
    pub acked_version: Option<String>,
    /// Resources the node holds of this type.
    pub acked_resources: usize,
    /// Everything the node holds of this type is in the current snapshot at
    /// the same version (and, for LDS/CDS, it holds the whole set).
    pub in_sync: bool,
    /// Responses sent of this type.
    pub responses_sent: u64,
    /// NACKs of this type.
    pub nacks: u64,
    /// The last NACK, unless an ACK came after it.
    pub last_nack: Option<NackView>,
    /// Milliseconds since the last response of this type was sent.
    pub ms_since_push: Option<u64>,
    /// Milliseconds since the last ACK of this type.
    pub ms_since_ack: Option<u64>,
}

/// A rejected response.
#[derive(Clone, Debug, Serialize)]
pub struct NackView {
    /// The version Envoy rejected (never re-sent to that stream).
    pub version: String,
    /// Envoy's error, verbatim.
    pub error: String,
    /// When it arrived (RFC 3339, UTC).
    pub at: String,
}

/// Builds the view from the tracker's nodes and the current snapshot.
pub fn nodes_view(nodes: &BTreeMap<String, NodeStatus>, snapshot: Option<&Snapshot>) -> NodesView {
    let now = Instant::now();
    NodesView {
        snapshot_version: snapshot.map(|s| s.version().to_owned()),
        nodes: nodes
            .iter()
            .map(|(id, node)| NodeView {
                id: id.clone(),
                streams: node.streams,
                connected: node.streams > 0,
                types: ResourceType::ALL
                    .into_iter()
                    .map(|kind| {
                        let view = type_view(&node.types[kind], kind, snapshot, now);
                        (kind.short_name().to_owned(), view)
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn type_view(
    status: &TypeStatus,
    kind: ResourceType,
    snapshot: Option<&Snapshot>,
    now: Instant,
) -> TypeView {
    TypeView {
        acked_version: status.acked_version.clone(),
        acked_resources: status.acked.len(),
        in_sync: snapshot.is_some_and(|s| in_sync(status, kind, s)),
        responses_sent: status.responses_sent,
        nacks: status.nacks,
        last_nack: status.last_nack.as_ref().map(nack_view),
        ms_since_push: status.last_pushed_at.map(|t| millis(now, t)),
        ms_since_ack: status.last_acked_at.map(|t| millis(now, t)),
    }
}

fn in_sync(status: &TypeStatus, kind: ResourceType, snapshot: &Snapshot) -> bool {
    let current = snapshot.resources(kind);
    let whole_set = !kind.is_wildcard() || current.len() == status.acked.len();
    whole_set
        && status.acked.iter().all(|(name, held)| {
            current
                .get(name)
                .is_some_and(|r| r.version() == held.version())
        })
}

fn nack_view(nack: &Nack) -> NackView {
    NackView {
        version: nack.rejected_version.clone(),
        error: nack.error.clone(),
        at: humantime::format_rfc3339_millis(nack.at).to_string(),
    }
}

fn millis(now: Instant, then: Instant) -> u64 {
    let elapsed: Duration = now.saturating_duration_since(then);
    u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
}

/// Serves [`nodes_view`].
pub(super) async fn handler(State(state): State<AdminState>) -> Response {
    let snapshot = state.store.current();
    json(&nodes_view(&state.tracker.nodes(), snapshot.as_deref()))
}

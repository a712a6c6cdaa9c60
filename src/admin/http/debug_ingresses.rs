//! `/debug/ingresses`: each served Ingress — programmed on every connected
//! Envoy or not, where it is still pending, who rejected it, and its
//! diagnostics. Computed fresh on each request from the same function the
//! event hub and `interlock wait` use.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use crate::admin::programmed::{ingress_states, IngressState};
use crate::world::ObjectKey;

use super::json::json;
use super::query::wants_summary;
use super::AdminState;

/// Ingresses a `?summary` view lists: enough to fill a screen.
const SUMMARY_LIMIT: usize = 50;

/// Every served Ingress, plus totals. Also what the leader reads from the
/// other replicas, to know whether an Ingress is programmed on their Envoys too.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IngressesView {
    /// The snapshot version the states refer to.
    pub version: Option<String>,
    /// Nodes with an open stream (an Ingress is programmed when all have it).
    pub connected_nodes: Vec<String>,
    /// Served Ingresses.
    pub total: usize,
    /// Programmed on every connected node.
    pub programmed: usize,
    /// Not programmed yet, and not rejected.
    pub pending: usize,
    /// Rejected by at least one node.
    pub rejected: usize,
    /// Each Ingress, sorted by namespace/name.
    pub ingresses: Vec<IngressView>,
}

/// One Ingress.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IngressView {
    /// `namespace/name`.
    pub ingress: String,
    /// Programmed on every connected node (and at least one is connected).
    pub programmed: bool,
    /// Connected nodes that have everything it needs.
    pub programmed_on: Vec<String>,
    /// Connected nodes still missing something.
    pub pending_on: Vec<String>,
    /// A node that rejected config it needs, with Envoy's error.
    pub rejected: Option<RejectionView>,
    /// Its diagnostics from the latest translation.
    pub diagnostics: Vec<String>,
}

/// A node's rejection of config an Ingress needs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RejectionView {
    /// The node.
    pub node: String,
    /// Envoy's error, verbatim.
    pub error: String,
}

/// Builds the view from per-Ingress states.
pub fn ingresses_view(
    states: &BTreeMap<ObjectKey, IngressState>,
    connected_nodes: Vec<String>,
    version: Option<String>,
) -> IngressesView {
    let ingresses: Vec<IngressView> = states
        .iter()
        .map(|(key, state)| IngressView {
            ingress: key.to_string(),
            programmed: state.programmed,
            programmed_on: state.programmed_on.to_vec(),
            pending_on: state.pending_on.to_vec(),
            rejected: state.rejected.as_ref().map(|(node, error)| RejectionView {
                node: node.clone(),
                error: error.clone(),
            }),
            diagnostics: state.diagnostics.clone(),
        })
        .collect();
    let programmed = ingresses.iter().filter(|i| i.programmed).count();
    let rejected = ingresses.iter().filter(|i| i.rejected.is_some()).count();
    IngressesView {
        version,
        connected_nodes,
        total: ingresses.len(),
        programmed,
        pending: ingresses
            .iter()
            .filter(|i| !i.programmed && i.rejected.is_none())
            .count(),
        rejected,
        ingresses,
    }
}

/// Serves [`ingresses_view`] for the current snapshot and nodes; `?summary`
/// lists only Ingresses that are not programmed or have diagnostics (at most
/// [`SUMMARY_LIMIT`]).
pub(super) async fn handler(State(state): State<AdminState>, uri: Uri) -> Response {
    let status = state.pipeline.get();
    let snapshot = state.store.current();
    let nodes = state.tracker.nodes();
    let states = ingress_states(&status, snapshot.as_deref(), &nodes);
    let connected = nodes
        .iter()
        .filter(|(_, n)| n.streams > 0)
        .map(|(id, _)| id.clone())
        .collect();
    let version = snapshot.map(|s| s.version().to_owned());
    let mut view = ingresses_view(&states, connected, version);
    if wants_summary(&uri) {
        view.ingresses
            .retain(|i| !i.programmed || !i.diagnostics.is_empty());
        view.ingresses.truncate(SUMMARY_LIMIT);
    }
    json(&view)
}

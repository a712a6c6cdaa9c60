//! Plain HTTP on the admin listener, for people and Kubernetes: probes,
//! Prometheus metrics, JSON debug views and a live HTML page. Every handler
//! only reads the store, the tracker and the pipeline status.

mod debug_ingresses;
mod debug_nodes;
mod debug_quarantine;
mod debug_snapshot;
mod json;
mod probes;
pub(crate) mod query;
mod scrape;
mod ui;

use axum::routing::get;
use axum::Router;

use crate::pipeline::StatusHandle;
use crate::snapshot::SnapshotStore;
use crate::xds::{AckTracker, Drain};

use super::metrics::Metrics;

pub use debug_ingresses::{ingresses_view, IngressView, IngressesView, RejectionView};
pub use debug_nodes::{nodes_view, NackView, NodeView, NodesView, TypeView};
pub use debug_quarantine::{quarantine_view, QuarantineView, QuarantinedView};
pub use debug_snapshot::{snapshot_view, ResourceView, SnapshotTypeView, SnapshotView};

/// What the HTTP handlers read. Cheap to clone (every field is a shared handle).
#[derive(Clone)]
pub struct AdminState {
    /// The published snapshots.
    pub store: SnapshotStore,
    /// What every Envoy has ACKed or NACKed.
    pub tracker: AckTracker,
    /// What the pipeline last did (sync gate, diagnostics, timings).
    pub pipeline: StatusHandle,
    /// The registry `/metrics` exposes.
    pub metrics: Metrics,
    /// Shutdown: `/readyz` turns false as soon as draining starts.
    pub drain: Drain,
}

/// Every HTTP route of the admin listener: the [`public_router`]'s, plus
/// `/` (the live page), `/debug/snapshot`, `/debug/nodes`, `/debug/ingresses`
/// (the debug views take `?summary` for totals only) and `/debug/quarantine`.
pub fn router(state: AdminState) -> Router {
    public_routes()
        .route("/", get(ui::page))
        .route("/debug/snapshot", get(debug_snapshot::handler))
        .route("/debug/nodes", get(debug_nodes::handler))
        .route("/debug/ingresses", get(debug_ingresses::handler))
        .route("/debug/quarantine", get(debug_quarantine::handler))
        .with_state(state)
}

/// What the admin listener serves to anyone who reaches it: `/healthz` and
/// `/readyz` (the kubelet), `/metrics` (Prometheus), and `/peer/ingresses`
/// (the Ingress states other replicas' status writers ask for). Nothing here
/// names more than Ingresses, nodes and versions.
pub fn public_router(state: AdminState) -> Router {
    public_routes().with_state(state)
}

fn public_routes() -> Router<AdminState> {
    Router::new()
        .route("/healthz", get(probes::healthz))
        .route("/readyz", get(probes::readyz))
        .route("/metrics", get(scrape::metrics))
        .route("/peer/ingresses", get(debug_ingresses::handler))
}

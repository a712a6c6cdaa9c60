//! `/debug/snapshot`: what Interlock currently serves — per type, every
//! resource's name, content version and encoded size.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use serde::Serialize;

use crate::pipeline::PipelineStatus;
use crate::snapshot::{ResourceType, Snapshot};

use super::json::json;
use super::query::wants_summary;
use super::AdminState;

/// The current snapshot, summarized.
#[derive(Clone, Debug, Serialize)]
pub struct SnapshotView {
    /// Content version of the snapshot; `None` before the first publish.
    pub version: Option<String>,
    /// The sync gate has opened.
    pub synced: bool,
    /// Snapshots published so far.
    pub publishes: u64,
    /// Why the latest translation was not published, if it was not.
    pub last_error: Option<String>,
    /// Per type (CDS, EDS, LDS, RDS, SDS).
    pub types: BTreeMap<String, SnapshotTypeView>,
}

/// One resource type of the snapshot.
#[derive(Clone, Debug, Serialize)]
pub struct SnapshotTypeView {
    /// The wire type URL.
    pub type_url: String,
    /// Content version of the whole type.
    pub version: String,
    /// Number of resources.
    pub count: usize,
    /// Total encoded size in bytes.
    pub bytes: usize,
    /// Every resource, by name.
    pub resources: Vec<ResourceView>,
}

/// One resource of the snapshot.
#[derive(Clone, Debug, Serialize)]
pub struct ResourceView {
    /// Its xDS name.
    pub name: String,
    /// Content hash of its encoding.
    pub version: String,
    /// Encoded size in bytes.
    pub bytes: usize,
}

/// Builds the view from the pipeline status and the current snapshot.
pub fn snapshot_view(status: &PipelineStatus, snapshot: Option<&Snapshot>) -> SnapshotView {
    let types = snapshot
        .map(|s| {
            ResourceType::ALL
                .into_iter()
                .map(|kind| (kind.short_name().to_owned(), type_view(s, kind)))
                .collect()
        })
        .unwrap_or_default();
    SnapshotView {
        version: snapshot.map(|s| s.version().to_owned()),
        synced: status.synced,
        publishes: status.publishes,
        last_error: status.last_error.clone(),
        types,
    }
}

fn type_view(snapshot: &Snapshot, kind: ResourceType) -> SnapshotTypeView {
    let resources: Vec<ResourceView> = snapshot
        .resources(kind)
        .values()
        .map(|r| ResourceView {
            name: r.name().to_owned(),
            version: r.version().to_owned(),
            bytes: r.wire_any().len(),
        })
        .collect();
    SnapshotTypeView {
        type_url: kind.type_url().to_owned(),
        version: snapshot.type_version(kind).to_owned(),
        count: resources.len(),
        bytes: resources.iter().map(|r| r.bytes).sum(),
        resources,
    }
}

/// Serves [`snapshot_view`]; `?summary` leaves out the resource lists.
pub(super) async fn handler(State(state): State<AdminState>, uri: Uri) -> Response {
    let snapshot = state.store.current();
    let mut view = snapshot_view(&state.pipeline.get(), snapshot.as_deref());
    if wants_summary(&uri) {
        for t in view.types.values_mut() {
            t.resources = Vec::new();
        }
    }
    json(&view)
}

//! `/debug/quarantine`: the objects Envoy rejected and that containment holds
//! out of the config (or at their last accepted version) until they change.

use std::time::UNIX_EPOCH;

use axum::extract::State;
use axum::response::Response;
use serde::Serialize;

use super::json::json;
use super::AdminState;
use crate::pipeline::containment::QuarantinedObject;

/// The whole view.
#[derive(Debug, Serialize)]
pub struct QuarantineView {
    /// A search for the objects behind a rejection is running.
    pub searching: bool,
    /// Every quarantined object.
    pub quarantined: Vec<QuarantinedView>,
}

/// One quarantined object.
#[derive(Debug, Serialize)]
pub struct QuarantinedView {
    /// `Kind namespace/name`.
    pub object: String,
    /// The node whose Envoy rejected it.
    pub node: String,
    /// The xDS type of the rejected response (`RDS`, `CDS`, ...).
    pub r#type: String,
    /// Envoy's error, truncated and escaped.
    pub error: String,
    /// Its last accepted version is served (else it is left out).
    pub serves_previous: bool,
    /// Ingresses not served as written because of it.
    pub ingresses: Vec<String>,
    /// Since when, in seconds since the Unix epoch.
    pub since_unix: u64,
}

/// The view of `quarantined`.
pub fn quarantine_view(searching: bool, quarantined: &[QuarantinedObject]) -> QuarantineView {
    QuarantineView {
        searching,
        quarantined: quarantined
            .iter()
            .map(|q| QuarantinedView {
                object: q.object.to_string(),
                node: q.rejection.node.clone(),
                r#type: q.rejection.kind.to_string(),
                error: q.rejection.error.clone(),
                serves_previous: q.serves_previous,
                ingresses: q.ingresses.iter().map(ToString::to_string).collect(),
                since_unix: q
                    .since
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
            })
            .collect(),
    }
}

pub(super) async fn handler(State(state): State<AdminState>) -> Response {
    let status = state.pipeline.get();
    json(&quarantine_view(status.searching, &status.quarantined))
}

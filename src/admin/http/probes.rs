//! Kubernetes probes: alive while the process runs; ready only once the sync
//! gate has opened and a snapshot is published (invariant 1), so a fresh pod
//! gets no traffic while it could only serve partial config.

use axum::extract::State;
use axum::http::StatusCode;

use super::AdminState;

/// `/healthz`: the process is up and serving HTTP.
pub(super) async fn healthz() -> &'static str {
    "ok\n"
}

/// `/readyz`: 200 once every source has synced and a snapshot is published,
/// and until shutdown starts; else 503 saying why.
pub(super) async fn readyz(State(state): State<AdminState>) -> (StatusCode, String) {
    if state.drain.is_draining() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: shutting down (draining xDS streams)\n".to_owned(),
        );
    }
    let status = state.pipeline.get();
    if !status.synced {
        let waiting = if status.pending_sources.is_empty() {
            "the first sync".to_owned()
        } else {
            status.pending_sources.join(", ")
        };
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: waiting for sources: {waiting}\n"),
        );
    }
    match state.store.current() {
        Some(snapshot) => (
            StatusCode::OK,
            format!("ready: snapshot {}\n", snapshot.version()),
        ),
        None => {
            let why = status
                .last_error
                .as_deref()
                .map(|e| format!(" (last error: {e})"))
                .unwrap_or_default();
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: no snapshot published yet{why}\n"),
            )
        }
    }
}

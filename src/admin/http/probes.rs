//! Kubernetes probes: alive while every supervised task runs; ready only once
//! the sync gate has opened and a snapshot is published (invariant 1), so a
//! fresh pod gets no traffic while it could only serve partial config, and
//! not while a source that synced has been failing for longer than the
//! outage threshold (its config may be stale; see the README's "Health and
//! supervision").

use axum::extract::State;
use axum::http::StatusCode;
use axum::Extension;

use super::AdminState;
use crate::admin::Health;

/// `/healthz`: 200 while the process serves HTTP and no supervised task has
/// ended unexpectedly; else 503 naming the tasks that did.
pub(super) async fn healthz(health: Option<Extension<Health>>) -> (StatusCode, String) {
    let failures = health.map(|h| h.failures()).unwrap_or_default();
    if failures.is_empty() {
        return (StatusCode::OK, "ok\n".to_owned());
    }
    let mut body = String::from("unhealthy:\n");
    for failure in failures {
        body.push_str(&format!("  {failure}\n"));
    }
    (StatusCode::SERVICE_UNAVAILABLE, body)
}

/// `/readyz`: 200 once every source has synced and a snapshot is published,
/// and until shutdown starts, a supervised task fails or a source fails for
/// too long; else 503 saying why.
pub(super) async fn readyz(
    State(state): State<AdminState>,
    health: Option<Extension<Health>>,
) -> (StatusCode, String) {
    if state.drain.is_draining() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: shutting down (draining xDS streams)\n".to_owned(),
        );
    }
    if let Some(Extension(health)) = &health {
        if let Some(failure) = health.failures().first() {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {failure} (see /healthz)\n"),
            );
        }
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
    if let Some(Extension(health)) = &health {
        let outages = health.outages();
        if !outages.is_empty() {
            let mut body = String::from("not ready: sources failing (config may be stale):\n");
            for o in outages {
                body.push_str(&format!(
                    "  {} failing for {}s: {}\n",
                    o.source,
                    o.for_.as_secs(),
                    o.error
                ));
            }
            return (StatusCode::SERVICE_UNAVAILABLE, body);
        }
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

//! `/metrics`: the Prometheus scrape endpoint.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;

use crate::admin::health::Health;
use crate::admin::metrics::CONTENT_TYPE;

use super::AdminState;

/// Catches the registry up with the pipeline (so a scrape never misses the
/// latest publish) and the sources' last syncs, then encodes it.
pub(super) async fn metrics(
    State(state): State<AdminState>,
    health: Option<Extension<Health>>,
) -> Response {
    state
        .metrics
        .sync(&state.pipeline.get(), state.store.current().as_deref());
    if let Some(Extension(health)) = health {
        state.metrics.sync_sources(&health.sources().states());
    }
    match state.metrics.encode() {
        Ok(body) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode metrics: {e}\n"),
        )
            .into_response(),
    }
}

//! `/metrics`: the Prometheus scrape endpoint.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::admin::metrics::CONTENT_TYPE;

use super::AdminState;

/// Catches the registry up with the pipeline (so a scrape never misses the
/// latest publish), then encodes it.
pub(super) async fn metrics(State(state): State<AdminState>) -> Response {
    state
        .metrics
        .sync(&state.pipeline.get(), state.store.current().as_deref());
    match state.metrics.encode() {
        Ok(body) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode metrics: {e}\n"),
        )
            .into_response(),
    }
}

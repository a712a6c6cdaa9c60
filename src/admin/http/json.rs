//! JSON responses without axum's `json` feature: serde_json plus the header.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// `value` as pretty JSON (people read these with curl), or a 500 naming why
/// it could not be serialized.
pub(super) fn json<T: Serialize>(value: &T) -> Response {
    match serde_json::to_vec_pretty(value) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot serialize: {e}\n"),
        )
            .into_response(),
    }
}

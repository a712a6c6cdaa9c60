//! `/`: a one-screen live view for people — connected Envoys, their ACKed
//! versions, last NACKs, the push→ACK latency histogram and Ingress counts.
//! Self-contained (inline CSS and JS, no external assets); the page polls the
//! JSON endpoints and `/metrics` every second.

use axum::response::Html;

/// The page, compiled into the binary.
const PAGE: &str = include_str!("ui.html");

/// Serves the page.
pub(super) async fn page() -> Html<&'static str> {
    Html(PAGE)
}

//! The one query flag the debug views take, parsed by hand (axum's `query`
//! feature would pull serde_urlencoded for a single boolean).

use axum::http::Uri;

/// True when the request asks for `?summary` (the UI polls every second and
/// needs totals, not every resource of a large snapshot).
pub(crate) fn wants_summary(uri: &Uri) -> bool {
    uri.query().is_some_and(|q| {
        q.split('&')
            .any(|pair| matches!(pair, "summary" | "summary=1" | "summary=true"))
    })
}

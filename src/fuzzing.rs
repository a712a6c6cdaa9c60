//! Entry points for the cargo-fuzz targets in `fuzz/` that the public API does
//! not reach. The fuzz crate is a separate crate, so it sees only `pub` items;
//! rather than making internals public one by one, each private function a
//! target drives is wrapped here, unchanged. Not a stable API: hidden from the
//! docs and used by nothing else.

use axum::http::Uri;

/// The admin debug views' `?summary` flag (`src/admin/http/query.rs`).
pub fn wants_summary(uri: &Uri) -> bool {
    crate::admin::http::query::wants_summary(uri)
}

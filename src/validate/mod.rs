//! The validate stage: a translation becomes a publishable snapshot only if it
//! passes the invariant-2 consistency check; otherwise the last good snapshot
//! stays and the failure is reported.

use crate::snapshot::{InconsistentSnapshot, Snapshot};
use crate::translate::Translation;

/// Encodes and checks `translation`'s resources, sharing unchanged ones with
/// `previous`. The translation's report (diagnostics, per-Ingress resources) is
/// left in place for the caller.
pub fn validate(
    translation: &mut Translation,
    previous: Option<&Snapshot>,
) -> Result<Snapshot, InconsistentSnapshot> {
    let mut builder = Snapshot::builder();
    for listener in std::mem::take(&mut translation.listeners) {
        builder = builder.listener(listener);
    }
    for route in std::mem::take(&mut translation.routes) {
        builder = builder.route(route);
    }
    builder = builder
        .clusters(std::mem::take(&mut translation.clusters))
        .load_assignments(std::mem::take(&mut translation.endpoints));
    for secret in std::mem::take(&mut translation.secrets) {
        builder = builder.secret(secret);
    }
    let snapshot = builder.build()?;
    Ok(match previous {
        Some(previous) => snapshot.share_with(previous),
        None => snapshot,
    })
}

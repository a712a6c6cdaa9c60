//! What the source drops from objects before they reach the world.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// Drops the metadata that changes on every write but means nothing to
/// translation (`resourceVersion`, `managedFields`): a status write or a
/// server-side apply that changes nothing else is then no change at all, and
/// replicas (and re-lists) hold byte-identical objects.
pub fn scrub(meta: &mut ObjectMeta) {
    meta.resource_version = None;
    meta.managed_fields = None;
}

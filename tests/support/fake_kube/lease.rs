//! Leases (`coordination.k8s.io/v1`), the lock of leader election. The server side is
//! the generic object handling (GET, POST, PUT with resourceVersion precondition → 409,
//! merge PATCH, DELETE); this file holds what tests want to say about them.

use serde_json::{json, Value};

use super::kinds::LEASE;
use super::store::now_rfc3339;
use super::FakeApiServer;

/// A Lease held by `holder` since now, for seeding the server (e.g. a lease held by a
/// replica that has died, which a candidate must wait out before taking over).
pub fn lease(namespace: &str, name: &str, holder: &str, duration_seconds: u32) -> Value {
    let now = now_rfc3339_micro();
    json!({
        "apiVersion": LEASE.api_version(),
        "kind": LEASE.kind,
        "metadata": { "name": name, "namespace": namespace },
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": duration_seconds,
            "acquireTime": now,
            "renewTime": now,
            "leaseTransitions": 0,
        },
    })
}

/// Lease times are `MicroTime`: RFC 3339 with microseconds.
fn now_rfc3339_micro() -> String {
    now_rfc3339().replace('Z', ".000000Z")
}

impl FakeApiServer {
    /// `spec.holderIdentity` of the Lease, if it exists and is held.
    pub fn lease_holder(&self, namespace: &str, name: &str) -> Option<String> {
        let lease = self.get(&LEASE, Some(namespace), name)?;
        lease["spec"]["holderIdentity"]
            .as_str()
            .filter(|h| !h.is_empty())
            .map(str::to_string)
    }
}

//! `default-backend`: a Service of the Ingress's namespace that serves while
//! the Ingress's own backends have no healthy endpoint.
//!
//! ingress-nginx sends such requests to the annotation's Service (on its first
//! port) instead of answering 503. Envoy does it natively: each route forwards
//! to an aggregate cluster of `[backend, default backend]`, which uses the
//! second only while the first has no healthy host. A path whose Service is
//! missing still answers 503 (ingress-nginx would use the default backend
//! there too). A Service that cannot be resolved is reported and ignored: the
//! routes serve as without the annotation.

use std::sync::Arc;

use super::reader::Reader;
use crate::translate::model::ClusterTarget;
use crate::translate::source::service::Unavailable;
use crate::translate::source::Lookups;
use crate::world::ObjectKey;

/// Reads `default-backend` of the Ingress `key`.
pub fn read(
    r: &mut Reader<'_>,
    key: &ObjectKey,
    lookups: &mut Lookups<'_>,
) -> Option<Arc<ClusterTarget>> {
    let name = r.get("default-backend")?;
    let service = match name.split_once('/') {
        None => name,
        Some((ns, n)) if ns == key.namespace => n,
        Some(_) => {
            r.invalid(
                "default-backend",
                "a Service of another namespace is not allowed; ignored",
            );
            return None;
        }
    };
    if service.is_empty() {
        r.invalid("default-backend", "empty Service name; ignored");
        return None;
    }
    let service_key = ObjectKey::new(key.namespace.clone(), service);
    match lookups.service_first_port(&service_key) {
        Ok(target) => {
            r.approximated(
                "default-backend",
                "an Envoy aggregate cluster falls back to it while the backend has no healthy \
                 endpoint; a missing backend Service still answers 503",
            );
            Some(target)
        }
        Err(Unavailable::ServiceMissing(_)) => {
            r.invalid(
                "default-backend",
                format!("Service {service_key} not found; ignored"),
            );
            None
        }
        Err(_) => {
            r.invalid(
                "default-backend",
                format!("Service {service_key} has no usable TCP port; ignored"),
            );
            None
        }
    }
}

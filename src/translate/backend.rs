//! Ingress backends: which Service port a route forwards to, and the stable
//! cluster name for it.
//!
//! Only `service` backends are supported. A `resource` backend, or a backend with
//! neither or both, is skipped with a diagnostic ([`BackendError`]). A Service
//! backend always keeps its route: when the Service or its port cannot be resolved
//! the route answers 503 ([`Backend::Unavailable`]) so the path keeps its place in
//! the precedence order instead of falling through to a shorter one or a 404.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Service, ServicePort};
use k8s_openapi::api::networking::v1::{IngressBackend, IngressServiceBackend};

use super::text::push_decimal;
use crate::world::{ObjectKey, World};

/// A resolved Service port: what a cluster and its endpoints are built from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClusterTarget {
    /// `<namespace>/<service>:<port-number>` (invariant 10: derived only from what it
    /// describes, so both a numeric and a named reference give the same cluster).
    pub name: String,
    /// The Service.
    pub service: ObjectKey,
    /// The Service port's `name`; `None` for an unnamed port. EndpointSlice ports
    /// are matched by it.
    pub port_name: Option<String>,
}

impl ClusterTarget {
    fn new(service: ObjectKey, port: &ServicePort) -> Self {
        ClusterTarget {
            name: cluster_name(&service, port.port),
            service,
            port_name: port.name.clone().filter(|n| !n.is_empty()),
        }
    }
}

/// The cluster name of a Service port: `<namespace>/<service>:<port>`.
pub fn cluster_name(service: &ObjectKey, port: i32) -> String {
    let mut name = String::with_capacity(service.namespace.len() + service.name.len() + 7);
    name.push_str(&service.namespace);
    name.push('/');
    name.push_str(&service.name);
    name.push(':');
    push_decimal(&mut name, i64::from(port));
    name
}

/// Where a route goes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Backend {
    /// Forward to this cluster (shared by every path that names it).
    Cluster(Arc<ClusterTarget>),
    /// Keep the route but answer 503 (the diagnostic says why).
    Unavailable,
}

/// A backend that cannot be served at all: its path is skipped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// `resource` backends are not supported.
    #[error("resource backends are not supported; only service backends are")]
    Resource,
    /// Neither `service` nor `resource`.
    #[error("backend has neither service nor resource")]
    Neither,
    /// Both `service` and `resource`.
    #[error("backend sets both service and resource")]
    Both,
}

/// Why a Service backend answers 503.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    /// The Service does not exist.
    #[error("Service {0} not found; the route answers 503")]
    ServiceMissing(ObjectKey),
    /// The backend names no port.
    #[error("backend for Service {0} has no port number or name; the route answers 503")]
    PortMissing(ObjectKey),
    /// The backend names a port both by number and by name.
    #[error(
        "backend for Service {0} sets both a port number and a port name; the route answers 503"
    )]
    PortAmbiguous(ObjectKey),
    /// The Service has no such TCP port.
    #[error("Service {service} has no TCP port {port}; the route answers 503")]
    PortNotFound {
        /// The Service.
        service: ObjectKey,
        /// The port as referenced (a number or a name).
        port: String,
    },
    /// ExternalName Services have no endpoints Envoy could use.
    #[error(
        "Service {0} is an ExternalName Service, which is not supported; the route answers 503"
    )]
    ExternalName(ObjectKey),
}

/// Resolves `backend` of an Ingress in `namespace`: `Err` skips the path;
/// `Ok((Backend::Unavailable, Some(reason)))` keeps it answering 503.
pub fn resolve(
    world: &World,
    namespace: &str,
    backend: &IngressBackend,
) -> Result<(Backend, Option<Unavailable>), BackendError> {
    match (&backend.service, &backend.resource) {
        (Some(service), None) => Ok(match resolve_service(world, namespace, service) {
            Ok(target) => (Backend::Cluster(Arc::new(target)), None),
            Err(reason) => (Backend::Unavailable, Some(reason)),
        }),
        (None, Some(_)) => Err(BackendError::Resource),
        (None, None) => Err(BackendError::Neither),
        (Some(_), Some(_)) => Err(BackendError::Both),
    }
}

fn resolve_service(
    world: &World,
    namespace: &str,
    backend: &IngressServiceBackend,
) -> Result<ClusterTarget, Unavailable> {
    let key = ObjectKey::new(namespace, backend.name.clone());
    let Some(service) = world.services.get(&key) else {
        return Err(Unavailable::ServiceMissing(key));
    };
    if is_external_name(service) {
        return Err(Unavailable::ExternalName(key));
    }
    let port = backend.port.as_ref();
    let name = port
        .and_then(|p| p.name.as_deref())
        .filter(|n| !n.is_empty());
    let number = port.and_then(|p| p.number);
    // Only TCP ports carry HTTP; port numbers are unique among them, which keeps
    // cluster names unique.
    let mut ports = service
        .spec
        .iter()
        .flat_map(|s| s.ports.iter().flatten())
        .filter(|p| p.protocol.as_deref().is_none_or(|proto| proto == "TCP"));
    let found = match (number, name) {
        (Some(n), None) => ports.find(|p| p.port == n),
        (None, Some(name)) => ports.find(|p| p.name.as_deref() == Some(name)),
        (None, None) => return Err(Unavailable::PortMissing(key)),
        (Some(_), Some(_)) => return Err(Unavailable::PortAmbiguous(key)),
    };
    match found {
        Some(port) => Ok(ClusterTarget::new(key, port)),
        None => Err(Unavailable::PortNotFound {
            service: key,
            // Exactly one of them is set here.
            port: number.map_or_else(
                || format!("{:?}", name.unwrap_or_default()),
                |n| n.to_string(),
            ),
        }),
    }
}

fn is_external_name(service: &Service) -> bool {
    service
        .spec
        .as_ref()
        .and_then(|s| s.type_.as_deref())
        .is_some_and(|t| t == "ExternalName")
}

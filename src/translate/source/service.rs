//! Services: which Service port a backend reference names, as a
//! [`ClusterTarget`].
//!
//! A reference names a Service in the referring object's namespace and one of its
//! TCP ports, by number or by name. When the Service or the port cannot be
//! resolved the route keeps its place and answers 503 ([`Unavailable`] says why).

use k8s_openapi::api::core::v1::Service;

use crate::translate::model::ClusterTarget;
use crate::world::{ObjectKey, World};

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

/// A reference to a Service port, as an object writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ServicePortRef<'a> {
    /// The referring object's namespace (references never cross namespaces).
    pub namespace: &'a str,
    /// The Service's name.
    pub service: &'a str,
    /// The port number, if given.
    pub number: Option<i32>,
    /// The port name, if given (an empty name counts as none).
    pub name: Option<&'a str>,
}

/// Resolves `port` against the world's Services.
pub fn resolve_service(
    world: &World,
    port: ServicePortRef<'_>,
) -> Result<ClusterTarget, Unavailable> {
    let key = ObjectKey::new(port.namespace, port.service);
    let Some(service) = world.services.get(&key) else {
        return Err(Unavailable::ServiceMissing(key));
    };
    if is_external_name(service) {
        return Err(Unavailable::ExternalName(key));
    }
    let name = port.name.filter(|n| !n.is_empty());
    let number = port.number;
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
        Some(found) => Ok(ClusterTarget::new(key, found.port, found.name.clone())),
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

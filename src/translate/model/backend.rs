//! Backends: the upstream a route forwards to, and its stable cluster name.

use std::sync::Arc;

use super::upstream::UpstreamSettings;
use crate::translate::text::push_decimal;
use crate::world::ObjectKey;

/// A resolved Service port with the settings Envoy reaches it with: what a
/// cluster and its endpoints are built from. Shared (`Arc`) by every route that
/// names it, so a translation resolves and names each Service port once.
/// Field order is the sort order: by name first (a name-only probe finds it).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClusterTarget {
    /// `<namespace>/<service>:<port-number>`, plus the settings' suffix when they
    /// are not the default (invariant 10: derived only from what it describes,
    /// so both a numeric and a named reference give the same cluster).
    pub name: String,
    /// The Service.
    pub service: ObjectKey,
    /// The Service port's `name`; `None` for an unnamed port. EndpointSlice ports
    /// are matched by it.
    pub port_name: Option<String>,
    /// The Service port's number.
    pub port: i32,
    /// How Envoy reaches the endpoints.
    pub settings: UpstreamSettings,
}

/// One of the backends a forwarding route splits traffic over.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WeightedBackend {
    /// Where this share goes.
    pub cluster: Arc<ClusterTarget>,
    /// Its share, relative to the route's other backends.
    pub weight: u32,
}

// === impl ClusterTarget ===

impl ClusterTarget {
    /// The target for port number `port` (named `port_name`, if any) of `service`.
    pub fn new(service: ObjectKey, port: i32, port_name: Option<String>) -> Self {
        ClusterTarget {
            name: cluster_name(&service, port),
            service,
            port_name: port_name.filter(|n| !n.is_empty()),
            port,
            settings: UpstreamSettings::default(),
        }
    }

    /// This Service port reached with `settings` (renamed after them).
    pub fn with_settings(&self, settings: UpstreamSettings) -> Self {
        let mut name = cluster_name(&self.service, self.port);
        name.push_str(&settings.name_suffix());
        ClusterTarget {
            name,
            service: self.service.clone(),
            port_name: self.port_name.clone(),
            port: self.port,
            settings,
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

/// The cluster that sends to `main` while it has a healthy endpoint and to
/// `fallback` otherwise (a default backend): `<main>|default-backend=<fallback>`.
pub fn fallback_cluster_name(main: &str, fallback: &str) -> String {
    format!("{main}|default-backend={fallback}")
}

// === impl WeightedBackend ===

impl WeightedBackend {
    /// The only backend of a route: all of its traffic.
    pub fn all(cluster: Arc<ClusterTarget>) -> Self {
        WeightedBackend { cluster, weight: 1 }
    }
}

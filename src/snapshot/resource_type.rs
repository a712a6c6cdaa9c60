//! The five xDS resource types Interlock serves.

use std::fmt;

/// One of the xDS resource types, in make-before-break order: a type may only
/// reference types that come before it in [`ResourceType::ALL`] (plus secrets,
/// which Envoy warms on its own).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceType {
    /// CDS: upstream clusters.
    Cluster,
    /// EDS: ClusterLoadAssignments, named after the cluster's EDS service name.
    Endpoints,
    /// LDS: listeners.
    Listener,
    /// RDS: route configurations.
    Route,
    /// SDS: TLS secrets.
    Secret,
}

impl ResourceType {
    /// Every type, in the order a change must reach Envoy (CDS → EDS → LDS → RDS → SDS).
    pub const ALL: [ResourceType; 5] = [
        ResourceType::Cluster,
        ResourceType::Endpoints,
        ResourceType::Listener,
        ResourceType::Route,
        ResourceType::Secret,
    ];

    /// The `type.googleapis.com/...` URL Envoy uses on the wire.
    pub const fn type_url(self) -> &'static str {
        match self {
            ResourceType::Cluster => "type.googleapis.com/envoy.config.cluster.v3.Cluster",
            ResourceType::Endpoints => {
                "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
            }
            ResourceType::Listener => "type.googleapis.com/envoy.config.listener.v3.Listener",
            ResourceType::Route => "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
            ResourceType::Secret => {
                "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
            }
        }
    }

    /// Parses a wire type URL; `None` for types Interlock does not serve.
    pub fn from_type_url(url: &str) -> Option<ResourceType> {
        ResourceType::ALL.into_iter().find(|t| t.type_url() == url)
    }

    /// LDS and CDS are wildcard types: a SotW response always carries the full set.
    pub const fn is_wildcard(self) -> bool {
        matches!(self, ResourceType::Cluster | ResourceType::Listener)
    }

    /// Position in [`ResourceType::ALL`], for per-type arrays.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The short xDS name operators know (CDS, EDS, ...).
    pub const fn short_name(self) -> &'static str {
        match self {
            ResourceType::Cluster => "CDS",
            ResourceType::Endpoints => "EDS",
            ResourceType::Listener => "LDS",
            ResourceType::Route => "RDS",
            ResourceType::Secret => "SDS",
        }
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.short_name())
    }
}

/// A fixed array indexed by [`ResourceType`], so per-type state needs no map.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PerType<T>(pub [T; 5]);

impl<T> PerType<T> {
    /// Builds each slot from its type.
    pub fn from_fn(mut f: impl FnMut(ResourceType) -> T) -> Self {
        PerType(ResourceType::ALL.map(&mut f))
    }
}

impl<T> std::ops::Index<ResourceType> for PerType<T> {
    type Output = T;
    fn index(&self, t: ResourceType) -> &T {
        &self.0[t.index()]
    }
}

impl<T> std::ops::IndexMut<ResourceType> for PerType<T> {
    fn index_mut(&mut self, t: ResourceType) -> &mut T {
        &mut self.0[t.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_urls_round_trip() {
        for t in ResourceType::ALL {
            assert_eq!(ResourceType::from_type_url(t.type_url()), Some(t));
            assert_eq!(ResourceType::ALL[t.index()], t);
        }
        assert_eq!(ResourceType::from_type_url("type.googleapis.com/foo"), None);
    }
}

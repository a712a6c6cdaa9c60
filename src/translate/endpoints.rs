//! Endpoints: EndpointSlices → ClusterLoadAssignments.
//!
//! Slices belong to a Service by the `kubernetes.io/service-name` label in the
//! Service's namespace. Only `IPv4` and `IPv6` slices are used (`FQDN` slices are
//! skipped with a warning). A slice port is matched to the Service port by name
//! (an unnamed Service port matches an unnamed or empty-named slice port). An
//! endpoint is in when `conditions.ready` is true or absent. Addresses are
//! de-duplicated and sorted, and every cluster gets an assignment, empty when it
//! has no ready endpoint (Envoy then answers 503 instead of waiting for one).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use envoy_types::pb::envoy::config::core::v3::{
    address, socket_address::PortSpecifier, Address, SocketAddress,
};
use envoy_types::pb::envoy::config::endpoint::v3::{
    lb_endpoint::HostIdentifier, ClusterLoadAssignment, Endpoint, LbEndpoint, LocalityLbEndpoints,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;

use super::backend::ClusterTarget;
use super::diagnostic::{Diagnostics, Severity};
use crate::world::{Kind, ObjectKey, World};

/// The label naming an EndpointSlice's Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// EndpointSlices by the Service they belong to, built once per translation so
/// each cluster finds its slices without scanning them all.
pub struct SliceIndex<'w> {
    by_service: BTreeMap<ObjectKey, Vec<(&'w ObjectKey, &'w EndpointSlice)>>,
}

impl<'w> SliceIndex<'w> {
    /// Indexes every slice of `world` that names a Service.
    pub fn new(world: &'w World) -> Self {
        let mut by_service: BTreeMap<ObjectKey, Vec<_>> = BTreeMap::new();
        for (key, slice) in &world.endpoint_slices {
            let service = slice
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(SERVICE_NAME_LABEL))
                .filter(|s| !s.is_empty());
            if let Some(service) = service {
                by_service
                    .entry(ObjectKey::new(key.namespace.clone(), service.clone()))
                    .or_default()
                    .push((key, slice.as_ref()));
            }
        }
        SliceIndex { by_service }
    }

    /// The assignment for `target`'s cluster. Problems with slices are reported
    /// against the slice.
    pub(crate) fn load_assignment(
        &self,
        target: &ClusterTarget,
        diagnostics: &mut Diagnostics,
    ) -> ClusterLoadAssignment {
        let mut addrs = BTreeSet::new();
        let slices = self.by_service.get(&target.service).into_iter().flatten();
        for (key, slice) in slices {
            collect(key, slice, target, &mut addrs, diagnostics);
        }
        let lb_endpoints: Vec<LbEndpoint> = addrs.into_iter().map(lb_endpoint).collect();
        ClusterLoadAssignment {
            cluster_name: target.name.clone(),
            endpoints: if lb_endpoints.is_empty() {
                Vec::new()
            } else {
                vec![LocalityLbEndpoints {
                    lb_endpoints,
                    ..LocalityLbEndpoints::default()
                }]
            },
            ..ClusterLoadAssignment::default()
        }
    }
}

/// Adds the ready addresses of `slice` for `target`'s port to `addrs`.
fn collect(
    key: &ObjectKey,
    slice: &EndpointSlice,
    target: &ClusterTarget,
    addrs: &mut BTreeSet<SocketAddr>,
    diagnostics: &mut Diagnostics,
) {
    let mut warn = |message: String| {
        diagnostics.push(Kind::EndpointSlice, key, Severity::Warning, message);
    };
    let ipv6 = match slice.address_type.as_str() {
        "IPv4" => false,
        "IPv6" => true,
        other => {
            warn(format!(
                "addressType {other:?} is not supported (only IPv4 and IPv6); slice skipped"
            ));
            return;
        }
    };
    let wanted = target.port_name.as_deref().unwrap_or("");
    let port = slice
        .ports
        .iter()
        .flatten()
        .find(|p| p.name.as_deref().unwrap_or("") == wanted);
    let Some(port) = port else {
        return;
    };
    let Some(number) = port
        .port
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0)
    else {
        warn(format!(
            "port {wanted:?} has no valid port number; slice skipped"
        ));
        return;
    };
    for endpoint in &slice.endpoints {
        let ready = endpoint
            .conditions
            .as_ref()
            .and_then(|c| c.ready)
            .unwrap_or(true);
        if !ready {
            continue;
        }
        for address in &endpoint.addresses {
            let ip = if ipv6 {
                address.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
            } else {
                address.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
            };
            match ip {
                Some(ip) => {
                    addrs.insert(SocketAddr::new(ip, number));
                }
                None => warn(format!(
                    "address {address:?} is not a valid {} address; skipped",
                    slice.address_type
                )),
            }
        }
    }
}

fn lb_endpoint(addr: SocketAddr) -> LbEndpoint {
    LbEndpoint {
        host_identifier: Some(HostIdentifier::Endpoint(Endpoint {
            address: Some(Address {
                address: Some(address::Address::SocketAddress(SocketAddress {
                    address: addr.ip().to_string(),
                    port_specifier: Some(PortSpecifier::PortValue(u32::from(addr.port()))),
                    ..SocketAddress::default()
                })),
            }),
            ..Endpoint::default()
        })),
        ..LbEndpoint::default()
    }
}

//! EndpointSlices: the ready addresses behind each cluster target.
//!
//! Slices belong to a Service by the `kubernetes.io/service-name` label in the
//! Service's namespace. Only `IPv4` and `IPv6` slices are used (`FQDN` slices are
//! skipped with a warning). A slice port is matched to the Service port by name
//! (an unnamed Service port matches an unnamed or empty-named slice port). An
//! endpoint is in when `conditions.ready` is true or absent. Addresses are
//! de-duplicated and sorted. A target without ready addresses gets an empty set,
//! which the render still turns into an (empty) assignment.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use k8s_openapi::api::discovery::v1::EndpointSlice;

use crate::translate::diagnostic::{Diagnostics, Severity};
use crate::translate::model::{Addresses, ClusterTarget};
use crate::world::{service_name, Kind, ObjectKey, World};

/// EndpointSlices by the Service they belong to, built once per translation so
/// each cluster finds its slices without scanning them all. One sorted list of
/// borrowed entries: indexing 10,000 slices allocates once.
pub struct SliceIndex<'w> {
    /// (namespace, Service name, slice key, slice), sorted by namespace and
    /// Service, then slice key.
    slices: Vec<IndexEntry<'w>>,
}

type IndexEntry<'w> = (&'w str, &'w str, &'w ObjectKey, &'w EndpointSlice);

impl<'w> SliceIndex<'w> {
    /// Indexes every slice of `world` that names a Service.
    pub fn new(world: &'w World) -> Self {
        SliceIndex::sorted(world.endpoint_slices.iter().filter_map(entry))
    }

    /// Indexes only the slices of `services`, through the world's own index of
    /// slices by Service: what an endpoints-only change needs, without reading
    /// every slice.
    pub fn of_services(world: &'w World, services: &BTreeSet<&'w ObjectKey>) -> Self {
        SliceIndex::sorted(services.iter().flat_map(|service| {
            world.slices_of(service).map(|(key, slice)| {
                (
                    service.namespace.as_str(),
                    service.name.as_str(),
                    key,
                    slice,
                )
            })
        }))
    }

    /// Entries come in slice-key order; a stable sort by Service keeps it within
    /// each Service.
    fn sorted(entries: impl IntoIterator<Item = IndexEntry<'w>>) -> Self {
        let mut slices: Vec<IndexEntry<'w>> = entries.into_iter().collect();
        slices.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        SliceIndex { slices }
    }

    /// The slices of `service`, in key order.
    fn of(&self, service: &ObjectKey) -> &[IndexEntry<'w>] {
        let wanted = (service.namespace.as_str(), service.name.as_str());
        let start = self.slices.partition_point(|e| (e.0, e.1) < wanted);
        let len = self.slices[start..].partition_point(|e| (e.0, e.1) == wanted);
        &self.slices[start..start + len]
    }

    /// The ready addresses of `target`'s port, sorted. Problems with slices are
    /// reported against the slice. A target reached through its Service's
    /// cluster IP (`service-upstream`) has that address alone.
    pub(crate) fn ready_addresses(
        &self,
        target: &ClusterTarget,
        diagnostics: &mut Diagnostics,
    ) -> BTreeSet<SocketAddr> {
        let mut addrs = BTreeSet::new();
        if let Addresses::ClusterIp(ip) = target.settings.addresses {
            if let Ok(port) = u16::try_from(target.port) {
                addrs.insert(SocketAddr::new(ip, port));
            }
            return addrs;
        }
        for (_, _, key, slice) in self.of(&target.service) {
            collect(key, slice, target, &mut addrs, diagnostics);
        }
        addrs
    }
}

/// The index entry of a slice that names a Service.
fn entry<'w>((key, slice): (&'w ObjectKey, &'w Arc<EndpointSlice>)) -> Option<IndexEntry<'w>> {
    let service = service_name(slice)?;
    Some((key.namespace.as_str(), service, key, slice.as_ref()))
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

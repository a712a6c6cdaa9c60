//! `--peer-service`: where the other replicas' admin listeners are, from the
//! EndpointSlices of the Service in front of them, so the leader can ask
//! whether their Envoys have an Ingress too.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client, ResourceExt};
use tokio::sync::watch;
use tokio_stream::StreamExt;
use tracing::info;

use super::service_ref::ServiceRef;
use crate::sources::kube::resilient_watch;
use crate::world::SERVICE_NAME_LABEL;

/// The name of the Service port that reaches a replica's admin listener.
pub const ADMIN_PORT_NAME: &str = "admin";

/// Keeps `peers` at the admin address of every ready endpoint of `service`
/// (this replica included: asking itself is harmless).
pub async fn watch_peers(
    client: Client,
    service: ServiceRef,
    peers: watch::Sender<Vec<SocketAddr>>,
) {
    let api = Api::<EndpointSlice>::namespaced(client, &service.namespace);
    let config =
        watcher::Config::default().labels(&format!("{SERVICE_NAME_LABEL}={}", service.name));
    let stream = resilient_watch(api, config, format!("peer service {service}"));
    tokio::pin!(stream);
    let mut slices: BTreeMap<String, Vec<SocketAddr>> = BTreeMap::new();
    let mut listing: Option<BTreeMap<String, Vec<SocketAddr>>> = None;
    while let Some(event) = stream.next().await {
        match event {
            Event::Init => listing = Some(BTreeMap::new()),
            Event::InitApply(slice) => {
                listing
                    .get_or_insert_with(BTreeMap::new)
                    .insert(slice.name_any(), admin_addresses(&slice));
            }
            Event::InitDone => slices = listing.take().unwrap_or_default(),
            Event::Apply(slice) => {
                slices.insert(slice.name_any(), admin_addresses(&slice));
            }
            Event::Delete(slice) => {
                slices.remove(&slice.name_any());
            }
        }
        if listing.is_some() {
            continue;
        }
        let mut all: Vec<SocketAddr> = slices.values().flatten().copied().collect();
        all.sort();
        all.dedup();
        // The only sender: compare, then replace.
        if *peers.borrow() != all {
            info!(service = %service, peers = ?all, "replicas");
            peers.send_replace(all);
        }
    }
}

/// Ready endpoints × the slice's admin port.
fn admin_addresses(slice: &EndpointSlice) -> Vec<SocketAddr> {
    let Some(port) = slice
        .ports
        .iter()
        .flatten()
        .find(|p| p.name.as_deref() == Some(ADMIN_PORT_NAME))
        .and_then(|p| p.port)
        .and_then(|p| u16::try_from(p).ok())
    else {
        return Vec::new();
    };
    slice
        .endpoints
        .iter()
        .filter(|e| e.conditions.as_ref().and_then(|c| c.ready) != Some(false))
        .flat_map(|e| e.addresses.iter())
        .filter_map(|a| a.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, port))
        .collect()
}

//! `--publish-service NAMESPACE/NAME`: the Ingress address follows the
//! LoadBalancer status of the Service in front of the Envoys.

use k8s_openapi::api::core::v1::Service;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};
use tokio::sync::watch;
use tokio_stream::StreamExt;
use tracing::info;

use super::address::{from_service, StatusAddress};
use super::service_ref::ServiceRef;
use crate::sources::kube::resilient_watch;

/// Watches the Service and keeps `addresses` at its load-balancer addresses.
/// A Service without any (yet), or deleted, leaves the last known ones: an
/// address is never taken away from Ingresses because of a hiccup.
pub async fn watch_publish_service(
    client: Client,
    service: ServiceRef,
    addresses: watch::Sender<Vec<StatusAddress>>,
) {
    let api = Api::<Service>::namespaced(client, &service.namespace);
    let config = watcher::Config::default().fields(&format!("metadata.name={}", service.name));
    let stream = resilient_watch(api, config, format!("publish service {service}"));
    tokio::pin!(stream);
    while let Some(event) = stream.next().await {
        let (Event::Apply(object) | Event::InitApply(object)) = event else {
            continue;
        };
        let found: Vec<StatusAddress> = object
            .status
            .and_then(|s| s.load_balancer)
            .and_then(|lb| lb.ingress)
            .unwrap_or_default()
            .iter()
            .filter_map(from_service)
            .collect();
        if found.is_empty() {
            continue;
        }
        // The only sender: compare, then replace.
        if *addresses.borrow() != found {
            info!(service = %service, addresses = ?found, "publish service address");
            addresses.send_replace(found);
        }
    }
}

//! The client's delta stream: responses add or remove single resources, ACKed by
//! nonce; EDS and RDS subscriptions follow what CDS and LDS hold.

use std::collections::BTreeSet;

use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient;
use envoy_types::pb::envoy::service::discovery::v3::DeltaDiscoveryRequest;
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::transport::Channel;
use tonic::Status;

use crate::snapshot::{PerType, ResourceType};

use super::{decode_failed, follow_up, part, EnvoyLike, Progress};

/// Follows the server until the stream ends or fails.
pub(super) async fn follow(
    client: &EnvoyLike,
    mut ads: AggregatedDiscoveryServiceClient<Channel>,
    progress: &mut Progress,
) -> Result<(), Status> {
    let (tx, rx) = mpsc::unbounded_channel();
    let send =
        |r: DeltaDiscoveryRequest| tx.send(r).map_err(|_| Status::cancelled("stream closed"));
    for (kind, node) in [
        (ResourceType::Cluster, Some(client.node())),
        (ResourceType::Listener, None),
    ] {
        send(DeltaDiscoveryRequest {
            node,
            type_url: kind.type_url().to_owned(),
            ..DeltaDiscoveryRequest::default()
        })?;
    }
    let mut subscribed: PerType<BTreeSet<String>> = PerType::default();
    let mut responses = ads
        .delta_aggregated_resources(UnboundedReceiverStream::new(rx))
        .await?
        .into_inner();
    while let Some(response) = responses.message().await? {
        let size = response.encoded_len();
        let Some(kind) = ResourceType::from_type_url(&response.type_url) else {
            continue;
        };
        if let Some(part) = part(kind) {
            progress.held.remove(part, &response.removed_resources);
            let bodies: Vec<&[u8]> = response
                .resources
                .iter()
                .filter_map(|r| r.resource.as_ref().map(|a| &a.value[..]))
                .collect();
            let probe = client.current_probe();
            progress
                .held
                .upsert(part, &bodies, probe.as_ref())
                .map_err(decode_failed)?;
        }
        send(DeltaDiscoveryRequest {
            type_url: response.type_url.clone(),
            response_nonce: response.nonce,
            ..DeltaDiscoveryRequest::default()
        })?; // the ACK
        let follow = follow_up(kind, &progress.held);
        if let Some((child, wanted)) = follow {
            let now = &mut subscribed[child];
            let subscribe: Vec<String> = wanted.difference(now).cloned().collect();
            let unsubscribe: Vec<String> = now.difference(&wanted).cloned().collect();
            if !subscribe.is_empty() || !unsubscribe.is_empty() {
                *now = wanted;
                send(DeltaDiscoveryRequest {
                    type_url: child.type_url().to_owned(),
                    resource_names_subscribe: subscribe,
                    resource_names_unsubscribe: unsubscribe,
                    ..DeltaDiscoveryRequest::default()
                })?;
            }
        }
        client.check(progress, size);
    }
    Ok(())
}

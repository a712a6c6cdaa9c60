//! The client's delta stream: responses add or remove single resources, ACKed by
//! nonce; EDS and RDS subscriptions follow what CDS and LDS hold.

use std::collections::BTreeSet;

use envoy_types::pb::envoy::service::discovery::v3::DeltaDiscoveryRequest;
use prost::bytes::Bytes;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::transport::Channel;
use tonic::Status;

use crate::snapshot::{Name, PerType, ResourceType};

use super::wire::{self, DeltaResponse};
use super::{decode_failed, follow_up, part, EnvoyLike, Progress};

/// Follows the server until the stream ends or fails.
pub(super) async fn follow(
    client: &EnvoyLike,
    channel: Channel,
    progress: &mut Progress,
) -> Result<(), Status> {
    let (tx, rx) = mpsc::unbounded_channel();
    let send = |r: DeltaDiscoveryRequest| {
        tx.send(wire::encode(&r))
            .map_err(|_| Status::cancelled("stream closed"))
    };
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
    let mut subscribed: PerType<BTreeSet<Name>> = PerType::default();
    let mut responses =
        wire::open::<DeltaResponse>(channel, wire::DELTA_PATH, UnboundedReceiverStream::new(rx))
            .await?;
    while let Some(received) = responses.message().await? {
        let response = received.message;
        let Some(kind) = ResourceType::from_type_url(&response.type_url) else {
            continue;
        };
        if let Some(part) = part(kind) {
            progress.held.remove(part, &response.removed_resources);
            let bodies: Vec<&Bytes> = response
                .resources
                .iter()
                .filter_map(|r| r.resource.as_ref().map(|b| &b.value))
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
            let names = |set: std::collections::btree_set::Difference<'_, Name>| {
                set.map(|n| n.to_string()).collect::<Vec<String>>()
            };
            let subscribe = names(wanted.difference(now));
            let unsubscribe = names(now.difference(&wanted));
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
        client.check(progress, received.wire_len);
    }
    Ok(())
}

//! The client's state-of-the-world stream: every response is the whole set of
//! its type (EDS and RDS: of the names asked for), ACKed by repeating its version
//! and nonce; EDS and RDS names follow what CDS and LDS hold.

use std::collections::BTreeSet;

use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient;
use envoy_types::pb::envoy::service::discovery::v3::DiscoveryRequest;
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::transport::Channel;
use tonic::Status;

use crate::snapshot::{PerType, ResourceType};

use super::{decode_failed, follow_up, part, EnvoyLike, Progress};

#[derive(Default)]
struct TypeState {
    version: String,
    nonce: String,
    names: BTreeSet<String>,
}

fn request(kind: ResourceType, ts: &TypeState) -> DiscoveryRequest {
    DiscoveryRequest {
        version_info: ts.version.clone(),
        response_nonce: ts.nonce.clone(),
        resource_names: ts.names.iter().cloned().collect(),
        type_url: kind.type_url().to_owned(),
        ..DiscoveryRequest::default()
    }
}

/// Follows the server until the stream ends or fails.
pub(super) async fn follow(
    client: &EnvoyLike,
    mut ads: AggregatedDiscoveryServiceClient<Channel>,
    progress: &mut Progress,
) -> Result<(), Status> {
    let (tx, rx) = mpsc::unbounded_channel();
    let send = |r: DiscoveryRequest| tx.send(r).map_err(|_| Status::cancelled("stream closed"));
    let mut state: PerType<TypeState> = PerType::default();
    let mut first = request(ResourceType::Cluster, &state[ResourceType::Cluster]);
    first.node = Some(client.node());
    send(first)?;
    send(request(
        ResourceType::Listener,
        &state[ResourceType::Listener],
    ))?;
    let mut responses = ads
        .stream_aggregated_resources(UnboundedReceiverStream::new(rx))
        .await?
        .into_inner();
    while let Some(response) = responses.message().await? {
        let size = response.encoded_len();
        let Some(kind) = ResourceType::from_type_url(&response.type_url) else {
            continue;
        };
        if let Some(part) = part(kind) {
            let bodies: Vec<&[u8]> = response.resources.iter().map(|a| &a.value[..]).collect();
            let probe = client.current_probe();
            progress
                .held
                .replace(part, &bodies, probe.as_ref())
                .map_err(decode_failed)?;
        }
        state[kind].version = response.version_info;
        state[kind].nonce = response.nonce;
        send(request(kind, &state[kind]))?; // the ACK
        let follow = follow_up(kind, &progress.held);
        if let Some((child, names)) = follow {
            if names != state[child].names {
                state[child].names = names;
                send(request(child, &state[child]))?;
            }
        }
        client.check(progress, size);
    }
    Ok(())
}

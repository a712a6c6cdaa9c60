//! The client's state-of-the-world stream: every response is the whole set of
//! its type (EDS and RDS: of the names asked for), ACKed by repeating its version
//! and nonce; EDS and RDS names follow what CDS and LDS hold.

use std::collections::BTreeSet;

use envoy_types::pb::envoy::service::discovery::v3::DiscoveryRequest;
use prost::bytes::Bytes;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::transport::Channel;
use tonic::Status;

use crate::snapshot::{Name, PerType, ResourceType};

use super::wire::{self, SotwResponse};
use super::{decode_failed, follow_up, part, EnvoyLike, Progress};

#[derive(Default)]
struct TypeState {
    version: String,
    nonce: String,
    names: BTreeSet<Name>,
    /// `names` as `resource_names` fields, encoded when they changed: every
    /// ACK repeats them (1,000 CLA names at 1,000 clusters).
    names_encoded: Bytes,
}

// === impl TypeState ===

impl TypeState {
    fn subscribe(&mut self, names: BTreeSet<Name>) {
        let only_names = DiscoveryRequest {
            resource_names: names.iter().map(|n| n.to_string()).collect(),
            ..DiscoveryRequest::default()
        };
        self.names_encoded = wire::encode(&only_names);
        self.names = names;
    }

    /// A request for this type: its version, nonce and names (a message's
    /// fields may come in any order, so the names' encoding is appended).
    fn request(&self, kind: ResourceType, node: Option<&EnvoyLike>) -> Bytes {
        let head = DiscoveryRequest {
            version_info: self.version.clone(),
            response_nonce: self.nonce.clone(),
            type_url: kind.type_url().to_owned(),
            node: node.map(EnvoyLike::node),
            ..DiscoveryRequest::default()
        };
        let mut bytes = wire::encode(&head).to_vec();
        bytes.extend_from_slice(&self.names_encoded);
        Bytes::from(bytes)
    }
}

/// Follows the server until the stream ends or fails.
pub(super) async fn follow(
    client: &EnvoyLike,
    channel: Channel,
    progress: &mut Progress,
) -> Result<(), Status> {
    let (tx, rx) = mpsc::unbounded_channel();
    let send = |r: Bytes| tx.send(r).map_err(|_| Status::cancelled("stream closed"));
    let mut state: PerType<TypeState> = PerType::default();
    send(state[ResourceType::Cluster].request(ResourceType::Cluster, Some(client)))?;
    send(state[ResourceType::Listener].request(ResourceType::Listener, None))?;
    let mut responses =
        wire::open::<SotwResponse>(channel, wire::SOTW_PATH, UnboundedReceiverStream::new(rx))
            .await?;
    while let Some(received) = responses.message().await? {
        let response = received.message;
        let Some(kind) = ResourceType::from_type_url(&response.type_url) else {
            continue;
        };
        if let Some(part) = part(kind) {
            let bodies: Vec<&Bytes> = response.resources.iter().map(|b| &b.value).collect();
            let probe = client.current_probe();
            progress
                .held
                .replace(part, &bodies, probe.as_ref())
                .map_err(decode_failed)?;
        }
        state[kind].version = response.version_info;
        state[kind].nonce = response.nonce;
        send(state[kind].request(kind, None))?; // the ACK
        let follow = follow_up(kind, &progress.held);
        if let Some((child, names)) = follow {
            if names != state[child].names {
                state[child].subscribe(names);
                send(state[child].request(child, None))?;
            }
        }
        client.check(progress, received.wire_len);
    }
    Ok(())
}

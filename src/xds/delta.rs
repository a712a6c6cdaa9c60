//! Incremental ADS (`DeltaAggregatedResources`) on the wire.

use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::discovery::v3::DeltaDiscoveryRequest;

use tonic::Status;

use prost::bytes::Bytes;

use crate::snapshot::{ResourceMap, ResourceType};

use super::limits::{truncate, NameCount, XdsLimits};
use super::stream::Protocol;
use super::stream_state::{Mode, Outcome, Planned, StreamState};
use super::wire::{delta_fields, DeltaResponse};

/// Delta: responses carry changed resources and removed names.
pub(crate) struct Delta;

impl Protocol for Delta {
    type Request = DeltaDiscoveryRequest;
    type Response = DeltaResponse;
    const MODE: Mode = Mode::Delta;

    fn node(request: &DeltaDiscoveryRequest) -> Option<&Node> {
        request.node.as_ref()
    }

    fn admit(
        state: &StreamState,
        r: &DeltaDiscoveryRequest,
        max_names: usize,
    ) -> Result<(), Status> {
        match ResourceType::from_type_url(&r.type_url) {
            Some(kind) => NameCount::check_delta(
                kind,
                state.subscription(kind),
                &r.resource_names_subscribe,
                &r.resource_names_unsubscribe,
                max_names,
            ),
            None => Ok(()),
        }
    }

    fn apply(
        state: &mut StreamState,
        r: &DeltaDiscoveryRequest,
        limits: &XdsLimits,
    ) -> Option<Outcome> {
        let kind = ResourceType::from_type_url(&r.type_url)?;
        // Cut before it is stored or logged (escaped where logged): Envoy's text,
        // but any client's bytes.
        let error = r
            .error_detail
            .as_ref()
            .map(|e| truncate(&e.message, limits.max_error_detail_bytes));
        Some(state.on_delta_request(
            kind,
            &r.response_nonce,
            &r.resource_names_subscribe,
            &r.resource_names_unsubscribe,
            &r.initial_resource_versions,
            error,
        ))
    }

    fn encode_whole(map: &ResourceMap) -> Bytes {
        delta_fields(map.values())
    }

    fn render(p: Planned, encoded: Option<Bytes>) -> DeltaResponse {
        DeltaResponse {
            system_version_info: p.version,
            resources: p.resources,
            encoded,
            type_url: p.kind.type_url().to_owned(),
            nonce: p.nonce,
            removed_resources: p.removed,
        }
    }
}

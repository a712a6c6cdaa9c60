//! Incremental ADS (`DeltaAggregatedResources`) on the wire.

use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, Resource as WireResource,
};

use crate::snapshot::ResourceType;

use super::stream::Protocol;
use super::stream_state::{Mode, Outcome, Planned, StreamState};

/// Delta: responses carry changed resources and removed names.
pub(crate) struct Delta;

impl Protocol for Delta {
    type Request = DeltaDiscoveryRequest;
    type Response = DeltaDiscoveryResponse;
    const MODE: Mode = Mode::Delta;

    fn node(request: &DeltaDiscoveryRequest) -> Option<&Node> {
        request.node.as_ref()
    }

    fn apply(state: &mut StreamState, r: &DeltaDiscoveryRequest) -> Option<Outcome> {
        let kind = ResourceType::from_type_url(&r.type_url)?;
        let error = r.error_detail.as_ref().map(|e| e.message.clone());
        Some(state.on_delta_request(
            kind,
            &r.response_nonce,
            &r.resource_names_subscribe,
            &r.resource_names_unsubscribe,
            &r.initial_resource_versions,
            error,
        ))
    }

    fn render(p: Planned) -> DeltaDiscoveryResponse {
        let resources = p
            .resources
            .iter()
            .map(|r| WireResource {
                name: r.name().to_owned(),
                version: r.version().to_owned(),
                resource: Some(r.body().clone()),
                ..WireResource::default()
            })
            .collect();
        DeltaDiscoveryResponse {
            system_version_info: p.version,
            resources,
            type_url: p.kind.type_url().to_owned(),
            removed_resources: p.removed,
            nonce: p.nonce,
            ..DeltaDiscoveryResponse::default()
        }
    }
}

//! State-of-the-world ADS (`StreamAggregatedResources`) on the wire.

use envoy_types::pb::envoy::config::core::v3::Node;

use tonic::Status;

use prost::bytes::Bytes;

use crate::snapshot::{ResourceMap, ResourceType};

use super::limits::{truncate, NameCount, XdsLimits};
use super::sotw_request::SotwRequest;
use super::stream::Protocol;
use super::stream_state::{Mode, Outcome, Planned, StreamState};
use super::wire::{sotw_fields, SotwResponse};

/// SotW: every response carries the whole view of its type.
pub(crate) struct Sotw;

impl Protocol for Sotw {
    type Request = SotwRequest;
    type Response = SotwResponse;
    const MODE: Mode = Mode::Sotw;

    fn node(request: &SotwRequest) -> Option<&Node> {
        request.node.as_ref()
    }

    fn admit(_: &StreamState, r: &SotwRequest, max_names: usize) -> Result<(), Status> {
        match ResourceType::from_type_url(&r.type_url) {
            Some(kind) => NameCount::check_sotw(kind, &r.resource_names, max_names),
            None => Ok(()),
        }
    }

    fn apply(state: &mut StreamState, r: &SotwRequest, limits: &XdsLimits) -> Option<Outcome> {
        let kind = ResourceType::from_type_url(&r.type_url)?;
        // Cut before it is stored or logged (escaped where logged): Envoy's text,
        // but any client's bytes.
        let error = r
            .error_detail
            .as_ref()
            .map(|e| truncate(&e.message, limits.max_error_detail_bytes));
        Some(state.on_sotw_request(kind, &r.version_info, &r.response_nonce, &r.names(), error))
    }

    fn encode_whole(map: &ResourceMap) -> Bytes {
        sotw_fields(map.values())
    }

    fn render(p: Planned, encoded: Option<Bytes>) -> SotwResponse {
        SotwResponse {
            version_info: p.version,
            resources: p.resources,
            encoded,
            type_url: p.kind.type_url().to_owned(),
            nonce: p.nonce,
        }
    }
}

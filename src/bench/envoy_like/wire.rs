//! The client's side of the ADS wire, made cheap: a thousand clients share one
//! process and, on the bench machine, the server's cores, so every allocation a
//! client makes per response is time taken from the server being measured.
//!
//! Responses decode into heads that keep each resource as a slice of the
//! received buffer (no per-resource copy, no `Any.type_url` string); requests go
//! out as bytes the stream encodes itself, so a SotW ACK repeats its subscribed
//! names from one encoding made when the subscription changed.

use std::marker::PhantomData;

use prost::bytes::{BufMut, Bytes};
use prost::Message;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic::Status;
use tonic_prost::{ProstCodec, ProstDecoder};

/// `StreamAggregatedResources`.
pub(super) const SOTW_PATH: &str =
    "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources";
/// `DeltaAggregatedResources`.
pub(super) const DELTA_PATH: &str =
    "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources";

/// `DiscoveryResponse`, without `canary` and `control_plane`.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct SotwResponse {
    #[prost(string, tag = "1")]
    pub version_info: String,
    #[prost(message, repeated, tag = "2")]
    pub resources: Vec<Body>,
    #[prost(string, tag = "4")]
    pub type_url: String,
    #[prost(string, tag = "5")]
    pub nonce: String,
}

/// `DeltaDiscoveryResponse`: the resources' bodies, the removed names.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct DeltaResponse {
    #[prost(message, repeated, tag = "2")]
    pub resources: Vec<DeltaResource>,
    #[prost(string, tag = "4")]
    pub type_url: String,
    #[prost(string, tag = "5")]
    pub nonce: String,
    #[prost(string, repeated, tag = "6")]
    pub removed_resources: Vec<String>,
}

/// `Resource`: only its body (its name is the body's own).
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct DeltaResource {
    #[prost(message, optional, tag = "2")]
    pub resource: Option<Body>,
}

/// `google.protobuf.Any`'s value, a slice of the received message.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct Body {
    #[prost(bytes = "bytes", tag = "2")]
    pub value: Bytes,
}

/// A response and its size on the wire.
pub(super) struct Received<M> {
    pub wire_len: usize,
    pub message: M,
}

/// Opens an ADS stream at `path` that sends `requests` (each one encoded
/// request) and decodes responses as `M`.
pub(super) async fn open<M>(
    channel: Channel,
    path: &'static str,
    requests: UnboundedReceiverStream<Bytes>,
) -> Result<tonic::Streaming<Received<M>>, Status>
where
    M: Message + Default + Send + Sync + 'static,
{
    let mut grpc = tonic::client::Grpc::new(channel).max_decoding_message_size(usize::MAX);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(format!("the channel is not ready: {e}")))?;
    let path = PathAndQuery::from_static(path);
    let codec = EncodedRequests::<M>(PhantomData);
    let response = grpc
        .streaming(tonic::Request::new(requests), path, codec)
        .await?;
    Ok(response.into_inner())
}

/// Encodes `message` for the request stream.
pub(super) fn encode(message: &impl Message) -> Bytes {
    Bytes::from(message.encode_to_vec())
}

// === impl EncodedRequests ===

/// Sends requests encoded beforehand; decodes responses as `M`.
struct EncodedRequests<M>(PhantomData<M>);

impl<M: Message + Default + Send + 'static> Codec for EncodedRequests<M> {
    type Encode = Bytes;
    type Decode = Received<M>;
    type Encoder = RawEncoder;
    type Decoder = MeasuringDecoder<M>;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> MeasuringDecoder<M> {
        MeasuringDecoder(ProstCodec::<M, M>::default().decoder())
    }
}

// === impl RawEncoder ===

/// Writes an already encoded request.
struct RawEncoder;

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

// === impl MeasuringDecoder ===

/// Decodes with prost, noting the message's size.
struct MeasuringDecoder<M>(ProstDecoder<M>);

impl<M: Message + Default> Decoder for MeasuringDecoder<M> {
    type Item = Received<M>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Received<M>>, Status> {
        let wire_len = prost::bytes::Buf::remaining(src);
        let decoded = self.0.decode(src)?;
        Ok(decoded.map(|message| Received { wire_len, message }))
    }
}

#[cfg(test)]
mod tests {
    use envoy_types::pb::envoy::service::discovery::v3::{
        DeltaDiscoveryResponse, DiscoveryResponse, Resource,
    };
    use envoy_types::pb::google::protobuf::Any;

    use super::*;

    fn any(value: &[u8]) -> Any {
        Any {
            type_url: "type.googleapis.com/some.Type".into(),
            value: value.to_vec(),
        }
    }

    #[test]
    fn the_heads_keep_what_the_full_responses_carry() {
        let sotw = DiscoveryResponse {
            version_info: "v1".into(),
            resources: vec![any(b"one"), any(b"two")],
            type_url: "t".into(),
            nonce: "n".into(),
            ..Default::default()
        };
        let head = SotwResponse::decode(Bytes::from(sotw.encode_to_vec())).expect("decodes");
        assert_eq!((&head.version_info[..], &head.nonce[..]), ("v1", "n"));
        let bodies: Vec<&[u8]> = head.resources.iter().map(|b| &b.value[..]).collect();
        assert_eq!(bodies, [&b"one"[..], b"two"]);

        let delta = DeltaDiscoveryResponse {
            resources: vec![Resource {
                name: "a".into(),
                version: "1".into(),
                resource: Some(any(b"body")),
                ..Default::default()
            }],
            type_url: "t".into(),
            nonce: "m".into(),
            removed_resources: vec!["gone".into()],
            ..Default::default()
        };
        let head = DeltaResponse::decode(Bytes::from(delta.encode_to_vec())).expect("decodes");
        assert_eq!(head.nonce, "m");
        assert_eq!(head.removed_resources, ["gone"]);
        let body = head.resources[0].resource.as_ref().expect("body");
        assert_eq!(&body.value[..], b"body");
    }
}

//! Responses written straight from the snapshot's encoded bytes. A
//! `DiscoveryResponse` built from `Any` messages would copy every resource into
//! a fresh message per stream before prost copies it again onto the wire; these
//! types write the shared, already-encoded `Any` bytes directly (the wire format
//! is that of `DiscoveryResponse` / `DeltaDiscoveryResponse`, pinned by tests).

use std::sync::Arc;

use prost::bytes::{Buf, BufMut, Bytes};
use prost::encoding::{
    self, encode_key, encode_varint, encoded_len_varint, DecodeContext, WireType,
};
use prost::DecodeError;

use crate::snapshot::Resource;

/// `envoy.service.discovery.v3.DiscoveryResponse`, encode-only.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SotwResponse {
    /// Field 1.
    pub version_info: String,
    /// Field 2, each an encoded `Any`.
    pub resources: Vec<Arc<Resource>>,
    /// `resources` already encoded as fields ([`sotw_fields`]), shared by every
    /// stream sending the same set.
    pub encoded: Option<Bytes>,
    /// Field 4.
    pub type_url: String,
    /// Field 5.
    pub nonce: String,
}

/// `envoy.service.discovery.v3.DeltaDiscoveryResponse`, encode-only.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeltaResponse {
    /// Field 1.
    pub system_version_info: String,
    /// Field 2, each a `Resource { version: 1, resource: 2, name: 3 }`.
    pub resources: Vec<Arc<Resource>>,
    /// `resources` already encoded as fields ([`delta_fields`]), shared by
    /// every stream sending the same set.
    pub encoded: Option<Bytes>,
    /// Field 4.
    pub type_url: String,
    /// Field 5.
    pub nonce: String,
    /// Field 6.
    pub removed_resources: Vec<String>,
}

/// Where a response's encoding goes: prost's buffer (a copy of everything; tests
/// and tools) or [`super::response_body`]'s chunks, which share the resources'
/// bytes with the snapshot instead of copying them per stream.
pub(crate) trait WireSink {
    /// Framing bytes (keys, lengths, short strings): always copied.
    fn put(&mut self, bytes: &[u8]);
    /// A resource's encoded bytes, which the sink may keep a reference to.
    fn put_shared(&mut self, bytes: &Bytes);
}

/// A response Interlock writes from shared resource bytes.
pub(crate) trait WireMessage: prost::Message {
    /// Writes the message's encoding (what `encode_raw` writes) into `sink`.
    fn write(&self, sink: &mut impl WireSink);
}

/// [`WireSink`] copying into a prost buffer.
struct Copying<'a, B>(&'a mut B);

impl<B: BufMut> WireSink for Copying<'_, B> {
    fn put(&mut self, bytes: &[u8]) {
        self.0.put_slice(bytes);
    }

    fn put_shared(&mut self, bytes: &Bytes) {
        self.0.put_slice(bytes);
    }
}

/// Length of a string field (proto3: an empty string is not written).
fn string_len(tag: u32, value: &str) -> usize {
    if value.is_empty() {
        0
    } else {
        field_len(tag, value.len())
    }
}

/// The key and length of a length-delimited field.
fn put_header(tag: u32, len: usize, sink: &mut impl WireSink) {
    let mut header = [0u8; 20];
    let mut rest = &mut header[..];
    encode_key(tag, WireType::LengthDelimited, &mut rest);
    encode_varint(len as u64, &mut rest);
    let written = 20 - rest.len();
    sink.put(&header[..written]);
}

fn put_string(tag: u32, value: &str, sink: &mut impl WireSink) {
    if !value.is_empty() {
        put_bytes(tag, value.as_bytes(), sink);
    }
}

fn put_bytes(tag: u32, value: &[u8], sink: &mut impl WireSink) {
    put_header(tag, value.len(), sink);
    sink.put(value);
}

fn put_resource(tag: u32, resource: &Resource, sink: &mut impl WireSink) {
    put_header(tag, resource.wire_any().len(), sink);
    sink.put_shared(resource.wire_bytes());
}

fn put_sotw_resources<'a>(
    resources: impl IntoIterator<Item = &'a Arc<Resource>>,
    sink: &mut impl WireSink,
) {
    for r in resources {
        put_resource(2, r, sink);
    }
}

fn put_delta_resources<'a>(
    resources: impl IntoIterator<Item = &'a Arc<Resource>>,
    sink: &mut impl WireSink,
) {
    for r in resources {
        put_header(2, delta_resource_len(r), sink);
        put_string(1, r.version(), sink);
        put_resource(2, r, sink);
        put_string(3, r.name(), sink);
    }
}

/// `resources` as the `resources` fields of a `DiscoveryResponse`, in one
/// buffer (see [`SotwResponse::encoded`]).
pub(crate) fn sotw_fields<'a>(resources: impl Iterator<Item = &'a Arc<Resource>>) -> Bytes {
    let mut buf = Vec::new();
    put_sotw_resources(resources, &mut Copying(&mut buf));
    buf.into()
}

/// `resources` as the `resources` fields of a `DeltaDiscoveryResponse`, in one
/// buffer (see [`DeltaResponse::encoded`]).
pub(crate) fn delta_fields<'a>(resources: impl Iterator<Item = &'a Arc<Resource>>) -> Bytes {
    let mut buf = Vec::new();
    put_delta_resources(resources, &mut Copying(&mut buf));
    buf.into()
}

/// Length of a length-delimited field of `len` bytes (key, length, payload).
fn field_len(tag: u32, len: usize) -> usize {
    encoding::key_len(tag) + encoded_len_varint(len as u64) + len
}

/// Length of one delta `Resource` message body.
fn delta_resource_len(r: &Resource) -> usize {
    string_len(1, r.version()) + field_len(2, r.wire_any().len()) + string_len(3, r.name())
}

/// Never decoded: Interlock only sends these.
fn skip(
    tag: u32,
    wire_type: WireType,
    buf: &mut impl Buf,
    ctx: DecodeContext,
) -> Result<(), DecodeError> {
    encoding::skip_field(wire_type, tag, buf, ctx)
}

// === impl SotwResponse ===

impl WireMessage for SotwResponse {
    fn write(&self, sink: &mut impl WireSink) {
        put_string(1, &self.version_info, sink);
        match &self.encoded {
            Some(fields) => sink.put_shared(fields),
            None => put_sotw_resources(&self.resources, sink),
        }
        put_string(4, &self.type_url, sink);
        put_string(5, &self.nonce, sink);
    }
}

impl prost::Message for SotwResponse {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        self.write(&mut Copying(buf));
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        skip(tag, wire_type, buf, ctx)
    }

    fn encoded_len(&self) -> usize {
        string_len(1, &self.version_info)
            + match &self.encoded {
                Some(fields) => fields.len(),
                None => self
                    .resources
                    .iter()
                    .map(|r| field_len(2, r.wire_any().len()))
                    .sum::<usize>(),
            }
            + string_len(4, &self.type_url)
            + string_len(5, &self.nonce)
    }

    fn clear(&mut self) {
        *self = SotwResponse::default();
    }
}

// === impl DeltaResponse ===

impl WireMessage for DeltaResponse {
    fn write(&self, sink: &mut impl WireSink) {
        put_string(1, &self.system_version_info, sink);
        match &self.encoded {
            Some(fields) => sink.put_shared(fields),
            None => put_delta_resources(&self.resources, sink),
        }
        put_string(4, &self.type_url, sink);
        put_string(5, &self.nonce, sink);
        for name in &self.removed_resources {
            put_bytes(6, name.as_bytes(), sink);
        }
    }
}

impl prost::Message for DeltaResponse {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        self.write(&mut Copying(buf));
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        skip(tag, wire_type, buf, ctx)
    }

    fn encoded_len(&self) -> usize {
        string_len(1, &self.system_version_info)
            + match &self.encoded {
                Some(fields) => fields.len(),
                None => self
                    .resources
                    .iter()
                    .map(|r| field_len(2, delta_resource_len(r)))
                    .sum::<usize>(),
            }
            + string_len(4, &self.type_url)
            + string_len(5, &self.nonce)
            + self
                .removed_resources
                .iter()
                .map(|n| field_len(6, n.len()))
                .sum::<usize>()
    }

    fn clear(&mut self) {
        *self = DeltaResponse::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{ResourceType, Snapshot};
    use envoy_types::pb::envoy::config::cluster::v3::Cluster;
    use envoy_types::pb::envoy::service::discovery::v3::{
        DeltaDiscoveryResponse, DiscoveryResponse, Resource as WireResource,
    };
    use prost::Message;

    fn resources() -> Vec<Arc<Resource>> {
        let snapshot = Snapshot::builder()
            .cluster(Cluster {
                name: "a".into(),
                ..Cluster::default()
            })
            .cluster(Cluster {
                name: "b-with-a-longer-name".into(),
                ..Cluster::default()
            })
            .build()
            .expect("consistent");
        snapshot
            .resources(ResourceType::Cluster)
            .values()
            .cloned()
            .collect()
    }

    #[test]
    fn sotw_bytes_decode_as_the_prost_message() {
        let wire = SotwResponse {
            version_info: "v1".into(),
            resources: resources(),
            encoded: None,
            type_url: ResourceType::Cluster.type_url().into(),
            nonce: "7".into(),
        };
        let bytes = wire.encode_to_vec();
        assert_eq!(bytes.len(), wire.encoded_len());
        let expected = DiscoveryResponse {
            version_info: "v1".into(),
            resources: wire.resources.iter().map(|r| r.to_any()).collect(),
            type_url: ResourceType::Cluster.type_url().into(),
            nonce: "7".into(),
            ..DiscoveryResponse::default()
        };
        assert_eq!(
            DiscoveryResponse::decode(bytes.as_slice()).expect("decodes"),
            expected
        );
        assert_eq!(
            bytes,
            expected.encode_to_vec(),
            "byte-identical to prost's encoding"
        );
    }

    #[test]
    fn delta_bytes_decode_as_the_prost_message() {
        let wire = DeltaResponse {
            system_version_info: "v2".into(),
            resources: resources(),
            encoded: None,
            type_url: ResourceType::Cluster.type_url().into(),
            nonce: "8".into(),
            removed_resources: vec!["gone".into(), "also-gone".into()],
        };
        let bytes = wire.encode_to_vec();
        assert_eq!(bytes.len(), wire.encoded_len());
        let expected = DeltaDiscoveryResponse {
            system_version_info: "v2".into(),
            resources: wire
                .resources
                .iter()
                .map(|r| WireResource {
                    name: r.name().into(),
                    version: r.version().into(),
                    resource: Some(r.to_any()),
                    ..WireResource::default()
                })
                .collect(),
            type_url: ResourceType::Cluster.type_url().into(),
            removed_resources: vec!["gone".into(), "also-gone".into()],
            nonce: "8".into(),
            ..DeltaDiscoveryResponse::default()
        };
        assert_eq!(
            DeltaDiscoveryResponse::decode(bytes.as_slice()).expect("decodes"),
            expected
        );
    }

    #[test]
    fn a_whole_set_encoded_once_gives_the_same_bytes() {
        let sotw = SotwResponse {
            version_info: "v1".into(),
            resources: resources(),
            encoded: None,
            type_url: ResourceType::Cluster.type_url().into(),
            nonce: "7".into(),
        };
        let shared = SotwResponse {
            encoded: Some(sotw_fields(sotw.resources.iter())),
            ..sotw.clone()
        };
        assert_eq!(shared.encoded_len(), sotw.encoded_len());
        assert_eq!(shared.encode_to_vec(), sotw.encode_to_vec());
        let delta = DeltaResponse {
            system_version_info: "v2".into(),
            resources: resources(),
            encoded: None,
            type_url: ResourceType::Cluster.type_url().into(),
            nonce: "8".into(),
            removed_resources: vec!["gone".into()],
        };
        let shared = DeltaResponse {
            encoded: Some(delta_fields(delta.resources.iter())),
            ..delta.clone()
        };
        assert_eq!(shared.encoded_len(), delta.encoded_len());
        assert_eq!(shared.encode_to_vec(), delta.encode_to_vec());
    }

    #[test]
    fn empty_responses_encode_like_prost() {
        assert_eq!(
            SotwResponse::default().encode_to_vec(),
            DiscoveryResponse::default().encode_to_vec()
        );
        assert_eq!(
            DeltaResponse::default().encode_to_vec(),
            DeltaDiscoveryResponse::default().encode_to_vec()
        );
    }
}

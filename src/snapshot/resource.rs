//! One xDS resource, protobuf-encoded once when the snapshot is built.

use std::sync::atomic::{AtomicU64, Ordering};

use envoy_types::pb::google::protobuf::Any;
use prost::bytes::Bytes;
use prost::encoding::{encode_key, encode_varint, encoded_len_varint, WireType};
use prost::{Message, Name as MessageName};

use super::name::{intern, Name};
use super::references::References;
use super::resource_type::ResourceType;
use super::version::VersionHasher;

static ENCODES: AtomicU64 = AtomicU64::new(0);

/// How many resources this process has protobuf-encoded. Streams never encode
/// resources, so after a change this grows by the number of changed resources,
/// not by resources × streams (the fan-out bench reads it).
pub fn encode_count() -> u64 {
    ENCODES.load(Ordering::Relaxed)
}

/// An encoded resource shared (behind `Arc`) by every snapshot and stream that holds it.
/// `Debug` shows what it is, never its bytes: a Secret's carry a private key.
#[derive(Clone, PartialEq, Eq)]
pub struct Resource {
    kind: ResourceType,
    name: Name,
    version: String,
    /// The resource encoded as a protobuf `Any`, spliced as-is into every
    /// response: the one copy of its bytes, shared (not copied) by every
    /// response in flight.
    wire: Bytes,
    /// Where the message's own bytes (the `Any`'s `value`) are in `wire`.
    value: std::ops::Range<usize>,
    references: References,
}

impl std::fmt::Debug for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resource")
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("version", &self.version)
            .field("bytes", &self.wire.len())
            .finish_non_exhaustive()
    }
}

impl Resource {
    /// Encodes `message` once, straight into its `Any` wrapping, and derives
    /// its version from the bytes.
    pub(crate) fn encode<M: Message + MessageName>(
        kind: ResourceType,
        name: String,
        message: &M,
        references: References,
    ) -> Resource {
        let type_url = M::type_url();
        let len = message.encoded_len();
        let mut wire = any_header(&type_url, len);
        let start = wire.len();
        message.encode_raw(&mut wire);
        Resource::from_wire(kind, &name, &type_url, (wire, start), references)
    }

    /// A resource from its message's bytes, encoded elsewhere (a route table
    /// spliced from virtual hosts encoded once each). The bytes must be exactly
    /// what `encode` of the message gives, or versions stop matching content.
    pub(crate) fn from_value(
        kind: ResourceType,
        name: String,
        type_url: String,
        value: Vec<u8>,
        references: References,
    ) -> Resource {
        let mut wire = any_header(&type_url, value.len());
        let start = wire.len();
        wire.extend_from_slice(&value);
        drop(value);
        Resource::from_wire(kind, &name, &type_url, (wire, start), references)
    }

    /// `wire`: an `Any` of `type_url` whose message's bytes start at `start`
    /// and end it.
    fn from_wire(
        kind: ResourceType,
        name: &str,
        type_url: &str,
        (mut wire, start): (Vec<u8>, usize),
        references: References,
    ) -> Resource {
        ENCODES.fetch_add(1, Ordering::Relaxed);
        let value = start..wire.len();
        if kind == ResourceType::Route {
            // Per-route filter configs are a protobuf map: fix their order.
            super::canonical::sort_route_maps(&mut wire[value.clone()]);
        }
        let version = VersionHasher::new()
            .field(type_url.as_bytes())
            .field(&wire[value.clone()])
            .finish();
        Resource {
            kind,
            name: intern(name),
            version,
            wire: Bytes::from(wire),
            value,
            references,
        }
    }

    /// The resource's type.
    pub fn kind(&self) -> ResourceType {
        self.kind
    }

    /// The resource's xDS name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The resource's name as the one shared allocation streams keep in their
    /// sets of names.
    pub fn shared_name(&self) -> &Name {
        &self.name
    }

    /// Content hash of the encoded bytes.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The encoded message (the `Any`'s `value`), to decode it.
    pub fn value(&self) -> &[u8] {
        &self.wire[self.value.clone()]
    }

    /// The resource as a `google.protobuf.Any` (a copy: for tests and tools;
    /// responses use [`Resource::wire_any`]).
    pub fn to_any(&self) -> Any {
        Any {
            type_url: self.kind.type_url().to_owned(),
            value: self.value().to_vec(),
        }
    }

    /// The resource as an encoded `google.protobuf.Any`: what responses carry,
    /// byte for byte, without re-encoding or copying per stream into messages.
    pub fn wire_any(&self) -> &[u8] {
        &self.wire
    }

    /// [`Resource::wire_any`] as shared bytes: a response carries a reference
    /// to them, not a copy, until its stream has written it.
    pub fn wire_bytes(&self) -> &Bytes {
        &self.wire
    }

    /// What this resource needs to exist before Envoy may see it.
    pub fn references(&self) -> &References {
        &self.references
    }
}

/// `Any.type_url` and `Any.value`.
const ANY_TYPE_URL: u32 = 1;
const ANY_VALUE: u32 = 2;

/// The bytes of a `google.protobuf.Any` of `type_url` up to its `value` of
/// `len` bytes (prost's encoding: fields in order, empty ones left out), with
/// room for the value.
fn any_header(type_url: &str, len: usize) -> Vec<u8> {
    let mut wire = Vec::with_capacity(any_header_len(type_url, len) + len);
    if !type_url.is_empty() {
        encode_key(ANY_TYPE_URL, WireType::LengthDelimited, &mut wire);
        encode_varint(type_url.len() as u64, &mut wire);
        wire.extend_from_slice(type_url.as_bytes());
    }
    if len > 0 {
        encode_key(ANY_VALUE, WireType::LengthDelimited, &mut wire);
        encode_varint(len as u64, &mut wire);
    }
    wire
}

/// The length of [`any_header`].
fn any_header_len(type_url: &str, len: usize) -> usize {
    let field = |n: usize| 1 + encoded_len_varint(n as u64);
    let url = if type_url.is_empty() {
        0
    } else {
        field(type_url.len()) + type_url.len()
    };
    url + if len > 0 { field(len) } else { 0 }
}

#[cfg(test)]
mod tests {
    use envoy_types::pb::envoy::config::core::v3::{data_source::Specifier, DataSource};
    use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{
        secret, Secret, TlsCertificate,
    };

    use super::*;

    #[test]
    fn the_wire_is_prosts_encoding_of_the_any() {
        for name in ["", "ns/tls"] {
            let secret = Secret {
                name: name.to_owned(),
                r#type: None,
            };
            let resource = Resource::encode(
                ResourceType::Secret,
                name.to_owned(),
                &secret,
                References::default(),
            );
            let any = Any {
                type_url: Secret::type_url(),
                value: secret.encode_to_vec(),
            };
            assert_eq!(resource.wire_any(), any.encode_to_vec().as_slice());
            assert_eq!(resource.value(), any.value.as_slice());
            let spliced = Resource::from_value(
                ResourceType::Secret,
                name.to_owned(),
                Secret::type_url(),
                any.value.clone(),
                References::default(),
            );
            assert_eq!(spliced, resource);
        }
    }

    #[test]
    fn debug_shows_what_a_resource_is_never_its_bytes() {
        let key = DataSource {
            specifier: Some(Specifier::InlineString("KEY-MATERIAL".to_owned())),
            ..DataSource::default()
        };
        let secret = Secret {
            name: "ns/tls".to_owned(),
            r#type: Some(secret::Type::TlsCertificate(TlsCertificate {
                private_key: Some(key),
                ..TlsCertificate::default()
            })),
        };
        let resource = Resource::encode(
            ResourceType::Secret,
            "ns/tls".to_owned(),
            &secret,
            References::default(),
        );
        let shown = format!("{resource:?}");
        assert!(
            shown.contains("ns/tls") && shown.contains("Secret"),
            "{shown}"
        );
        assert!(
            !shown.contains("value") && !shown.contains("wire"),
            "{shown}"
        );
    }
}

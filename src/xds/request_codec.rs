//! Requests counted before they are decoded. A request of the largest size the
//! server takes (`--xds-max-message-bytes`) decodes into far more memory when it
//! is a list of tiny names (a 3-byte name on the wire is a 50-byte `String` in
//! memory), so the names cap is applied to the encoded bytes first: a request
//! naming more resources than `--xds-max-names` is refused without decoding it.

use envoy_types::pb::envoy::service::discovery::v3::DeltaDiscoveryRequest;
use prost::bytes::Bytes;
use prost::Message;
use tonic::Status;

use super::sotw_request::SotwRequest;

/// A request whose repeated name fields can be counted on the wire.
pub(crate) trait NamedRequest: Message + Default + Send + 'static {
    /// Top-level field numbers that each carry one resource name.
    const NAME_FIELDS: &'static [u32];

    /// Refuses what decoded but is not a valid request.
    fn check(&self) -> Result<(), Status> {
        Ok(())
    }
}

impl NamedRequest for SotwRequest {
    /// `resource_names`.
    const NAME_FIELDS: &'static [u32] = &[3];

    /// Names are decoded as bytes: refused unless UTF-8.
    fn check(&self) -> Result<(), Status> {
        SotwRequest::check(self)
    }
}

impl NamedRequest for DeltaDiscoveryRequest {
    /// `resource_names_subscribe`, `resource_names_unsubscribe`,
    /// `initial_resource_versions` (a map: one entry per name).
    const NAME_FIELDS: &'static [u32] = &[3, 4, 5];
}

/// Decodes one request, refused with `RESOURCE_EXHAUSTED` when it names more
/// than `max_names` resources (the wildcard aside), counted before decoding.
/// Bytes fields of the result are views of `message`, not copies.
pub(crate) fn decode_counted<U: NamedRequest>(
    message: Bytes,
    max_names: usize,
) -> Result<U, Status> {
    let names = count_fields(&message, U::NAME_FIELDS);
    if names > max_names.saturating_add(1) {
        return Err(Status::resource_exhausted(format!(
            "a request naming {names} resources, more than the {max_names} this server allows (--xds-max-names)"
        )));
    }
    let request = U::decode(message)
        .map_err(|e| Status::internal(format!("failed to decode the request: {e}")))?;
    request.check()?;
    Ok(request)
}

/// How many top-level fields of `message` have one of `fields` as their number.
/// Malformed input stops the count early; prost then reports it.
fn count_fields(mut message: &[u8], fields: &[u32]) -> usize {
    let mut count = 0;
    while !message.is_empty() {
        let Ok(key) = prost::encoding::decode_varint(&mut message) else {
            break;
        };
        let (field, wire_type) = (key >> 3, key & 7);
        let skip = match wire_type {
            0 => prost::encoding::decode_varint(&mut message).map(|_| 0).ok(),
            1 => Some(8),
            2 => prost::encoding::decode_varint(&mut message)
                .ok()
                .and_then(|len| usize::try_from(len).ok()),
            5 => Some(4),
            _ => None,
        };
        let Some(skip) = skip.filter(|s| *s <= message.len()) else {
            break;
        };
        if wire_type == 2 && fields.iter().any(|f| u64::from(*f) == field) {
            count += 1;
        }
        message = &message[skip..];
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_fields_are_counted_on_the_wire_as_prost_would_decode_them() {
        let request = DeltaDiscoveryRequest {
            node: Some(Default::default()),
            type_url: "t".into(),
            resource_names_subscribe: vec!["a".into(), "b".into()],
            resource_names_unsubscribe: vec!["c".into()],
            initial_resource_versions: [("d".to_owned(), "1".to_owned())].into(),
            response_nonce: "7".into(),
            ..Default::default()
        };
        let bytes = request.encode_to_vec();
        assert_eq!(count_fields(&bytes, DeltaDiscoveryRequest::NAME_FIELDS), 4);
        let sotw = envoy_types::pb::envoy::service::discovery::v3::DiscoveryRequest {
            version_info: "v".into(),
            resource_names: (0..1000).map(|i| i.to_string()).collect(),
            ..Default::default()
        };
        let bytes = sotw.encode_to_vec();
        assert_eq!(count_fields(&bytes, SotwRequest::NAME_FIELDS), 1000);
    }

    #[test]
    fn malformed_input_ends_the_count_without_panicking() {
        assert_eq!(count_fields(&[0x1a, 0xff], &[3]), 0, "length past the end");
        assert_eq!(count_fields(&[0x1f], &[3]), 0, "unknown wire type");
        assert_eq!(count_fields(&[0x1a, 0x00, 0x80], &[3]), 1, "truncated key");
    }
}

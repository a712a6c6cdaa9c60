//! A state-of-the-world request as the server reads it: `DiscoveryRequest`'s
//! wire form, with the resource names left as slices of the received message.
//!
//! A SotW ACK repeats every name its type is subscribed to: an Envoy holding
//! 1,000 clusters names 1,000 ClusterLoadAssignments in every EDS ACK. Decoded
//! as `String`s, that was a heap allocation, a copy and a free per name per
//! ACK, 13 % of the server's CPU while 1,000 Envoys connected at once. As
//! `Bytes` they are reference-counted views of the message; the subscription
//! interns the few that are new.

use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::google::rpc::Status as RpcStatus;
use prost::bytes::Bytes;
use tonic::Status;

/// `envoy.service.discovery.v3.DiscoveryRequest`, field for field (what the
/// server does not read, `resource_locators`, is skipped as unknown).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SotwRequest {
    /// The version being ACKed or NACKed (empty on a first request).
    #[prost(string, tag = "1")]
    pub version_info: String,
    /// Who is asking (at least on the stream's first request).
    #[prost(message, optional, tag = "2")]
    pub node: Option<Node>,
    /// The subscribed names, as received; valid UTF-8 once decoded
    /// ([`SotwRequest::check`]).
    #[prost(bytes = "bytes", repeated, tag = "3")]
    pub resource_names: Vec<Bytes>,
    /// The resource type.
    #[prost(string, tag = "4")]
    pub type_url: String,
    /// The nonce of the response answered (empty on a first request).
    #[prost(string, tag = "5")]
    pub response_nonce: String,
    /// Set on a NACK: why Envoy rejected the response.
    #[prost(message, optional, tag = "6")]
    pub error_detail: Option<RpcStatus>,
}

// === impl SotwRequest ===

impl SotwRequest {
    /// Refuses names that are not UTF-8, as decoding them as `string`s would.
    pub(crate) fn check(&self) -> Result<(), Status> {
        match self
            .resource_names
            .iter()
            .any(|n| std::str::from_utf8(n).is_err())
        {
            true => Err(Status::invalid_argument(
                "a resource name that is not valid UTF-8",
            )),
            false => Ok(()),
        }
    }

    /// The subscribed names. [`SotwRequest::check`] refused any that are not
    /// UTF-8 when the request was decoded, so none is left out.
    pub(crate) fn names(&self) -> Vec<&str> {
        self.resource_names
            .iter()
            .filter_map(|n| std::str::from_utf8(n).ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use envoy_types::pb::envoy::service::discovery::v3::DiscoveryRequest;
    use prost::Message;

    use super::*;

    #[test]
    fn decodes_what_envoy_encodes_with_names_as_views_of_the_message() {
        let sent = DiscoveryRequest {
            version_info: "v1".into(),
            node: Some(Node {
                id: "gw-1".into(),
                ..Node::default()
            }),
            resource_names: vec!["default/web:80".into(), "default/api:80".into()],
            type_url: "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment".into(),
            response_nonce: "7".into(),
            error_detail: Some(RpcStatus {
                code: 13,
                message: "rejected".into(),
                details: Vec::new(),
            }),
            ..DiscoveryRequest::default()
        };
        let wire = Bytes::from(sent.encode_to_vec());
        let got = SotwRequest::decode(wire.clone()).expect("decodes");
        got.check().expect("UTF-8 names");
        assert_eq!(got.version_info, sent.version_info);
        assert_eq!(got.node, sent.node);
        assert_eq!(got.names(), ["default/web:80", "default/api:80"]);
        assert_eq!(got.type_url, sent.type_url);
        assert_eq!(got.response_nonce, sent.response_nonce);
        assert_eq!(got.error_detail, sent.error_detail);
        let within = wire.as_ptr_range();
        assert!(
            got.resource_names
                .iter()
                .all(|n| within.contains(&n.as_ptr())),
            "names are not copied out of the message"
        );
    }

    #[test]
    fn a_name_that_is_not_utf8_is_refused() {
        let request = SotwRequest {
            resource_names: vec![Bytes::from_static(b"ok"), Bytes::from_static(&[0xff, 0xfe])],
            ..SotwRequest::default()
        };
        let refused = request.check().expect_err("not UTF-8");
        assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    }
}

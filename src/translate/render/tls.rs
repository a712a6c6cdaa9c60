//! TLS: SDS secrets and the HTTPS filter chains that use them.
//!
//! One filter chain per certificate, matched on its SNI hosts, with the
//! certificate fetched over SDS (ADS) by its name, offering h2 and http/1.1.

use std::collections::BTreeSet;

use envoy_types::pb::envoy::config::core::v3::{
    data_source::Specifier, transport_socket, DataSource, TransportSocket,
};
use envoy_types::pb::envoy::config::listener::v3::{Filter, FilterChain, FilterChainMatch};
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{
    secret, CommonTlsContext, DownstreamTlsContext, SdsSecretConfig, Secret, TlsCertificate,
};
use envoy_types::util::pack_any;

use super::ads::ads;
use crate::translate::model::{Certificate, Host};

/// ALPN offered on HTTPS; the HTTP connection manager speaks both.
const ALPN: [&str; 2] = ["h2", "http/1.1"];

/// The SDS resource of `certificate`, named after it.
pub fn secret(certificate: &Certificate) -> Secret {
    let inline = |bytes: &[u8]| DataSource {
        specifier: Some(Specifier::InlineBytes(bytes.to_vec())),
        ..DataSource::default()
    };
    Secret {
        name: certificate.name.clone(),
        r#type: Some(secret::Type::TlsCertificate(TlsCertificate {
            certificate_chain: Some(inline(&certificate.certificate_chain)),
            private_key: Some(inline(&certificate.private_key)),
            ..TlsCertificate::default()
        })),
    }
}

/// The HTTPS filter chain for the SNI `hosts` served with SDS secret `secret`.
pub fn filter_chain(secret: &str, hosts: &BTreeSet<&Host>, hcm: Filter) -> FilterChain {
    let tls = DownstreamTlsContext {
        common_tls_context: Some(CommonTlsContext {
            tls_certificate_sds_secret_configs: vec![SdsSecretConfig {
                name: secret.to_owned(),
                sds_config: Some(ads()),
            }],
            alpn_protocols: ALPN.iter().map(|s| (*s).to_owned()).collect(),
            ..CommonTlsContext::default()
        }),
        ..DownstreamTlsContext::default()
    };
    FilterChain {
        name: secret.to_owned(),
        filter_chain_match: Some(FilterChainMatch {
            server_names: hosts.iter().map(|h| h.as_str().to_owned()).collect(),
            ..FilterChainMatch::default()
        }),
        filters: vec![hcm],
        transport_socket: Some(TransportSocket {
            name: "envoy.transport_sockets.tls".to_owned(),
            config_type: Some(transport_socket::ConfigType::TypedConfig(pack_any(tls))),
        }),
        ..FilterChain::default()
    }
}

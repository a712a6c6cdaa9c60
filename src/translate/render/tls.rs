//! TLS: SDS secrets and the HTTPS filter chains that use them.
//!
//! One filter chain per certificate, matched on its SNI hosts, with the
//! certificate fetched over SDS (ADS) by its name, offering h2 and http/1.1.
//! A host asking for client certificates gets a chain of its own, whose TLS
//! context asks for them and validates them with the CA fetched over SDS (so a
//! new CA is an SDS update, not a listener change) and the host's depth; the
//! verdict is enforced per request ([`super::client_certificate`]).

use std::collections::BTreeSet;

use envoy_types::pb::envoy::config::core::v3::{
    data_source::Specifier, transport_socket, DataSource, TransportSocket,
};
use envoy_types::pb::envoy::config::listener::v3::{Filter, FilterChain, FilterChainMatch};
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{
    certificate_validation_context::TrustChainVerification,
    common_tls_context::{CombinedCertificateValidationContext, ValidationContextType},
    secret, CertificateValidationContext, CommonTlsContext, DownstreamTlsContext, SdsSecretConfig,
    Secret, TlsCertificate,
};
use envoy_types::pb::google::protobuf::UInt32Value;
use envoy_types::util::pack_any;

use super::ads::ads;
use crate::translate::model::{CaBundle, Certificate, ClientAuth, Host};

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

/// The SDS resource of the CA bundle `ca`, named after it.
pub fn ca_secret(ca: &CaBundle) -> Secret {
    Secret {
        name: ca.name.clone(),
        r#type: Some(secret::Type::ValidationContext(
            CertificateValidationContext {
                trusted_ca: Some(DataSource {
                    specifier: Some(Specifier::InlineBytes(ca.certificates.clone())),
                    ..DataSource::default()
                }),
                ..CertificateValidationContext::default()
            },
        )),
    }
}

/// The name of the filter chain of `host` served with `secret` and client
/// certificates: `<secret> client-auth <host>`.
pub fn client_auth_chain_name(secret: &str, host: &Host) -> String {
    format!("{secret} client-auth {host}")
}

/// The HTTPS filter chain `name` for the SNI `hosts` served with SDS secret
/// `secret`, validating client certificates as `client_auth` says.
pub fn filter_chain(
    name: String,
    secret: &str,
    hosts: &BTreeSet<&Host>,
    client_auth: Option<&ClientAuth>,
    hcm: Filter,
) -> FilterChain {
    let tls = DownstreamTlsContext {
        common_tls_context: Some(CommonTlsContext {
            tls_certificate_sds_secret_configs: vec![SdsSecretConfig {
                name: secret.to_owned(),
                sds_config: Some(ads()),
            }],
            alpn_protocols: ALPN.iter().map(|s| (*s).to_owned()).collect(),
            validation_context_type: client_auth.map(validation),
            ..CommonTlsContext::default()
        }),
        ..DownstreamTlsContext::default()
    };
    FilterChain {
        name,
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

/// The client-certificate validation of `auth`: its CA over SDS, with the
/// depth set here (Envoy merges the two). The handshake accepts any
/// certificate, or none: the routes answer 400 where the verify mode refuses
/// ([`super::client_certificate`]), as ingress-nginx does.
fn validation(auth: &ClientAuth) -> ValidationContextType {
    ValidationContextType::CombinedValidationContext(CombinedCertificateValidationContext {
        default_validation_context: Some(CertificateValidationContext {
            max_verify_depth: Some(UInt32Value { value: auth.depth }),
            trust_chain_verification: TrustChainVerification::AcceptUntrusted as i32,
            ..CertificateValidationContext::default()
        }),
        validation_context_sds_secret_config: Some(SdsSecretConfig {
            name: auth.ca.name.clone(),
            sds_config: Some(ads()),
        }),
        ..CombinedCertificateValidationContext::default()
    })
}

//! Upstream clusters: one EDS cluster per resolved Service port and settings.
//!
//! EDS over ADS with an empty `service_name`, so the ClusterLoadAssignment is
//! named after the cluster (a settings variant has its own, with the same
//! addresses: the endpoints-only path then recomputes every variant of a
//! Service like any cluster). Defaults: `connect_timeout` 5 s, round robin,
//! HTTP/1.1, plain text. The settings ([`UpstreamSettings`]) change:
//! - protocol HTTP/2 → `typed_extension_protocol_options` with an explicit
//!   `http2_protocol_options` (h2c with prior knowledge, or h2 over TLS);
//! - TLS → an `envoy.transport_sockets.tls` transport socket with an
//!   `UpstreamTlsContext` (SNI, versions, ciphers, an inline CA bundle);
//! - balance → `lb_policy` LEAST_REQUEST or RING_HASH;
//! - connect timeout → `connect_timeout`.

use envoy_types::pb::envoy::config::cluster::v3::{
    cluster::{ClusterDiscoveryType, DiscoveryType, EdsClusterConfig, LbPolicy},
    Cluster,
};
use envoy_types::pb::envoy::config::core::v3::{
    data_source::Specifier, transport_socket, DataSource, Http2ProtocolOptions, TransportSocket,
};
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{
    common_tls_context::ValidationContextType, subject_alt_name_matcher::SanType,
    tls_parameters::TlsProtocol, CertificateValidationContext, CommonTlsContext,
    SubjectAltNameMatcher, TlsParameters, UpstreamTlsContext,
};
use envoy_types::pb::envoy::extensions::upstreams::http::v3::{
    http_protocol_options::{
        explicit_http_config::ProtocolConfig, ExplicitHttpConfig, UpstreamProtocolOptions,
    },
    HttpProtocolOptions,
};
use envoy_types::pb::envoy::r#type::matcher::v3::{string_matcher::MatchPattern, StringMatcher};
use envoy_types::pb::google::protobuf::{Duration as PbDuration, UInt32Value};
use envoy_types::util::pack_any;

use super::ads::{ads, seconds};
use crate::translate::model::{
    Balance, ClusterTarget, TlsVersion, UpstreamProtocol, UpstreamSettings, UpstreamTls,
};

/// How long Envoy waits for a TCP connection to an endpoint, by default.
const CONNECT_TIMEOUT_SECS: i64 = 5;

/// The key of the HTTP protocol options extension.
const HTTP_PROTOCOL_OPTIONS: &str = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

/// The Envoy cluster for `target`.
pub fn cluster(target: &ClusterTarget) -> Cluster {
    let settings = &target.settings;
    let mut cluster = Cluster {
        name: target.name.clone(),
        cluster_discovery_type: Some(ClusterDiscoveryType::Type(DiscoveryType::Eds as i32)),
        eds_cluster_config: Some(EdsClusterConfig {
            eds_config: Some(ads()),
            service_name: String::new(),
        }),
        connect_timeout: Some(seconds(CONNECT_TIMEOUT_SECS)),
        ..Cluster::default()
    };
    if settings.is_default() {
        return cluster;
    }
    apply(settings, &mut cluster);
    cluster
}

fn apply(settings: &UpstreamSettings, cluster: &mut Cluster) {
    if let Some(timeout) = settings.connect_timeout {
        cluster.connect_timeout = Some(PbDuration {
            seconds: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(timeout.subsec_nanos()).unwrap_or(0),
        });
    }
    cluster.lb_policy = match settings.balance {
        Balance::RoundRobin => LbPolicy::RoundRobin,
        Balance::LeastRequest => LbPolicy::LeastRequest,
        Balance::RingHash => LbPolicy::RingHash,
    } as i32;
    let http2 = settings.protocol == UpstreamProtocol::Http2;
    if http2 {
        let options = HttpProtocolOptions {
            upstream_protocol_options: Some(UpstreamProtocolOptions::ExplicitHttpConfig(
                ExplicitHttpConfig {
                    protocol_config: Some(ProtocolConfig::Http2ProtocolOptions(
                        Http2ProtocolOptions::default(),
                    )),
                },
            )),
            ..HttpProtocolOptions::default()
        };
        cluster
            .typed_extension_protocol_options
            .insert(HTTP_PROTOCOL_OPTIONS.to_owned(), pack_any(options));
    }
    if let Some(tls) = &settings.tls {
        cluster.transport_socket = Some(TransportSocket {
            name: "envoy.transport_sockets.tls".to_owned(),
            config_type: Some(transport_socket::ConfigType::TypedConfig(pack_any(
                tls_context(tls, http2),
            ))),
        });
    }
}

/// The upstream TLS context; ALPN `h2` for HTTP/2 (gRPC servers require it),
/// none for HTTP/1.1 (as nginx offers none).
fn tls_context(tls: &UpstreamTls, http2: bool) -> UpstreamTlsContext {
    let validation = tls.verify.as_ref().map(|v| {
        ValidationContextType::ValidationContext(CertificateValidationContext {
            trusted_ca: Some(DataSource {
                specifier: Some(Specifier::InlineBytes(v.trusted_ca.clone())),
                ..DataSource::default()
            }),
            max_verify_depth: v.depth.map(|value| UInt32Value { value }),
            match_typed_subject_alt_names: v
                .name
                .iter()
                .map(|name| SubjectAltNameMatcher {
                    san_type: SanType::Dns as i32,
                    matcher: Some(StringMatcher {
                        match_pattern: Some(MatchPattern::Exact(name.clone())),
                        ..StringMatcher::default()
                    }),
                    ..SubjectAltNameMatcher::default()
                })
                .collect(),
            ..CertificateValidationContext::default()
        })
    });
    let tls_params = (tls.versions.is_some() || !tls.ciphers.is_empty()).then(|| {
        let (min, max) = tls
            .versions
            .map_or((TlsProtocol::TlsAuto, TlsProtocol::TlsAuto), |(lo, hi)| {
                (protocol(lo), protocol(hi))
            });
        TlsParameters {
            tls_minimum_protocol_version: min as i32,
            tls_maximum_protocol_version: max as i32,
            cipher_suites: tls.ciphers.clone(),
            ..TlsParameters::default()
        }
    });
    UpstreamTlsContext {
        common_tls_context: Some(CommonTlsContext {
            tls_params,
            validation_context_type: validation,
            alpn_protocols: if http2 {
                vec!["h2".to_owned()]
            } else {
                Vec::new()
            },
            ..CommonTlsContext::default()
        }),
        sni: tls.sni.clone().unwrap_or_default(),
        auto_host_sni: tls.sni.is_none() && tls.sni_from_host,
        ..UpstreamTlsContext::default()
    }
}

fn protocol(version: TlsVersion) -> TlsProtocol {
    match version {
        TlsVersion::V1_0 => TlsProtocol::TlSv10,
        TlsVersion::V1_1 => TlsProtocol::TlSv11,
        TlsVersion::V1_2 => TlsProtocol::TlSv12,
        TlsVersion::V1_3 => TlsProtocol::TlSv13,
    }
}

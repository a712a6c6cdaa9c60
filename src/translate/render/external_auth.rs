//! External authentication ([`ExternalAuth`]) as Envoy's HTTP `ext_authz`
//! filter: the filter sits disabled in every HCM ([`filter`]); a route enables
//! it with an `ExtAuthzPerRoute` whose `check_settings.service_override` names
//! the route's own auth service ([`per_route`]), so changing `auth-url` changes
//! only RDS and CDS ([`cluster`]), never a listener.
//!
//! The check request goes to `path_override` (the URL's path; the client's is
//! not appended) with every client header (`allowed_headers` matches all) and
//! the headers ingress-nginx adds, as substitution formatters evaluated on the
//! client's request. A failure to reach the service answers 500, as
//! ingress-nginx does. `Host` and the method cannot be overridden here:
//! Envoy terminates on a `host` or `:`-prefixed key in a per-route service's
//! `headers_to_add` when a request arrives (it is not refused at config
//! time), so the check request keeps the client's.

use envoy_types::pb::envoy::config::cluster::v3::{
    cluster::{ClusterDiscoveryType, DiscoveryType, DnsLookupFamily},
    Cluster,
};
use envoy_types::pb::envoy::config::core::v3::{
    address, http_uri::HttpUpstreamType, socket_address::PortSpecifier, transport_socket, Address,
    HeaderValue, HttpUri, SocketAddress, TransportSocket,
};
use envoy_types::pb::envoy::config::endpoint::v3::{
    lb_endpoint::HostIdentifier, ClusterLoadAssignment, Endpoint, LbEndpoint, LocalityLbEndpoints,
};
use envoy_types::pb::envoy::extensions::filters::http::ext_authz::v3::{
    check_settings::ServiceOverride, ext_authz::Services, ext_authz_per_route::Override,
    AuthorizationRequest, AuthorizationResponse, CheckSettings, ExtAuthz, ExtAuthzPerRoute,
    HttpService,
};
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::UpstreamTlsContext;
use envoy_types::pb::envoy::r#type::matcher::v3::{
    string_matcher::MatchPattern, ListStringMatcher, RegexMatcher, StringMatcher,
};
use envoy_types::pb::envoy::r#type::v3::{HttpStatus, StatusCode};
use envoy_types::pb::google::protobuf::Any;
use envoy_types::util::pack_any;

use super::ads::seconds;
use crate::translate::model::{AuthHost, AuthServer, ExternalAuth};

/// Name of the ext_authz filter.
pub const EXT_AUTHZ: &str = "envoy.filters.http.ext_authz";

/// The filter-wide service, never called: every route that enables the
/// filter names its own. Envoy does not require this cluster to exist.
const NO_SERVICE_CLUSTER: &str = "interlock-no-auth-service";

/// How long a check request may take (ingress-nginx's default
/// `proxy-read-timeout`, which its auth location inherits).
const CHECK_TIMEOUT_SECS: i64 = 60;

/// How long Envoy waits for a TCP connection to the auth service.
const CONNECT_TIMEOUT_SECS: i64 = 5;

/// The filter-wide configuration: every client header goes to the service,
/// and an unreachable service answers 500.
pub fn filter() -> Any {
    pack_any(ExtAuthz {
        services: Some(Services::HttpService(HttpService {
            server_uri: Some(HttpUri {
                uri: "http://127.0.0.1/".to_owned(),
                timeout: Some(seconds(CHECK_TIMEOUT_SECS)),
                http_upstream_type: Some(HttpUpstreamType::Cluster(NO_SERVICE_CLUSTER.to_owned())),
            }),
            ..HttpService::default()
        })),
        status_on_error: Some(HttpStatus {
            code: StatusCode::InternalServerError as i32,
        }),
        allowed_headers: Some(ListStringMatcher {
            patterns: vec![regex(".*")],
        }),
        ..ExtAuthz::default()
    })
}

/// The per-route configuration enabling the filter with `auth`'s service.
pub fn per_route(auth: &ExternalAuth) -> Any {
    let server = &auth.server;
    let scheme = if server.tls { "https" } else { "http" };
    let mut headers = vec![
        header(
            "x-original-url",
            "%REQ(x-forwarded-proto)%://%REQ(:authority)%%REQ(:path)%",
        ),
        header("x-original-method", "%REQ(:method)%"),
        header("x-sent-from", "nginx-ingress-controller"),
        header("x-real-ip", "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"),
        header(
            "x-forwarded-for",
            "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%",
        ),
        header(
            "x-auth-request-redirect",
            &auth
                .request_redirect
                .as_deref()
                .map_or_else(|| "%REQ(:path)%".to_owned(), literal),
        ),
    ];
    if auth.original_uri_headers {
        headers.push(header("x-original-uri", "%REQ(:path)%"));
        headers.push(header("x-scheme", "%REQ(x-forwarded-proto)%"));
    }
    let mut to_client = vec![exact("www-authenticate")];
    if auth.always_set_cookie {
        to_client.push(exact("set-cookie"));
    }
    let service = HttpService {
        server_uri: Some(HttpUri {
            uri: format!("{scheme}://{}{}", server.authority(), auth.path),
            timeout: Some(seconds(CHECK_TIMEOUT_SECS)),
            http_upstream_type: Some(HttpUpstreamType::Cluster(server.cluster_name())),
        }),
        path_override: auth.path.clone(),
        authorization_request: Some(AuthorizationRequest {
            headers_to_add: headers,
            ..AuthorizationRequest::default()
        }),
        authorization_response: Some(AuthorizationResponse {
            allowed_upstream_headers: (!auth.response_headers.is_empty()).then(|| {
                ListStringMatcher {
                    patterns: auth.response_headers.iter().map(|h| exact(h)).collect(),
                }
            }),
            allowed_client_headers: Some(ListStringMatcher {
                patterns: to_client,
            }),
            allowed_client_headers_on_success: Some(ListStringMatcher {
                patterns: vec![exact("set-cookie")],
            }),
            ..AuthorizationResponse::default()
        }),
        ..HttpService::default()
    };
    pack_any(ExtAuthzPerRoute {
        r#override: Some(Override::CheckSettings(CheckSettings {
            service_override: Some(ServiceOverride::HttpService(service)),
            ..CheckSettings::default()
        })),
    })
}

/// The cluster of an auth server: static for an address, strict DNS for a
/// name; TLS (with SNI, without verification, as nginx's `proxy_pass` to
/// https) for `https`.
pub fn cluster(server: &AuthServer) -> Cluster {
    let name = server.cluster_name();
    let (kind, address, sni) = match &server.host {
        AuthHost::Ip(ip) => (DiscoveryType::Static, ip.to_string(), String::new()),
        AuthHost::Name(host) => (DiscoveryType::StrictDns, host.clone(), host.clone()),
    };
    let endpoint = LbEndpoint {
        host_identifier: Some(HostIdentifier::Endpoint(Endpoint {
            address: Some(Address {
                address: Some(address::Address::SocketAddress(SocketAddress {
                    address,
                    port_specifier: Some(PortSpecifier::PortValue(u32::from(server.port))),
                    ..SocketAddress::default()
                })),
            }),
            ..Endpoint::default()
        })),
        ..LbEndpoint::default()
    };
    Cluster {
        name: name.clone(),
        cluster_discovery_type: Some(ClusterDiscoveryType::Type(kind as i32)),
        dns_lookup_family: DnsLookupFamily::V4Preferred as i32,
        connect_timeout: Some(seconds(CONNECT_TIMEOUT_SECS)),
        load_assignment: Some(ClusterLoadAssignment {
            cluster_name: name,
            endpoints: vec![LocalityLbEndpoints {
                lb_endpoints: vec![endpoint],
                ..LocalityLbEndpoints::default()
            }],
            ..ClusterLoadAssignment::default()
        }),
        transport_socket: server.tls.then(|| TransportSocket {
            name: "envoy.transport_sockets.tls".to_owned(),
            config_type: Some(transport_socket::ConfigType::TypedConfig(pack_any(
                UpstreamTlsContext {
                    sni,
                    ..UpstreamTlsContext::default()
                },
            ))),
        }),
        ..Cluster::default()
    }
}

/// A header whose value is a substitution format.
fn header(key: &str, format: &str) -> HeaderValue {
    HeaderValue {
        key: key.to_owned(),
        value: format.to_owned(),
        ..HeaderValue::default()
    }
}

/// `text` as a substitution format producing exactly `text`.
fn literal(text: &str) -> String {
    text.replace('%', "%%")
}

fn exact(name: &str) -> StringMatcher {
    StringMatcher {
        match_pattern: Some(MatchPattern::Exact(name.to_owned())),
        ignore_case: true,
    }
}

fn regex(pattern: &str) -> StringMatcher {
    StringMatcher {
        match_pattern: Some(MatchPattern::SafeRegex(RegexMatcher {
            regex: pattern.to_owned(),
            ..RegexMatcher::default()
        })),
        ..StringMatcher::default()
    }
}

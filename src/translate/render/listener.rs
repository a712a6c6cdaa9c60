//! Listeners and the HTTP connection manager every one of them runs.
//!
//! - `http` on `listen_address:http_port`: one filter chain, HCM with stat prefix
//!   `http` and RDS route table `http`. It depends only on [`TranslateConfig`], so
//!   adding or removing routes never changes its bytes (no re-warm, no drain).
//! - `https` on `listen_address:https_port`, only when at least one TLS host is
//!   servable or passed through: the TLS inspector listener filter; one
//!   TCP-proxy filter chain per passed-through host ([`super::passthrough`]);
//!   one filter chain per certificate, matched on SNI `server_names`, HCM with
//!   stat prefix `https` and RDS route table `https`, except that a host asking
//!   for client certificates gets a chain of its own ([`super::tls`]).
//!   Connections whose SNI matches no chain are closed (there is no default
//!   certificate).
//!
//! Every HCM: the HTTP filters of [`super::filters`] (all but the router
//! disabled until a route enables them); WebSocket upgrades; `use_remote_address: true` with
//! `xff_num_trusted_hops: 0`, so Envoy sets X-Forwarded-For and X-Forwarded-Proto
//! from the connection instead of trusting the client; `strip_any_host_port`, so
//! `Host: foo.com:10080` matches the virtual host `foo.com` (domains carry no
//! `:port` variants); `normalize_path`, so `/a/../b` cannot dodge a rule; and an
//! access log to stdout with the response flags.
//!
//! [`TranslateConfig`]: crate::translate::TranslateConfig

use std::collections::{BTreeMap, BTreeSet};

use envoy_types::pb::envoy::config::accesslog::v3::{access_log, AccessLog};
use envoy_types::pb::envoy::config::core::v3::{
    address, data_source::Specifier, socket_address::PortSpecifier, substitution_format_string,
    Address, DataSource, SocketAddress, SubstitutionFormatString,
};
use envoy_types::pb::envoy::config::listener::v3::{
    filter, listener_filter, Filter, FilterChain, Listener, ListenerFilter,
};
use envoy_types::pb::envoy::extensions::access_loggers::stream::v3::{
    stdout_access_log::AccessLogFormat, StdoutAccessLog,
};
use envoy_types::pb::envoy::extensions::filters::listener::tls_inspector::v3::TlsInspector;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    http_connection_manager::{RouteSpecifier, StripPortMode},
    HttpConnectionManager, Rds,
};
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::http_connection_manager::UpgradeConfig;
use envoy_types::pb::google::protobuf::BoolValue;
use envoy_types::util::pack_any;

use super::ads::ads;
use super::{passthrough, tls};
use crate::translate::model::{MergedClientAuth, MergedPassthrough, TlsServer};
use crate::translate::TranslateConfig;

/// Name of the plain-HTTP listener, its HCM stat prefix and its route table.
pub const HTTP: &str = "http";

/// Name of the TLS listener, its HCM stat prefix and its route table.
pub const HTTPS: &str = "https";

/// The access log line: one per request, with what an operator needs to tell a
/// missing route (`NR`) from a missing upstream (`UH`, `NC`) at a glance.
pub const ACCESS_LOG_FORMAT: &str = concat!(
    "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" ",
    "%RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% ",
    "authority=\"%REQ(:AUTHORITY)%\" route=\"%ROUTE_NAME%\" cluster=\"%UPSTREAM_CLUSTER%\" ",
    "upstream=\"%UPSTREAM_HOST%\" xff=\"%REQ(X-FORWARDED-FOR)%\" ",
    "request_id=\"%REQ(X-REQUEST-ID)%\"\n"
);

/// The plain-HTTP listener.
pub fn http_listener(config: &TranslateConfig) -> Listener {
    Listener {
        name: HTTP.to_owned(),
        address: Some(socket(&config.listen_address, config.http_port)),
        filter_chains: vec![FilterChain {
            filters: vec![hcm_filter(HTTP)],
            ..FilterChain::default()
        }],
        ..Listener::default()
    }
}

/// The TLS listener for `servers` (certificate name → its SNI hosts), the
/// hosts `passthrough` passes through and the hosts' `client_auth`; `None`
/// when there are no servers and no passed-through hosts.
pub fn https_listener(
    config: &TranslateConfig,
    servers: &BTreeMap<&str, TlsServer<'_>>,
    passthrough: &MergedPassthrough<'_>,
    client_auth: &MergedClientAuth<'_>,
) -> Option<Listener> {
    if servers.is_empty() && passthrough.by_host.is_empty() {
        return None;
    }
    let mut chains: Vec<FilterChain> = passthrough
        .by_host
        .iter()
        .map(|(host, winner)| passthrough::filter_chain(host, winner))
        .collect();
    for (name, server) in servers {
        let (own, shared): (BTreeSet<_>, BTreeSet<_>) = server
            .hosts
            .iter()
            .partition(|h| client_auth.by_host.contains_key(**h));
        if !shared.is_empty() {
            let hcm = hcm_filter(HTTPS);
            chains.push(tls::filter_chain(
                (*name).to_owned(),
                name,
                &shared,
                None,
                hcm,
            ));
        }
        for host in own {
            let auth = client_auth.by_host.get(host).map(|(auth, _)| *auth);
            let chain_name = tls::client_auth_chain_name(name, host);
            let hosts = BTreeSet::from([host]);
            chains.push(tls::filter_chain(
                chain_name,
                name,
                &hosts,
                auth,
                hcm_filter(HTTPS),
            ));
        }
    }
    Some(Listener {
        name: HTTPS.to_owned(),
        address: Some(socket(&config.listen_address, config.https_port)),
        listener_filters: vec![ListenerFilter {
            name: "envoy.filters.listener.tls_inspector".to_owned(),
            config_type: Some(listener_filter::ConfigType::TypedConfig(pack_any(
                TlsInspector::default(),
            ))),
            ..ListenerFilter::default()
        }],
        filter_chains: chains,
        ..Listener::default()
    })
}

/// The HCM network filter using RDS table `name` (also its stat prefix).
fn hcm_filter(name: &str) -> Filter {
    Filter {
        name: "envoy.filters.network.http_connection_manager".to_owned(),
        config_type: Some(filter::ConfigType::TypedConfig(pack_any(hcm(name)))),
    }
}

fn hcm(name: &str) -> HttpConnectionManager {
    HttpConnectionManager {
        stat_prefix: name.to_owned(),
        route_specifier: Some(RouteSpecifier::Rds(Rds {
            config_source: Some(ads()),
            route_config_name: name.to_owned(),
        })),
        http_filters: super::filters::http_filters(),
        upgrade_configs: vec![UpgradeConfig {
            upgrade_type: "websocket".to_owned(),
            ..UpgradeConfig::default()
        }],
        use_remote_address: Some(BoolValue { value: true }),
        xff_num_trusted_hops: 0,
        normalize_path: Some(BoolValue { value: true }),
        strip_port_mode: Some(StripPortMode::StripAnyHostPort(true)),
        access_log: vec![stdout_access_log()],
        ..HttpConnectionManager::default()
    }
}

fn stdout_access_log() -> AccessLog {
    let log = StdoutAccessLog {
        access_log_format: Some(AccessLogFormat::LogFormat(SubstitutionFormatString {
            format: Some(substitution_format_string::Format::TextFormatSource(
                DataSource {
                    specifier: Some(Specifier::InlineString(ACCESS_LOG_FORMAT.to_owned())),
                    ..DataSource::default()
                },
            )),
            ..SubstitutionFormatString::default()
        })),
    };
    AccessLog {
        name: "envoy.access_loggers.stdout".to_owned(),
        config_type: Some(access_log::ConfigType::TypedConfig(pack_any(log))),
        ..AccessLog::default()
    }
}

fn socket(ip: &str, port: u16) -> Address {
    Address {
        address: Some(address::Address::SocketAddress(SocketAddress {
            address: ip.to_owned(),
            port_specifier: Some(PortSpecifier::PortValue(u32::from(port))),
            ..SocketAddress::default()
        })),
    }
}

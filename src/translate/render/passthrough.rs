//! TLS passthrough: one filter chain per passed-through SNI host on the https
//! listener, a TCP proxy to the host's backend cluster with no TLS context, so
//! the client's TLS session ends at the backend.

use envoy_types::pb::envoy::config::listener::v3::{filter, Filter, FilterChain, FilterChainMatch};
use envoy_types::pb::envoy::extensions::filters::network::tcp_proxy::v3::{
    tcp_proxy::ClusterSpecifier, TcpProxy,
};
use envoy_types::util::pack_any;

use crate::translate::model::{Host, PassthroughWinner};

/// The name of the passthrough filter chain of `host`: `passthrough <host>`.
pub fn chain_name(host: &Host) -> String {
    format!("passthrough {host}")
}

/// The filter chain passing `host`'s TLS connections to `winner`'s cluster.
pub fn filter_chain(host: &Host, winner: &PassthroughWinner<'_>) -> FilterChain {
    let proxy = TcpProxy {
        stat_prefix: "passthrough".to_owned(),
        cluster_specifier: Some(ClusterSpecifier::Cluster(winner.cluster.name.clone())),
        ..TcpProxy::default()
    };
    FilterChain {
        name: chain_name(host),
        filter_chain_match: Some(FilterChainMatch {
            server_names: vec![host.as_str().to_owned()],
            ..FilterChainMatch::default()
        }),
        filters: vec![Filter {
            name: "envoy.filters.network.tcp_proxy".to_owned(),
            config_type: Some(filter::ConfigType::TypedConfig(pack_any(proxy))),
        }],
        ..FilterChain::default()
    }
}

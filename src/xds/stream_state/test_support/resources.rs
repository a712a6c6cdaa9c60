//! Resources for the unit tests: EDS clusters and their CLAs, an RDS listener
//! (optionally with an SDS certificate), route tables, and small snapshots.

use envoy_types::pb::envoy::config::cluster::v3::{cluster, Cluster};
use envoy_types::pb::envoy::config::core::v3::{
    config_source, transport_socket, AggregatedConfigSource, ConfigSource, TransportSocket,
};
use envoy_types::pb::envoy::config::endpoint::v3::{
    lb_endpoint, ClusterLoadAssignment, Endpoint, LbEndpoint, LocalityLbEndpoints,
};
use envoy_types::pb::envoy::config::listener::v3::{filter, Filter, FilterChain, Listener};
use envoy_types::pb::envoy::config::route::v3::{
    route, route_action, route_match, Route, RouteAction, RouteConfiguration, RouteMatch,
    VirtualHost,
};
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    http_connection_manager::RouteSpecifier, HttpConnectionManager, Rds,
};
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{
    CommonTlsContext, DownstreamTlsContext, SdsSecretConfig, Secret,
};
use envoy_types::pb::google::protobuf::Duration as PbDuration;
use envoy_types::util::pack_any;

use crate::snapshot::{Snapshot, SnapshotBuilder};

fn ads() -> ConfigSource {
    ConfigSource {
        config_source_specifier: Some(config_source::ConfigSourceSpecifier::Ads(
            AggregatedConfigSource::default(),
        )),
        ..ConfigSource::default()
    }
}

/// An EDS cluster (its CLA named after it) with a connect timeout of `secs`.
pub(crate) fn eds_cluster(name: &str, secs: i64) -> Cluster {
    Cluster {
        name: name.to_owned(),
        cluster_discovery_type: Some(cluster::ClusterDiscoveryType::Type(
            cluster::DiscoveryType::Eds as i32,
        )),
        eds_cluster_config: Some(cluster::EdsClusterConfig {
            eds_config: Some(ads()),
            service_name: String::new(),
        }),
        connect_timeout: Some(PbDuration {
            seconds: secs,
            nanos: 0,
        }),
        ..Cluster::default()
    }
}

/// `count` endpoints for cluster `name`.
pub(crate) fn cla(name: &str, count: u8) -> ClusterLoadAssignment {
    let endpoint = |i: u8| LbEndpoint {
        host_identifier: Some(lb_endpoint::HostIdentifier::Endpoint(Endpoint {
            hostname: format!("10.0.0.{i}"),
            ..Endpoint::default()
        })),
        ..LbEndpoint::default()
    };
    ClusterLoadAssignment {
        cluster_name: name.to_owned(),
        endpoints: vec![LocalityLbEndpoints {
            lb_endpoints: (1..=count).map(endpoint).collect(),
            ..LocalityLbEndpoints::default()
        }],
        ..ClusterLoadAssignment::default()
    }
}

/// A listener whose HCM fetches route table `route` over RDS; with TLS whose
/// certificate comes over SDS when `secret` is set.
pub(crate) fn listener(name: &str, route: &str, secret: Option<&str>) -> Listener {
    let hcm = HttpConnectionManager {
        stat_prefix: name.to_owned(),
        route_specifier: Some(RouteSpecifier::Rds(Rds {
            config_source: Some(ads()),
            route_config_name: route.to_owned(),
        })),
        ..HttpConnectionManager::default()
    };
    let tls = secret.map(|secret| TransportSocket {
        name: "envoy.transport_sockets.tls".to_owned(),
        config_type: Some(transport_socket::ConfigType::TypedConfig(pack_any(
            DownstreamTlsContext {
                common_tls_context: Some(CommonTlsContext {
                    tls_certificate_sds_secret_configs: vec![SdsSecretConfig {
                        name: secret.to_owned(),
                        sds_config: Some(ads()),
                    }],
                    ..CommonTlsContext::default()
                }),
                ..DownstreamTlsContext::default()
            },
        ))),
    });
    Listener {
        name: name.to_owned(),
        filter_chains: vec![FilterChain {
            filters: vec![Filter {
                name: "envoy.filters.network.http_connection_manager".to_owned(),
                config_type: Some(filter::ConfigType::TypedConfig(pack_any(hcm))),
            }],
            transport_socket: tls,
            ..FilterChain::default()
        }],
        ..Listener::default()
    }
}

/// A route table with a virtual host `<cluster>.example` per cluster.
pub(crate) fn route_table(name: &str, clusters: &[&str]) -> RouteConfiguration {
    let host = |cluster: &&str| VirtualHost {
        name: (*cluster).to_owned(),
        domains: vec![format!("{cluster}.example")],
        routes: vec![Route {
            r#match: Some(RouteMatch {
                path_specifier: Some(route_match::PathSpecifier::Prefix("/".to_owned())),
                ..RouteMatch::default()
            }),
            action: Some(route::Action::Route(RouteAction {
                cluster_specifier: Some(route_action::ClusterSpecifier::Cluster(
                    (*cluster).to_owned(),
                )),
                ..RouteAction::default()
            })),
            ..Route::default()
        }],
        ..VirtualHost::default()
    };
    RouteConfiguration {
        name: name.to_owned(),
        virtual_hosts: clusters.iter().map(host).collect(),
        ..RouteConfiguration::default()
    }
}

/// A TLS secret.
pub(crate) fn secret(name: &str) -> Secret {
    Secret {
        name: name.to_owned(),
        ..Secret::default()
    }
}

/// Route table `main` routing to `routed`, and EDS clusters given as (name,
/// connect timeout in seconds, number of endpoints) with their CLAs; no listener.
pub(crate) fn builder(clusters: &[(&str, i64, u8)], routed: &[&str]) -> SnapshotBuilder {
    let mut b = Snapshot::builder().route(route_table("main", routed));
    for &(name, secs, endpoints) in clusters {
        b = b
            .cluster(eds_cluster(name, secs))
            .endpoints(cla(name, endpoints));
    }
    b
}

/// Listener `http` → route table `main` → a virtual host per `routed` cluster.
pub(crate) fn snapshot_with(clusters: &[(&str, i64, u8)], routed: &[&str]) -> Snapshot {
    builder(clusters, routed)
        .listener(listener("http", "main", None))
        .build()
        .expect("consistent")
}

/// Like [`snapshot_with`], every cluster with a 1 s timeout and one endpoint.
pub(crate) fn snapshot(clusters: &[&str], routed: &[&str]) -> Snapshot {
    let clusters: Vec<(&str, i64, u8)> = clusters.iter().map(|c| (*c, 1, 1)).collect();
    snapshot_with(&clusters, routed)
}

/// Cluster `a` routed by table `main`, plus listener `https` naming table
/// `main` and secret `cert`.
pub(crate) fn with_tls_listener() -> Snapshot {
    builder(&[("a", 1, 1)], &["a"])
        .listener(listener("https", "main", Some("cert")))
        .secret(secret("cert"))
        .build()
        .expect("consistent")
}

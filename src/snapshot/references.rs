//! What a resource names in other resources, extracted once at build time so the
//! consistency check and the per-stream make-before-break planner never decode.

use envoy_types::pb::envoy::config::cluster::v3::{
    cluster::ClusterDiscoveryType, cluster::DiscoveryType, Cluster,
};
use envoy_types::pb::envoy::config::core::v3::{http_uri, transport_socket, TransportSocket};
use envoy_types::pb::envoy::config::listener::v3::{filter, Filter, FilterChain, Listener};
use envoy_types::pb::envoy::config::route::v3::{
    route::Action, route_action::ClusterSpecifier, RouteConfiguration, VirtualHost,
};
use envoy_types::pb::envoy::extensions::clusters::aggregate::v3::ClusterConfig as AggregateClusterConfig;
use envoy_types::pb::envoy::extensions::filters::http::ext_authz::v3::{
    check_settings, ext_authz_per_route, ExtAuthzPerRoute,
};
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    http_connection_manager::RouteSpecifier, HttpConnectionManager,
};
use envoy_types::pb::envoy::extensions::filters::network::tcp_proxy::v3::{tcp_proxy, TcpProxy};
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{
    common_tls_context::ValidationContextType, DownstreamTlsContext,
};
use envoy_types::pb::google::protobuf::Any;
use prost::{Message, Name as MessageName};

use super::name::{intern, Name};

/// The ext_authz filter's name, under which a route configures it.
const EXT_AUTHZ: &str = "envoy.filters.http.ext_authz";

/// Names this resource depends on, by type. Sorted and deduplicated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct References {
    /// Clusters that must exist (routes, listeners with inline route tables or
    /// TCP proxies).
    pub clusters: Vec<String>,
    /// RouteConfigurations fetched over RDS (listeners).
    pub routes: Vec<String>,
    /// Secrets fetched over SDS (listeners).
    pub secrets: Vec<String>,
    /// The ClusterLoadAssignment an EDS cluster waits for before it is warm.
    pub endpoints: Option<Name>,
}

impl References {
    fn finish(mut self) -> Self {
        for list in [&mut self.clusters, &mut self.routes, &mut self.secrets] {
            list.sort_unstable();
            list.dedup();
        }
        self
    }

    /// References of a cluster: its ClusterLoadAssignment when it is an EDS
    /// cluster; the clusters it tries when it is an aggregate.
    pub fn of_cluster(cluster: &Cluster) -> Self {
        if let Some(ClusterDiscoveryType::ClusterType(custom)) = &cluster.cluster_discovery_type {
            let clusters = custom
                .typed_config
                .as_ref()
                .and_then(unpack::<AggregateClusterConfig>)
                .map(|config| config.clusters)
                .unwrap_or_default();
            return References {
                clusters,
                ..References::default()
            }
            .finish();
        }
        let is_eds = matches!(
            cluster.cluster_discovery_type,
            Some(ClusterDiscoveryType::Type(t)) if t == DiscoveryType::Eds as i32
        );
        let endpoints = is_eds.then(|| {
            let service_name = cluster
                .eds_cluster_config
                .as_ref()
                .map(|eds| eds.service_name.as_str())
                .filter(|name| !name.is_empty());
            intern(service_name.unwrap_or(&cluster.name))
        });
        References {
            endpoints,
            ..References::default()
        }
    }

    /// References of a route table forwarding to `clusters` (any order).
    pub fn of_clusters(clusters: Vec<String>) -> Self {
        References {
            clusters,
            ..References::default()
        }
        .finish()
    }

    /// References of a route table: every cluster a route forwards to or
    /// calls for external authentication.
    pub fn of_route(route: &RouteConfiguration) -> Self {
        let mut refs = References::default();
        add_route_clusters(route, &mut refs.clusters);
        refs.finish()
    }

    /// References of a listener: RDS names, inline route clusters, TCP proxy
    /// clusters and SDS secrets (certificates and client-certificate CAs).
    pub fn of_listener(listener: &Listener) -> Self {
        let mut refs = References::default();
        for chain in listener
            .filter_chains
            .iter()
            .chain(listener.default_filter_chain.as_ref())
        {
            add_chain(chain, &mut refs);
        }
        refs.finish()
    }
}

/// The SDS secrets a listener's filter chain names.
pub(crate) fn chain_secrets(chain: &FilterChain) -> Vec<String> {
    let mut refs = References::default();
    if let Some(socket) = &chain.transport_socket {
        add_transport_socket(socket, &mut refs);
    }
    refs.secrets
}

fn add_chain(chain: &FilterChain, refs: &mut References) {
    for f in &chain.filters {
        add_filter(f, refs);
    }
    if let Some(socket) = &chain.transport_socket {
        add_transport_socket(socket, refs);
    }
}

fn add_filter(f: &Filter, refs: &mut References) {
    let Some(filter::ConfigType::TypedConfig(any)) = &f.config_type else {
        return;
    };
    if let Some(proxy) = unpack::<TcpProxy>(any) {
        if let Some(tcp_proxy::ClusterSpecifier::Cluster(cluster)) = proxy.cluster_specifier {
            refs.clusters.push(cluster);
        }
        return;
    }
    let Some(hcm) = unpack::<HttpConnectionManager>(any) else {
        return;
    };
    match hcm.route_specifier {
        Some(RouteSpecifier::Rds(rds)) => refs.routes.push(rds.route_config_name),
        Some(RouteSpecifier::RouteConfig(route)) => add_route_clusters(&route, &mut refs.clusters),
        _ => {}
    }
}

fn add_transport_socket(socket: &TransportSocket, refs: &mut References) {
    let Some(transport_socket::ConfigType::TypedConfig(any)) = &socket.config_type else {
        return;
    };
    let Some(tls) = unpack::<DownstreamTlsContext>(any) else {
        return;
    };
    if let Some(common) = tls.common_tls_context {
        refs.secrets.extend(
            common
                .tls_certificate_sds_secret_configs
                .into_iter()
                .map(|s| s.name),
        );
        match common.validation_context_type {
            Some(ValidationContextType::CombinedValidationContext(combined)) => {
                refs.secrets.extend(
                    combined
                        .validation_context_sds_secret_config
                        .map(|s| s.name),
                )
            }
            Some(ValidationContextType::ValidationContextSdsSecretConfig(sds)) => {
                refs.secrets.push(sds.name)
            }
            _ => {}
        }
    }
}

fn add_route_clusters(route: &RouteConfiguration, clusters: &mut Vec<String>) {
    for host in &route.virtual_hosts {
        add_host_clusters(host, clusters);
    }
}

/// Every cluster a route of `host` forwards to or calls for external
/// authentication (unsorted, repeated).
pub(crate) fn add_host_clusters(host: &VirtualHost, clusters: &mut Vec<String>) {
    for r in &host.routes {
        if let Some(name) = r
            .typed_per_filter_config
            .get(EXT_AUTHZ)
            .and_then(auth_service_cluster)
        {
            clusters.push(name);
        }
    }
    let actions = host.routes.iter().filter_map(|r| match &r.action {
        Some(Action::Route(action)) => action.cluster_specifier.as_ref(),
        _ => None,
    });
    for specifier in actions {
        match specifier {
            ClusterSpecifier::Cluster(name) => clusters.push(name.clone()),
            ClusterSpecifier::WeightedClusters(weighted) => {
                clusters.extend(weighted.clusters.iter().map(|c| c.name.clone()))
            }
            _ => {}
        }
    }
}

/// The cluster a per-route ext_authz configuration sends check requests to.
fn auth_service_cluster(any: &Any) -> Option<String> {
    let per_route = unpack::<ExtAuthzPerRoute>(any)?;
    let Some(ext_authz_per_route::Override::CheckSettings(settings)) = per_route.r#override else {
        return None;
    };
    let upstream = match settings.service_override? {
        check_settings::ServiceOverride::HttpService(http) => http.server_uri?.http_upstream_type,
        check_settings::ServiceOverride::GrpcService(_) => None,
    };
    match upstream? {
        http_uri::HttpUpstreamType::Cluster(name) => Some(name),
    }
}

fn unpack<M: Message + MessageName + Default>(any: &Any) -> Option<M> {
    (any.type_url == M::type_url())
        .then(|| M::decode(any.value.as_slice()).ok())
        .flatten()
}

//! Partial decoders: only the fields an Envoy-like client needs to follow its
//! subscriptions and to tell whether it holds a route, so that a thousand clients
//! in one process do not spend their CPU decoding what they never read.

use envoy_types::pb::envoy::config::listener::v3::Listener;
use prost::Message;

use crate::snapshot::References;

/// A resource from the server that does not decode as its type says.
#[derive(Debug, thiserror::Error)]
#[error("the server sent a {kind} that does not decode: {source}")]
pub struct DecodeError {
    kind: &'static str,
    #[source]
    source: prost::DecodeError,
}

fn decode<M: Message + Default>(kind: &'static str, bytes: &[u8]) -> Result<M, DecodeError> {
    M::decode(bytes).map_err(|source| DecodeError { kind, source })
}

/// The fields of a `Cluster` that say which ClusterLoadAssignment it waits for.
#[derive(Clone, PartialEq, prost::Message)]
struct ClusterHead {
    #[prost(string, tag = "1")]
    name: String,
    /// `Cluster.type` (the `cluster_discovery_type` oneof).
    #[prost(int32, tag = "2")]
    discovery_type: i32,
    #[prost(message, optional, tag = "3")]
    eds_cluster_config: Option<EdsHead>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct EdsHead {
    #[prost(string, tag = "2")]
    service_name: String,
}

/// `Cluster.DiscoveryType.EDS`.
const EDS: i32 = 3;

/// The cluster's name and, for an EDS cluster, the CLA name Envoy subscribes to.
pub fn cluster_cla(bytes: &[u8]) -> Result<(String, Option<String>), DecodeError> {
    let head: ClusterHead = decode("cluster", bytes)?;
    let cla = (head.discovery_type == EDS).then(|| {
        head.eds_cluster_config
            .map(|eds| eds.service_name)
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| head.name.clone())
    });
    Ok((head.name, cla))
}

/// The listener's name and the RDS route tables it names.
pub fn listener_routes(bytes: &[u8]) -> Result<(String, Vec<String>), DecodeError> {
    let listener: Listener = decode("listener", bytes)?;
    let routes = References::of_listener(&listener).routes;
    Ok((listener.name, routes))
}

/// `ClusterLoadAssignment`: its name and its endpoints, uncounted below locality.
#[derive(Clone, PartialEq, prost::Message)]
struct LoadAssignmentHead {
    #[prost(string, tag = "1")]
    cluster_name: String,
    #[prost(message, repeated, tag = "2")]
    endpoints: Vec<LocalityHead>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct LocalityHead {
    /// Each endpoint's fields are skipped: only the count matters.
    #[prost(message, repeated, tag = "2")]
    lb_endpoints: Vec<Skipped>,
}

/// A message whose fields are all skipped.
#[derive(Clone, PartialEq, prost::Message)]
struct Skipped {}

/// The CLA's name and how many endpoints it lists.
pub fn load_assignment_endpoints(bytes: &[u8]) -> Result<(String, usize), DecodeError> {
    let head: LoadAssignmentHead = decode("cluster load assignment", bytes)?;
    let count = head.endpoints.iter().map(|l| l.lb_endpoints.len()).sum();
    Ok((head.cluster_name, count))
}

/// `RouteConfiguration` down to each virtual host's domains and route targets.
#[derive(Clone, PartialEq, prost::Message)]
struct RouteTableHead {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, repeated, tag = "2")]
    virtual_hosts: Vec<VirtualHostHead>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct VirtualHostHead {
    #[prost(string, repeated, tag = "2")]
    domains: Vec<String>,
    #[prost(message, repeated, tag = "3")]
    routes: Vec<RouteHead>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct RouteHead {
    /// `Route.route` (the `action` oneof's `RouteAction`).
    #[prost(message, optional, tag = "2")]
    route: Option<RouteActionHead>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct RouteActionHead {
    #[prost(string, tag = "1")]
    cluster: String,
    #[prost(message, optional, tag = "3")]
    weighted_clusters: Option<WeightedHead>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct WeightedHead {
    #[prost(message, repeated, tag = "1")]
    clusters: Vec<ClusterWeightHead>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ClusterWeightHead {
    #[prost(string, tag = "1")]
    name: String,
}

/// The route table's name and the clusters its routes for `host` send to (empty
/// when no virtual host serves `host`).
pub fn route_clusters_for_host(
    bytes: &[u8],
    host: &str,
) -> Result<(String, Vec<String>), DecodeError> {
    let table: RouteTableHead = decode("route table", bytes)?;
    let clusters = table
        .virtual_hosts
        .iter()
        .filter(|vh| vh.domains.iter().any(|d| d.eq_ignore_ascii_case(host)))
        .flat_map(|vh| &vh.routes)
        .filter_map(|r| r.route.as_ref())
        .flat_map(|action| {
            let weighted = action.weighted_clusters.iter().flat_map(|w| &w.clusters);
            std::iter::once(action.cluster.clone())
                .chain(weighted.map(|c| c.name.clone()))
                .filter(|name| !name.is_empty())
        })
        .collect();
    Ok((table.name, clusters))
}

/// A route table's name alone (the host is not looked for).
pub fn route_table_name(bytes: &[u8]) -> Result<String, DecodeError> {
    #[derive(Clone, PartialEq, prost::Message)]
    struct NameOnly {
        #[prost(string, tag = "1")]
        name: String,
    }
    decode::<NameOnly>("route table", bytes).map(|n| n.name)
}

#[cfg(test)]
mod tests {
    use envoy_types::pb::envoy::config::cluster::v3::{cluster, Cluster};
    use envoy_types::pb::envoy::config::endpoint::v3::{
        ClusterLoadAssignment, LbEndpoint, LocalityLbEndpoints,
    };
    use envoy_types::pb::envoy::config::route::v3::{
        route, route_action, weighted_cluster, Route, RouteAction, RouteConfiguration, VirtualHost,
        WeightedCluster,
    };
    use prost::Message;

    use super::*;

    #[test]
    fn an_eds_cluster_waits_for_its_service_name_or_its_own_name() {
        let mut c = Cluster {
            name: "web".into(),
            cluster_discovery_type: Some(cluster::ClusterDiscoveryType::Type(
                cluster::DiscoveryType::Eds as i32,
            )),
            ..Cluster::default()
        };
        let own = cluster_cla(&c.encode_to_vec()).expect("decodes");
        assert_eq!(own, ("web".to_owned(), Some("web".to_owned())));
        c.eds_cluster_config = Some(cluster::EdsClusterConfig {
            service_name: "web-cla".into(),
            ..Default::default()
        });
        let named = cluster_cla(&c.encode_to_vec()).expect("decodes");
        assert_eq!(named.1.as_deref(), Some("web-cla"));
        c.cluster_discovery_type = Some(cluster::ClusterDiscoveryType::Type(
            cluster::DiscoveryType::Static as i32,
        ));
        assert_eq!(cluster_cla(&c.encode_to_vec()).expect("decodes").1, None);
    }

    #[test]
    fn endpoints_are_counted_across_localities() {
        let locality = |n| LocalityLbEndpoints {
            lb_endpoints: vec![LbEndpoint::default(); n],
            ..Default::default()
        };
        let cla = ClusterLoadAssignment {
            cluster_name: "web".into(),
            endpoints: vec![locality(2), locality(3)],
            ..Default::default()
        };
        let decoded = load_assignment_endpoints(&cla.encode_to_vec()).expect("decodes");
        assert_eq!(decoded, ("web".to_owned(), 5));
    }

    #[test]
    fn route_clusters_are_those_of_the_virtual_hosts_serving_the_host() {
        let to = |cluster: &str| Route {
            action: Some(route::Action::Route(RouteAction {
                cluster_specifier: Some(route_action::ClusterSpecifier::Cluster(cluster.into())),
                ..Default::default()
            })),
            ..Default::default()
        };
        let weighted = Route {
            action: Some(route::Action::Route(RouteAction {
                cluster_specifier: Some(route_action::ClusterSpecifier::WeightedClusters(
                    WeightedCluster {
                        clusters: vec![weighted_cluster::ClusterWeight {
                            name: "canary".into(),
                            ..Default::default()
                        }],
                        ..Default::default()
                    },
                )),
                ..Default::default()
            })),
            ..Default::default()
        };
        let table = RouteConfiguration {
            name: "http".into(),
            virtual_hosts: vec![
                VirtualHost {
                    domains: vec!["a.example".into()],
                    routes: vec![to("a"), weighted],
                    ..Default::default()
                },
                VirtualHost {
                    domains: vec!["b.example".into()],
                    routes: vec![to("b")],
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let bytes = table.encode_to_vec();
        let (name, clusters) = route_clusters_for_host(&bytes, "A.example").expect("decodes");
        assert_eq!(name, "http");
        assert_eq!(clusters, ["a", "canary"]);
        let (_, none) = route_clusters_for_host(&bytes, "c.example").expect("decodes");
        assert!(none.is_empty());
        assert_eq!(route_table_name(&bytes).expect("decodes"), "http");
        assert!(
            route_table_name(&[0xff, 0xff]).is_err(),
            "garbage is an error"
        );
    }
}

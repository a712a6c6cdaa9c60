//! Partial decoders: only the fields an Envoy-like client needs to follow its
//! subscriptions and to tell whether it holds a route, so that a thousand clients
//! in one process do not spend their CPU decoding what they never read.

use envoy_types::pb::envoy::config::listener::v3::Listener;
use prost::bytes::Bytes;
use prost::Message;

use crate::snapshot::{intern, Name, References};

/// A resource from the server that does not decode as its type says.
#[derive(Debug, thiserror::Error)]
#[error("the server sent a {kind} that does not decode: {reason}")]
pub struct DecodeError {
    kind: &'static str,
    reason: String,
}

/// Names and strings are decoded as slices of the body (`Bytes` fields): no
/// allocation until a name is interned.
fn decode<M: Message + Default>(kind: &'static str, bytes: &Bytes) -> Result<M, DecodeError> {
    M::decode(bytes.clone()).map_err(|e| DecodeError {
        kind,
        reason: e.to_string(),
    })
}

/// A name field's shared allocation.
fn name(kind: &'static str, bytes: &[u8]) -> Result<Name, DecodeError> {
    std::str::from_utf8(bytes)
        .map(intern)
        .map_err(|e| DecodeError {
            kind,
            reason: format!("a name is not UTF-8: {e}"),
        })
}

/// The fields of a `Cluster` that say which ClusterLoadAssignment it waits for.
#[derive(Clone, PartialEq, prost::Message)]
struct ClusterHead {
    #[prost(bytes = "bytes", tag = "1")]
    name: Bytes,
    /// `Cluster.type` (the `cluster_discovery_type` oneof).
    #[prost(int32, tag = "2")]
    discovery_type: i32,
    #[prost(message, optional, tag = "3")]
    eds_cluster_config: Option<EdsHead>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct EdsHead {
    #[prost(bytes = "bytes", tag = "2")]
    service_name: Bytes,
}

/// `Cluster.DiscoveryType.EDS`.
const EDS: i32 = 3;

/// The cluster's name and, for an EDS cluster, the CLA name Envoy subscribes to.
pub fn cluster_cla(bytes: &Bytes) -> Result<(Name, Option<Name>), DecodeError> {
    const KIND: &str = "cluster";
    let head: ClusterHead = decode(KIND, bytes)?;
    let own = name(KIND, &head.name)?;
    if head.discovery_type != EDS {
        return Ok((own, None));
    }
    let cla = match head.eds_cluster_config {
        Some(eds) if !eds.service_name.is_empty() => name(KIND, &eds.service_name)?,
        _ => own.clone(),
    };
    Ok((own, Some(cla)))
}

/// The listener's name and the RDS route tables it names.
pub fn listener_routes(bytes: &Bytes) -> Result<(Name, Vec<Name>), DecodeError> {
    let listener: Listener = decode("listener", bytes)?;
    let routes = References::of_listener(&listener).routes;
    Ok((
        intern(&listener.name),
        routes.iter().map(|r| intern(r)).collect(),
    ))
}

/// `ClusterLoadAssignment`: its name and its endpoints, uncounted below locality.
#[derive(Clone, PartialEq, prost::Message)]
struct LoadAssignmentHead {
    #[prost(bytes = "bytes", tag = "1")]
    cluster_name: Bytes,
    #[prost(message, repeated, tag = "2")]
    endpoints: Vec<LocalityHead>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct LocalityHead {
    /// Each endpoint's fields are skipped: only the count matters.
    #[prost(message, repeated, tag = "2")]
    lb_endpoints: Vec<Skipped>,
}

/// A message whose fields are all skipped (a `Vec` of them never allocates).
#[derive(Clone, PartialEq, prost::Message)]
struct Skipped {}

/// The CLA's name and how many endpoints it lists.
pub fn load_assignment_endpoints(bytes: &Bytes) -> Result<(Name, usize), DecodeError> {
    const KIND: &str = "cluster load assignment";
    let head: LoadAssignmentHead = decode(KIND, bytes)?;
    let count = head.endpoints.iter().map(|l| l.lb_endpoints.len()).sum();
    Ok((name(KIND, &head.cluster_name)?, count))
}

/// `RouteConfiguration`, each virtual host left undecoded until it mentions
/// the host looked for.
#[derive(Clone, PartialEq, prost::Message)]
struct RouteTableHead {
    #[prost(bytes = "bytes", tag = "1")]
    name: Bytes,
    #[prost(bytes = "bytes", repeated, tag = "2")]
    virtual_hosts: Vec<Bytes>,
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
/// when no virtual host serves `host`). Domains are found by their bytes first,
/// so `host` and the table's domains are expected in lower case, as Ingress
/// hosts are (RFC 1123) and as the bench's probe hosts are.
pub fn route_clusters_for_host(
    bytes: &Bytes,
    host: &str,
) -> Result<(Name, Vec<Name>), DecodeError> {
    const KIND: &str = "route table";
    let table: RouteTableHead = decode(KIND, bytes)?;
    let finder = memchr::memmem::Finder::new(host.as_bytes());
    let mut clusters = Vec::new();
    // Only a virtual host whose bytes mention the host can serve it.
    for vh in table
        .virtual_hosts
        .iter()
        .filter(|vh| finder.find(vh).is_some())
    {
        let vh: VirtualHostHead = decode(KIND, vh)?;
        if !vh.domains.iter().any(|d| d.eq_ignore_ascii_case(host)) {
            continue;
        }
        let actions = vh.routes.iter().filter_map(|r| r.route.as_ref());
        for action in actions {
            let weighted = action.weighted_clusters.iter().flat_map(|w| &w.clusters);
            let names = std::iter::once(&action.cluster).chain(weighted.map(|c| &c.name));
            clusters.extend(names.filter(|n| !n.is_empty()).map(|n| intern(n)));
        }
    }
    Ok((name(KIND, &table.name)?, clusters))
}

/// A route table's name alone (the host is not looked for).
pub fn route_table_name(bytes: &Bytes) -> Result<Name, DecodeError> {
    #[derive(Clone, PartialEq, prost::Message)]
    struct NameOnly {
        #[prost(bytes = "bytes", tag = "1")]
        name: Bytes,
    }
    const KIND: &str = "route table";
    name(KIND, &decode::<NameOnly>(KIND, bytes)?.name)
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
        let own = cluster_cla(&Bytes::from(c.encode_to_vec())).expect("decodes");
        assert_eq!((&*own.0, own.1.as_deref()), ("web", Some("web")));
        c.eds_cluster_config = Some(cluster::EdsClusterConfig {
            service_name: "web-cla".into(),
            ..Default::default()
        });
        let named = cluster_cla(&Bytes::from(c.encode_to_vec())).expect("decodes");
        assert_eq!(named.1.as_deref(), Some("web-cla"));
        c.cluster_discovery_type = Some(cluster::ClusterDiscoveryType::Type(
            cluster::DiscoveryType::Static as i32,
        ));
        assert_eq!(
            cluster_cla(&Bytes::from(c.encode_to_vec()))
                .expect("decodes")
                .1,
            None
        );
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
        let decoded =
            load_assignment_endpoints(&Bytes::from(cla.encode_to_vec())).expect("decodes");
        assert_eq!((&*decoded.0, decoded.1), ("web", 5));
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
        let bytes = Bytes::from(table.encode_to_vec());
        let (name, clusters) = route_clusters_for_host(&bytes, "a.example").expect("decodes");
        assert_eq!(&*name, "http");
        let clusters: Vec<&str> = clusters.iter().map(|c| &**c).collect();
        assert_eq!(clusters, ["a", "canary"]);
        let (_, none) = route_clusters_for_host(&bytes, "c.example").expect("decodes");
        assert!(none.is_empty());
        assert_eq!(&*route_table_name(&bytes).expect("decodes"), "http");
        assert!(
            route_table_name(&Bytes::from_static(&[0xff, 0xff])).is_err(),
            "garbage is an error"
        );
    }
}

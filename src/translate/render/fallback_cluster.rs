//! Default backends: an aggregate cluster `[backend, default backend]` per
//! backend of a route whose policy names one. Envoy's aggregate cluster
//! load-balances over the first cluster while it has healthy hosts and fails
//! over to the next, so the default backend serves exactly while the
//! Service has no ready endpoint, as ingress-nginx does.

use envoy_types::pb::envoy::config::cluster::v3::{
    cluster::{ClusterDiscoveryType, CustomClusterType, LbPolicy},
    Cluster,
};
use envoy_types::pb::envoy::extensions::clusters::aggregate::v3::ClusterConfig;
use envoy_types::util::pack_any;

use super::ads::seconds;
use crate::translate::model::fallback_cluster_name;

/// Name of Envoy's aggregate cluster extension.
pub const AGGREGATE: &str = "envoy.clusters.aggregate";

/// The aggregate cluster trying `main`, then `fallback`.
pub fn cluster(main: &str, fallback: &str) -> Cluster {
    Cluster {
        name: fallback_cluster_name(main, fallback),
        cluster_discovery_type: Some(ClusterDiscoveryType::ClusterType(CustomClusterType {
            name: AGGREGATE.to_owned(),
            typed_config: Some(pack_any(ClusterConfig {
                clusters: vec![main.to_owned(), fallback.to_owned()],
            })),
        })),
        lb_policy: LbPolicy::ClusterProvided as i32,
        connect_timeout: Some(seconds(5)),
        ..Cluster::default()
    }
}

//! Upstream clusters: one EDS cluster per resolved Service port.
//!
//! EDS over ADS with an empty `service_name`, so the ClusterLoadAssignment is
//! named after the cluster; `connect_timeout` 5 s; round-robin; HTTP/1.1 upstream.

use envoy_types::pb::envoy::config::cluster::v3::{
    cluster::{ClusterDiscoveryType, DiscoveryType, EdsClusterConfig},
    Cluster,
};

use super::ads::{ads, seconds};
use crate::translate::model::ClusterTarget;

/// How long Envoy waits for a TCP connection to an endpoint.
const CONNECT_TIMEOUT_SECS: i64 = 5;

/// The Envoy cluster for `target`.
pub fn cluster(target: &ClusterTarget) -> Cluster {
    Cluster {
        name: target.name.clone(),
        cluster_discovery_type: Some(ClusterDiscoveryType::Type(DiscoveryType::Eds as i32)),
        eds_cluster_config: Some(EdsClusterConfig {
            eds_config: Some(ads()),
            service_name: String::new(),
        }),
        connect_timeout: Some(seconds(CONNECT_TIMEOUT_SECS)),
        ..Cluster::default()
    }
}

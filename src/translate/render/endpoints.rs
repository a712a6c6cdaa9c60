//! ClusterLoadAssignments: a cluster's ready addresses, in one locality.
//!
//! Every cluster gets an assignment, empty when it has no ready endpoint (Envoy
//! then answers 503 instead of waiting for one).

use std::collections::BTreeSet;
use std::net::SocketAddr;

use envoy_types::pb::envoy::config::core::v3::{
    address, socket_address::PortSpecifier, Address, SocketAddress,
};
use envoy_types::pb::envoy::config::endpoint::v3::{
    lb_endpoint::HostIdentifier, ClusterLoadAssignment, Endpoint, LbEndpoint, LocalityLbEndpoints,
};

use crate::translate::text::ip_string;

/// The assignment of cluster `cluster_name` to `addresses` (sorted).
pub fn load_assignment(
    cluster_name: &str,
    addresses: BTreeSet<SocketAddr>,
) -> ClusterLoadAssignment {
    let lb_endpoints: Vec<LbEndpoint> = addresses.into_iter().map(lb_endpoint).collect();
    ClusterLoadAssignment {
        cluster_name: cluster_name.to_owned(),
        endpoints: if lb_endpoints.is_empty() {
            Vec::new()
        } else {
            vec![LocalityLbEndpoints {
                lb_endpoints,
                ..LocalityLbEndpoints::default()
            }]
        },
        ..ClusterLoadAssignment::default()
    }
}

fn lb_endpoint(addr: SocketAddr) -> LbEndpoint {
    LbEndpoint {
        host_identifier: Some(HostIdentifier::Endpoint(Endpoint {
            address: Some(Address {
                address: Some(address::Address::SocketAddress(SocketAddress {
                    address: ip_string(addr.ip()),
                    port_specifier: Some(PortSpecifier::PortValue(u32::from(addr.port()))),
                    ..SocketAddress::default()
                })),
            }),
            ..Endpoint::default()
        })),
        ..LbEndpoint::default()
    }
}

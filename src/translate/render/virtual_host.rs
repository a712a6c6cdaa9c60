//! Virtual hosts and route tables.
//!
//! Each model virtual host becomes one Envoy virtual host named after its host,
//! with `domains` = `[host]` (the HCM strips any port from `Host`, so no `host:*`
//! entries); the catch-all is `*`. Route order is the model's.

use envoy_types::pb::envoy::config::route::v3::{RouteConfiguration, VirtualHost};

use super::route::route;
use crate::translate::model::{self, Host};

/// Name and only domain of the catch-all virtual host.
pub const CATCH_ALL: &str = "*";

/// The Envoy virtual hosts of `hosts`, in the same order.
pub fn virtual_hosts(hosts: &[model::VirtualHost<'_>]) -> Vec<VirtualHost> {
    hosts.iter().map(virtual_host).collect()
}

fn virtual_host(host: &model::VirtualHost<'_>) -> VirtualHost {
    let name = host.host.map_or(CATCH_ALL, Host::as_str);
    let authority = host.host.and_then(Host::authority_regex);
    VirtualHost {
        name: name.to_owned(),
        domains: vec![name.to_owned()],
        routes: host
            .routes
            .iter()
            .map(|placed| route(placed, authority.as_deref()))
            .collect(),
        ..VirtualHost::default()
    }
}

/// One route table per name in `tables`, each with every virtual host. The list
/// is moved into the last table and cloned only for the others: at 10,000 hosts a
/// deep copy costs tens of milliseconds and megabytes.
pub fn route_tables(tables: &[&str], virtual_hosts: Vec<VirtualHost>) -> Vec<RouteConfiguration> {
    let mut routes: Vec<RouteConfiguration> = tables
        .iter()
        .map(|name| RouteConfiguration {
            name: (*name).to_owned(),
            ..RouteConfiguration::default()
        })
        .collect();
    if let Some((last, others)) = routes.split_last_mut() {
        for table in others {
            table.virtual_hosts.clone_from(&virtual_hosts);
        }
        last.virtual_hosts = virtual_hosts;
    }
    routes
}

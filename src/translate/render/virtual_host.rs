//! Virtual hosts and route tables.
//!
//! Each model virtual host becomes one Envoy virtual host named after its host,
//! with `domains` = `[host]` (the HCM strips any port from `Host`, so no `host:*`
//! entries); the catch-all is `*`. Route order is the model's; in the `https`
//! table a host asking for client certificates starts with the routes refusing
//! a missing or invalid one ([`super::client_certificate`]).

use envoy_types::pb::envoy::config::route::v3::{RouteConfiguration, VirtualHost};

use super::client_certificate::guard_routes;
use super::listener::HTTP;
use super::route::{push_routes, Scheme};
use crate::fan_out;
use crate::translate::model::{self, Host};

/// Name and only domain of the catch-all virtual host.
pub const CATCH_ALL: &str = "*";

/// The Envoy virtual hosts of `hosts` for the `scheme` table, in the same order.
/// A full rebuild's 50,000 hosts are rendered across the cores.
pub fn virtual_hosts(hosts: &[model::VirtualHost<'_>], scheme: Scheme) -> Vec<VirtualHost> {
    fan_out::map(hosts.iter().collect(), |h| virtual_host(h, scheme))
}

fn virtual_host(host: &model::VirtualHost<'_>, scheme: Scheme) -> VirtualHost {
    let name = host.host.map_or(CATCH_ALL, Host::as_str);
    let authority = host.host.and_then(Host::authority_regex);
    let mut routes = Vec::with_capacity(host.routes.len());
    if let (Scheme::Https, Some(auth)) = (scheme, host.client_certificate) {
        routes.extend(guard_routes(auth));
    }
    for placed in &host.routes {
        push_routes(placed, authority.as_deref(), scheme, &mut routes);
    }
    VirtualHost {
        name: name.to_owned(),
        domains: vec![name.to_owned()],
        routes,
        ..VirtualHost::default()
    }
}

/// True when some route answers plain HTTP differently from HTTPS (a redirect
/// to HTTPS, a client certificate check), so the two tables need their own
/// virtual hosts.
pub fn schemes_differ(hosts: &[model::VirtualHost<'_>]) -> bool {
    hosts.iter().any(|h| h.client_certificate.is_some())
        || hosts
            .iter()
            .flat_map(|h| &h.routes)
            .any(|placed| placed.winner.served.policy.https_redirect.is_some())
}

/// The route tables `tables` (`http`, and `https` if present) for `hosts`.
/// When both schemes render alike, the virtual hosts are rendered once and
/// shared ([`route_tables`]).
/// A table also gets the custom error pages' virtual host when some route
/// uses one ([`super::custom_errors::error_host`]).
pub fn tables(tables: &[&str], hosts: &[model::VirtualHost<'_>]) -> Vec<RouteConfiguration> {
    let error_host = super::custom_errors::error_host(hosts);
    let with_errors = |mut list: Vec<VirtualHost>| {
        list.extend(error_host.clone());
        list
    };
    if !schemes_differ(hosts) {
        return route_tables(tables, with_errors(virtual_hosts(hosts, Scheme::Https)));
    }
    tables
        .iter()
        .map(|name| {
            let scheme = if *name == HTTP {
                Scheme::Http
            } else {
                Scheme::Https
            };
            RouteConfiguration {
                name: (*name).to_owned(),
                virtual_hosts: with_errors(virtual_hosts(hosts, scheme)),
                ..RouteConfiguration::default()
            }
        })
        .collect()
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

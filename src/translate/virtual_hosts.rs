//! Virtual hosts: merging rules into one route table with Ingress precedence.
//!
//! - One virtual host per distinct rule host, sorted by name, with `domains` =
//!   `[host]` (the HCM strips any port from `Host`, so no `host:*` entries), plus a
//!   catch-all `*` holding the host-less rules and the default backend.
//! - Within a virtual host routes are ordered by [`PathRule::precedence`]
//!   (longest first, then Exact, Prefix, ImplementationSpecific).
//! - Host-less rules apply to every host, so they are merged into each host's
//!   virtual host; on an identical path + pathType the host's own rule wins.
//! - The default backend (prefix `/`) comes last in every virtual host.
//! - A wildcard host (`*.foo.com`) must match exactly one label, but Envoy's domain
//!   `*.foo.com` takes any number. So its own routes carry the one-label
//!   `:authority` regex, and the host-less routes are merged in *without* it, in
//!   the same precedence order, each placed after the host's own route when both
//!   have an identical path. A one-label host thus sees exactly the merge an exact
//!   host would; a deeper host (`baz.bar.foo.com`) skips every regex-guarded route
//!   and sees exactly the catch-all's routes, never a 404 the catch-all would have
//!   answered.

use std::collections::BTreeMap;

use envoy_types::pb::envoy::config::route::v3::{Route, VirtualHost};

use super::host::Host;
use super::path::{PathRule, Precedence};
use super::route::{default_route, path_route};
use super::rules::{Rules, Served};

/// Name and only domain of the catch-all virtual host.
pub const CATCH_ALL: &str = "*";

/// The virtual hosts for `rules`: every host sorted by name, then `*`.
pub fn virtual_hosts(rules: &Rules<'_>) -> Vec<VirtualHost> {
    let default = rules
        .default_backend
        .as_ref()
        .map(|d| default_route(&d.backend, d.owner));
    // Sized up front: these are large structs (a Route is over 2 KB), and growing
    // a Vec of 10,000 virtual hosts copies all of them.
    let mut hosts: Vec<VirtualHost> = Vec::with_capacity(rules.by_host.len() + 1);
    hosts.extend(rules.by_host.iter().map(|(host, own)| {
        let routes = merged(host, own, &rules.hostless, default.as_ref());
        virtual_host(host.as_str(), routes)
    }));
    let hostless = sorted(&rules.hostless);
    let mut catch_all: Vec<Route> = Vec::with_capacity(hostless.len() + 1);
    catch_all.extend(
        hostless
            .into_iter()
            .map(|(rule, served)| path_route(rule, None, &served.backend, served.owner)),
    );
    catch_all.extend(default);
    hosts.push(virtual_host(CATCH_ALL, catch_all));
    hosts
}

/// A host's own routes merged with the host-less ones, in precedence order, then
/// `default`. The order is decided on references first, so each route is built
/// once, in place.
fn merged(
    host: &Host,
    own: &BTreeMap<PathRule, Served<'_>>,
    hostless: &BTreeMap<PathRule, Served<'_>>,
    default: Option<&Route>,
) -> Vec<Route> {
    let authority = host.authority_regex();
    let shadowed = |rule: &PathRule| authority.is_none() && own.contains_key(rule);
    // (precedence, tier): on an identical path the host's own route (tier 0) comes
    // first; the sort is stable, so ties keep this order.
    let mut order: Vec<(Precedence<'_>, u8, &PathRule, &Served<'_>)> = own
        .iter()
        .map(|(rule, s)| (rule.precedence(), 0, rule, s))
        .chain(
            hostless
                .iter()
                .filter(|(rule, _)| !shadowed(rule))
                .map(|(rule, s)| (rule.precedence(), 1, rule, s)),
        )
        .collect();
    order.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    let mut routes = Vec::with_capacity(order.len() + usize::from(default.is_some()));
    routes.extend(order.into_iter().map(|(_, tier, rule, s)| {
        let guard = if tier == 0 {
            authority.as_deref()
        } else {
            None
        };
        path_route(rule, guard, &s.backend, s.owner)
    }));
    routes.extend(default.cloned());
    routes
}

fn sorted<'a, 'w>(
    rules: &'a BTreeMap<PathRule, Served<'w>>,
) -> Vec<(&'a PathRule, &'a Served<'w>)> {
    let mut v: Vec<_> = rules.iter().collect();
    v.sort_by_cached_key(|(rule, _)| rule.precedence());
    v
}

fn virtual_host(name: &str, routes: Vec<Route>) -> VirtualHost {
    VirtualHost {
        name: name.to_owned(),
        domains: vec![name.to_owned()],
        routes,
        ..VirtualHost::default()
    }
}

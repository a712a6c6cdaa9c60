//! Virtual hosts: the merged routes of each host, in the order they are tried.
//!
//! - One virtual host per host with a parsed path, sorted by name, then a
//!   catch-all (no host) holding the host-less paths and the default backend.
//! - Within a virtual host routes are ordered by [`PathRule::precedence`]
//!   (longest first, then Exact, Prefix, ImplementationSpecific).
//! - Host-less paths apply to every host, so they are merged into each host's
//!   virtual host; on an identical path + pathType the host's own path wins.
//! - The default backend (everything, `/`) comes last in every virtual host.
//! - A wildcard host (`*.foo.com`) must match exactly one label, but Envoy's domain
//!   `*.foo.com` takes any number. So its own routes are marked
//!   [`PlacedRoute::one_label`] (the render adds the `:authority` check), and the
//!   host-less routes are merged in *without* it, in the same precedence order,
//!   each placed after the host's own route when both have an identical path. A
//!   one-label host thus sees exactly the merge an exact host would; a deeper host
//!   (`baz.bar.foo.com`) skips every guarded route and sees exactly the
//!   catch-all's routes, never a 404 the catch-all would have answered.

use std::collections::BTreeMap;

use super::client_auth::{ClientAuth, MergedClientAuth};
use super::host::Host;
use super::merge::{MergedRoutes, Winner};
use super::path::{PathRule, Precedence};

/// The routes of one host (or of the catch-all), in the order Envoy tries them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VirtualHost<'c> {
    /// The host; `None` for the catch-all, which takes every other host.
    pub host: Option<&'c Host>,
    /// Its routes, first match wins.
    pub routes: Vec<PlacedRoute<'c>>,
    /// The client certificate its HTTPS requests need (`None`: none): the
    /// host's client-certificate setting ([`super::client_auth`]).
    pub client_certificate: Option<&'c ClientAuth>,
}

/// One route in a virtual host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlacedRoute<'c> {
    /// The path it matches; `None` for the default backend, which matches
    /// everything.
    pub path: Option<&'c PathRule>,
    /// What it does and whose it is.
    pub winner: Winner<'c>,
    /// The request's `:authority` must have exactly one label where the wildcard
    /// host has `*` ([`Host::authority_regex`]).
    pub one_label: bool,
}

/// The virtual hosts of `merged`: every host sorted by name, then the catch-all.
pub fn virtual_hosts<'c>(merged: &MergedRoutes<'c>) -> Vec<VirtualHost<'c>> {
    let default = merged.default_backend.map(|winner| PlacedRoute {
        path: None,
        winner,
        one_label: false,
    });
    let mut hosts: Vec<VirtualHost<'c>> = Vec::with_capacity(merged.by_host.len() + 1);
    hosts.extend(merged.by_host.iter().map(|(host, own)| VirtualHost {
        host: Some(*host),
        routes: host_routes(host, own, &merged.hostless, default),
        client_certificate: None,
    }));
    let hostless = sorted(&merged.hostless);
    let mut catch_all: Vec<PlacedRoute<'c>> = Vec::with_capacity(hostless.len() + 1);
    catch_all.extend(hostless.into_iter().map(|(path, winner)| PlacedRoute {
        path: Some(path),
        winner: *winner,
        one_label: false,
    }));
    catch_all.extend(default);
    hosts.push(VirtualHost {
        host: None,
        routes: catch_all,
        client_certificate: None,
    });
    hosts
}

/// Sets each host's client-certificate requirement from `client_auth`.
pub fn require_client_certificates<'c>(
    hosts: &mut [VirtualHost<'c>],
    client_auth: &MergedClientAuth<'c>,
) {
    for vh in hosts {
        vh.client_certificate = vh
            .host
            .and_then(|host| client_auth.by_host.get(host))
            .map(|(auth, _)| *auth);
    }
}

/// A host's own routes merged with the host-less ones, in precedence order, then
/// `default`.
fn host_routes<'c>(
    host: &Host,
    own: &BTreeMap<&'c PathRule, Winner<'c>>,
    hostless: &BTreeMap<&'c PathRule, Winner<'c>>,
    default: Option<PlacedRoute<'c>>,
) -> Vec<PlacedRoute<'c>> {
    let wildcard = matches!(host, Host::Wildcard(_));
    let shadowed = |path: &PathRule| !wildcard && own.contains_key(path);
    // (precedence, tier): on an identical path the host's own route (tier 0) comes
    // first; the sort is stable, so ties keep this order.
    let mut order: Vec<(Precedence<'c>, u8, PlacedRoute<'c>)> = own
        .iter()
        .map(|(path, winner)| {
            let placed = PlacedRoute {
                path: Some(*path),
                winner: *winner,
                one_label: wildcard,
            };
            (path.precedence(), 0, placed)
        })
        .chain(
            hostless
                .iter()
                .filter(|(path, _)| !shadowed(path))
                .map(|(path, winner)| {
                    let placed = PlacedRoute {
                        path: Some(*path),
                        winner: *winner,
                        one_label: false,
                    };
                    (path.precedence(), 1, placed)
                }),
        )
        .collect();
    order.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    let mut routes = Vec::with_capacity(order.len() + usize::from(default.is_some()));
    routes.extend(order.into_iter().map(|(_, _, placed)| placed));
    routes.extend(default);
    routes
}

fn sorted<'a, 'c>(
    paths: &'a BTreeMap<&'c PathRule, Winner<'c>>,
) -> Vec<(&'c PathRule, &'a Winner<'c>)> {
    let mut v: Vec<(&'c PathRule, &'a Winner<'c>)> =
        paths.iter().map(|(path, winner)| (*path, winner)).collect();
    v.sort_by_cached_key(|(path, _)| path.precedence());
    v
}

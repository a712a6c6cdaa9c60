//! The translate stage: a pure function from the [`World`] to the Envoy resources
//! that implement its Ingresses, plus diagnostics for what could not be served.
//!
//! No I/O, no clock, no randomness: the same world gives byte-identical resources
//! (invariant 7), in sorted order, with names derived only from what they describe
//! (invariant 10), and every name a resource references is in the output
//! (invariant 2). Bad input is skipped piece by piece and reported; it never takes
//! other routes down (invariant 8). No protobuf map field is used, since prost
//! encodes maps in hash order.
//!
//! Output shape:
//! - Listener `http` (always) and `https` (only when some TLS host is servable);
//!   see [`listener`].
//! - Route tables `http` and `https` (the latter only with the `https` listener),
//!   each with the full set of virtual hosts; see `virtual_hosts.rs`. HTTPS is only
//!   reachable for SNI hosts with a certificate.
//! - One EDS cluster per resolved Service port, named
//!   `<namespace>/<service>:<port>`; see `cluster.rs` and [`backend`].
//! - A ClusterLoadAssignment for every cluster, empty without ready endpoints;
//!   see `endpoints.rs`.
//! - One SDS Secret per usable TLS Secret, named `<namespace>/<secretName>`; see
//!   `tls.rs` and [`tls_secret`].
//!
//! Which Ingresses are served: [`class`]. Paths and precedence: [`path`]. Hosts
//! and wildcards: [`host`]. Conflicts between Ingresses: `rules.rs`.

mod ads;
mod age;
pub mod backend;
pub mod class;
mod cluster;
mod diagnostic;
mod endpoints;
pub mod host;
pub mod listener;
pub mod path;
pub mod regex;
mod resolver;
mod route;
mod rules;
mod service_clusters;
mod text;
mod tls;
pub mod tls_secret;
mod virtual_hosts;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::config::listener::v3::Listener;
use envoy_types::pb::envoy::config::route::v3::{RouteConfiguration, VirtualHost};
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::Secret;
use k8s_openapi::api::networking::v1::Ingress;

pub use diagnostic::{Diagnostic, Severity};
pub use endpoints::endpoints_for;
pub use service_clusters::ServiceClusters;

use crate::world::{ObjectKey, World};
use age::Age;
use backend::{Backend, ClusterTarget};
use diagnostic::Diagnostics;
use endpoints::SliceIndex;
use listener::{HTTP, HTTPS};

/// What the translator needs to know beyond the world.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TranslateConfig {
    /// Address both listeners bind (default `0.0.0.0`).
    pub listen_address: String,
    /// Port of the `http` listener (default 10080).
    pub http_port: u16,
    /// Port of the `https` listener (default 10443).
    pub https_port: u16,
    /// Class name served when no IngressClass object of that name exists
    /// (default `interlock`).
    pub ingress_class: String,
    /// `spec.controller` of our IngressClasses (default `interlock.dev/ingress-controller`).
    pub controller_name: String,
}

impl Default for TranslateConfig {
    fn default() -> Self {
        TranslateConfig {
            listen_address: "0.0.0.0".to_owned(),
            http_port: 10080,
            https_port: 10443,
            ingress_class: "interlock".to_owned(),
            controller_name: "interlock.dev/ingress-controller".to_owned(),
        }
    }
}

/// Which Envoy resources carry each served Ingress (so a later "programmed" signal
/// can check ACKs): route table names, cluster names, secret names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IngressResources {
    /// Route tables holding at least one of its routes.
    pub routes: BTreeSet<String>,
    /// Clusters its routes forward to.
    pub clusters: BTreeSet<String>,
    /// Secrets serving its TLS hosts.
    pub secrets: BTreeSet<String>,
}

/// Everything one world translates to. Each list is sorted by name.
#[derive(Clone, Default, PartialEq)]
pub struct Translation {
    /// LDS resources.
    pub listeners: Vec<Listener>,
    /// RDS resources.
    pub routes: Vec<RouteConfiguration>,
    /// CDS resources.
    pub clusters: Vec<Cluster>,
    /// EDS resources, one per cluster.
    pub endpoints: Vec<ClusterLoadAssignment>,
    /// SDS resources.
    pub secrets: Vec<Secret>,
    /// Problems found, sorted by object.
    pub diagnostics: Vec<Diagnostic>,
    /// Every served Ingress (including those that ended up with no route).
    pub ingresses: BTreeMap<ObjectKey, IngressResources>,
    /// The clusters each Service backs, for recomputing only the endpoints of
    /// Services whose slices changed ([`endpoints_for`]).
    pub service_clusters: ServiceClusters,
}

impl fmt::Debug for Translation {
    /// Secrets are shown by name only: key material must never reach a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Translation")
            .field("listeners", &self.listeners)
            .field("routes", &self.routes)
            .field("clusters", &self.clusters)
            .field("endpoints", &self.endpoints)
            .field(
                "secrets",
                &self.secrets.iter().map(|s| &s.name).collect::<Vec<_>>(),
            )
            .field("diagnostics", &self.diagnostics)
            .field("ingresses", &self.ingresses)
            .field("service_clusters", &self.service_clusters)
            .finish()
    }
}

/// Translates `world` into Envoy resources. Pure and deterministic.
pub fn translate(world: &World, config: &TranslateConfig) -> Translation {
    let mut diagnostics = Diagnostics::default();
    let served = served_ingresses(world, config);
    let rules = rules::collect(world, &served, &mut diagnostics);
    let tls = tls::plan(world, &served, &mut diagnostics);

    let mut listeners = vec![listener::http_listener(config)];
    listeners.extend(listener::https_listener(config, &tls.chains));
    let has_https = listeners.len() > 1;
    let tables: &[&str] = if has_https { &[HTTP, HTTPS] } else { &[HTTP] };

    let routes = route_tables(tables, virtual_hosts::virtual_hosts(&rules));

    let mut ingresses: BTreeMap<ObjectKey, IngressResources> = served
        .iter()
        .map(|(key, _)| ((*key).clone(), IngressResources::default()))
        .collect();
    let mut targets: BTreeMap<&str, &Arc<ClusterTarget>> = BTreeMap::new();
    for served in rules.all() {
        let Some(resources) = ingresses.get_mut(served.owner) else {
            continue;
        };
        // Names are copied only the first time: an Ingress has many paths.
        for table in tables {
            if !resources.routes.contains(*table) {
                resources.routes.insert((*table).to_owned());
            }
        }
        if let Backend::Cluster(target) = &served.backend {
            if !resources.clusters.contains(&target.name) {
                resources.clusters.insert(target.name.clone());
            }
            targets.entry(&target.name).or_insert(target);
        }
    }
    for (key, secrets) in &tls.by_ingress {
        if let Some(resources) = ingresses.get_mut(key) {
            resources.secrets.extend(secrets.iter().cloned());
        }
    }

    let slices = SliceIndex::new(world);
    let clusters = targets.values().map(|t| cluster::cluster(t)).collect();
    let endpoints = targets
        .values()
        .map(|t| slices.load_assignment(t, &mut diagnostics))
        .collect();
    let service_clusters = ServiceClusters::new(targets.values().map(|t| Arc::clone(t)));

    Translation {
        listeners,
        routes,
        clusters,
        endpoints,
        secrets: tls.secrets.into_values().collect(),
        diagnostics: diagnostics.finish(),
        ingresses,
        service_clusters,
    }
}

/// One route table per name in `tables`, each with every virtual host. The list
/// is moved into the last table and cloned only for the others: at 10,000 hosts a
/// deep copy costs tens of milliseconds and megabytes.
fn route_tables(tables: &[&str], virtual_hosts: Vec<VirtualHost>) -> Vec<RouteConfiguration> {
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

/// Our Ingresses, oldest first (the order that decides conflicts).
fn served_ingresses<'w>(
    world: &'w World,
    config: &TranslateConfig,
) -> Vec<(&'w ObjectKey, &'w Ingress)> {
    let mut served: Vec<(&ObjectKey, &Ingress)> = world
        .ingresses
        .iter()
        .filter(|(_, ingress)| class::is_ours(world, config, ingress))
        .map(|(key, ingress)| (key, ingress.as_ref()))
        .collect();
    served.sort_by_cached_key(|(key, ingress)| Age::of(key, ingress));
    served
}

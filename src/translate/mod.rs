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
//! Three folders, one per stage:
//! - [`source`]: Kubernetes objects → the model. [`source::ingress`] picks our
//!   Ingresses ([`source::ingress::class`]), orders them oldest first, and reads
//!   each one on its own into a [`model::Contribution`], looking Services and
//!   Secrets up through [`source::Lookups`].
//! - [`model`]: plain values that know neither Kubernetes nor protobuf. The
//!   contributions are merged (precedence, conflicts: the oldest wins) into
//!   routes per host and certificates per SNI host.
//! - [`render`]: the model → Envoy resources, deciding nothing.
//!
//! Output shape:
//! - Listener `http` (always) and `https` (only when some TLS host is servable);
//!   see [`render::listener`].
//! - Route tables `http` and `https` (the latter only with the `https` listener),
//!   each with the full set of virtual hosts; see [`model::virtual_host`]. HTTPS
//!   is only reachable for SNI hosts with a certificate.
//! - One EDS cluster per resolved Service port, named
//!   `<namespace>/<service>:<port>`, and one per other upstream settings an
//!   Ingress asks of it (`…:<port>~<hash>`); see [`render::cluster`],
//!   [`model::backend`] and [`model::upstream`].
//! - A ClusterLoadAssignment for every EDS cluster, empty without ready
//!   endpoints; see [`source::endpoint_slice`] and [`render::endpoints`].
//! - Clusters route policies need: one per external auth server
//!   ([`render::external_auth`]) and one aggregate per backend with a default
//!   backend ([`render::fallback_cluster`]); neither has an assignment.
//! - One SDS Secret per usable TLS Secret, named `<namespace>/<secretName>`; see
//!   [`source::secret`] and [`model::tls`]; and one per CA a TLS host checks
//!   client certificates with, named `ca:<namespace>/<name>`
//!   ([`model::client_auth`]).
//! - TLS passthrough hosts: a TCP-proxy filter chain on `https` to the
//!   backend's cluster ([`model::passthrough`]).

mod diagnostic;
mod endpoints;
pub mod incremental;
pub mod model;
pub mod regex;
pub mod render;
mod resources;
mod service_clusters;
pub mod source;
mod text;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::config::listener::v3::Listener;
use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::Secret;

pub use diagnostic::{Diagnostic, Severity};
pub use endpoints::endpoints_for;
pub use resources::IngressResources;
pub use service_clusters::ServiceClusters;

use crate::fan_out;
use crate::world::{ObjectKey, World};
use diagnostic::Diagnostics;
use model::{ClusterTarget, Contribution};
use render::listener::{self, HTTP, HTTPS};
use source::endpoint_slice::SliceIndex;
use source::{ingress, Lookups};

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
    /// Prefix of the ingress-nginx annotations honoured (default
    /// `nginx.ingress.kubernetes.io`, as ingress-nginx's `--annotations-prefix`).
    pub annotations_prefix: String,
}

impl Default for TranslateConfig {
    fn default() -> Self {
        TranslateConfig {
            listen_address: "0.0.0.0".to_owned(),
            http_port: 10080,
            https_port: 10443,
            ingress_class: "interlock".to_owned(),
            controller_name: "interlock.dev/ingress-controller".to_owned(),
            annotations_prefix: ingress::DEFAULT_PREFIX.to_owned(),
        }
    }
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

    // Model: each served Ingress on its own (oldest first), then all of them merged.
    // Reads are independent: each thread memoizes its own lookups.
    let served = ingress::served(world, config);
    let mut contributions: Vec<Contribution> = fan_out::map_with(
        served.clone(),
        || Lookups::new(world),
        |lookups, (key, ingress)| ingress::read(key, ingress, lookups, &config.annotations_prefix),
    );
    for contribution in &mut contributions {
        diagnostics.extend(std::mem::take(&mut contribution.diagnostics));
    }
    let routes = model::merge_routes(&contributions, &mut diagnostics);
    let passthrough = model::merge_passthrough(&contributions, &mut diagnostics);
    let tls = model::merge_tls_except(&contributions, &passthrough, &mut diagnostics);
    let client_auth = model::merge_client_auth(&contributions, &mut diagnostics);
    let mut virtual_hosts = model::virtual_hosts(&routes);
    model::require_client_certificates(&mut virtual_hosts, &client_auth);

    // Render.
    let mut listeners = vec![listener::http_listener(config)];
    listeners.extend(listener::https_listener(
        config,
        &tls.servers,
        &passthrough,
        &client_auth,
    ));
    let has_https = listeners.len() > 1;
    let tables: &[&str] = if has_https { &[HTTP, HTTPS] } else { &[HTTP] };
    let route_tables = render::virtual_host::tables(tables, &virtual_hosts);
    let resources::Collected {
        ingresses,
        targets,
        policy_clusters,
    } = resources::collect(
        served.iter().map(|&(key, _)| key),
        &routes,
        &tls,
        &passthrough,
        &client_auth,
        tables,
    );
    let slices = SliceIndex::new(world);
    let target_list: Vec<&Arc<ClusterTarget>> = targets.values().copied().collect();
    let mut clusters: Vec<Cluster> =
        fan_out::map(target_list.clone(), |t| render::cluster::cluster(t));
    if !policy_clusters.is_empty() {
        clusters.extend(policy_clusters.values().map(|c| match *c {
            resources::PolicyCluster::Auth(server) => render::external_auth::cluster(server),
            resources::PolicyCluster::Fallback { main, fallback } => {
                render::fallback_cluster::cluster(main, fallback)
            }
        }));
        clusters.sort_by(|a, b| a.name.cmp(&b.name));
    }
    let assigned = fan_out::map(target_list, |t| {
        let mut found = Diagnostics::default();
        let addresses = slices.ready_addresses(t, &mut found);
        (
            render::endpoints::load_assignment(&t.name, addresses),
            found.finish(),
        )
    });
    let mut endpoints = Vec::with_capacity(assigned.len());
    for (assignment, found) in assigned {
        endpoints.push(assignment);
        diagnostics.extend(found);
    }
    let service_clusters = ServiceClusters::new(targets.values().map(|t| Arc::clone(t)));
    let mut secrets: Vec<Secret> = tls
        .servers
        .values()
        .map(|server| render::tls::secret(server.certificate))
        .collect();
    secrets.extend(resources::client_cas(&tls, &client_auth).map(render::tls::ca_secret));
    secrets.sort_by(|a, b| a.name.cmp(&b.name));

    Translation {
        listeners,
        routes: route_tables,
        clusters,
        endpoints,
        secrets,
        diagnostics: diagnostics.finish(),
        ingresses,
        service_clusters,
    }
}

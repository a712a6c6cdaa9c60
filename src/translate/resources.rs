//! Which Envoy resources carry each served Ingress, so a later "programmed" signal
//! can check ACKs; which Service clusters the winning routes forward to; and
//! the other clusters their policies need (auth services, default-backend
//! aggregates), so none is ever named by a route without being sent.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::model::{
    fallback_cluster_name, Action, AuthServer, CaBundle, ClusterTarget, MergedClientAuth,
    MergedPassthrough, MergedRoutes, MergedTls, RoutePolicy, Winner,
};
use crate::world::ObjectKey;

/// Which Envoy resources carry one served Ingress: route table names, cluster
/// names, secret names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IngressResources {
    /// Route tables holding at least one of its routes.
    pub routes: BTreeSet<String>,
    /// Clusters its routes forward to.
    pub clusters: BTreeSet<String>,
    /// Secrets serving its TLS hosts.
    pub secrets: BTreeSet<String>,
}

/// A cluster a route's policy needs besides its Services' clusters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PolicyCluster<'c> {
    /// An external auth service.
    Auth(&'c AuthServer),
    /// A backend's aggregate with a default backend.
    Fallback {
        /// The backend's cluster.
        main: &'c str,
        /// The default backend's cluster.
        fallback: &'c str,
    },
}

/// What [`collect`] finds.
pub(crate) struct Collected<'c> {
    /// The resources of every served object.
    pub ingresses: BTreeMap<ObjectKey, IngressResources>,
    /// Every Service cluster a winning route forwards to, by name.
    pub targets: BTreeMap<&'c str, &'c Arc<ClusterTarget>>,
    /// Every other cluster the winning routes name, by name.
    pub policy_clusters: BTreeMap<String, PolicyCluster<'c>>,
}

/// The resources of every `served` object (including those that ended up with no
/// route), given the merged model and the route `tables` each route is in; and
/// every cluster a winning route names.
pub(crate) fn collect<'m, 'c>(
    served: impl IntoIterator<Item = &'m ObjectKey>,
    routes: &MergedRoutes<'c>,
    tls: &MergedTls<'c>,
    passthrough: &MergedPassthrough<'c>,
    client_auth: &MergedClientAuth<'c>,
    tables: &[&str],
) -> Collected<'c> {
    let mut ingresses: BTreeMap<ObjectKey, IngressResources> = served
        .into_iter()
        .map(|key| (key.clone(), IngressResources::default()))
        .collect();
    let mut targets: BTreeMap<&'c str, &'c Arc<ClusterTarget>> = BTreeMap::new();
    let mut policy_clusters = BTreeMap::new();
    for winner in routes.all().filter(|w| adds_clusters(&w.served.policy)) {
        if let Some(resources) = ingresses.get_mut(&winner.owner.key) {
            policy(winner, resources, &mut targets, &mut policy_clusters);
        }
    }
    let canaries = routes.all().filter_map(|w| w.canary_winner());
    // An owner's winners mostly come one after another (its host's paths):
    // its entry is looked up once per run of them, not once per path.
    let mut current: Option<(&ObjectKey, &mut IngressResources)> = None;
    for winner in routes.all().copied().chain(canaries) {
        let owner = &winner.owner.key;
        if current.as_ref().is_none_or(|(key, _)| *key != owner) {
            current = ingresses.get_mut(owner).map(|r| (owner, r));
        }
        let Some((_, resources)) = current.as_mut() else {
            continue;
        };
        // Names are copied only the first time: an Ingress has many paths.
        for table in tables {
            if !resources.routes.contains(*table) {
                resources.routes.insert((*table).to_owned());
            }
        }
        let Action::Forward(forward) = &winner.served.action else {
            continue;
        };
        for backend in &forward.backends {
            let target = &backend.cluster;
            if !resources.clusters.contains(&target.name) {
                resources.clusters.insert(target.name.clone());
            }
            targets.entry(&target.name).or_insert(target);
        }
    }
    for winner in passthrough.by_host.values() {
        let target = winner.cluster;
        if let Some(resources) = ingresses.get_mut(&winner.owner.key) {
            resources.clusters.insert(target.name.clone());
        }
        targets.entry(&target.name).or_insert(target);
    }
    let served_tls = served_tls_hosts(tls);
    for (host, (auth, owner)) in &client_auth.by_host {
        if let (true, Some(resources)) = (
            served_tls.contains(host.as_str()),
            ingresses.get_mut(&owner.key),
        ) {
            resources.secrets.insert(auth.ca.name.clone());
        }
    }
    for (owner, secrets) in &tls.by_owner {
        if let Some(resources) = ingresses.get_mut(&owner.key) {
            resources
                .secrets
                .extend(secrets.iter().map(|s| (*s).to_owned()));
        }
    }
    Collected {
        ingresses,
        targets,
        policy_clusters,
    }
}

/// True when `policy` names clusters besides its route's backends ([`policy`]).
fn adds_clusters(policy: &RoutePolicy) -> bool {
    policy.custom_errors.is_some()
        || policy.external_auth.is_some()
        || policy.default_backend.is_some()
}

/// The clusters `winner`'s policy adds: its auth service, its error backend,
/// and the default backend with each backend's aggregate (its canary's backends too, which
/// are rendered under the main route's policy).
fn policy<'c>(
    winner: &Winner<'c>,
    resources: &mut IngressResources,
    targets: &mut BTreeMap<&'c str, &'c Arc<ClusterTarget>>,
    policy_clusters: &mut BTreeMap<String, PolicyCluster<'c>>,
) {
    let policy = &winner.served.policy;
    if let Some(errors) = &policy.custom_errors {
        resources.clusters.insert(errors.backend.name.clone());
        targets
            .entry(&errors.backend.name)
            .or_insert(&errors.backend);
    }
    let mut add = |name: String, cluster: PolicyCluster<'c>| {
        resources.clusters.insert(name.clone());
        policy_clusters.entry(name).or_insert(cluster);
    };
    if let Some(auth) = &policy.external_auth {
        add(
            auth.server.cluster_name(),
            PolicyCluster::Auth(&auth.server),
        );
    }
    let Some(fallback) = &policy.default_backend else {
        return;
    };
    let canary = winner.canary_winner();
    let forwards = [Some(winner.served), canary.map(|c| c.served)];
    let backends = forwards
        .into_iter()
        .flatten()
        .filter_map(|served| match &served.action {
            Action::Forward(forward) => Some(&forward.backends),
            _ => None,
        })
        .flatten();
    let mut any = false;
    for backend in backends.filter(|b| b.cluster.name != fallback.name) {
        any = true;
        let main = backend.cluster.name.as_str();
        add(
            fallback_cluster_name(main, &fallback.name),
            PolicyCluster::Fallback {
                main,
                fallback: &fallback.name,
            },
        );
    }
    if any {
        resources.clusters.insert(fallback.name.clone());
        targets.entry(&fallback.name).or_insert(fallback);
    }
}

/// The CA bundles some served TLS host checks client certificates with, each
/// once, in name order.
pub(crate) fn client_cas<'c>(
    tls: &MergedTls<'_>,
    client_auth: &MergedClientAuth<'c>,
) -> impl Iterator<Item = &'c CaBundle> {
    let served = served_tls_hosts(tls);
    let cas: BTreeMap<&str, &CaBundle> = client_auth
        .by_host
        .iter()
        .filter(|(host, _)| served.contains(host.as_str()))
        .map(|(_, (auth, _))| (auth.ca.name.as_str(), auth.ca.as_ref()))
        .collect();
    cas.into_values()
}

fn served_tls_hosts<'t>(tls: &'t MergedTls<'_>) -> BTreeSet<&'t str> {
    tls.servers
        .values()
        .flat_map(|s| s.hosts.iter().map(|h| h.as_str()))
        .collect()
}

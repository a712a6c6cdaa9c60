//! Which Envoy resources carry each served Ingress, so a later "programmed" signal
//! can check ACKs; and which clusters the winning routes forward to.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::model::{
    Action, CaBundle, ClusterTarget, MergedClientAuth, MergedPassthrough, MergedRoutes, MergedTls,
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

/// The resources of every `served` object (including those that ended up with no
/// route), given the merged model and the route `tables` each route is in; and
/// every cluster a winning route forwards to, by name.
pub(crate) fn collect<'m, 'c>(
    served: impl IntoIterator<Item = &'m ObjectKey>,
    routes: &MergedRoutes<'c>,
    tls: &MergedTls<'c>,
    passthrough: &MergedPassthrough<'c>,
    client_auth: &MergedClientAuth<'c>,
    tables: &[&str],
) -> (
    BTreeMap<ObjectKey, IngressResources>,
    BTreeMap<&'c str, &'c Arc<ClusterTarget>>,
) {
    let mut ingresses: BTreeMap<ObjectKey, IngressResources> = served
        .into_iter()
        .map(|key| (key.clone(), IngressResources::default()))
        .collect();
    let mut targets: BTreeMap<&'c str, &'c Arc<ClusterTarget>> = BTreeMap::new();
    let canaries = routes.all().filter_map(|w| w.canary_winner());
    for winner in routes.all().copied().chain(canaries) {
        let Some(resources) = ingresses.get_mut(&winner.owner.key) else {
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
    (ingresses, targets)
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

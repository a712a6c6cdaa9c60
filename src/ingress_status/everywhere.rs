//! "Programmed on every Envoy" across replicas: each replica knows only the
//! Envoys connected to it; the leader combines their answers.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{info, warn};

use super::peer_fetch::fetch_ingresses;
use crate::admin::http::{ingresses_view, IngressesView};
use crate::admin::IngressState;
use crate::world::ObjectKey;

/// Which Ingresses count as programmed for the status writer.
pub(super) enum ProgrammedCheck {
    /// On the Envoys connected to this replica (a single replica, or no
    /// `--peer-service`).
    Local,
    /// On the Envoys of every replica: this one and those `peers` lists.
    Everywhere {
        /// Admin addresses of the replicas.
        peers: watch::Receiver<Vec<SocketAddr>>,
        /// Peers that did not answer last time (each is reported once).
        unreachable: BTreeSet<SocketAddr>,
    },
}

impl ProgrammedCheck {
    /// The Ingresses of `states` (this replica's view) programmed everywhere
    /// this check looks. A peer that does not answer is skipped (and
    /// reported): a replica that cannot be asked holds nothing back, so a
    /// blocked admin port cannot freeze status forever.
    pub(super) async fn programmed(
        &mut self,
        states: &BTreeMap<ObjectKey, IngressState>,
    ) -> BTreeSet<ObjectKey> {
        let (peers, unreachable) = match self {
            ProgrammedCheck::Local => {
                return states
                    .iter()
                    .filter(|(_, s)| s.programmed)
                    .map(|(k, _)| k.clone())
                    .collect()
            }
            ProgrammedCheck::Everywhere { peers, unreachable } => (peers, unreachable),
        };
        let mut asks = JoinSet::new();
        for addr in peers.borrow().iter().copied() {
            asks.spawn(async move { (addr, fetch_ingresses(addr).await) });
        }
        let mut views = Vec::new();
        while let Some(Ok((addr, answer))) = asks.join_next().await {
            match answer {
                Ok(view) => {
                    if unreachable.remove(&addr) {
                        info!(peer = %addr, "replica answers again");
                    }
                    views.push(view);
                }
                Err(e) => {
                    if unreachable.insert(addr) {
                        warn!(peer = %addr, error = %e, "cannot ask a replica about its Envoys; skipping it");
                    }
                }
            }
        }
        let names = programmed_everywhere(&local_view(states), &views);
        states
            .keys()
            .filter(|k| names.contains(&k.to_string()))
            .cloned()
            .collect()
    }
}

/// This replica's states in the form replicas exchange.
fn local_view(states: &BTreeMap<ObjectKey, IngressState>) -> IngressesView {
    // Every Ingress lists every connected node; the lists are shared, so each
    // distinct one is read once.
    let mut lists: BTreeMap<*const [String], &[String]> = BTreeMap::new();
    for s in states.values() {
        for list in [&s.programmed_on, &s.pending_on] {
            lists.entry(Arc::as_ptr(list)).or_insert(list);
        }
    }
    let connected: BTreeSet<String> = lists.values().flat_map(|l| l.iter()).cloned().collect();
    let version = states.values().find_map(|s| s.version.clone());
    ingresses_view(states, connected.into_iter().collect(), version)
}

/// The Ingresses (`namespace/name`) of `local` programmed on every Envoy of
/// every replica that has Envoys: every such view must be at `local`'s
/// snapshot version (the same cluster state gives the same version on every
/// replica) and list the Ingress as programmed. Empty when no replica has an
/// Envoy: nothing is served, so nothing is programmed.
pub fn programmed_everywhere(local: &IngressesView, peers: &[IngressesView]) -> BTreeSet<String> {
    let with_envoys: Vec<&IngressesView> = std::iter::once(local)
        .chain(peers)
        .filter(|v| !v.connected_nodes.is_empty())
        .collect();
    if with_envoys.is_empty() || with_envoys.iter().any(|v| v.version != local.version) {
        return BTreeSet::new();
    }
    local
        .ingresses
        .iter()
        .map(|i| &i.ingress)
        .filter(|name| {
            with_envoys.iter().all(|v| {
                v.ingresses
                    .iter()
                    .any(|i| i.ingress == **name && i.programmed)
            })
        })
        .cloned()
        .collect()
}

#[cfg(test)]
#[path = "programmed_properties.rs"]
mod properties;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::http::IngressView;

    fn view(version: &str, nodes: &[&str], programmed: &[(&str, bool)]) -> IngressesView {
        IngressesView {
            version: Some(version.to_owned()),
            connected_nodes: nodes.iter().map(|n| n.to_string()).collect(),
            total: programmed.len(),
            programmed: programmed.iter().filter(|p| p.1).count(),
            pending: 0,
            rejected: 0,
            ingresses: programmed
                .iter()
                .map(|(name, programmed)| IngressView {
                    ingress: name.to_string(),
                    programmed: *programmed,
                    programmed_on: Vec::new(),
                    pending_on: Vec::new(),
                    rejected: None,
                    diagnostics: Vec::new(),
                })
                .collect(),
        }
    }

    fn names(set: BTreeSet<String>) -> Vec<String> {
        set.into_iter().collect()
    }

    #[test]
    fn a_leader_without_envoys_relies_on_its_peers() {
        let local = view("v1", &[], &[("ns/a", false), ("ns/b", false)]);
        let peer = view("v1", &["e1"], &[("ns/a", true), ("ns/b", false)]);
        assert_eq!(names(programmed_everywhere(&local, &[peer])), ["ns/a"]);
    }

    #[test]
    fn every_replica_with_envoys_must_have_it() {
        let local = view("v1", &["e0"], &[("ns/a", true), ("ns/b", true)]);
        let peer = view("v1", &["e1"], &[("ns/a", true), ("ns/b", false)]);
        let idle = view("v1", &[], &[("ns/a", false), ("ns/b", false)]);
        assert_eq!(
            names(programmed_everywhere(&local, &[peer, idle])),
            ["ns/a"]
        );
    }

    #[test]
    fn a_peer_at_another_version_holds_everything_back() {
        let local = view("v2", &["e0"], &[("ns/a", true)]);
        let peer = view("v1", &["e1"], &[("ns/a", true)]);
        assert!(programmed_everywhere(&local, &[peer]).is_empty());
    }

    #[test]
    fn no_envoy_anywhere_means_nothing_is_programmed() {
        let local = view("v1", &[], &[("ns/a", false)]);
        assert!(programmed_everywhere(&local, std::slice::from_ref(&local)).is_empty());
    }
}

//! What one Envoy-like client holds, and the two questions a bench asks of it:
//! is its config complete (every cluster has its endpoints, every listener its
//! route tables, as Envoy needs before it serves), and does it hold a route to
//! the probe host with the cluster and endpoints behind it.

use std::collections::{BTreeMap, BTreeSet};

use prost::bytes::Bytes;

use crate::snapshot::{seek_name, Name};

use super::decode::{
    cluster_cla, listener_routes, load_assignment_endpoints, route_clusters_for_host,
    route_table_name, DecodeError,
};
use super::Probe;

/// One client's config, by type.
#[derive(Debug, Default)]
pub(super) struct Held {
    /// Cluster → the CLA it waits for (EDS clusters only).
    clusters: BTreeMap<Name, Option<Name>>,
    /// CLA → how many endpoints it lists.
    endpoints: BTreeMap<Name, usize>,
    /// Listener → the route tables it names.
    listeners: BTreeMap<Name, Vec<Name>>,
    /// Route table → (probe it was read for, the clusters it routes the probe to).
    routes: BTreeMap<Name, (u64, Vec<Name>)>,
    got_clusters: bool,
    got_listeners: bool,
}

/// A resource type the client follows.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Part {
    Clusters,
    Endpoints,
    Listeners,
    Routes,
}

// === impl Held ===

impl Held {
    /// SotW: `bodies` is the whole set of `part` now.
    pub fn replace(
        &mut self,
        part: Part,
        bodies: &[&Bytes],
        probe: Option<&Probe>,
    ) -> Result<(), DecodeError> {
        match part {
            Part::Clusters => self.clusters.clear(),
            Part::Endpoints => self.endpoints.clear(),
            Part::Listeners => self.listeners.clear(),
            Part::Routes => self.routes.clear(),
        }
        self.upsert(part, bodies, probe)
    }

    /// Delta (and SotW after clearing): add or replace these resources.
    pub fn upsert(
        &mut self,
        part: Part,
        bodies: &[&Bytes],
        probe: Option<&Probe>,
    ) -> Result<(), DecodeError> {
        for body in bodies {
            match part {
                Part::Clusters => {
                    let (name, cla) = cluster_cla(body)?;
                    self.clusters.insert(name, cla);
                }
                Part::Endpoints => {
                    let (name, count) = load_assignment_endpoints(body)?;
                    self.endpoints.insert(name, count);
                }
                Part::Listeners => {
                    let (name, routes) = listener_routes(body)?;
                    self.listeners.insert(name, routes);
                }
                Part::Routes => {
                    // Most tables do not mention the probe's host at all: a byte
                    // search spares decoding their virtual hosts.
                    let mentions =
                        |p: &Probe| memchr::memmem::find(body, p.host.as_bytes()).is_some();
                    let (name, entry) = match probe.filter(|p| mentions(p)) {
                        Some(probe) => {
                            let (name, clusters) = route_clusters_for_host(body, &probe.host)?;
                            (name, (probe.id, clusters))
                        }
                        None => (
                            route_table_name(body)?,
                            (probe.map_or(0, |p| p.id), Vec::new()),
                        ),
                    };
                    self.routes.insert(name, entry);
                }
            }
        }
        match part {
            Part::Clusters => self.got_clusters = true,
            Part::Listeners => self.got_listeners = true,
            Part::Endpoints | Part::Routes => {}
        }
        Ok(())
    }

    /// Delta: drop these names.
    pub fn remove(&mut self, part: Part, names: &[String]) {
        for name in names.iter().map(String::as_str) {
            match part {
                Part::Clusters => drop(self.clusters.remove(name)),
                Part::Endpoints => drop(self.endpoints.remove(name)),
                Part::Listeners => drop(self.listeners.remove(name)),
                Part::Routes => drop(self.routes.remove(name)),
            }
        }
    }

    /// The CLAs the held clusters wait for: the EDS subscription.
    pub fn wanted_endpoints(&self) -> BTreeSet<Name> {
        self.clusters.values().flatten().cloned().collect()
    }

    /// The route tables the held listeners name: the RDS subscription.
    pub fn wanted_routes(&self) -> BTreeSet<Name> {
        self.listeners.values().flatten().cloned().collect()
    }

    /// Everything Envoy needs before it serves: clusters and listeners received,
    /// every EDS cluster's endpoints and every named route table held.
    pub fn complete(&self) -> bool {
        self.got_clusters
            && self.got_listeners
            && self
                .listeners
                .values()
                .flatten()
                .all(|table| self.routes.contains_key(table))
            && self.every_cluster_has_endpoints()
    }

    /// Walks clusters and CLAs side by side: a CLA is usually named after its
    /// cluster, and the names are interned, so most steps compare addresses.
    /// A CLA out of that order is looked up.
    fn every_cluster_has_endpoints(&self) -> bool {
        let mut held = self.endpoints.keys().peekable();
        self.clusters.values().flatten().all(|cla| {
            seek_name(&mut held, cla, |n| n).is_some() || self.endpoints.contains_key(cla)
        })
    }

    /// A held route table routes `probe`'s host to a held cluster whose endpoints
    /// are held and not empty: a request for the host would reach a backend.
    pub fn holds(&self, probe: &Probe) -> bool {
        let named = |table: &Name| self.listeners.values().flatten().any(|t| t == table);
        self.routes
            .iter()
            .filter(|(name, (id, _))| *id == probe.id && named(name))
            .flat_map(|(_, (_, clusters))| clusters)
            .any(|cluster| match self.clusters.get(cluster) {
                Some(Some(cla)) => self.endpoints.get(cla).is_some_and(|n| *n > 0),
                Some(None) => true,
                None => false,
            })
    }
}

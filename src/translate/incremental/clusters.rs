//! Clusters and their endpoints, kept per cluster name: a cluster exists while
//! some winning route forwards to it, and its assignment is recomputed only
//! when it appears, its target changes, or its Service's slices change.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;

use super::tally::Tally;
use crate::fan_out;
use crate::translate::diagnostic::Diagnostics;
use crate::translate::model::ClusterTarget;
use crate::translate::render;
use crate::translate::source::endpoint_slice::SliceIndex;
use crate::translate::Diagnostic;
use crate::world::{ObjectKey, World};

/// Cluster targets with how many (virtual host, owner) pairs forward to each,
/// and what was last emitted per cluster name.
#[derive(Debug, Default)]
pub(super) struct Clusters {
    refs: BTreeMap<Arc<ClusterTarget>, usize>,
    live: BTreeMap<String, Live>,
    dirty: BTreeSet<String>,
    /// `live`'s names, kept while its key set stands (route tables reference
    /// them all, and 10,000 names take a while to collect).
    names: Option<Vec<String>>,
}

/// An emitted cluster: its target and what reading its slices reported.
#[derive(Debug)]
struct Live {
    target: Arc<ClusterTarget>,
    diagnostics: Vec<Diagnostic>,
}

/// Changes to the cluster and endpoint resources.
#[derive(Debug, Default)]
pub(super) struct ClusterChanges {
    /// Targets of the clusters added or replaced (rendered as they are
    /// encoded: a full build's 50,000 Envoy clusters are never all held).
    pub(super) clusters: Vec<Arc<ClusterTarget>>,
    /// Assignments added or replaced.
    pub(super) endpoints: Vec<ClusterLoadAssignment>,
    /// Names of clusters (and their assignments) gone.
    pub(super) removed: Vec<String>,
}

// === impl Clusters ===

impl Clusters {
    /// One more route owner forwards to each of `targets`.
    pub(super) fn add<'a>(&mut self, targets: impl IntoIterator<Item = &'a Arc<ClusterTarget>>) {
        for target in targets {
            let count = self.refs.entry(Arc::clone(target)).or_default();
            if *count == 0 {
                self.dirty.insert(target.name.clone());
            }
            *count += 1;
        }
    }

    /// One route owner fewer forwards to each of `targets` (added before).
    pub(super) fn remove<'a>(&mut self, targets: impl IntoIterator<Item = &'a Arc<ClusterTarget>>) {
        for target in targets {
            if let Some(count) = self.refs.get_mut(target) {
                *count -= 1;
                if *count == 0 {
                    self.refs.remove(target);
                    self.dirty.insert(target.name.clone());
                }
            }
        }
    }

    /// The slices of `services` changed: their clusters' assignments are redone.
    pub(super) fn slices_changed(&mut self, services: &BTreeSet<ObjectKey>) {
        if services.is_empty() {
            return;
        }
        for (name, live) in &self.live {
            if services.contains(&live.target.service) {
                self.dirty.insert(name.clone());
            }
        }
    }

    /// Every cluster name, sorted: what the route tables reference.
    pub(super) fn names(&mut self) -> &[String] {
        let live = &self.live;
        self.names
            .get_or_insert_with(|| live.keys().cloned().collect())
    }

    /// The target now named `name`, if any route forwards to it. With two
    /// different targets of one name (which a consistent world does not have)
    /// the smallest wins.
    fn current(&self, name: &str) -> Option<&Arc<ClusterTarget>> {
        let probe = Arc::new(ClusterTarget {
            name: name.to_owned(),
            service: ObjectKey::default(),
            port_name: None,
            port: i32::MIN,
            settings: Default::default(),
        });
        self.refs
            .range(probe..)
            .next()
            .map(|(target, _)| target)
            .filter(|target| target.name == name)
    }

    /// Renders what changed since the last call, reading slices from `world`,
    /// and keeps the diagnostics in `tally`.
    pub(super) fn take_changes(&mut self, world: &World, tally: &mut Tally) -> ClusterChanges {
        let dirty = std::mem::take(&mut self.dirty);
        let mut changes = ClusterChanges::default();
        let mut wanted: Vec<Arc<ClusterTarget>> = Vec::new();
        for name in dirty {
            match self.current(&name).cloned() {
                Some(target) => {
                    let same = self.live.get(&name).is_some_and(|l| l.target == target);
                    if !same {
                        changes.clusters.push(Arc::clone(&target));
                    }
                    wanted.push(target);
                }
                None => {
                    if let Some(live) = self.live.remove(&name) {
                        self.names = None;
                        tally.remove(&live.diagnostics);
                        changes.removed.push(name);
                    }
                }
            }
        }
        let services: BTreeSet<&ObjectKey> = wanted.iter().map(|t| &t.service).collect();
        let slices = SliceIndex::of_services(world, &services);
        // Independent per target: a full rebuild's 50,000 use every core.
        let assigned = fan_out::map(wanted.iter().collect(), |target: &Arc<ClusterTarget>| {
            let mut diagnostics = Diagnostics::default();
            let addresses = slices.ready_addresses(target, &mut diagnostics);
            (
                render::endpoints::load_assignment(&target.name, addresses),
                diagnostics.finish(),
            )
        });
        for (target, (assignment, diagnostics)) in wanted.iter().zip(assigned) {
            changes.endpoints.push(assignment);
            let old = self.live.insert(
                target.name.clone(),
                Live {
                    target: Arc::clone(target),
                    diagnostics,
                },
            );
            if old.is_none() {
                // A name the route tables did not reference yet.
                self.names = None;
            }
            let new = self
                .live
                .get(&target.name)
                .map(|l| l.diagnostics.as_slice());
            let old = old.map(|l| l.diagnostics).unwrap_or_default();
            tally.replace(&old, new.unwrap_or_default());
        }
        changes
    }
}

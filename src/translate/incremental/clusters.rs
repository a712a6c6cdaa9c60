//! Clusters and their endpoints, kept per cluster name: a cluster exists while
//! some winning route forwards to it, and its assignment is recomputed only
//! when it appears, its target changes, or its Service's slices change.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;

use super::tally::Tally;
use crate::fan_out;
use crate::snapshot::seek_name;
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

    /// [`Clusters::add`] of many targets at once (a full rebuild's 50,000):
    /// counted in sorted runs and merged with the counts in one pass.
    pub(super) fn add_all(&mut self, mut targets: Vec<Arc<ClusterTarget>>) {
        targets.sort_unstable();
        let mut runs: Vec<(Arc<ClusterTarget>, usize)> = Vec::new();
        for target in targets {
            match runs.last_mut() {
                Some((last, count)) if *last == target => *count += 1,
                _ => runs.push((target, 1)),
            }
        }
        let mut held = std::mem::take(&mut self.refs).into_iter().peekable();
        let mut merged = Vec::with_capacity(runs.len());
        let mut new_names = Vec::new();
        for (target, count) in runs {
            while let Some(smaller) = held.next_if(|(h, _)| *h < target) {
                merged.push(smaller);
            }
            match held.next_if(|(h, _)| *h == target) {
                Some((target, before)) => merged.push((target, before + count)),
                None => {
                    new_names.push(target.name.clone());
                    merged.push((target, count));
                }
            }
        }
        merged.extend(held);
        self.refs = merged.into_iter().collect();
        self.dirty.extend(new_names);
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

    /// The targets now named by `dirty` that differ from what was emitted
    /// (in `changes`), and all of them (to assign); names no route forwards
    /// to any more are removed.
    fn wanted_among(
        &mut self,
        dirty: BTreeSet<String>,
        changes: &mut ClusterChanges,
        tally: &mut Tally,
    ) -> Vec<Arc<ClusterTarget>> {
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
        wanted
    }

    /// [`Clusters::current`] of every name in `dirty` that has a target, in
    /// one walk of the counts (sorted by name first) instead of a search per
    /// name.
    fn first_targets(&self, dirty: &BTreeSet<String>) -> Vec<Arc<ClusterTarget>> {
        let mut dirty = dirty.iter().peekable();
        // A name's first target takes the name out of `dirty`: later
        // targets of that name find it gone.
        self.refs
            .keys()
            .filter(|target| seek_name(&mut dirty, &target.name, |d| d.as_str()).is_some())
            .cloned()
            .collect()
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
        // Nothing emitted yet (a full rebuild): every dirty name is new.
        let fresh = self.live.is_empty();
        let wanted = match fresh {
            true => {
                let wanted = self.first_targets(&dirty);
                changes.clusters.clone_from(&wanted);
                wanted
            }
            false => self.wanted_among(dirty, &mut changes, tally),
        };
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
        let mut emitted = Vec::with_capacity(wanted.len());
        for (target, (assignment, diagnostics)) in wanted.iter().zip(assigned) {
            changes.endpoints.push(assignment);
            let target = Arc::clone(target);
            emitted.push((
                target.name.clone(),
                Live {
                    target,
                    diagnostics,
                },
            ));
        }
        self.keep(emitted, tally);
        changes
    }

    /// Records what was emitted per cluster name (sorted), its diagnostics
    /// replacing the name's old ones in `tally`. Into an empty map (a full
    /// rebuild) as one sorted run, not 50,000 inserts.
    fn keep(&mut self, emitted: Vec<(String, Live)>, tally: &mut Tally) {
        if self.live.is_empty() {
            for (_, live) in &emitted {
                tally.add(&live.diagnostics);
            }
            self.live = emitted.into_iter().collect();
            self.names = None;
            return;
        }
        for (name, new) in emitted {
            let old = self.live.get(&name).map_or(&[][..], |l| &l.diagnostics);
            tally.replace(old, &new.diagnostics);
            if self.live.insert(name, new).is_none() {
                // A name the route tables did not reference yet.
                self.names = None;
            }
        }
    }
}

//! The pure core of the pipeline: the world, what changed in it since the last
//! build, and what that build left behind, so each build does only the work the
//! changes require. No I/O, no clock: the pipeline adds the sync gate, debounce,
//! publishing and logs; benches and tests drive it directly.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::snapshot::{InconsistentSnapshot, Snapshot};
use crate::translate::{translate, Diagnostic, IngressResources, TranslateConfig};
use crate::translate::{ServiceClusters, Translation};
use crate::validate::validate;
use crate::world::{service_of, Change, Kind, ObjectKey, World, WorldEvent};

use super::endpoints_only::{rebuild_endpoints, Edited};
use super::pending::Pending;

/// How a build was done.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BuildPath {
    /// Translate and validate everything.
    Full,
    /// Only EndpointSlices changed: their Services' assignments were recomputed
    /// and the last snapshot edited.
    EndpointsOnly,
    /// Nothing that reaches Envoy changed: the last snapshot stands.
    Unchanged,
}

/// One build's outcome.
#[derive(Debug)]
pub struct Build {
    /// How it was done.
    pub path: BuildPath,
    /// The snapshot to publish, or why the translation cannot be published (the
    /// last good snapshot then stays).
    pub snapshot: Result<Arc<Snapshot>, InconsistentSnapshot>,
}

/// Applies world events and builds snapshots, incrementally when it can. Every
/// build equals a full translate + validate of the same world.
pub struct Rebuilder {
    config: TranslateConfig,
    world: World,
    pending: Pending,
    /// The last good snapshot (a full rebuild shares unchanged resources with it).
    last: Option<Arc<Snapshot>>,
    /// The clusters of the translation `last` was built from; `None` when the next
    /// build must be full (nothing built yet, or the last translation failed
    /// validation, so `last` no longer matches it).
    clusters: Option<ServiceClusters>,
    diagnostics: Arc<Vec<Diagnostic>>,
    ingresses: Arc<BTreeMap<ObjectKey, IngressResources>>,
}

impl Rebuilder {
    /// An empty world; the first build is full.
    pub fn new(config: TranslateConfig) -> Self {
        Rebuilder {
            config,
            world: World::new(),
            pending: Pending::default(),
            last: None,
            clusters: None,
            diagnostics: Arc::default(),
            ingresses: Arc::default(),
        }
    }

    /// The current world.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// Diagnostics of the latest build (shared with the status until it changes).
    pub fn diagnostics(&self) -> &Arc<Vec<Diagnostic>> {
        &self.diagnostics
    }

    /// Served Ingresses of the latest build and the resources carrying each.
    pub fn ingresses(&self) -> &Arc<BTreeMap<ObjectKey, IngressResources>> {
        &self.ingresses
    }

    /// Applies one event; true when the world changed.
    pub fn apply(&mut self, event: WorldEvent) -> bool {
        self.apply_change(event).is_change()
    }

    /// Applies one event and says what changed (for publish reports).
    pub fn apply_change(&mut self, event: WorldEvent) -> Change {
        let slice = self.slice_of(&event);
        let before = slice.as_ref().and_then(|key| self.service_of_slice(key));
        let change = self.world.apply(event);
        let after = slice.as_ref().and_then(|key| self.service_of_slice(key));
        self.pending.record(change.clone(), [before, after]);
        change
    }

    /// Builds the snapshot for the current world: endpoints-only when only
    /// EndpointSlices changed since the last good build, full otherwise (or when
    /// the endpoints-only edit fails, which it should not).
    pub fn build(&mut self) -> Build {
        let pending = std::mem::take(&mut self.pending);
        if let (Some(last), Some(clusters)) = (&self.last, &self.clusters) {
            if pending.is_empty() {
                return self.unchanged(Arc::clone(last));
            }
            if !pending.full {
                let update =
                    rebuild_endpoints(&self.world, last, clusters, &pending, &self.diagnostics);
                match update {
                    Ok(None) => return self.unchanged(Arc::clone(last)),
                    Ok(Some(Edited {
                        snapshot,
                        diagnostics,
                    })) => {
                        if let Some(diagnostics) = diagnostics {
                            self.diagnostics = Arc::new(diagnostics);
                        }
                        return self.edited(snapshot);
                    }
                    // Cannot happen (assignments reference nothing); a full
                    // build is correct in any case.
                    Err(_) => {}
                }
            }
        }
        self.full()
    }

    fn unchanged(&self, last: Arc<Snapshot>) -> Build {
        Build {
            path: BuildPath::Unchanged,
            snapshot: Ok(last),
        }
    }

    /// Keeps `snapshot` as the last one, unless it is identical to it (a slice
    /// change that Envoy cannot see), so streams keep comparing the same `Arc`.
    fn edited(&mut self, snapshot: Snapshot) -> Build {
        let snapshot = match &self.last {
            Some(last) if last.version() == snapshot.version() => Arc::clone(last),
            _ => Arc::new(snapshot),
        };
        self.last = Some(Arc::clone(&snapshot));
        Build {
            path: BuildPath::EndpointsOnly,
            snapshot: Ok(snapshot),
        }
    }

    fn full(&mut self) -> Build {
        let mut translation = translate(&self.world, &self.config);
        let Translation {
            diagnostics,
            ingresses,
            service_clusters,
            ..
        } = &mut translation;
        self.diagnostics = Arc::new(std::mem::take(diagnostics));
        self.ingresses = Arc::new(std::mem::take(ingresses));
        let clusters = std::mem::take(service_clusters);
        let snapshot = match validate(&mut translation, self.last.as_deref()) {
            Ok(snapshot) => {
                let snapshot = Arc::new(snapshot);
                self.last = Some(Arc::clone(&snapshot));
                self.clusters = Some(clusters);
                Ok(snapshot)
            }
            Err(e) => {
                self.clusters = None;
                Err(e)
            }
        };
        Build {
            path: BuildPath::Full,
            snapshot,
        }
    }

    /// The EndpointSlice an event is about, while a slice change can still be
    /// built incrementally.
    fn slice_of(&self, event: &WorldEvent) -> Option<ObjectKey> {
        if self.pending.full {
            return None;
        }
        match event {
            WorldEvent::Upsert(object) if object.kind() == Kind::EndpointSlice => {
                object.reference().map(|r| r.key)
            }
            WorldEvent::Delete(reference) if reference.kind == Kind::EndpointSlice => {
                Some(reference.key.clone())
            }
            _ => None,
        }
    }

    fn service_of_slice(&self, key: &ObjectKey) -> Option<ObjectKey> {
        let slice = self.world.endpoint_slices.get(key)?;
        service_of(key, slice)
    }
}

//! The pure core of the pipeline: the world, what changed in it since the last
//! build, and what that build left behind, so each build does only the work the
//! changes require. No I/O, no clock: the pipeline adds the sync gate, debounce,
//! publishing and logs; benches and tests drive it directly.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::snapshot::{InconsistentSnapshot, Snapshot};
use crate::translate::incremental::{Changes, Emitted, Translator};
use crate::translate::{translate, Diagnostic, IngressResources, TranslateConfig};
use crate::validate::validate;
use crate::world::{
    service_of, without_data, Change, Kind, Object, ObjectKey, ObjectRef, SecretRefetch, Stored,
    World, WorldEvent,
};

use super::containment::Overlay;
use super::pending::Pending;
use super::secret_keeping::{secret_ref, SecretKeeping};

/// How a build was done.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BuildPath {
    /// Translate and validate everything.
    Full,
    /// Ingresses, Services or Secrets changed (and maybe slices): the
    /// incremental translator read again only what depends on them, merged
    /// again only the hosts they touch, and the last snapshot was edited.
    Incremental,
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
/// build equals a full translate + validate of what is served: the world, with
/// the objects NACK containment pins (the overlay) at their pinned versions.
pub struct Rebuilder {
    config: TranslateConfig,
    world: World,
    /// The world with the overlay applied: what is translated.
    served: World,
    overlay: Overlay,
    /// Served versions before their first change since `take_changes`.
    changes: BTreeMap<ObjectRef, Option<Stored>>,
    /// Keeps unnamed Secrets' data out of memory, when the source can send it
    /// again.
    secrets: Option<SecretKeeping>,
    pending: Pending,
    /// The last good snapshot (a full rebuild shares unchanged resources with it).
    last: Option<Arc<Snapshot>>,
    /// What `last` was translated from, kept per object and per host, so a
    /// change redoes only what depends on it.
    translator: Translator,
    /// The translator's state is `last`'s; false when the next build must be
    /// full (nothing built yet, or the last translation failed validation, so
    /// `last` no longer matches it).
    in_step: bool,
    /// `last` came from the reference translator (some contribution is not
    /// plain): once all are plain again, the next build is full.
    by_reference: bool,
    diagnostics: Arc<Vec<Diagnostic>>,
    ingresses: Arc<BTreeMap<ObjectKey, IngressResources>>,
}

impl Rebuilder {
    /// An empty world; the first build is full.
    pub fn new(config: TranslateConfig) -> Self {
        Rebuilder {
            config: config.clone(),
            world: World::new(),
            served: World::new(),
            overlay: Overlay::new(),
            changes: BTreeMap::new(),
            secrets: None,
            pending: Pending::default(),
            last: None,
            translator: Translator::new(config.clone()),
            in_step: false,
            by_reference: false,
            diagnostics: Arc::default(),
            ingresses: Arc::default(),
        }
    }

    /// The current world, as the sources say.
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

    /// Applies one event; true when what is served changed.
    pub fn apply(&mut self, event: WorldEvent) -> bool {
        self.apply_change(event).is_change()
    }

    /// Applies one event and says what it changed in what is served (an object
    /// the overlay pins changes in the world only).
    pub fn apply_change(&mut self, event: WorldEvent) -> Change {
        let (event, naming) = self.secrets_before(event);
        let change = self.apply_served(event);
        self.secrets_after(naming);
        change
    }

    fn apply_served(&mut self, event: WorldEvent) -> Change {
        let relisted = match &event {
            WorldEvent::Replace { kind, .. } => self.world.refs(*kind),
            _ => Vec::new(),
        };
        let change = self.world.apply(event);
        let touched = match &change {
            Change::Unchanged => return Change::Unchanged,
            Change::Object(object) => vec![object.clone()],
            Change::Kind(kind) => {
                let mut all = relisted;
                all.extend(self.world.refs(*kind));
                all.sort();
                all.dedup();
                all
            }
        };
        let mut served = false;
        for object in &touched {
            if !self.overlay.contains_key(object) {
                served |= self.serve(object, self.world.get(object));
            }
        }
        match change {
            _ if !served => Change::Unchanged,
            Change::Kind(kind) => {
                self.pending.record(Change::Kind(kind), [None, None]);
                Change::Kind(kind)
            }
            change => change,
        }
    }

    /// Keeps only named Secrets' data from now on, asking `refetch` for data
    /// dropped once a Secret is named again (the Kubernetes source).
    pub fn with_secret_refetch(mut self, refetch: Option<SecretRefetch>) -> Self {
        self.secrets = refetch.map(SecretKeeping::new);
        self
    }

    /// `event` as Secret keeping admits it, and for an Ingress change which
    /// Ingresses it touches and the Secrets they named before.
    fn secrets_before(&mut self, event: WorldEvent) -> (WorldEvent, Option<Naming>) {
        let Some(keeping) = &mut self.secrets else {
            return (event, None);
        };
        let event = keeping.admit(event);
        let which = match &event {
            WorldEvent::Upsert(Object::Ingress(_)) | WorldEvent::Delete(_) => {
                let key = match &event {
                    WorldEvent::Upsert(object) => object.reference(),
                    WorldEvent::Delete(object) => Some(object.clone()),
                    _ => None,
                };
                match key {
                    Some(r) if r.kind == Kind::Ingress => Some(Some(r.key)),
                    _ => None,
                }
            }
            WorldEvent::Replace {
                kind: Kind::Ingress,
                ..
            } => Some(None),
            _ => None,
        };
        let naming = which.map(|which| {
            let before =
                SecretKeeping::named_by(&self.world, |k| which.as_ref().is_none_or(|w| w == k));
            Naming { which, before }
        });
        (event, naming)
    }

    /// Updates which Secrets are named after an Ingress change, and drops the
    /// data of those no longer named.
    fn secrets_after(&mut self, naming: Option<Naming>) {
        let (Some(keeping), Some(Naming { which, before })) = (&mut self.secrets, naming) else {
            return;
        };
        let after = SecretKeeping::named_by(&self.world, |k| which.as_ref().is_none_or(|w| w == k));
        let unnamed = keeping.ingresses_changed(before, after, which.is_none(), &self.world);
        for key in &unnamed {
            keeping.stripped(key.clone());
        }
        for key in unnamed {
            let object = secret_ref(key);
            if let Some(Stored::Secret(secret)) = self.world.get(&object) {
                let kept = Stored::Secret(Arc::new(without_data(&secret)));
                self.world.set(&object, Some(kept));
                if !self.overlay.contains_key(&object) {
                    self.serve(&object, self.world.get(&object));
                }
            }
        }
    }

    /// Serves `overlay`'s versions of its objects instead of the world's (NACK
    /// containment); objects it no longer names are served as in the world.
    pub fn set_overlay(&mut self, overlay: Overlay) {
        let old = std::mem::replace(&mut self.overlay, overlay);
        let objects: BTreeSet<ObjectRef> = old
            .into_keys()
            .chain(self.overlay.keys().cloned())
            .collect();
        for object in objects {
            let value = match self.overlay.get(&object) {
                Some(pinned) => pinned.clone(),
                None => self.world.get(&object),
            };
            self.serve(&object, value);
        }
    }

    /// The version of `object` served now.
    pub fn served(&self, object: &ObjectRef) -> Option<Stored> {
        self.served.get(object)
    }

    /// The served version of every object changed since the last call, before
    /// its first change.
    pub fn take_changes(&mut self) -> BTreeMap<ObjectRef, Option<Stored>> {
        std::mem::take(&mut self.changes)
    }

    /// Serves `value` for `object`; true when that changed what is served.
    fn serve(&mut self, object: &ObjectRef, value: Option<Stored>) -> bool {
        let before = self.served.get(object);
        if before == value {
            return false;
        }
        let service = |v: &Option<Stored>| match v {
            Some(Stored::EndpointSlice(slice)) => service_of(&object.key, slice),
            _ => None,
        };
        let services = [service(&before), service(&value)];
        self.served.set(object, value);
        self.pending
            .record(Change::Object(object.clone()), services);
        self.changes.entry(object.clone()).or_insert(before);
        true
    }

    /// Builds the snapshot for the current world: incremental when only
    /// Ingresses, Services, Secrets and EndpointSlices changed since the last
    /// good build, full otherwise.
    pub fn build(&mut self) -> Build {
        let pending = std::mem::take(&mut self.pending);
        let last = match &self.last {
            Some(last) if self.in_step && !pending.full => Arc::clone(last),
            _ => return self.full(),
        };
        if pending.is_empty() {
            return self.unchanged(last);
        }
        let path = if pending.objects.is_empty() {
            BuildPath::EndpointsOnly
        } else {
            BuildPath::Incremental
        };
        let changes = Changes {
            objects: pending.objects,
            slice_services: pending.services,
        };
        self.translator.update(&self.served, &changes);
        if !self.translator.plain() {
            return self.reference();
        }
        if self.by_reference {
            return self.full();
        }
        let emitted = self.translator.emit(&self.served, &last);
        match self.report(emitted) {
            None => self.unchanged(last),
            Some(Ok(snapshot)) => self.edited(snapshot, path),
            Some(Err(e)) => {
                self.in_step = false;
                Build {
                    path,
                    snapshot: Err(e),
                }
            }
        }
    }

    /// Keeps the report of `emitted` and hands back its snapshot.
    fn report(&mut self, emitted: Emitted) -> Option<Result<Snapshot, InconsistentSnapshot>> {
        if let Some(diagnostics) = emitted.diagnostics {
            self.diagnostics = Arc::new(diagnostics);
        }
        if let Some(ingresses) = emitted.ingresses {
            self.ingresses = ingresses;
        }
        emitted.snapshot
    }

    fn unchanged(&self, last: Arc<Snapshot>) -> Build {
        Build {
            path: BuildPath::Unchanged,
            snapshot: Ok(last),
        }
    }

    /// Keeps `snapshot` as the last one, unless it is identical to it (a change
    /// that Envoy cannot see), so streams keep comparing the same `Arc`.
    fn edited(&mut self, snapshot: Snapshot, path: BuildPath) -> Build {
        let snapshot = match &self.last {
            Some(last) if last.version() == snapshot.version() => Arc::clone(last),
            _ => Arc::new(snapshot),
        };
        self.last = Some(Arc::clone(&snapshot));
        Build {
            path,
            snapshot: Ok(snapshot),
        }
    }

    /// Reads everything again: the same as `translate` + `validate`, built
    /// through the incremental translator so it is in step afterwards.
    fn full(&mut self) -> Build {
        self.translator.rebuild(&self.served);
        if !self.translator.plain() {
            return self.reference();
        }
        self.by_reference = false;
        let emitted = self
            .translator
            .emit_full(&self.served, self.last.as_deref());
        // A full emit always carries a snapshot.
        let built = self
            .report(emitted)
            .unwrap_or_else(|| Snapshot::builder().build());
        let snapshot = match built {
            Ok(snapshot) => {
                let snapshot = Arc::new(snapshot);
                self.last = Some(Arc::clone(&snapshot));
                self.in_step = true;
                Ok(snapshot)
            }
            Err(e) => {
                self.in_step = false;
                Err(e)
            }
        };
        Build {
            path: BuildPath::Full,
            snapshot,
        }
    }
}

// === impl Rebuilder (reference path) ===

impl Rebuilder {
    /// Translates and validates everything with the reference translator,
    /// for what the incremental one does not render exactly (canaries, HTTPS
    /// redirects: see [`Translator::plain`]). The translator has kept up with
    /// the world; it takes over again, with a full build, once every
    /// contribution is plain.
    fn reference(&mut self) -> Build {
        let mut translation = translate(&self.served, &self.config);
        let built = validate(&mut translation, self.last.as_deref());
        self.diagnostics = Arc::new(std::mem::take(&mut translation.diagnostics));
        self.ingresses = Arc::new(std::mem::take(&mut translation.ingresses));
        self.by_reference = true;
        self.in_step = true;
        match built {
            Ok(snapshot) => self.edited(snapshot, BuildPath::Full),
            Err(e) => Build {
                path: BuildPath::Full,
                snapshot: Err(e),
            },
        }
    }
}

/// The Ingresses an event touches (`None`: all, a re-list) and the Secrets
/// they named before it.
struct Naming {
    which: Option<ObjectKey>,
    before: Vec<ObjectKey>,
}

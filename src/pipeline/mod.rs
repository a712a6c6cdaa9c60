//! The pipeline: world events in, snapshots out. It holds the sync gate
//! (invariant 1), debounces (invariant 4), and has its [`Rebuilder`] (which owns
//! the world) build each snapshot — translate → validate, or just the changed
//! endpoints when only EndpointSlices changed — then publishes it, keeping the
//! last good snapshot when validation fails. What Envoys make of each snapshot
//! comes back through the store as verdicts, and [`containment`] keeps what
//! they reject out of the next one (invariant 6).

pub mod containment;
mod pending;
mod rebuild;
mod secret_keeping;
mod status;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;
use tracing::{error, info, warn};

use crate::debounce::{self, DebounceConfig, Debouncer};
use crate::snapshot::{SnapshotStore, Verdict, VerdictReceiver};
use crate::translate::{Diagnostic, Severity, TranslateConfig};
use crate::world::{Change, ObjectRef, SyncGate, WorldEvent};

use containment::{Containment, Decision, QuarantinedObject};

pub use rebuild::{Build, BuildPath, Rebuilder};
pub use status::{PipelineStatus, StatusHandle};

/// Events applied per wake-up before deciding whether to publish, so a burst that
/// is already queued becomes one decision.
const DRAIN_LIMIT: usize = 4096;

/// Settings of the pipeline.
#[derive(Clone, Debug, Default)]
pub struct PipelineConfig {
    /// How objects become Envoy config.
    pub translate: TranslateConfig,
    /// How changes are batched.
    pub debounce: DebounceConfig,
    /// Where to ask for a Secret's data again: with it, the data of Secrets no
    /// Ingress names is not kept in memory.
    pub secret_refetch: Option<crate::world::SecretRefetch>,
}

/// Turns world events into published snapshots.
pub struct Pipeline {
    rebuilder: Rebuilder,
    gate: SyncGate,
    debouncer: Debouncer,
    store: SnapshotStore,
    status: StatusHandle,
    reported: BTreeSet<String>,
    /// The diagnostics `reported` was made from (skips re-reporting unchanged ones).
    reported_from: Option<Arc<Vec<Diagnostic>>>,
    publishes: u64,
    /// When the oldest change not yet published arrived (for event-to-publish latency).
    first_change: Option<Instant>,
    /// Objects changed since the last publish (reported with the next one).
    changed: BTreeSet<String>,
    containment: Containment,
    /// What Envoys made of the snapshots (taken from the store).
    verdicts: Option<VerdictReceiver>,
}

impl Pipeline {
    /// A pipeline publishing into `store` once every source in `sources` has synced.
    pub fn new<I, S>(config: PipelineConfig, store: SnapshotStore, sources: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let gate = SyncGate::new(sources);
        let status = StatusHandle::default();
        status.set(PipelineStatus {
            pending_sources: gate.pending().map(str::to_owned).collect(),
            ..PipelineStatus::default()
        });
        Pipeline {
            debouncer: Debouncer::new(config.debounce),
            rebuilder: Rebuilder::new(config.translate).with_secret_refetch(config.secret_refetch),
            gate,
            status,
            reported: BTreeSet::new(),
            reported_from: None,
            publishes: 0,
            first_change: None,
            changed: BTreeSet::new(),
            containment: Containment::default(),
            verdicts: store.take_verdicts(),
            store,
        }
    }

    /// A handle on what the pipeline last did.
    pub fn status(&self) -> StatusHandle {
        self.status.clone()
    }

    /// Runs until every event sender is dropped.
    pub async fn run(mut self, mut events: mpsc::Receiver<WorldEvent>) {
        loop {
            let publish = tokio::select! {
                event = events.recv() => match event {
                    Some(event) => {
                        let mut publish = self.handle(event);
                        for _ in 0..DRAIN_LIMIT {
                            match events.try_recv() {
                                Ok(event) => publish |= self.handle(event),
                                Err(_) => break,
                            }
                        }
                        publish
                    }
                    None => return,
                },
                () = debounce::sleep_until_deadline(self.debouncer.deadline()) => {
                    self.debouncer.on_deadline(debounce::now())
                }
                Some(verdict) = next_verdict(&mut self.verdicts) => {
                    let decision = self.containment.on_verdict(verdict, self.rebuilder.world());
                    self.contain(decision);
                    false
                }
                () = sleep_until(self.containment.deadline()) => {
                    let decision = self.containment.on_deadline(Instant::now());
                    self.contain(decision);
                    false
                }
            };
            if publish {
                let decision = self.publish();
                self.contain(decision);
            }
        }
    }

    /// Publishes at once, for as long as containment changes what is served.
    fn contain(&mut self, mut decision: Decision) {
        while decision == Decision::Republish {
            self.rebuilder.set_overlay(self.containment.overlay());
            decision = self.publish();
        }
    }

    /// Applies one event; true when a publish is due now.
    fn handle(&mut self, event: WorldEvent) -> bool {
        if let WorldEvent::Synced { source } = &event {
            if !self.gate.synced(source) {
                return false;
            }
            info!(
                objects = self.rebuilder.world().len(),
                "every source has synced: first snapshot"
            );
            self.debouncer.published(debounce::now());
            return true;
        }
        let object = match &event {
            WorldEvent::Upsert(object) => object.reference(),
            WorldEvent::Delete(object) => Some(object.clone()),
            _ => None,
        };
        if let Some(object) = &object {
            let served = self.rebuilder.served(object);
            if self.containment.before_change(object, served) {
                self.rebuilder.set_overlay(self.containment.overlay());
            }
        }
        let mut change = self.rebuilder.apply_change(event);
        if self.containment.release_changed(self.rebuilder.world()) {
            self.rebuilder.set_overlay(self.containment.overlay());
            if let (Change::Unchanged, Some(object)) = (&change, object) {
                change = Change::Object(object);
            }
        }
        let changed = change.is_change();
        match change {
            Change::Object(reference) => {
                self.changed.insert(reference.to_string());
            }
            Change::Kind(kind) => {
                self.changed.insert(format!("every {kind} (re-listed)"));
            }
            Change::Unchanged => {}
        }
        if changed && self.first_change.is_none() {
            self.first_change = Some(Instant::now());
        }
        changed && self.gate.is_open() && self.debouncer.on_change(debounce::now())
    }

    /// Builds and publishes; says what containment wants next.
    fn publish(&mut self) -> Decision {
        let started = Instant::now();
        let rebuilder = &mut self.rebuilder;
        let build = off_the_async_workers(|| rebuilder.build());
        let quarantined = Arc::new(self.containment.report(self.rebuilder.world()));
        let diagnostics = with_quarantine(self.rebuilder.diagnostics(), &quarantined);
        self.report(&diagnostics);
        let mut status = PipelineStatus {
            synced: true,
            diagnostics,
            ingresses: Arc::clone(self.rebuilder.ingresses()),
            quarantined,
            searching: self.containment.searching(),
            undecided: Arc::new(self.containment.undecided_ingresses(self.rebuilder.world())),
            ..PipelineStatus::default()
        };
        status.last_build = Some(started.elapsed());
        status.change_to_publish = self.first_change.take().map(|t| t.elapsed());
        status.debounce_coalesced = self.debouncer.coalesced();
        status.changed = Arc::new(std::mem::take(&mut self.changed).into_iter().collect());
        match build.snapshot {
            Ok(snapshot) => {
                let version = snapshot.version().to_owned();
                let new = self
                    .store
                    .current()
                    .is_none_or(|current| current.version() != version);
                if new {
                    self.publishes += 1;
                }
                status.version = Some(version.clone());
                status.publishes = self.publishes;
                // Status first: whoever wakes on the publish reads the matching status.
                self.status.set(status);
                if new && self.store.publish(snapshot) {
                    info!(%version, path = ?build.path, took_ms = started.elapsed().as_secs_f64() * 1e3, "snapshot published");
                    let changes = self.rebuilder.take_changes();
                    return self
                        .containment
                        .published(version, changes, self.rebuilder.world());
                }
                self.containment.unchanged(self.rebuilder.world())
            }
            Err(e) => {
                error!(error = %e, "translation is inconsistent; keeping the last good snapshot");
                status.last_error = Some(e.to_string());
                status.version = self.store.current().map(|p| p.version().to_owned());
                status.publishes = self.publishes;
                self.status.set(status);
                Decision::Wait
            }
        }
    }

    /// Logs each diagnostic once (not on every rebuild while it persists).
    fn report(&mut self, diagnostics: &Arc<Vec<Diagnostic>>) {
        if let Some(reported) = &self.reported_from {
            if Arc::ptr_eq(reported, diagnostics) {
                return;
            }
        }
        self.reported_from = Some(Arc::clone(diagnostics));
        let current: BTreeSet<String> = diagnostics.iter().map(ToString::to_string).collect();
        for line in current.difference(&self.reported) {
            warn!("{line}");
        }
        self.reported = current;
    }
}

/// Runs `work` (CPU-heavy: a full translation takes ~190 ms at 10,000
/// Ingresses) so it does not stall the other tasks of this worker thread (xDS
/// streams, probes): on a multi-thread runtime the worker hands its queue to
/// another thread first ([`tokio::task::block_in_place`]); on a current-thread
/// runtime (tests) or outside one, it just runs.
fn off_the_async_workers<T>(work: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

/// The next verdict, or never when there is no verdict channel.
async fn next_verdict(verdicts: &mut Option<VerdictReceiver>) -> Option<Verdict> {
    match verdicts {
        Some(verdicts) => verdicts.recv().await,
        None => std::future::pending().await,
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}

/// The translation's diagnostics plus one per quarantined object and per
/// Ingress it affects (shared as is when nothing is quarantined).
fn with_quarantine(
    diagnostics: &Arc<Vec<Diagnostic>>,
    quarantined: &[QuarantinedObject],
) -> Arc<Vec<Diagnostic>> {
    if quarantined.is_empty() {
        return Arc::clone(diagnostics);
    }
    let mut all = Vec::clone(diagnostics);
    for q in quarantined {
        let r = &q.rejection;
        let instead = if q.serves_previous {
            "its last accepted version is served until it changes"
        } else {
            "it is left out until it changes"
        };
        all.push(Diagnostic {
            object: q.object.clone(),
            severity: Severity::Error,
            message: format!(
                "rejected by Envoy (node {}, {}): {}; {instead}",
                r.node, r.kind, r.error
            ),
        });
        for ingress in q
            .ingresses
            .iter()
            .filter(|i| **i != q.object.key || q.object.kind != crate::world::Kind::Ingress)
        {
            all.push(Diagnostic {
                object: ObjectRef {
                    kind: crate::world::Kind::Ingress,
                    key: ingress.clone(),
                },
                severity: Severity::Error,
                message: format!(
                    "refers to {}, which Envoy rejected (node {}, {}): {}",
                    q.object, r.node, r.kind, r.error
                ),
            });
        }
    }
    all.sort();
    all.dedup();
    Arc::new(all)
}

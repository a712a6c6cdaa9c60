//! Where the current snapshot lives. Publishing never waits for streams
//! (invariant 5): it swaps a pointer and wakes whoever is listening.

use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;
use tokio::sync::{mpsc, watch};

use super::snapshot::Snapshot;
use super::verdict::{Verdict, VerdictReceiver, VERDICT_BUFFER};

/// The current snapshot plus a wake-up signal for xDS streams, and the way back:
/// streams [`report`](SnapshotStore::report) what Envoy made of it. Cheap to clone;
/// clones share the same snapshot. Until the first publish there is no snapshot,
/// and streams answer nothing (the sync gate, invariant 1).
#[derive(Clone)]
pub struct SnapshotStore {
    inner: Arc<Inner>,
}

struct Inner {
    current: ArcSwapOption<Snapshot>,
    published: watch::Sender<u64>,
    verdicts: mpsc::Sender<Verdict>,
    /// Until the pipeline takes it.
    verdicts_out: Mutex<Option<VerdictReceiver>>,
}

impl Default for SnapshotStore {
    fn default() -> Self {
        SnapshotStore::new()
    }
}

impl SnapshotStore {
    /// An empty store: the sync gate is closed until [`SnapshotStore::publish`].
    pub fn new() -> Self {
        let (verdicts, verdicts_out) = mpsc::channel(VERDICT_BUFFER);
        SnapshotStore {
            inner: Arc::new(Inner {
                current: ArcSwapOption::empty(),
                published: watch::channel(0).0,
                verdicts,
                verdicts_out: Mutex::new(Some(verdicts_out)),
            }),
        }
    }

    /// Tells whoever publishes what an Envoy made of a snapshot. Never waits:
    /// when nobody reads verdicts, or they pile up, they are dropped.
    pub fn report(&self, verdict: Verdict) {
        let _ = self.inner.verdicts.try_send(verdict);
    }

    /// The verdicts streams report; the first caller gets them, later ones `None`.
    pub fn take_verdicts(&self) -> Option<VerdictReceiver> {
        match self.inner.verdicts_out.lock() {
            Ok(mut out) => out.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        }
    }

    /// Makes `snapshot` current and wakes every stream. Returns false (and changes
    /// nothing) when it has the same version as the current one.
    pub fn publish(&self, snapshot: impl Into<Arc<Snapshot>>) -> bool {
        let snapshot = snapshot.into();
        if let Some(current) = self.inner.current.load().as_ref() {
            if current.version() == snapshot.version() {
                return false;
            }
        }
        self.inner.current.store(Some(snapshot));
        self.inner.published.send_modify(|n| *n += 1);
        true
    }

    /// The snapshot streams should converge to, if any has been published.
    pub fn current(&self) -> Option<Arc<Snapshot>> {
        self.inner.current.load_full()
    }

    /// A receiver that changes whenever a new snapshot is published.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.published.subscribe()
    }
}

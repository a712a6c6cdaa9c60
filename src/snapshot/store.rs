//! Where the current snapshot lives. Publishing never waits for streams
//! (invariant 5): it swaps a pointer and wakes whoever is listening.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use tokio::sync::watch;

use super::snapshot::Snapshot;

/// The current snapshot plus a wake-up signal for xDS streams. Cheap to clone;
/// clones share the same snapshot. Until the first publish there is no snapshot,
/// and streams answer nothing (the sync gate, invariant 1).
#[derive(Clone)]
pub struct SnapshotStore {
    inner: Arc<Inner>,
}

struct Inner {
    current: ArcSwapOption<Snapshot>,
    published: watch::Sender<u64>,
}

impl Default for SnapshotStore {
    fn default() -> Self {
        SnapshotStore::new()
    }
}

impl SnapshotStore {
    /// An empty store: the sync gate is closed until [`SnapshotStore::publish`].
    pub fn new() -> Self {
        SnapshotStore {
            inner: Arc::new(Inner {
                current: ArcSwapOption::empty(),
                published: watch::channel(0).0,
            }),
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

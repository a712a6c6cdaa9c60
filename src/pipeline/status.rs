//! What the pipeline last did, readable at any time by the admin API and tests.

use std::collections::BTreeMap;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::translate::{Diagnostic, IngressResources};
use crate::world::ObjectKey;

use super::containment::QuarantinedObject;

/// The outcome of the latest translation.
#[derive(Clone, Debug, Default)]
pub struct PipelineStatus {
    /// Every source has delivered its initial state (the sync gate is open).
    pub synced: bool,
    /// Sources still loading.
    pub pending_sources: Vec<String>,
    /// Diagnostics of the latest translation, per object (shared with the
    /// pipeline, so publishing the status copies nothing).
    pub diagnostics: Arc<Vec<Diagnostic>>,
    /// Served Ingresses and the Envoy resources that carry each (shared likewise).
    pub ingresses: Arc<BTreeMap<ObjectKey, IngressResources>>,
    /// Why the latest translation could not be published, if it could not.
    pub last_error: Option<String>,
    /// Snapshots published so far.
    pub publishes: u64,
    /// How long the latest translate + validate + encode took.
    pub last_build: Option<std::time::Duration>,
    /// From the first change the latest publish covers to that publish.
    pub change_to_publish: Option<std::time::Duration>,
    /// Changes so far that rode along in a publish they did not trigger.
    pub debounce_coalesced: u64,
    /// Objects the latest publish changed ("Ingress demo/hello", ...).
    pub changed: Arc<Vec<String>>,
    /// Version of the snapshot currently published.
    pub version: Option<String>,
    /// Objects Envoy rejected, held out or at their last accepted version.
    pub quarantined: Arc<Vec<QuarantinedObject>>,
    /// A search for the objects behind a rejection is running.
    pub searching: bool,
    /// Ingresses that search has not decided on: not programmed until it ends.
    pub undecided: Arc<std::collections::BTreeSet<ObjectKey>>,
}

/// A shared, lock-free handle on the latest [`PipelineStatus`].
#[derive(Clone, Default)]
pub struct StatusHandle(Arc<ArcSwap<PipelineStatus>>);

impl StatusHandle {
    /// The latest status.
    pub fn get(&self) -> Arc<PipelineStatus> {
        self.0.load_full()
    }

    pub(crate) fn set(&self, status: PipelineStatus) {
        self.0.store(Arc::new(status));
    }
}

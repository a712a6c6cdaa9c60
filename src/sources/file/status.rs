//! What the file source knows about the directory's health, for the admin API
//! and readiness: a broken file keeps serving its old objects, so it must be
//! visible somewhere other than a log line.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};

use crate::world::ObjectRef;

/// A cheap, cloneable handle on the file source's status; clones share it.
#[derive(Clone, Debug, Default)]
pub struct FileSourceStatus {
    inner: Arc<RwLock<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    errors: BTreeMap<PathBuf, String>,
    conflicts: BTreeMap<ObjectRef, Vec<PathBuf>>,
    synced: bool,
    refreshes: u64,
}

impl FileSourceStatus {
    /// Files (or the directory itself) that currently fail to load, with why.
    /// A file listed here still contributes the objects it last held.
    pub fn errors(&self) -> BTreeMap<PathBuf, String> {
        self.read(|inner| inner.errors.clone())
    }

    /// Objects defined in more than one place, with every defining file in path
    /// order; the last one wins.
    pub fn conflicts(&self) -> BTreeMap<ObjectRef, Vec<PathBuf>> {
        self.read(|inner| inner.conflicts.clone())
    }

    /// True once the initial load has been sent (with `Synced`).
    pub fn is_synced(&self) -> bool {
        self.read(|inner| inner.synced)
    }

    /// How many times the directory has been read and its changes sent; it
    /// moves after the events of a pass are in the channel, so a caller that
    /// sees it move knows those events are ready to receive.
    pub fn refreshes(&self) -> u64 {
        self.read(|inner| inner.refreshes)
    }

    /// Records the outcome of one pass over the directory.
    pub(super) fn record(
        &self,
        errors: &BTreeMap<PathBuf, String>,
        conflicts: &BTreeMap<ObjectRef, Vec<PathBuf>>,
    ) {
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        if inner.errors != *errors {
            inner.errors = errors.clone();
        }
        if inner.conflicts != *conflicts {
            inner.conflicts = conflicts.clone();
        }
        inner.synced = true;
        inner.refreshes += 1;
    }

    fn read<T>(&self, f: impl FnOnce(&Inner) -> T) -> T {
        f(&self.inner.read().unwrap_or_else(PoisonError::into_inner))
    }
}

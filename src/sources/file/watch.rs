//! File events from the OS (inotify on Linux), bridged into tokio. Events only
//! say "look again"; what changed is decided by reading the directory, so a
//! lost or reordered event can delay a change but never misstate it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc::UnboundedSender;

/// Something happened in the directory.
#[derive(Debug)]
pub(super) enum Signal {
    /// These paths were created or are being written: more may follow.
    Paths(Vec<PathBuf>),
    /// These paths reached a state worth reading at once: closed after
    /// writing, renamed into (or out of) place, or removed.
    Settled(Vec<PathBuf>),
    /// Events were lost (queue overflow or a watcher error): reread everything.
    Rescan,
}

impl Signal {
    /// True when the pass need not wait for the directory to be quiet.
    pub(super) fn is_settled(&self) -> bool {
        matches!(self, Signal::Settled(_) | Signal::Rescan)
    }
}

/// What the next pass must reread even if its fingerprint looks unchanged
/// (a write within the clock's resolution that kept the size).
#[derive(Debug, Default)]
pub(super) struct Dirty {
    /// Paths named by events.
    pub(super) paths: BTreeSet<PathBuf>,
    /// Reread every file.
    pub(super) all: bool,
}

impl Dirty {
    /// Every file, for a first load or after lost events.
    pub(super) fn all() -> Self {
        Dirty {
            paths: BTreeSet::new(),
            all: true,
        }
    }

    /// Folds one signal in.
    pub(super) fn add(&mut self, signal: Signal) {
        match signal {
            Signal::Paths(paths) | Signal::Settled(paths) => self.paths.extend(paths),
            Signal::Rescan => self.all = true,
        }
    }
}

/// Watches `dir` (not recursively) and sends a [`Signal`] for every event that
/// may change what it holds. Dropping the watcher stops it.
pub(super) fn watch(
    dir: &Path,
    signals: UnboundedSender<Signal>,
) -> Result<RecommendedWatcher, notify::Error> {
    let mut watcher = notify::recommended_watcher(move |result: notify::Result<Event>| {
        let signal = match result {
            Ok(event) if event.need_rescan() => Signal::Rescan,
            Ok(event) if is_noise(&event.kind) => return,
            Ok(event) if is_settled(&event.kind) => Signal::Settled(event.paths),
            Ok(event) => Signal::Paths(event.paths),
            Err(error) => {
                tracing::warn!("file watcher error, rereading the directory: {error}");
                Signal::Rescan
            }
        };
        // A closed channel means the source has stopped; nothing to tell.
        let _ = signals.send(signal);
    })?;
    watcher.watch(dir, RecursiveMode::NonRecursive)?;
    Ok(watcher)
}

/// A file closed after writing, renamed (editors and `kubectl`-style tools
/// write a temporary file and rename it into place; a ConfigMap volume swaps
/// its `..data` symlink) or removed is complete: no reason to wait.
fn is_settled(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Access(AccessKind::Close(AccessMode::Write))
            | EventKind::Modify(ModifyKind::Name(_))
            | EventKind::Remove(_)
    )
}

/// Opening and reading change nothing (and the source's own reads cause
/// them); only a close after writing matters.
fn is_noise(kind: &EventKind) -> bool {
    matches!(kind, EventKind::Access(access) if *access != AccessKind::Close(AccessMode::Write))
}

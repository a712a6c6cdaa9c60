//! The file source's run loop: load the directory, then turn bursts of file
//! events into diffs of the merged view.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::RecommendedWatcher;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::directory::Directory;
use super::error::FileSourceError;
use super::scan::Identity;
use super::status::FileSourceStatus;
use super::watch::{self, Dirty, Signal};
use crate::world::WorldEvent;

/// The name this source reports in [`WorldEvent::Synced`], for the sync gate.
pub const SOURCE_NAME: &str = "file";

/// Quiet time that ends a burst of file events that never settle (no close
/// or rename event, e.g. some network file systems); a close after writing
/// or a rename into place is read at once. A save caught half-way is safe
/// anyway: a file that does not parse keeps its objects until the next pass
/// reads it whole.
const DEFAULT_QUIET: Duration = Duration::from_millis(2);
/// Longest a burst can postpone a pass, so a file rewritten continuously is
/// still picked up.
const DEFAULT_MAX_DELAY: Duration = Duration::from_millis(100);
/// How often the directory is checked without any event: catches what no
/// event reports (the directory itself replaced via a symlink, network file
/// systems) and retries a directory that went missing.
const DEFAULT_RESYNC: Duration = Duration::from_secs(5);

/// A directory of Kubernetes YAML (`*.yaml`, `*.yml`, multi-document, not
/// recursive) loaded once and then watched live.
///
/// The directory may be a Kubernetes ConfigMap volume: its files are symlinks
/// through `..data`, which the kubelet swaps atomically; the swap is an event
/// in the directory and every file's fingerprint changes, so it applies at
/// once. If the directory path itself is a symlink that is swapped (or the
/// directory is moved away and recreated), the new target is noticed at the
/// next pass, i.e. the next event in the old target (typically its cleanup) or
/// the next resync (5 s by default), and watched from then on. A directory
/// that goes missing keeps its objects (and is reported) until it is back.
#[derive(Debug)]
pub struct FileSource {
    dir: PathBuf,
    quiet: Duration,
    max_delay: Duration,
    resync: Duration,
    status: FileSourceStatus,
}

/// The OS watch and the directory inode it is attached to.
struct Watched {
    _watcher: RecommendedWatcher,
    identity: Identity,
}

impl FileSource {
    /// A source for `dir`, which must exist and be a directory now (it is
    /// checked again when [`FileSource::run`] starts).
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self, FileSourceError> {
        let dir = dir.into();
        let dir = std::path::absolute(&dir).map_err(|source| FileSourceError::Io {
            path: dir.clone(),
            source,
        })?;
        check_dir(&dir)?;
        Ok(FileSource {
            dir,
            quiet: DEFAULT_QUIET,
            max_delay: DEFAULT_MAX_DELAY,
            resync: DEFAULT_RESYNC,
            status: FileSourceStatus::default(),
        })
    }

    /// Sets how long the directory must be quiet before a burst of events is
    /// read (`quiet`) and the longest a burst may postpone that (`max_delay`).
    pub fn with_debounce(mut self, quiet: Duration, max_delay: Duration) -> Self {
        self.quiet = quiet;
        self.max_delay = max_delay.max(quiet);
        self
    }

    /// Sets how often the directory is checked when no event arrives.
    pub fn with_resync(mut self, every: Duration) -> Self {
        self.resync = every;
        self
    }

    /// The directory, made absolute.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A handle on per-file errors and duplicates; stays valid after `run`.
    pub fn status(&self) -> FileSourceStatus {
        self.status.clone()
    }

    /// Loads the directory, sends one `Replace` per kind and then
    /// `Synced { source: "file" }`, and afterwards the changes as `Upsert` and
    /// `Delete`. Runs until `events`' receiver is dropped (then returns `Ok`).
    ///
    /// A file that fails to parse at start contributes nothing and is reported
    /// in [`FileSource::status`]; the source still syncs, so one typo cannot
    /// hold every other route back.
    pub async fn run(self, events: mpsc::Sender<WorldEvent>) -> Result<(), FileSourceError> {
        let (signal_tx, mut signals) = mpsc::unbounded_channel();
        // Watch before the first read, so nothing written in between is missed.
        let identity = check_dir(&self.dir)?;
        let watcher = watch::watch(&self.dir, signal_tx.clone()).map_err(|source| {
            FileSourceError::Watch {
                path: self.dir.clone(),
                source,
            }
        })?;
        let mut watched = Some(Watched {
            _watcher: watcher,
            identity,
        });

        let (mut directory, initial) =
            in_worker(Directory::new(self.dir.clone()), Directory::load).await?;
        let initial = initial.map_err(|source| dir_error(&self.dir, source))?;
        let synced = WorldEvent::Synced {
            source: SOURCE_NAME.into(),
        };
        if !send_all(&events, initial.into_iter().chain([synced])).await {
            return Ok(());
        }
        self.status
            .record(directory.errors(), directory.conflicts());
        let (objects, files) = directory.counts();
        tracing::info!(dir = %self.dir.display(), objects, files, "loaded ingress directory");

        loop {
            let Some(mut dirty) = self.next_batch(&mut signals, &events).await else {
                return Ok(());
            };
            self.ensure_watch(&mut watched, &signal_tx, &mut dirty);
            let (next, changes) = in_worker(directory, move |d| d.refresh(&dirty)).await?;
            directory = next;
            if !send_all(&events, changes).await {
                return Ok(());
            }
            self.status
                .record(directory.errors(), directory.conflicts());
        }
    }

    /// Waits for file events (or the resync interval) and gathers a burst of
    /// them until the directory has been quiet for `quiet`, or `max_delay` has
    /// passed, or a settled event (a file closed after writing, renamed into
    /// place, removed) arrives: then whatever is already queued joins the
    /// batch and it is read at once. `None` when the receiver of world events
    /// is gone.
    async fn next_batch(
        &self,
        signals: &mut mpsc::UnboundedReceiver<Signal>,
        events: &mpsc::Sender<WorldEvent>,
    ) -> Option<Dirty> {
        let mut dirty = Dirty::default();
        let first = tokio::select! {
            _ = events.closed() => return None,
            signal = signals.recv() => signal?,
            _ = tokio::time::sleep(self.resync) => return Some(dirty),
        };
        let mut settled = first.is_settled();
        dirty.add(first);
        let deadline = Instant::now() + self.max_delay;
        while !settled {
            let quiet_until = (Instant::now() + self.quiet).min(deadline);
            tokio::select! {
                signal = signals.recv() => {
                    let signal = signal?;
                    settled = signal.is_settled();
                    dirty.add(signal);
                }
                _ = tokio::time::sleep_until(quiet_until) => return Some(dirty),
            }
            if Instant::now() >= deadline {
                return Some(dirty);
            }
        }
        while let Ok(signal) = signals.try_recv() {
            dirty.add(signal);
        }
        Some(dirty)
    }

    /// Re-establishes the watch when the directory is not the one watched
    /// (recreated, or its symlink swapped); everything is then reread. A
    /// missing directory is left to the pass to report.
    fn ensure_watch(
        &self,
        watched: &mut Option<Watched>,
        signal_tx: &mpsc::UnboundedSender<Signal>,
        dirty: &mut Dirty,
    ) {
        let identity = match Identity::of_dir(&self.dir) {
            Ok(identity) => identity,
            Err(_) => {
                *watched = None;
                return;
            }
        };
        if watched.as_ref().is_some_and(|w| w.identity == identity) {
            return;
        }
        *watched = None;
        dirty.all = true;
        match watch::watch(&self.dir, signal_tx.clone()) {
            Ok(watcher) => {
                tracing::info!(dir = %self.dir.display(), "watching the ingress directory again");
                *watched = Some(Watched {
                    _watcher: watcher,
                    identity,
                });
            }
            Err(error) => tracing::warn!(
                dir = %self.dir.display(),
                "cannot watch the ingress directory, retrying at the next resync: {error}"
            ),
        }
    }
}

/// Sends events in order; false when the receiver is gone.
async fn send_all(
    events: &mpsc::Sender<WorldEvent>,
    batch: impl IntoIterator<Item = WorldEvent>,
) -> bool {
    for event in batch {
        if events.send(event).await.is_err() {
            return false;
        }
    }
    true
}

/// Runs blocking file work off the async threads, handing the state there
/// and back.
async fn in_worker<T, F>(
    mut directory: Directory,
    work: F,
) -> Result<(Directory, T), FileSourceError>
where
    T: Send + 'static,
    F: FnOnce(&mut Directory) -> T + Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        let out = work(&mut directory);
        (directory, out)
    })
    .await
    .map_err(|error| FileSourceError::Worker(error.to_string()))
}

fn check_dir(dir: &Path) -> Result<Identity, FileSourceError> {
    Identity::of_dir(dir).map_err(|source| dir_error(dir, source))
}

fn dir_error(dir: &Path, source: io::Error) -> FileSourceError {
    match source.kind() {
        io::ErrorKind::NotFound => FileSourceError::DirNotFound(dir.to_owned()),
        io::ErrorKind::NotADirectory => FileSourceError::NotADirectory(dir.to_owned()),
        _ => FileSourceError::Io {
            path: dir.to_owned(),
            source,
        },
    }
}

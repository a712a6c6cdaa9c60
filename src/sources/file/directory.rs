//! The directory between passes: what each file last held, which files fail,
//! and the merged view. All blocking I/O of the file source happens here.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::manifest::Manifests;
use super::merge_pass::FileChange;
use super::merged::{FileObjects, Merged};
use super::scan::{self, Fingerprint};
use super::watch::Dirty;
use crate::world::{ObjectRef, WorldEvent};

/// A watched directory's state.
#[derive(Debug)]
pub(super) struct Directory {
    dir: PathBuf,
    files: BTreeMap<PathBuf, FileState>,
    errors: BTreeMap<PathBuf, String>,
    merged: Merged,
    /// Files re-read or removed since the last merge, with what they defined.
    changes: Vec<FileChange>,
}

/// One file: its objects from the last successful parse, and the fingerprint
/// of the last read (successful or not), so an unchanged broken file is not
/// reread on every pass.
#[derive(Debug)]
struct FileState {
    fingerprint: Option<Fingerprint>,
    objects: FileObjects,
}

impl Directory {
    /// Nothing read yet.
    pub(super) fn new(dir: PathBuf) -> Self {
        Directory {
            dir,
            files: BTreeMap::new(),
            errors: BTreeMap::new(),
            merged: Merged::default(),
            changes: Vec::new(),
        }
    }

    /// Files (and the directory itself) that currently fail, with why.
    pub(super) fn errors(&self) -> &BTreeMap<PathBuf, String> {
        &self.errors
    }

    /// Objects defined more than once.
    pub(super) fn conflicts(&self) -> &BTreeMap<ObjectRef, Vec<PathBuf>> {
        self.merged.conflicts()
    }

    /// Number of objects in the merged view and number of files.
    pub(super) fn counts(&self) -> (usize, usize) {
        (self.merged.object_count(), self.files.len())
    }

    /// The initial load: every file, as one `Replace` per kind. Fails only when
    /// the directory itself cannot be listed.
    pub(super) fn load(&mut self) -> io::Result<Vec<WorldEvent>> {
        self.read_changes(&Dirty::all())?;
        self.changes.clear();
        self.merged = Merged::build(self.files.iter().map(|(path, file)| (path, &file.objects)));
        for (reference, paths) in self.merged.conflicts() {
            warn_conflict(reference, paths);
        }
        Ok(self.merged.replace_events())
    }

    /// One pass after changes: rereads what changed and returns the diff of the
    /// merged view. If the directory cannot be listed (removed, renamed away),
    /// nothing changes and the error is recorded: a vanished directory keeps its
    /// objects until it is back.
    pub(super) fn refresh(&mut self, dirty: &Dirty) -> Vec<WorldEvent> {
        match self.read_changes(dirty) {
            Ok(false) => Vec::new(),
            Ok(true) => {
                let changes = std::mem::take(&mut self.changes);
                let files = &self.files;
                let (events, conflicts) = self
                    .merged
                    .update(&changes, |path| files.get(path).map(|file| &file.objects));
                for reference in conflicts {
                    if let Some(paths) = self.merged.conflicts().get(&reference) {
                        warn_conflict(&reference, paths);
                    }
                }
                events
            }
            Err(error) => {
                if !self.errors.contains_key(&self.dir) {
                    tracing::warn!(
                        dir = %self.dir.display(),
                        "cannot read the ingress directory, keeping its objects: {error}"
                    );
                }
                self.errors
                    .insert(self.dir.clone(), format!("cannot read directory: {error}"));
                Vec::new()
            }
        }
    }

    /// Lists the directory and rereads files that are new, named in `dirty` or
    /// whose fingerprint moved; forgets files that are gone. True when any file
    /// was read or forgotten.
    fn read_changes(&mut self, dirty: &Dirty) -> io::Result<bool> {
        let listing = scan::list(&self.dir)?;
        if self.errors.remove(&self.dir).is_some() {
            tracing::info!(dir = %self.dir.display(), "the ingress directory is readable again");
        }
        let gone: Vec<PathBuf> = self
            .files
            .keys()
            .filter(|path| !listing.contains_key(*path))
            .cloned()
            .collect();
        let mut changed = !gone.is_empty();
        for path in gone {
            tracing::debug!(file = %path.display(), "manifest file removed");
            self.forget(&path);
        }
        for (path, fingerprint) in listing {
            let known = self.files.get(&path).map(|file| file.fingerprint);
            let stale = dirty.all
                || dirty.paths.contains(&path)
                || fingerprint.is_none()
                || known != Some(fingerprint);
            if stale {
                self.read_file(path, fingerprint);
                changed = true;
            }
        }
        Ok(changed)
    }

    fn read_file(&mut self, path: PathBuf, fingerprint: Option<Fingerprint>) {
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                // Gone since the listing; its removal event comes next.
                return self.forget(&path);
            }
            Err(error) => return self.fail(path, fingerprint, format!("cannot read: {error}")),
        };
        if text.is_empty() {
            // Truncate-then-write saves pass through an empty file; one that
            // held objects is far more likely mid-save than meant to be empty.
            let held = self.files.get(&path).map_or(0, |file| file.objects.len());
            if held > 0 {
                let message = format!(
                    "file is empty (a save in progress?); keeping the {held} objects it last \
                     held; delete the file to remove them"
                );
                return self.fail(path, fingerprint, message);
            }
        }
        let manifests = match Manifests::parse(&text) {
            Ok(manifests) => manifests,
            Err(error) => return self.fail(path, fingerprint, error.to_string()),
        };
        for skipped in &manifests.skipped {
            tracing::warn!(file = %path.display(), "skipping {skipped}");
        }
        let objects: FileObjects = manifests
            .objects
            .into_iter()
            .filter_map(|object| Some((object.reference()?, Arc::new(object))))
            .collect();
        if self.errors.remove(&path).is_some() {
            tracing::info!(file = %path.display(), "manifest file loads again");
        }
        let after = references(&objects);
        let previous = self.files.insert(
            path.clone(),
            FileState {
                fingerprint,
                objects,
            },
        );
        self.changes.push(FileChange {
            path,
            before: previous.map_or_else(Vec::new, |file| references(&file.objects)),
            after,
        });
    }

    /// The file is gone: its objects leave the merged view at the next merge.
    fn forget(&mut self, path: &Path) {
        self.errors.remove(path);
        if let Some(file) = self.files.remove(path) {
            self.changes.push(FileChange {
                path: path.to_owned(),
                before: references(&file.objects),
                after: Vec::new(),
            });
        }
    }

    /// Keeps what the file last held and records why it cannot be loaded now.
    /// Warns once per distinct error, not on every pass.
    fn fail(&mut self, path: PathBuf, fingerprint: Option<Fingerprint>, message: String) {
        if self.errors.get(&path) != Some(&message) {
            tracing::warn!(
                file = %path.display(),
                "cannot load manifest file, keeping the objects it last held: {message}"
            );
        }
        let file = self.files.entry(path.clone()).or_insert_with(|| FileState {
            fingerprint: None,
            objects: Vec::new(),
        });
        file.fingerprint = fingerprint;
        self.errors.insert(path, message);
    }
}

/// The objects a file defines, in its order.
fn references(objects: &FileObjects) -> Vec<ObjectRef> {
    objects
        .iter()
        .map(|(reference, _)| reference.clone())
        .collect()
}

/// Warns about an object defined in several files (new or changed since the
/// last pass).
fn warn_conflict(reference: &ObjectRef, paths: &[PathBuf]) {
    let Some(winner) = paths.last() else {
        return;
    };
    tracing::warn!(
        "{reference} is defined in {}; the definition in {} wins (last in path order)",
        join(paths),
        winner.display()
    );
}

fn join(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|path| Path::display(path).to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

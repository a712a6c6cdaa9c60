//! Listing the directory and telling which files changed since they were read.
//! Comparing fingerprints on every pass catches what no file event names: a
//! Kubernetes volume swapping its `..data` symlink, an overflowed event queue.

use std::collections::BTreeMap;
use std::fs::{self, Metadata};
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::names::is_manifest_name;

/// What a file looked like when it was read. Metadata follows symlinks, so a
/// symlink whose target is swapped gets a new fingerprint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Fingerprint {
    identity: Identity,
    len: u64,
    modified: Option<SystemTime>,
}

impl Fingerprint {
    fn of(metadata: &Metadata) -> Self {
        Fingerprint {
            identity: Identity::of(metadata),
            len: metadata.len(),
            modified: metadata.modified().ok(),
        }
    }
}

/// Which inode a path leads to (device, inode and change time on Unix): it
/// changes when a file or the directory itself is replaced rather than edited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Identity {
    dev: u64,
    ino: u64,
    ctime: (i64, i64),
}

impl Identity {
    #[cfg(unix)]
    fn of(metadata: &Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Identity {
            dev: metadata.dev(),
            ino: metadata.ino(),
            ctime: (metadata.ctime(), metadata.ctime_nsec()),
        }
    }

    #[cfg(not(unix))]
    fn of(_metadata: &Metadata) -> Self {
        Identity {
            dev: 0,
            ino: 0,
            ctime: (0, 0),
        }
    }

    /// The directory's device and inode only (its change time moves whenever an
    /// entry does), following a symlinked directory to its target.
    pub(super) fn of_dir(dir: &Path) -> io::Result<Self> {
        let metadata = fs::metadata(dir)?;
        if !metadata.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                "not a directory",
            ));
        }
        Ok(Identity {
            ctime: (0, 0),
            ..Identity::of(&metadata)
        })
    }
}

/// The manifest files directly in `dir` (see
/// [`is_manifest_name`](super::names::is_manifest_name)) that are regular files
/// or symlinks to them, keyed by `dir.join(name)`. Entries that vanish while
/// listing (or dangling symlinks) are left out; entries that cannot be
/// inspected have no fingerprint, so reading them reports why.
pub(super) fn list(dir: &Path) -> io::Result<BTreeMap<PathBuf, Option<Fingerprint>>> {
    let mut files = BTreeMap::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if !is_manifest_name(&name) {
            continue;
        }
        let path = dir.join(&name);
        match fs::metadata(&path) {
            Ok(metadata) if metadata.is_file() => {
                files.insert(path, Some(Fingerprint::of(&metadata)));
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(_) => {
                files.insert(path, None);
            }
        }
    }
    Ok(files)
}

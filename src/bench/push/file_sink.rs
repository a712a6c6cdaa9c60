//! Probes as files in the directory `serve --ingress-dir` watches: one file
//! per probe, written to a temporary name and renamed into place (so the file
//! source reads it once, whole), removed by name on cleanup.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::manifest::{Backend, ProbeObjects};
use super::probe::Probe;
use super::sink::{ProbeSink, SinkError};

/// Probe files start with this; cleanup removes exactly these.
pub const FILE_PREFIX: &str = "interlock-bench-push-";
/// A file marking a directory as the bench's own.
pub const MARKER: &str = ".interlock-bench-push";
/// Namespace of the objects in probe files.
pub const FILE_NAMESPACE: &str = "interlock-bench";

/// A directory of probe files.
#[derive(Debug)]
pub struct FileSink {
    dir: PathBuf,
}

// === impl FileSink ===

impl FileSink {
    /// Takes `dir` for the run. It must exist (serve watches it) and be the
    /// bench's: it holds the [`MARKER`], or nothing but probe files (then the
    /// marker is written), or `use_existing` says a shared directory is fine
    /// (then only probe files are ever touched).
    pub fn open(dir: &Path, use_existing: bool) -> Result<FileSink, SinkError> {
        let io = |what: String| move |source| SinkError::Io { what, source };
        let entries = std::fs::read_dir(dir).map_err(io(format!(
            "cannot read {} (it must exist: the directory `interlock serve --ingress-dir` watches)",
            dir.display()
        )))?;
        let mut marked = false;
        let mut foreign = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io(format!("read {}", dir.display())))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == MARKER {
                marked = true;
            } else if !name.starts_with(FILE_PREFIX)
                && !name.starts_with(&format!(".{FILE_PREFIX}"))
            {
                foreign.push(name);
            }
        }
        if !marked && !foreign.is_empty() && !use_existing {
            foreign.sort();
            foreign.truncate(3);
            return Err(SinkError::NotOwned(format!(
                "{} holds files the bench did not write ({}...): pass --use-existing to write \
                 probe files beside them (only {FILE_PREFIX}* files are touched), or mark a \
                 scratch directory as the bench's with `touch {}`",
                dir.display(),
                foreign.join(", "),
                dir.join(MARKER).display()
            )));
        }
        if !marked && foreign.is_empty() {
            std::fs::write(
                dir.join(MARKER),
                "interlock bench push writes probe files here\n",
            )
            .map_err(io(format!("write the marker in {}", dir.display())))?;
        }
        Ok(FileSink {
            dir: dir.to_owned(),
        })
    }

    fn path(&self, probe: &Probe) -> PathBuf {
        self.dir
            .join(format!("{FILE_PREFIX}{}-{}.yaml", probe.run, probe.index))
    }

    /// Every probe file here, of any run.
    fn probe_files(&self) -> Result<Vec<PathBuf>, SinkError> {
        let entries = std::fs::read_dir(&self.dir).map_err(|source| SinkError::Io {
            what: format!("read {}", self.dir.display()),
            source,
        })?;
        Ok(entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name().is_some_and(|n| {
                    let n = n.to_string_lossy();
                    n.starts_with(FILE_PREFIX) || n.starts_with(&format!(".{FILE_PREFIX}"))
                })
            })
            .collect())
    }
}

impl ProbeSink for FileSink {
    fn describe(&self) -> String {
        format!("directory {}", self.dir.display())
    }

    fn namespace(&self) -> &str {
        FILE_NAMESPACE
    }

    async fn write(&self, probe: &Probe, objects: &ProbeObjects) -> Result<Instant, SinkError> {
        let path = self.path(probe);
        let tmp = self
            .dir
            .join(format!(".{FILE_PREFIX}{}-{}.tmp", probe.run, probe.index));
        let io = |source| SinkError::Io {
            what: format!("write {}", path.display()),
            source,
        };
        std::fs::write(&tmp, objects.to_yaml()?).map_err(io)?;
        let at = Instant::now();
        std::fs::rename(&tmp, &path).map_err(io)?;
        Ok(at)
    }

    async fn delete(&self, probe: &Probe) -> Result<(), SinkError> {
        remove(&self.path(probe))
    }

    async fn cleanup(&self) -> Result<usize, SinkError> {
        let files = self.probe_files()?;
        let mut removed = 0;
        for file in files {
            remove(&file)?;
            if file.extension().is_some_and(|e| e == "yaml") {
                removed += 1;
            }
        }
        Ok(removed)
    }

    fn shared_backend(&self) -> Option<Backend> {
        None
    }
}

impl Drop for FileSink {
    /// Last line of defence (a panic unwinding past the run): the files go.
    fn drop(&mut self) {
        if let Ok(files) = self.probe_files() {
            for file in files {
                let _ = remove(&file);
            }
        }
    }
}

fn remove(path: &Path) -> Result<(), SinkError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(SinkError::Io {
            what: format!("remove {}", path.display()),
            source: e,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_with_foreign_files_is_refused_unless_told() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("app.yaml"), "").unwrap();
        let refused = FileSink::open(dir.path(), false).unwrap_err();
        assert!(matches!(refused, SinkError::NotOwned(_)), "{refused}");
        FileSink::open(dir.path(), true).unwrap();
        assert!(!dir.path().join(MARKER).exists());
    }

    #[test]
    fn an_empty_directory_is_claimed_with_a_marker_and_then_accepted() {
        let dir = tempfile::tempdir().unwrap();
        FileSink::open(dir.path(), false).unwrap();
        assert!(dir.path().join(MARKER).exists());
        std::fs::write(dir.path().join("later.yaml"), "").unwrap();
        FileSink::open(dir.path(), false).unwrap();
    }

    #[tokio::test]
    async fn cleanup_removes_probe_files_of_every_run_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("app.yaml"), "").unwrap();
        std::fs::write(dir.path().join(format!("{FILE_PREFIX}old-1.yaml")), "").unwrap();
        let sink = FileSink::open(dir.path(), true).unwrap();
        let probe = Probe::new("new", FILE_NAMESPACE, 0);
        let backend = Backend {
            addresses: vec!["127.0.0.1".parse().unwrap()],
            port: 9,
        };
        let objects = super::super::manifest::probe_objects(&probe, &backend, "interlock", 1);
        sink.write(&probe, &objects).await.unwrap();
        assert_eq!(sink.cleanup().await.unwrap(), 2);
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, vec!["app.yaml".to_owned()]);
    }
}

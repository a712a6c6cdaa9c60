//! Writing a bundle as files: `ca.crt`, `ca.key`, `server.crt`, `server.key`,
//! `<gateway>.crt`, `<gateway>.key`. Keys are created mode 0600 and nothing is
//! overwritten unless asked, because an overwritten CA key cannot be recovered and
//! every certificate it signed would have to be replaced.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Bundle, CertError};

/// How [`Bundle::write_dir`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteOptions {
    /// Replace files that exist (otherwise any existing file stops the write
    /// before anything is written).
    pub overwrite: bool,
    /// Write `ca.key`. Off when the CA was loaded: its key stays where it is
    /// rather than being copied around.
    pub ca_key: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self {
            overwrite: false,
            ca_key: true,
        }
    }
}

/// One file to write.
struct OutputFile<'a> {
    name: String,
    contents: &'a str,
    secret: bool,
}

impl Bundle {
    /// Writes the bundle into `dir` (created, mode 0700, if missing) and returns
    /// the paths written, in order.
    pub fn write_dir(&self, dir: &Path, options: WriteOptions) -> Result<Vec<PathBuf>, CertError> {
        let file = |name: String, contents, secret| OutputFile {
            name,
            contents,
            secret,
        };
        let mut files = vec![file("ca.crt".into(), self.ca_cert_pem.as_str(), false)];
        if options.ca_key {
            files.push(file("ca.key".into(), &self.ca_key_pem, true));
        }
        files.push(file("server.crt".into(), &self.server.cert_pem, false));
        files.push(file("server.key".into(), &self.server.key_pem, true));
        for (gateway, issued) in &self.clients {
            files.push(file(format!("{gateway}.crt"), &issued.cert_pem, false));
            files.push(file(format!("{gateway}.key"), &issued.key_pem, true));
        }

        create_dir(dir)?;
        let paths: Vec<PathBuf> = files.iter().map(|f| dir.join(&f.name)).collect();
        if !options.overwrite {
            if let Some(existing) = paths.iter().find(|p| p.symlink_metadata().is_ok()) {
                return Err(CertError::Exists(existing.clone()));
            }
        }
        for (file, path) in files.iter().zip(&paths) {
            write_file(path, file.contents, file.secret, options.overwrite)?;
        }
        Ok(paths)
    }
}

fn create_dir(dir: &Path) -> Result<(), CertError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|source| CertError::Io {
        path: dir.to_owned(),
        source,
    })
}

/// Writes a new file: an existing one is removed first when `overwrite`, so the
/// new file never inherits a looser mode or follows a symlink.
fn write_file(path: &Path, contents: &str, secret: bool, overwrite: bool) -> Result<(), CertError> {
    let io = |source| CertError::Io {
        path: path.to_owned(),
        source,
    };
    if overwrite {
        match fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
    }
    let mut open = fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, if secret { 0o600 } else { 0o644 });
    let mut file = open.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            CertError::Exists(path.to_owned())
        } else {
            io(e)
        }
    })?;
    file.write_all(contents.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)
}

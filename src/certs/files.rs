//! Writing a bundle as files: the CA at the top, and one directory per party in
//! the layout of a mounted `kubernetes.io/tls` Secret, so that each is what
//! `--xds-tls-dir` takes as it is:
//!
//! ```text
//! DIR/ca.crt               the CA certificate
//! DIR/ca.key               its key, only when certgen made the CA
//! DIR/server/tls.crt       the server certificate  } interlock serve
//! DIR/server/tls.key       its key                 }   --xds-tls-dir DIR/server
//! DIR/server/ca.crt        the CA certificate      }
//! DIR/<gateway>/tls.crt    the client certificate  } interlock bootstrap
//! DIR/<gateway>/tls.key    its key                 }   --xds-tls-dir DIR/<gateway>
//! DIR/<gateway>/ca.crt     the CA certificate      }
//! ```
//!
//! Keys are created mode 0600 and directories 0700, and nothing is overwritten
//! unless asked, because an overwritten CA key cannot be recovered and every
//! certificate it signed would have to be replaced.

use std::fs;
use std::io::Write;
use std::iter;
use std::path::{Path, PathBuf};

use super::{Bundle, CertError};

/// A certificate, in a party's directory and in a Secret.
pub(super) const CERT_FILE: &str = "tls.crt";
/// Its private key.
pub(super) const KEY_FILE: &str = "tls.key";
/// The CA certificate, at the top and in every party's directory and Secret.
pub(super) const CA_FILE: &str = "ca.crt";
/// The CA's private key, at the top only.
const CA_KEY_FILE: &str = "ca.key";
/// The server's directory (no gateway may be called so).
const SERVER_DIR: &str = "server";

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
    path: PathBuf,
    contents: &'a str,
    secret: bool,
}

impl Bundle {
    /// Writes the bundle into `dir` in the layout of this module's documentation
    /// and returns the paths of the files written, in order: `ca.crt`, `ca.key`,
    /// then `tls.crt`, `tls.key` and `ca.crt` of the server and of each gateway.
    /// Missing directories are created mode 0700. Every path is checked before
    /// anything is created: an existing file (unless `overwrite`) or a
    /// non-directory where a directory goes stops the write.
    pub fn write_dir(&self, dir: &Path, options: WriteOptions) -> Result<Vec<PathBuf>, CertError> {
        let ca = self.ca_cert_pem.as_str();
        let file = |path: PathBuf, contents, secret| OutputFile {
            path,
            contents,
            secret,
        };
        let mut dirs = vec![dir.to_owned()];
        let mut files = vec![file(dir.join(CA_FILE), ca, false)];
        if options.ca_key {
            files.push(file(dir.join(CA_KEY_FILE), &self.ca_key_pem, true));
        }
        let clients = self
            .clients
            .iter()
            .map(|(name, issued)| (name.as_str(), issued));
        for (name, issued) in iter::once((SERVER_DIR, &self.server)).chain(clients) {
            let party = dir.join(name);
            files.push(file(party.join(CERT_FILE), &issued.cert_pem, false));
            files.push(file(party.join(KEY_FILE), &issued.key_pem, true));
            files.push(file(party.join(CA_FILE), ca, false));
            dirs.push(party);
        }

        for dir in &dirs {
            let usable = match fs::metadata(dir) {
                Ok(metadata) => metadata.is_dir(),
                // Nothing there is fine (it is created), a dangling symlink is not.
                Err(_) => dir.symlink_metadata().is_err(),
            };
            if !usable {
                return Err(CertError::NotADirectory(dir.clone()));
            }
        }
        if !options.overwrite {
            if let Some(existing) = files.iter().find(|f| f.path.symlink_metadata().is_ok()) {
                return Err(CertError::Exists(existing.path.clone()));
            }
        }
        for dir in &dirs {
            create_dir(dir)?;
        }
        for file in &files {
            write_file(&file.path, file.contents, file.secret, options.overwrite)?;
        }
        Ok(files.into_iter().map(|f| f.path).collect())
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

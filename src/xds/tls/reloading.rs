//! The server's TLS configuration, rebuilt from its files whenever they change
//! (cert-manager and Kubernetes Secret mounts replace them in place): new
//! connections get the new certificate and CA, established ones carry on.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tracing::{error, info};
use xxhash_rust::xxh3::xxh3_64;

/// Where the xDS listener's TLS material lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The server certificate chain (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// The CAs client certificates must chain to (PEM).
    pub client_ca: PathBuf,
}

impl TlsFiles {
    /// `tls.crt`, `tls.key` and `ca.crt` in `dir`: a mounted Secret of type
    /// `kubernetes.io/tls` with its CA, as `interlock certgen` and cert-manager
    /// write them.
    pub fn in_dir(dir: &Path) -> TlsFiles {
        TlsFiles {
            cert: dir.join("tls.crt"),
            key: dir.join("tls.key"),
            client_ca: dir.join("ca.crt"),
        }
    }
}

/// Why TLS material cannot be used. Never carries key material.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file holds no usable PEM of the expected kind.
    #[error("{path} holds no {what}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What was expected.
        what: &'static str,
    },
    /// rustls refused the material.
    #[error("TLS configuration refused: {0}")]
    Rustls(#[from] rustls::Error),
    /// The client CA cannot verify clients.
    #[error("client CA unusable: {0}")]
    Verifier(String),
}

/// The current server configuration, and the files it came from.
pub struct ReloadingTls {
    files: TlsFiles,
    current: ArcSwap<ServerConfig>,
    /// Hash of the files' bytes the current configuration was built from.
    built_from: Mutex<u64>,
}

impl ReloadingTls {
    /// Loads the files; fails when they are unusable.
    pub fn load(files: TlsFiles) -> Result<Arc<ReloadingTls>, TlsError> {
        let (bytes, hash) = read_all(&files)?;
        let config = build(&files, &bytes)?;
        Ok(Arc::new(ReloadingTls {
            files,
            current: ArcSwap::from_pointee(config),
            built_from: Mutex::new(hash),
        }))
    }

    /// The configuration for the next connection.
    pub fn config(&self) -> Arc<ServerConfig> {
        self.current.load_full()
    }

    /// Rebuilds the configuration when the files changed; true when it did.
    /// On failure the previous configuration stays.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let (bytes, hash) = read_all(&self.files)?;
        let mut built_from = match self.built_from.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if *built_from == hash {
            return Ok(false);
        }
        let config = build(&self.files, &bytes)?;
        self.current.store(Arc::new(config));
        *built_from = hash;
        Ok(true)
    }

    /// Checks the files every `every` until the process ends; logs reloads
    /// and failures (once per distinct failure).
    pub async fn watch(self: Arc<Self>, every: Duration) {
        let mut last_error = None;
        loop {
            tokio::time::sleep(every).await;
            match self.reload_if_changed() {
                Ok(true) => {
                    info!(cert = %self.files.cert.display(), "xDS TLS certificate or client CA changed: new connections use it");
                    last_error = None;
                }
                Ok(false) => last_error = None,
                Err(e) => {
                    let message = e.to_string();
                    if last_error.as_ref() != Some(&message) {
                        error!(error = %message, "cannot reload the xDS TLS files; keeping the previous ones");
                        last_error = Some(message);
                    }
                }
            }
        }
    }
}

/// The three files' bytes, and a hash of them all.
fn read_all(files: &TlsFiles) -> Result<([Vec<u8>; 3], u64), TlsError> {
    let read = |path: &PathBuf| {
        std::fs::read(path).map_err(|source| TlsError::Read {
            path: path.clone(),
            source,
        })
    };
    let bytes = [
        read(&files.cert)?,
        read(&files.key)?,
        read(&files.client_ca)?,
    ];
    let mut all = Vec::with_capacity(bytes.iter().map(Vec::len).sum::<usize>() + 2);
    for b in &bytes {
        all.extend_from_slice(b);
        all.push(0);
    }
    Ok((bytes, xxh3_64(&all)))
}

fn build(files: &TlsFiles, [cert, key, ca]: &[Vec<u8>; 3]) -> Result<ServerConfig, TlsError> {
    let chain = certificates(&files.cert, cert)?;
    let key = private_key(&files.key, key)?;
    let mut roots = RootCertStore::empty();
    for ca in certificates(&files.client_ca, ca)? {
        roots
            .add(ca)
            .map_err(|e| TlsError::Verifier(e.to_string()))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| TlsError::Verifier(e.to_string()))?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    // gRPC over TLS is HTTP/2, negotiated by ALPN.
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

fn certificates(path: &Path, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let blocks = pem::parse_many(pem).unwrap_or_default();
    let certs: Vec<CertificateDer<'static>> = blocks
        .into_iter()
        .filter(|b| b.tag() == "CERTIFICATE")
        .map(|b| CertificateDer::from(b.into_contents()))
        .collect();
    if certs.is_empty() {
        return Err(TlsError::Pem {
            path: path.to_owned(),
            what: "PEM certificate",
        });
    }
    Ok(certs)
}

fn private_key(path: &Path, pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    let blocks = pem::parse_many(pem).unwrap_or_default();
    blocks
        .into_iter()
        .find_map(|b| match b.tag() {
            "PRIVATE KEY" => Some(PrivatePkcs8KeyDer::from(b.into_contents()).into()),
            "RSA PRIVATE KEY" => Some(PrivatePkcs1KeyDer::from(b.into_contents()).into()),
            "EC PRIVATE KEY" => Some(PrivateSec1KeyDer::from(b.into_contents()).into()),
            _ => None,
        })
        .ok_or_else(|| TlsError::Pem {
            path: path.to_owned(),
            what: "unencrypted PEM private key",
        })
}

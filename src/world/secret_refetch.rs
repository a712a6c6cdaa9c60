//! TLS keys only where an Ingress needs them: the pipeline keeps the data of a
//! Secret no Ingress names out of memory (metadata and type stay) and asks the
//! source for it again once an Ingress names it.

use k8s_openapi::api::core::v1::Secret;
use tokio::sync::mpsc;
use tracing::warn;

use super::object::ObjectKey;

/// Asks a source to deliver a Secret again, with its data.
#[derive(Clone, Debug)]
pub struct SecretRefetch(mpsc::Sender<ObjectKey>);

impl SecretRefetch {
    /// A requester, and the requests for the source to serve.
    pub fn channel(capacity: usize) -> (SecretRefetch, mpsc::Receiver<ObjectKey>) {
        let (tx, rx) = mpsc::channel(capacity);
        (SecretRefetch(tx), rx)
    }

    /// Asks for Secret `key` again; never waits (a request that does not fit
    /// is logged, and the Secret arrives with its next change or re-list).
    pub fn request(&self, key: ObjectKey) {
        if let Err(e) = self.0.try_send(key) {
            warn!(error = %e, "cannot ask the source for a Secret's data");
        }
    }
}

/// `secret` without its data: what is kept of a Secret no Ingress names.
pub fn without_data(secret: &Secret) -> Secret {
    Secret {
        metadata: secret.metadata.clone(),
        type_: secret.type_.clone(),
        immutable: secret.immutable,
        data: None,
        string_data: None,
    }
}

//! Fetching one Secret again, by name, when the pipeline asks: it keeps the
//! data of Secrets no Ingress names out of memory and needs it back once one
//! does. A list with a name field selector (the RBAC grants list and watch, not
//! get) and the watch's label selector, of any type: an annotation can name an
//! Opaque Secret (`named_secrets.rs`).

use k8s_openapi::api::core::v1::Secret;
use kube::api::ListParams;
use kube::{Api, Client};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::scrub::scrub;
use crate::world::{Object, ObjectKey, WorldEvent};

/// What a fetch needs to ask the API server.
pub(super) struct SecretFetch {
    pub(super) client: Client,
    pub(super) label_selector: Option<String>,
    /// The one namespace watched, if any: others are not fetched.
    pub(super) namespace: Option<String>,
}

impl SecretFetch {
    /// Serves `requests` until they or `events` close.
    pub(super) async fn serve(
        self,
        mut requests: mpsc::Receiver<ObjectKey>,
        events: mpsc::Sender<WorldEvent>,
    ) {
        while let Some(key) = requests.recv().await {
            if self
                .namespace
                .as_ref()
                .is_some_and(|ns| *ns != key.namespace)
            {
                continue;
            }
            let api = Api::<Secret>::namespaced(self.client.clone(), &key.namespace);
            let mut params = ListParams::default().fields(&format!("metadata.name={}", key.name));
            if let Some(selector) = &self.label_selector {
                params = params.labels(selector);
            }
            match api.list(&params).await {
                Ok(list) => {
                    for mut secret in list.items {
                        scrub(&mut secret.metadata);
                        debug!(secret = %key, "fetched a Secret an Ingress names again");
                        if events
                            .send(WorldEvent::Upsert(Object::Secret(secret)))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                }
                // Its next change or re-list brings it; until then its host
                // has no HTTPS, as with any missing Secret.
                Err(e) => {
                    warn!(secret = %key, error = %e, "cannot fetch a Secret an Ingress names")
                }
            }
        }
    }
}

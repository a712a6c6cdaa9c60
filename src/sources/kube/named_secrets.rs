//! Secrets named by ingress-nginx annotations (`auth-secret`,
//! `auth-tls-secret`), watched one by one by name, whatever their type: they
//! are usually Opaque, so the Secret watch (only `type=kubernetes.io/tls`,
//! never every Secret of the cluster) does not bring them.
//!
//! The Ingress watch hands every name its Ingresses' annotations use to
//! [`NamedSecretWatches`], which opens one watch (field selector
//! `metadata.name`) per new name and keeps it for the life of the source (they
//! are as many as the distinct names, and a name usually stays named). The
//! Secrets they hold are also kept here, so a re-list of the TLS Secret watch,
//! which replaces every Secret of the world, keeps them
//! ([`NamedSecrets::add_to`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};

use k8s_openapi::api::core::v1::Secret;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_stream::StreamExt;

use super::resilient_watch::resilient_watch;
use super::scrub::scrub;
use crate::world::{Kind, Object, ObjectKey, ObjectRef, WorldEvent};

/// The Secrets the by-name watches currently hold.
#[derive(Clone, Debug, Default)]
pub(super) struct NamedSecrets(Arc<Mutex<BTreeMap<ObjectKey, Secret>>>);

/// What the Ingress and Secret watches share with the by-name watches.
#[derive(Clone, Debug)]
pub(super) struct NamedSecretsLink {
    /// Names to watch (repeats are ignored).
    pub(super) names: mpsc::UnboundedSender<ObjectKey>,
    /// What the by-name watches hold.
    pub(super) secrets: NamedSecrets,
}

/// Opens the by-name watches.
pub(super) struct NamedSecretWatches {
    pub(super) client: Client,
    pub(super) label_selector: Option<String>,
    /// The one namespace watched, if any: names in others are not watched.
    pub(super) namespace: Option<String>,
    pub(super) secrets: NamedSecrets,
}

// === impl NamedSecrets ===

impl NamedSecrets {
    fn set(&self, key: ObjectKey, secret: Option<Secret>) -> Option<Secret> {
        let mut held = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match secret {
            Some(secret) => held.insert(key, secret),
            None => held.remove(&key),
        }
    }

    /// `objects` (a full list of Secrets) with the held Secrets it lacks added.
    pub(super) fn add_to(&self, mut objects: Vec<Object>) -> Vec<Object> {
        let held = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let listed: BTreeSet<ObjectKey> = objects
            .iter()
            .filter_map(|o| ObjectKey::of(o.meta(), true))
            .collect();
        objects.extend(
            held.iter()
                .filter(|(key, _)| !listed.contains(*key))
                .map(|(_, secret)| Object::Secret(secret.clone())),
        );
        objects
    }
}

// === impl NamedSecretWatches ===

impl NamedSecretWatches {
    /// Opens a watch for each new name of `names` until it or `events` closes.
    pub(super) async fn serve(
        self,
        mut names: mpsc::UnboundedReceiver<ObjectKey>,
        events: mpsc::Sender<WorldEvent>,
    ) {
        let mut watched: BTreeSet<ObjectKey> = BTreeSet::new();
        let mut watches = JoinSet::new();
        while let Some(key) = names.recv().await {
            let elsewhere = self
                .namespace
                .as_ref()
                .is_some_and(|ns| *ns != key.namespace);
            if elsewhere || watched.contains(&key) || events.is_closed() {
                continue;
            }
            watched.insert(key.clone());
            let api = Api::<Secret>::namespaced(self.client.clone(), &key.namespace);
            let mut config =
                watcher::Config::default().fields(&format!("metadata.name={}", key.name));
            if let Some(selector) = &self.label_selector {
                config = config.labels(selector);
            }
            watches.spawn(watch_one(
                api,
                config,
                key,
                self.secrets.clone(),
                events.clone(),
            ));
        }
        watches.abort_all();
    }
}

/// Watches the one Secret `key` until `events` closes: each version as an
/// upsert, its deletion (or its absence from a re-list after it was seen) as
/// a delete.
async fn watch_one(
    api: Api<Secret>,
    config: watcher::Config,
    key: ObjectKey,
    held: NamedSecrets,
    events: mpsc::Sender<WorldEvent>,
) {
    let stream = resilient_watch(
        api,
        config,
        format!("Secret {key} (named by an annotation)"),
    );
    tokio::pin!(stream);
    let mut listed = false;
    while let Some(event) = stream.next().await {
        let out = match event {
            Event::Init => {
                listed = false;
                continue;
            }
            Event::InitApply(secret) | Event::Apply(secret) => {
                let mut secret = secret;
                scrub(&mut secret.metadata);
                listed = true;
                held.set(key.clone(), Some(secret.clone()));
                WorldEvent::Upsert(Object::Secret(secret))
            }
            Event::InitDone if listed => continue,
            Event::InitDone | Event::Delete(_) => {
                if held.set(key.clone(), None).is_none() {
                    continue;
                }
                WorldEvent::Delete(ObjectRef {
                    kind: Kind::Secret,
                    key: key.clone(),
                })
            }
        };
        if events.send(out).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(ns: &str, name: &str, type_: &str) -> Secret {
        serde_json::from_value(serde_json::json!({
            "metadata": {"namespace": ns, "name": name}, "type": type_,
        }))
        .unwrap_or_else(|e| panic!("bad fixture: {e}"))
    }

    fn names(objects: &[Object]) -> Vec<String> {
        objects
            .iter()
            .filter_map(|o| ObjectKey::of(o.meta(), true))
            .map(|k| k.to_string())
            .collect()
    }

    #[test]
    fn a_relist_of_tls_secrets_keeps_the_secrets_watched_by_name() {
        let held = NamedSecrets::default();
        held.set(
            ObjectKey::new("ns", "users"),
            Some(secret("ns", "users", "Opaque")),
        );
        // A TLS Secret named by an annotation too: the list has it already.
        held.set(
            ObjectKey::new("ns", "both"),
            Some(secret("ns", "both", "kubernetes.io/tls")),
        );
        let listed = vec![
            Object::Secret(secret("ns", "both", "kubernetes.io/tls")),
            Object::Secret(secret("ns", "cert", "kubernetes.io/tls")),
        ];
        assert_eq!(
            names(&held.add_to(listed.clone())),
            ["ns/both", "ns/cert", "ns/users"]
        );
        held.set(ObjectKey::new("ns", "users"), None);
        assert_eq!(names(&held.add_to(listed)), ["ns/both", "ns/cert"]);
    }
}

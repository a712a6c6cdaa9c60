//! The Kubernetes source: five watchers, one per kind, and one by-name watch
//! per Secret an annotation names (`named_secrets.rs`).

use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use kube::runtime::watcher;
use kube::{Api, Client};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::config::{KubeSourceConfig, TLS_SECRET_FIELD_SELECTOR};
use super::kind_watch::{watch_kind, Watched};
use super::named_secrets::{NamedSecretWatches, NamedSecrets, NamedSecretsLink};
use super::observed_status::ObservedIngressStatus;
use super::secret_fetch::SecretFetch;
use crate::sources::health::SourceHealth;
use crate::world::{Kind, ObjectKey, WorldEvent};

/// The name a kind's watcher reports in [`WorldEvent::Synced`]: the pipeline's
/// sync gate waits for all five.
pub fn source_name(kind: Kind) -> String {
    format!("kube/{kind}")
}

/// Ingresses, IngressClasses, Services, EndpointSlices and TLS Secrets from an
/// API server.
pub struct KubeSource {
    client: Client,
    config: KubeSourceConfig,
    observed: ObservedIngressStatus,
    /// Secrets whose data the pipeline asks for again.
    refetch: Option<mpsc::Receiver<ObjectKey>>,
    /// Each kind's watch: synced, in an outage since when.
    health: SourceHealth,
    /// The by-name watches of Secrets annotations name, once running.
    named: Option<NamedSecretsLink>,
}

impl KubeSource {
    /// A source reading through `client`.
    pub fn new(client: Client, config: KubeSourceConfig) -> Self {
        KubeSource {
            client,
            config,
            observed: ObservedIngressStatus::default(),
            refetch: None,
            health: SourceHealth::default(),
            named: None,
        }
    }

    /// Serves the pipeline's requests for a Secret's data (it keeps only the
    /// data of Secrets some Ingress names): each is listed again by name.
    pub fn with_secret_refetch(mut self, requests: mpsc::Receiver<ObjectKey>) -> Self {
        self.refetch = Some(requests);
        self
    }

    /// The sources the pipeline's sync gate must wait for.
    pub fn source_names() -> Vec<String> {
        Kind::ALL.into_iter().map(source_name).collect()
    }

    /// The Ingress addresses as the API server has them (for the status writer).
    pub fn observed_status(&self) -> ObservedIngressStatus {
        self.observed.clone()
    }

    /// Whether each kind's watch is in sync or in an outage (by
    /// [`source_name`]), for `/readyz`.
    pub fn health(&self) -> SourceHealth {
        self.health.clone()
    }

    /// Watches until `events` is closed.
    pub async fn run(mut self, events: mpsc::Sender<WorldEvent>) {
        let mut secrets = watcher::Config::default().fields(TLS_SECRET_FIELD_SELECTOR);
        if let Some(selector) = &self.config.secret_label_selector {
            secrets = secrets.labels(selector);
        }
        let all = watcher::Config::default;
        let mut tasks = JoinSet::new();
        let (names, requests) = mpsc::unbounded_channel();
        let named = NamedSecretsLink {
            names,
            secrets: NamedSecrets::default(),
        };
        let watches = NamedSecretWatches {
            client: self.client.clone(),
            label_selector: self.config.secret_label_selector.clone(),
            namespace: self.config.namespace.clone(),
            secrets: named.secrets.clone(),
        };
        tasks.spawn(watches.serve(requests, events.clone()));
        self.named = Some(named);
        let classes = Api::<IngressClass>::all(self.client.clone());
        self.spawn(&mut tasks, self.api::<Ingress>(), all(), &events);
        self.spawn(&mut tasks, classes, all(), &events);
        self.spawn(&mut tasks, self.api::<Service>(), all(), &events);
        self.spawn(&mut tasks, self.api::<EndpointSlice>(), all(), &events);
        self.spawn(&mut tasks, self.api::<Secret>(), secrets, &events);
        if let Some(requests) = self.refetch.take() {
            let fetch = SecretFetch {
                client: self.client.clone(),
                label_selector: self.config.secret_label_selector.clone(),
                namespace: self.config.namespace.clone(),
            };
            tasks.spawn(fetch.serve(requests, events.clone()));
        }
        while tasks.join_next().await.is_some() {}
    }

    /// A namespaced kind, in the one namespace watched or in all.
    fn api<K>(&self) -> Api<K>
    where
        K: Watched + kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    {
        match &self.config.namespace {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        }
    }

    fn spawn<K: Watched>(
        &self,
        tasks: &mut JoinSet<()>,
        api: Api<K>,
        config: watcher::Config,
        events: &mpsc::Sender<WorldEvent>,
    ) {
        // Only the Ingress watch names Secrets, and only the Secret watch
        // lists them.
        let named = match K::KIND {
            Kind::Ingress | Kind::Secret => self.named.clone(),
            _ => None,
        };
        tasks.spawn(watch_kind(
            api,
            config,
            self.observed.clone(),
            events.clone(),
            self.health.clone(),
            named,
        ));
    }
}

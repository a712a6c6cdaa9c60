//! Probes in a namespace of a cluster. The bench creates the namespace (marked
//! with a label) and deletes it after; a namespace without that label is
//! refused unless told to use it, and then only labelled probe objects are
//! touched. Probe objects are deleted one by one before the namespace, so none
//! lingers while the namespace terminates.

use std::time::Instant;

use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::manifest::{Backend, ProbeObjects};
use super::probe::{Probe, MANAGED_BY, MANAGED_BY_LABEL};
use super::sink::{ProbeSink, SinkError};

/// Label marking a namespace as created by the bench.
pub const NAMESPACE_LABEL: &str = "interlock.dev/bench-push";

/// A namespace of probe objects.
pub struct KubeSink {
    client: Client,
    namespace: String,
    /// The bench created it (or a run of it did): delete it on cleanup.
    owned: bool,
    backend: Backend,
}

// === impl KubeSink ===

impl KubeSink {
    /// Takes `namespace` for the run (see the module doc) and resolves the
    /// probes' backend from the EndpointSlices of Service `backend`
    /// ("namespace/name"): its ready addresses and first port.
    pub async fn open(
        client: Client,
        namespace: &str,
        use_existing: bool,
        backend: &str,
    ) -> Result<KubeSink, SinkError> {
        let backend = resolve_backend(&client, backend).await?;
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let kube = |what: String| move |source| SinkError::Kube { what, source };
        let existing = namespaces
            .get_opt(namespace)
            .await
            .map_err(kube(format!("read namespace {namespace}")))?;
        let owned = match existing {
            Some(ns) if has_marker(&ns.metadata) => true,
            Some(_) if use_existing => false,
            Some(_) => {
                return Err(SinkError::NotOwned(format!(
                    "namespace {namespace} exists and was not created by the bench (no label \
                     {NAMESPACE_LABEL}): pass --use-existing to write probes into it (only \
                     objects labelled {MANAGED_BY_LABEL}={MANAGED_BY} are touched), or name \
                     another --namespace"
                )))
            }
            None => {
                let ns = Namespace {
                    metadata: ObjectMeta {
                        name: Some(namespace.to_owned()),
                        labels: Some([(NAMESPACE_LABEL.to_owned(), "owned".to_owned())].into()),
                        ..ObjectMeta::default()
                    },
                    ..Namespace::default()
                };
                namespaces
                    .create(&PostParams::default(), &ns)
                    .await
                    .map_err(kube(format!("create namespace {namespace}")))?;
                true
            }
        };
        Ok(KubeSink {
            client,
            namespace: namespace.to_owned(),
            owned,
            backend,
        })
    }

    fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }
}

impl ProbeSink for KubeSink {
    fn describe(&self) -> String {
        format!("namespace {}", self.namespace)
    }

    fn namespace(&self) -> &str {
        &self.namespace
    }

    async fn write(&self, probe: &Probe, objects: &ProbeObjects) -> Result<Instant, SinkError> {
        upsert(&self.api::<Service>(), &objects.service).await?;
        upsert(&self.api::<EndpointSlice>(), &objects.endpoints).await?;
        let at = Instant::now();
        upsert(&self.api::<Ingress>(), &objects.ingress)
            .await
            .map_err(|e| match e {
                SinkError::Kube { source, .. } => SinkError::Kube {
                    what: format!("write probe Ingress {probe}"),
                    source,
                },
                e => e,
            })?;
        Ok(at)
    }

    async fn delete(&self, probe: &Probe) -> Result<(), SinkError> {
        let name = probe.name();
        delete(&self.api::<Ingress>(), &name).await?;
        delete(&self.api::<EndpointSlice>(), &format!("{name}-1")).await?;
        delete(&self.api::<Service>(), &name).await
    }

    async fn cleanup(&self) -> Result<usize, SinkError> {
        let removed = delete_labelled(&self.api::<Ingress>()).await?;
        delete_labelled(&self.api::<EndpointSlice>()).await?;
        delete_labelled(&self.api::<Service>()).await?;
        if self.owned {
            let namespaces: Api<Namespace> = Api::all(self.client.clone());
            delete(&namespaces, &self.namespace).await?;
        }
        Ok(removed)
    }

    fn shared_backend(&self) -> Option<Backend> {
        Some(self.backend.clone())
    }
}

fn has_marker(meta: &ObjectMeta) -> bool {
    meta.labels
        .as_ref()
        .is_some_and(|l| l.contains_key(NAMESPACE_LABEL))
}

/// Creates `object`, or merges it over the existing one (the churn's update).
async fn upsert<K>(api: &Api<K>, object: &K) -> Result<(), SinkError>
where
    K: Resource + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
    K::DynamicType: Default,
{
    let name = object.meta().name.clone().unwrap_or_default();
    let what = format!("write {} {name}", K::kind(&K::DynamicType::default()));
    match api.create(&PostParams::default(), object).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => api
            .patch(&name, &PatchParams::default(), &Patch::Merge(object))
            .await
            .map(|_| ())
            .map_err(|source| SinkError::Kube { what, source }),
        Err(source) => Err(SinkError::Kube { what, source }),
    }
}

/// Deletes `name`; already gone is fine.
async fn delete<K>(api: &Api<K>, name: &str) -> Result<(), SinkError>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(source) => Err(SinkError::Kube {
            what: format!("delete {name}"),
            source,
        }),
    }
}

/// Deletes every object the bench labelled; returns how many.
async fn delete_labelled<K>(api: &Api<K>) -> Result<usize, SinkError>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let selector = format!("{MANAGED_BY_LABEL}={MANAGED_BY}");
    let list = api
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|source| SinkError::Kube {
            what: "list probe objects".into(),
            source,
        })?;
    let mut removed = 0;
    for object in list.items {
        if let Some(name) = object.meta().name.as_deref() {
            delete(api, name).await?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The ready endpoints of Service `backend` ("namespace/name").
async fn resolve_backend(client: &Client, backend: &str) -> Result<Backend, SinkError> {
    let Some((namespace, name)) = backend.split_once('/') else {
        return Err(SinkError::Backend(format!(
            "--backend-service {backend:?}: expected NAMESPACE/NAME"
        )));
    };
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), namespace);
    let list = slices
        .list(&ListParams::default().labels(&format!("kubernetes.io/service-name={name}")))
        .await
        .map_err(|source| SinkError::Kube {
            what: format!("read the endpoints of Service {backend}"),
            source,
        })?;
    let mut addresses = Vec::new();
    let mut port = None;
    for slice in &list.items {
        port = port.or_else(|| slice.ports.iter().flatten().find_map(|p| p.port));
        for endpoint in &slice.endpoints {
            let ready = endpoint
                .conditions
                .as_ref()
                .and_then(|c| c.ready)
                .unwrap_or(true);
            if ready {
                addresses.extend(
                    endpoint
                        .addresses
                        .iter()
                        .filter_map(|a| a.parse::<std::net::IpAddr>().ok()),
                );
            }
        }
    }
    let port = port.and_then(|p| u16::try_from(p).ok());
    match (addresses.is_empty(), port) {
        (false, Some(port)) => Ok(Backend { addresses, port }),
        _ => Err(SinkError::Backend(format!(
            "Service {backend} has no ready endpoint with a port: probes need a backend that answers"
        ))),
    }
}

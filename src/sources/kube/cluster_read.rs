//! Reading a cluster's Ingresses once, with the IngressClasses that decide
//! which are ours and the Secrets they name, into a [`World`]: what
//! `interlock migrate-check` reports on when pointed at a cluster.
//!
//! Secrets are fetched one by one by name (a list with a `metadata.name`
//! field selector, as the watch's RBAC grants list, not get), never all of
//! them: a cluster's Helm release Secrets alone can be hundreds of megabytes.
//! Services and EndpointSlices are not read: the annotation verdicts do not
//! depend on them.

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use kube::api::ListParams;
use kube::{Api, Client};

use super::scrub::scrub;
use crate::world::{ingress_refs, Kind, Object, ObjectKey, World};

/// Why the cluster could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ClusterReadError {
    /// Listing one kind failed.
    #[error("cannot list {kind}")]
    List {
        /// The kind.
        kind: Kind,
        /// Why.
        source: kube::Error,
    },
}

/// What was read, and the named Secrets that could not be fetched (their
/// Ingresses are reported as if the Secret were missing).
#[derive(Debug)]
pub struct ClusterRead {
    /// The Ingresses (of `namespace`, or all), every IngressClass, and the
    /// Secrets the Ingresses name.
    pub world: World,
    /// Secrets named but not fetched, and why.
    pub unreadable: Vec<(ObjectKey, kube::Error)>,
}

/// Reads the Ingresses of `namespace` (all namespaces when `None`) through
/// `client`.
pub async fn read_cluster(
    client: Client,
    namespace: Option<&str>,
) -> Result<ClusterRead, ClusterReadError> {
    let ingresses: Api<Ingress> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let list_error = |kind| move |source| ClusterReadError::List { kind, source };
    let ingresses = ingresses
        .list(&ListParams::default())
        .await
        .map_err(list_error(Kind::Ingress))?;
    let classes = Api::<IngressClass>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map_err(list_error(Kind::IngressClass))?;
    let mut world = World::new();
    let mut named: Vec<ObjectKey> = Vec::new();
    for mut ingress in ingresses.items {
        scrub(&mut ingress.metadata);
        ingress.status = None;
        named.extend(
            ingress_refs(&ingress)
                .into_iter()
                .filter(|r| r.kind == Kind::Secret)
                .map(|r| r.key),
        );
        world.upsert(Object::Ingress(ingress));
    }
    for mut class in classes.items {
        scrub(&mut class.metadata);
        world.upsert(Object::IngressClass(class));
    }
    named.sort();
    named.dedup();
    let mut unreadable = Vec::new();
    for key in named {
        let api = Api::<Secret>::namespaced(client.clone(), &key.namespace);
        let params = ListParams::default().fields(&format!("metadata.name={}", key.name));
        match api.list(&params).await {
            Ok(list) => {
                for mut secret in list.items {
                    scrub(&mut secret.metadata);
                    world.upsert(Object::Secret(secret));
                }
            }
            Err(e) => unreadable.push((key, e)),
        }
    }
    Ok(ClusterRead { world, unreadable })
}

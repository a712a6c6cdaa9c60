//! One kind's watcher: kube-rs list/watch events turned into world events.

use std::collections::BTreeMap;
use std::fmt::Debug;

use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass, IngressLoadBalancerIngress};
use kube::runtime::watcher::{self, Event};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tracing::info;

use super::named_secrets::NamedSecretsLink;
use super::observed_status::ObservedIngressStatus;
use super::resilient_watch::resilient_watch_reporting;
use super::scrub::scrub;
use super::source::source_name;
use crate::sources::health::SourceHealth;
use crate::world::{annotation_secrets, Kind, Object, ObjectKey, ObjectRef, WorldEvent};

/// A Kubernetes type the source watches.
pub(super) trait Watched:
    Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static
{
    /// Which world kind it is.
    const KIND: Kind;
    /// Wraps it for the world.
    fn into_object(self) -> Object;
}

macro_rules! watched {
    ($($ty:ident),*) => {$(
        impl Watched for $ty {
            const KIND: Kind = Kind::$ty;
            fn into_object(self) -> Object {
                Object::$ty(self)
            }
        }
    )*};
}
watched!(Ingress, IngressClass, Service, EndpointSlice, Secret);

/// Turns objects from the API server into world objects: scrubbed metadata,
/// and an Ingress's status moved out to the [`ObservedIngressStatus`] (it is
/// Interlock's own output, not input to translation). With `named`, the
/// Secrets an Ingress's annotations name are handed to the by-name watches, and
/// a list of Secrets gets the ones they hold.
struct Intake {
    observed: ObservedIngressStatus,
    named: Option<NamedSecretsLink>,
}

impl Intake {
    fn admit(&self, object: impl Watched) -> Object {
        let (object, status) = split(object);
        if let Some((key, addresses)) = status {
            self.observed.set(key, addresses);
        }
        self.name_secrets(&object);
        object
    }

    fn admit_all<K: Watched>(&self, objects: Vec<K>) -> Vec<Object> {
        let mut statuses = BTreeMap::new();
        let objects: Vec<Object> = objects
            .into_iter()
            .map(|o| {
                let (object, status) = split(o);
                statuses.extend(status);
                self.name_secrets(&object);
                object
            })
            .collect();
        if K::KIND == Kind::Ingress {
            self.observed.replace(statuses);
        }
        match (&self.named, K::KIND) {
            (Some(named), Kind::Secret) => named.secrets.add_to(objects),
            _ => objects,
        }
    }

    /// Hands the Secrets `object`'s annotations name (an Ingress's) to the
    /// by-name watches.
    fn name_secrets(&self, object: &Object) {
        let (Some(named), Object::Ingress(ingress)) = (&self.named, object) else {
            return;
        };
        for key in annotation_secrets(ingress) {
            // Closed only when the source stops.
            let _ = named.names.send(key);
        }
    }

    fn forget(&self, reference: &ObjectRef) {
        if reference.kind == Kind::Ingress {
            self.observed.remove(&reference.key);
        }
    }
}

/// The world's object (metadata scrubbed), and for an Ingress its key and
/// the addresses its status had (taken out of the object).
fn split(object: impl Watched) -> (Object, Option<(ObjectKey, Vec<IngressLoadBalancerIngress>)>) {
    let mut object = object.into_object();
    scrub(object.meta_mut());
    let status = match &mut object {
        Object::Ingress(ingress) => ObjectKey::of(&ingress.metadata, true).map(|key| {
            let addresses = ingress
                .status
                .take()
                .and_then(|s| s.load_balancer)
                .and_then(|lb| lb.ingress)
                .unwrap_or_default();
            (key, addresses)
        }),
        _ => None,
    };
    (object, status)
}

/// Watches `api` until `events` is closed (errors are retried, see
/// [`resilient_watch`](super::resilient_watch)); a watch that expired
/// re-lists, and the re-list replaces the kind in one event. Each list and
/// each outage is reported to `health`. `named`: see [`Intake`].
pub(super) async fn watch_kind<K: Watched>(
    api: Api<K>,
    config: watcher::Config,
    observed: ObservedIngressStatus,
    events: mpsc::Sender<WorldEvent>,
    health: SourceHealth,
    named: Option<NamedSecretsLink>,
) {
    let intake = Intake { observed, named };
    let source = source_name(K::KIND);
    let reporting = (health.clone(), source.clone());
    let stream = resilient_watch_reporting(api, config, K::KIND.to_string(), move |outage| {
        let (health, source) = &reporting;
        match outage {
            Some(error) => health.failing(source, &error.to_string()),
            None => health.recovered(source),
        }
    });
    tokio::pin!(stream);
    let mut listing: Option<Vec<K>> = None;
    while let Some(event) = stream.next().await {
        let out = match event {
            Event::Init => {
                listing = Some(Vec::new());
                continue;
            }
            Event::InitApply(object) => {
                listing.get_or_insert_with(Vec::new).push(object);
                continue;
            }
            Event::InitDone => {
                let objects = intake.admit_all(listing.take().unwrap_or_default());
                info!(kind = %K::KIND, objects = objects.len(), "listed");
                health.synced(&source);
                let replace = WorldEvent::Replace {
                    kind: K::KIND,
                    objects,
                };
                if events.send(replace).await.is_err() {
                    return;
                }
                WorldEvent::Synced {
                    source: source.clone(),
                }
            }
            Event::Apply(object) => WorldEvent::Upsert(intake.admit(object)),
            Event::Delete(object) => {
                let Some(key) = ObjectKey::of(object.meta(), K::KIND != Kind::IngressClass) else {
                    continue;
                };
                let reference = ObjectRef { kind: K::KIND, key };
                intake.forget(&reference);
                WorldEvent::Delete(reference)
            }
        };
        if events.send(out).await.is_err() {
            return;
        }
    }
}

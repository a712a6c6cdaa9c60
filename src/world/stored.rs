//! One object as the world stores it (behind an `Arc`), so a later stage can
//! remember an object's earlier version and put it back without copying it:
//! NACK containment serves a rejected object's last accepted version.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};

use super::object::{Kind, ObjectKey, ObjectRef, RedactedSecret};
use super::service_slices::service_of;
use super::world::World;

/// A stored object of any kind; clones share the object. `Debug` never shows
/// a Secret's data.
#[derive(Clone)]
pub enum Stored {
    /// An Ingress.
    Ingress(Arc<Ingress>),
    /// An IngressClass.
    IngressClass(Arc<IngressClass>),
    /// A Service.
    Service(Arc<Service>),
    /// An EndpointSlice.
    EndpointSlice(Arc<EndpointSlice>),
    /// A Secret.
    Secret(Arc<Secret>),
}

impl std::fmt::Debug for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stored::Ingress(o) => f.debug_tuple("Ingress").field(o).finish(),
            Stored::IngressClass(o) => f.debug_tuple("IngressClass").field(o).finish(),
            Stored::Service(o) => f.debug_tuple("Service").field(o).finish(),
            Stored::EndpointSlice(o) => f.debug_tuple("EndpointSlice").field(o).finish(),
            Stored::Secret(o) => f.debug_tuple("Secret").field(&RedactedSecret(o)).finish(),
        }
    }
}

impl PartialEq for Stored {
    /// Same object: the same `Arc`, or equal content.
    fn eq(&self, other: &Stored) -> bool {
        fn same<T: PartialEq>(a: &Arc<T>, b: &Arc<T>) -> bool {
            Arc::ptr_eq(a, b) || **a == **b
        }
        match (self, other) {
            (Stored::Ingress(a), Stored::Ingress(b)) => same(a, b),
            (Stored::IngressClass(a), Stored::IngressClass(b)) => same(a, b),
            (Stored::Service(a), Stored::Service(b)) => same(a, b),
            (Stored::EndpointSlice(a), Stored::EndpointSlice(b)) => same(a, b),
            (Stored::Secret(a), Stored::Secret(b)) => same(a, b),
            _ => false,
        }
    }
}

// === impl World ===

impl World {
    /// The stored version of one object, if it exists.
    pub fn get(&self, object: &ObjectRef) -> Option<Stored> {
        let key = &object.key;
        match object.kind {
            Kind::Ingress => self.ingresses.get(key).cloned().map(Stored::Ingress),
            Kind::IngressClass => self
                .ingress_classes
                .get(key)
                .cloned()
                .map(Stored::IngressClass),
            Kind::Service => self.services.get(key).cloned().map(Stored::Service),
            Kind::EndpointSlice => self
                .endpoint_slices
                .get(key)
                .cloned()
                .map(Stored::EndpointSlice),
            Kind::Secret => self.secrets.get(key).cloned().map(Stored::Secret),
        }
    }

    /// Puts `value` (or nothing) where `object` is; true when that changed
    /// anything. A value of another kind than `object` is ignored.
    pub fn set(&mut self, object: &ObjectRef, value: Option<Stored>) -> bool {
        if self.get(object) == value {
            return false;
        }
        let key = object.key.clone();
        match (object.kind, value) {
            (kind, None) => self.delete(kind, &key),
            (Kind::Ingress, Some(Stored::Ingress(o))) => place(&mut self.ingresses, key, o),
            (Kind::IngressClass, Some(Stored::IngressClass(o))) => {
                place(&mut self.ingress_classes, key, o)
            }
            (Kind::Service, Some(Stored::Service(o))) => place(&mut self.services, key, o),
            (Kind::EndpointSlice, Some(Stored::EndpointSlice(o))) => {
                let before = self
                    .endpoint_slices
                    .get(&key)
                    .and_then(|s| service_of(&key, s));
                let after = service_of(&key, &o);
                self.endpoint_slices.insert(key.clone(), o);
                self.slices_moved(&key, before, after);
                true
            }
            (Kind::Secret, Some(Stored::Secret(o))) => place(&mut self.secrets, key, o),
            _ => false,
        }
    }

    /// Every object of `kind`, by reference.
    pub fn refs(&self, kind: Kind) -> Vec<ObjectRef> {
        fn keys<T>(kind: Kind, map: &BTreeMap<ObjectKey, Arc<T>>) -> Vec<ObjectRef> {
            map.keys()
                .map(|key| ObjectRef {
                    kind,
                    key: key.clone(),
                })
                .collect()
        }
        match kind {
            Kind::Ingress => keys(kind, &self.ingresses),
            Kind::IngressClass => keys(kind, &self.ingress_classes),
            Kind::Service => keys(kind, &self.services),
            Kind::EndpointSlice => keys(kind, &self.endpoint_slices),
            Kind::Secret => keys(kind, &self.secrets),
        }
    }
}

fn place<T>(map: &mut BTreeMap<ObjectKey, Arc<T>>, key: ObjectKey, value: Arc<T>) -> bool {
    map.insert(key, value);
    true
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;
    use crate::world::{Object, WorldEvent};

    fn ingress(name: &str, class: &str) -> Object {
        Object::Ingress(Ingress {
            metadata: ObjectMeta {
                namespace: Some("ns".to_owned()),
                name: Some(name.to_owned()),
                ..ObjectMeta::default()
            },
            spec: Some(k8s_openapi::api::networking::v1::IngressSpec {
                ingress_class_name: Some(class.to_owned()),
                ..Default::default()
            }),
            ..Ingress::default()
        })
    }

    #[test]
    fn debug_never_shows_secret_data() {
        use k8s_openapi::api::core::v1::Secret;
        use k8s_openapi::ByteString;
        let secret = Secret {
            metadata: ObjectMeta {
                namespace: Some("ns".to_owned()),
                name: Some("tls".to_owned()),
                ..ObjectMeta::default()
            },
            data: Some(std::collections::BTreeMap::from([(
                "tls.key".to_owned(),
                ByteString(b"SECRET-KEY-MATERIAL".to_vec()),
            )])),
            string_data: Some(std::collections::BTreeMap::from([(
                "tls.crt".to_owned(),
                "SECRET-STRING-MATERIAL".to_owned(),
            )])),
            ..Secret::default()
        };
        let object = Object::Secret(secret);
        let r = object.reference().expect("named");
        let mut world = World::new();
        world.apply(WorldEvent::Upsert(object.clone()));
        let stored = world.get(&r);
        let event = WorldEvent::Upsert(object.clone());
        for shown in [
            format!("{object:?}"),
            format!("{stored:?}"),
            format!("{world:?}"),
            format!("{event:?}"),
        ] {
            assert!(!shown.contains("MATERIAL"), "{shown}");
            assert!(shown.contains("tls"), "{shown}");
        }
    }

    #[test]
    fn an_earlier_version_can_be_put_back() {
        let r = ObjectRef {
            kind: Kind::Ingress,
            key: ObjectKey::new("ns", "web"),
        };
        let mut world = World::new();
        assert_eq!(world.get(&r), None);
        world.apply(WorldEvent::Upsert(ingress("web", "a")));
        let first = world.get(&r);
        assert!(first.is_some());
        world.apply(WorldEvent::Upsert(ingress("web", "b")));
        assert_ne!(world.get(&r), first);
        assert!(world.set(&r, first.clone()));
        assert_eq!(world.get(&r), first);
        assert!(
            !world.set(&r, first),
            "putting the same version changes nothing"
        );
        assert!(world.set(&r, None));
        assert_eq!(world.get(&r), None);
        assert_eq!(world.refs(Kind::Ingress), Vec::<ObjectRef>::new());
    }
}

//! The current set of watched objects: what translation reads.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};

use super::event::WorldEvent;
use super::object::{Kind, Object, ObjectKey, ObjectRef};

/// Objects by kind and key. Values are `Arc`ed so cloning the world for a
/// translation on another thread is cheap. Sorted maps keep translation
/// deterministic (invariant 7).
#[derive(Clone, Debug, Default)]
pub struct World {
    /// Ingresses.
    pub ingresses: BTreeMap<ObjectKey, Arc<Ingress>>,
    /// IngressClasses (namespace is empty).
    pub ingress_classes: BTreeMap<ObjectKey, Arc<IngressClass>>,
    /// Services.
    pub services: BTreeMap<ObjectKey, Arc<Service>>,
    /// EndpointSlices.
    pub endpoint_slices: BTreeMap<ObjectKey, Arc<EndpointSlice>>,
    /// Secrets.
    pub secrets: BTreeMap<ObjectKey, Arc<Secret>>,
}

impl World {
    /// An empty world.
    pub fn new() -> Self {
        World::default()
    }

    /// Inserts or replaces an object; false when it was already there unchanged
    /// or has no name.
    pub fn upsert(&mut self, object: Object) -> bool {
        let Some(ObjectRef { key, .. }) = object.reference() else {
            return false;
        };
        match object {
            Object::Ingress(o) => put(&mut self.ingresses, key, o),
            Object::IngressClass(o) => put(&mut self.ingress_classes, key, o),
            Object::Service(o) => put(&mut self.services, key, o),
            Object::EndpointSlice(o) => put(&mut self.endpoint_slices, key, o),
            Object::Secret(o) => put(&mut self.secrets, key, o),
        }
    }

    /// Removes an object; false when it was not there.
    pub fn delete(&mut self, kind: Kind, key: &ObjectKey) -> bool {
        match kind {
            Kind::Ingress => self.ingresses.remove(key).is_some(),
            Kind::IngressClass => self.ingress_classes.remove(key).is_some(),
            Kind::Service => self.services.remove(key).is_some(),
            Kind::EndpointSlice => self.endpoint_slices.remove(key).is_some(),
            Kind::Secret => self.secrets.remove(key).is_some(),
        }
    }

    /// Replaces every object of `kind` at once (a re-list), so no translation
    /// ever sees the kind half-loaded. False when nothing changed.
    pub fn replace_kind(&mut self, kind: Kind, objects: Vec<Object>) -> bool {
        let mut fresh = World::default();
        for object in objects.into_iter().filter(|o| o.kind() == kind) {
            fresh.upsert(object);
        }
        match kind {
            Kind::Ingress => swap(&mut self.ingresses, fresh.ingresses),
            Kind::IngressClass => swap(&mut self.ingress_classes, fresh.ingress_classes),
            Kind::Service => swap(&mut self.services, fresh.services),
            Kind::EndpointSlice => swap(&mut self.endpoint_slices, fresh.endpoint_slices),
            Kind::Secret => swap(&mut self.secrets, fresh.secrets),
        }
    }

    /// Applies one event from a source; true when the world changed.
    pub fn apply(&mut self, event: WorldEvent) -> bool {
        match event {
            WorldEvent::Upsert(object) => self.upsert(object),
            WorldEvent::Delete(reference) => self.delete(reference.kind, &reference.key),
            WorldEvent::Replace { kind, objects } => self.replace_kind(kind, objects),
            WorldEvent::Synced { .. } => false,
        }
    }

    /// Number of objects of every kind.
    pub fn len(&self) -> usize {
        self.ingresses.len()
            + self.ingress_classes.len()
            + self.services.len()
            + self.endpoint_slices.len()
            + self.secrets.len()
    }

    /// True when the world holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn put<T: PartialEq>(map: &mut BTreeMap<ObjectKey, Arc<T>>, key: ObjectKey, value: T) -> bool {
    if map.get(&key).is_some_and(|old| **old == value) {
        return false;
    }
    map.insert(key, Arc::new(value));
    true
}

fn swap<T: PartialEq>(
    map: &mut BTreeMap<ObjectKey, Arc<T>>,
    fresh: BTreeMap<ObjectKey, Arc<T>>,
) -> bool {
    if *map == fresh {
        return false;
    }
    *map = fresh;
    true
}

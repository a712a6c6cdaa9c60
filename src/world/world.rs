//! The current set of watched objects: what translation reads.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};

use super::change::Change;
use super::event::WorldEvent;
use super::object::{Kind, Object, ObjectKey, ObjectRef};
use super::service_slices::{service_of, ServiceSlices};

/// Objects by kind and key. Values are `Arc`ed so cloning the world for a
/// translation on another thread is cheap. Sorted maps keep translation
/// deterministic (invariant 7). The maps are public for reading; change them only
/// through [`World::upsert`], [`World::delete`], [`World::replace_kind`] or
/// [`World::apply`], which also keep the index of slices by Service.
#[derive(Clone, Default)]
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
    /// EndpointSlices by Service ([`World::slices_of`]).
    service_slices: ServiceSlices,
}

impl std::fmt::Debug for World {
    /// Secrets by name only: their data must never reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("ingresses", &self.ingresses)
            .field("ingress_classes", &self.ingress_classes)
            .field("services", &self.services)
            .field("endpoint_slices", &self.endpoint_slices)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl World {
    /// An empty world.
    pub fn new() -> Self {
        World::default()
    }

    /// Inserts or replaces an object; false when it was already there unchanged
    /// or has no name.
    pub fn upsert(&mut self, object: Object) -> bool {
        match object.reference() {
            Some(ObjectRef { key, .. }) => self.insert(key, object),
            None => false,
        }
    }

    /// [`World::upsert`] of an object whose key is already known.
    fn insert(&mut self, key: ObjectKey, object: Object) -> bool {
        match object {
            Object::Ingress(o) => put(&mut self.ingresses, key, o),
            Object::IngressClass(o) => put(&mut self.ingress_classes, key, o),
            Object::Service(o) => put(&mut self.services, key, o),
            Object::EndpointSlice(o) => {
                let before = self
                    .endpoint_slices
                    .get(&key)
                    .and_then(|s| service_of(&key, s));
                let after = service_of(&key, &o);
                let changed = put(&mut self.endpoint_slices, key.clone(), o);
                if changed {
                    self.service_slices.moved(&key, before, after);
                }
                changed
            }
            Object::Secret(o) => put(&mut self.secrets, key, o),
        }
    }

    /// Removes an object; false when it was not there.
    pub fn delete(&mut self, kind: Kind, key: &ObjectKey) -> bool {
        match kind {
            Kind::Ingress => self.ingresses.remove(key).is_some(),
            Kind::IngressClass => self.ingress_classes.remove(key).is_some(),
            Kind::Service => self.services.remove(key).is_some(),
            Kind::EndpointSlice => match self.endpoint_slices.remove(key) {
                Some(slice) => {
                    self.service_slices
                        .moved(key, service_of(key, &slice), None);
                    true
                }
                None => false,
            },
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
            Kind::EndpointSlice => {
                let changed = swap(&mut self.endpoint_slices, fresh.endpoint_slices);
                if changed {
                    self.service_slices = fresh.service_slices;
                }
                changed
            }
            Kind::Secret => swap(&mut self.secrets, fresh.secrets),
        }
    }

    /// Applies one event from a source and says what it changed.
    pub fn apply(&mut self, event: WorldEvent) -> Change {
        match event {
            WorldEvent::Upsert(object) => {
                let Some(reference) = object.reference() else {
                    return Change::Unchanged;
                };
                if self.insert(reference.key.clone(), object) {
                    Change::Object(reference)
                } else {
                    Change::Unchanged
                }
            }
            WorldEvent::Delete(reference) => {
                if self.delete(reference.kind, &reference.key) {
                    Change::Object(reference)
                } else {
                    Change::Unchanged
                }
            }
            WorldEvent::Replace { kind, objects } => {
                if self.replace_kind(kind, objects) {
                    Change::Kind(kind)
                } else {
                    Change::Unchanged
                }
            }
            WorldEvent::Synced { .. } => Change::Unchanged,
        }
    }

    /// The EndpointSlices of `service` (by their `kubernetes.io/service-name`
    /// label, in its namespace), in key order, found without scanning the others.
    pub fn slices_of<'a>(
        &'a self,
        service: &'a ObjectKey,
    ) -> impl Iterator<Item = (&'a ObjectKey, &'a EndpointSlice)> + 'a {
        self.service_slices
            .slices_of(service)
            .filter_map(|key| Some((key, self.endpoint_slices.get(key)?.as_ref())))
    }

    /// Keeps the slices-by-Service index in step when a slice moved between Services.
    pub(super) fn slices_moved(
        &mut self,
        key: &ObjectKey,
        before: Option<ObjectKey>,
        after: Option<ObjectKey>,
    ) {
        self.service_slices.moved(key, before, after);
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

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    fn slice(name: &str, address_type: &str) -> Object {
        Object::EndpointSlice(EndpointSlice {
            metadata: ObjectMeta {
                namespace: Some("ns".to_owned()),
                name: Some(name.to_owned()),
                ..ObjectMeta::default()
            },
            address_type: address_type.to_owned(),
            endpoints: Vec::new(),
            ports: None,
        })
    }

    fn slice_ref(name: &str) -> ObjectRef {
        ObjectRef {
            kind: Kind::EndpointSlice,
            key: ObjectKey::new("ns", name),
        }
    }

    fn labelled(name: &str, service: Option<&str>) -> Object {
        let Object::EndpointSlice(mut slice) = slice(name, "IPv4") else {
            unreachable!("slice() makes slices");
        };
        slice.metadata.labels = service.map(|s| {
            std::collections::BTreeMap::from([(
                super::super::SERVICE_NAME_LABEL.to_owned(),
                s.to_owned(),
            )])
        });
        Object::EndpointSlice(slice)
    }

    /// What `slices_of` must say: a scan of every slice.
    fn scanned(world: &World, service: &ObjectKey) -> Vec<ObjectKey> {
        world
            .endpoint_slices
            .iter()
            .filter(|(key, slice)| service_of(key, slice).as_ref() == Some(service))
            .map(|(key, _)| key.clone())
            .collect()
    }

    #[test]
    fn slices_of_follows_every_change() {
        let services = [None, Some("a"), Some("b"), Some("c")];
        let mut world = World::new();
        let mut n: u64 = 7;
        for step in 0..2_000 {
            n = n
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let pick = (n >> 33) as usize;
            let name = format!("s{}", pick % 6);
            let service = services[(pick / 6) % services.len()];
            let event = match (pick / 24) % 8 {
                0 | 1 => WorldEvent::Delete(slice_ref(&name)),
                2 => WorldEvent::Replace {
                    kind: Kind::EndpointSlice,
                    objects: vec![labelled(&name, service), labelled("s9", Some("a"))],
                },
                _ => WorldEvent::Upsert(labelled(&name, service)),
            };
            world.apply(event);
            for service in services.iter().flatten() {
                let service = ObjectKey::new("ns", *service);
                let indexed: Vec<ObjectKey> =
                    world.slices_of(&service).map(|(k, _)| k.clone()).collect();
                assert_eq!(indexed, scanned(&world, &service), "step {step}");
            }
        }
    }

    #[test]
    fn apply_reports_what_changed() {
        let mut world = World::new();
        let upsert = |o| WorldEvent::Upsert(o);
        assert_eq!(
            world.apply(upsert(slice("a", "IPv4"))),
            Change::Object(slice_ref("a"))
        );
        assert_eq!(world.apply(upsert(slice("a", "IPv4"))), Change::Unchanged);
        assert_eq!(
            world.apply(upsert(slice("a", "IPv6"))),
            Change::Object(slice_ref("a"))
        );
        assert_eq!(
            world.apply(WorldEvent::Delete(slice_ref("a"))),
            Change::Object(slice_ref("a"))
        );
        assert_eq!(
            world.apply(WorldEvent::Delete(slice_ref("a"))),
            Change::Unchanged
        );
        let relist = || WorldEvent::Replace {
            kind: Kind::EndpointSlice,
            objects: vec![slice("b", "IPv4")],
        };
        assert_eq!(world.apply(relist()), Change::Kind(Kind::EndpointSlice));
        assert_eq!(world.apply(relist()), Change::Unchanged);
        let synced = WorldEvent::Synced {
            source: "file".to_owned(),
        };
        assert_eq!(world.apply(synced), Change::Unchanged);
        assert!(!Change::Unchanged.is_change());
    }
}

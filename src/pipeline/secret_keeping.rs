//! TLS keys in memory only where an Ingress names them: a Secret no Ingress
//! names is kept without its data, and asked for again from the source once one
//! does. Until the Ingresses are first listed every Secret is kept whole (at
//! start-up nothing is known to be unnamed, and fetching them back one by one
//! would cost a request each).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Secret;

use crate::world::{
    ingress_refs, without_data, Kind, Object, ObjectKey, ObjectRef, SecretRefetch, World,
    WorldEvent,
};

/// Which Secrets are named, and which are held without their data.
#[derive(Debug)]
pub(crate) struct SecretKeeping {
    refetch: SecretRefetch,
    /// How many Ingresses name each Secret.
    named: BTreeMap<ObjectKey, usize>,
    /// Secrets held without their data.
    stripped: BTreeSet<ObjectKey>,
    /// The Ingresses have been listed once: unnamed now means unnamed.
    listed: bool,
}

impl SecretKeeping {
    /// Keeping that asks `refetch` for data it dropped.
    pub(crate) fn new(refetch: SecretRefetch) -> Self {
        SecretKeeping {
            refetch,
            named: BTreeMap::new(),
            stripped: BTreeSet::new(),
            listed: false,
        }
    }

    /// `event` with the data of Secrets no Ingress names dropped.
    pub(crate) fn admit(&mut self, event: WorldEvent) -> WorldEvent {
        match event {
            WorldEvent::Upsert(Object::Secret(secret)) => {
                WorldEvent::Upsert(Object::Secret(self.admit_secret(secret)))
            }
            WorldEvent::Replace {
                kind: Kind::Secret,
                objects,
            } => {
                self.stripped.clear();
                let objects = objects
                    .into_iter()
                    .map(|o| match o {
                        Object::Secret(secret) => Object::Secret(self.admit_secret(secret)),
                        other => other,
                    })
                    .collect();
                WorldEvent::Replace {
                    kind: Kind::Secret,
                    objects,
                }
            }
            WorldEvent::Delete(object) if object.kind == Kind::Secret => {
                self.stripped.remove(&object.key);
                WorldEvent::Delete(object)
            }
            other => other,
        }
    }

    fn admit_secret(&mut self, secret: Secret) -> Secret {
        let Some(key) = ObjectKey::of(&secret.metadata, true) else {
            return secret;
        };
        if !self.listed || self.named.get(&key).is_some_and(|n| *n > 0) {
            self.stripped.remove(&key);
            return secret;
        }
        self.stripped.insert(key);
        without_data(&secret)
    }

    /// The Secrets the Ingresses of `world` matching `which` name (with repeats).
    pub(crate) fn named_by(world: &World, which: impl Fn(&ObjectKey) -> bool) -> Vec<ObjectKey> {
        world
            .ingresses
            .iter()
            .filter(|(key, _)| which(key))
            .flat_map(|(_, ingress)| ingress_refs(ingress))
            .filter(|r| r.kind == Kind::Secret)
            .map(|r| r.key)
            .collect()
    }

    /// Ingresses changed from naming `before` to naming `after`: asks again for
    /// the dropped data of Secrets now named; returns the Secrets no longer
    /// named, whose data the caller drops. `relisted`: all Ingresses were listed.
    pub(crate) fn ingresses_changed(
        &mut self,
        before: Vec<ObjectKey>,
        after: Vec<ObjectKey>,
        relisted: bool,
        world: &World,
    ) -> Vec<ObjectKey> {
        for key in &before {
            if let Some(n) = self.named.get_mut(key) {
                *n = n.saturating_sub(1);
            }
        }
        for key in after {
            *self.named.entry(key.clone()).or_default() += 1;
            if self.stripped.contains(&key) && self.named.get(&key) == Some(&1) {
                self.refetch.request(key);
            }
        }
        self.named.retain(|_, n| *n > 0);
        self.listed |= relisted;
        if !self.listed {
            return Vec::new();
        }
        let held_whole = |key: &ObjectKey| {
            !self.named.contains_key(key)
                && !self.stripped.contains(key)
                && world
                    .secrets
                    .get(key)
                    .is_some_and(|s| s.data.is_some() || s.string_data.is_some())
        };
        let mut unnamed: Vec<ObjectKey> = if relisted {
            world
                .secrets
                .keys()
                .filter(|k| held_whole(k))
                .cloned()
                .collect()
        } else {
            before.into_iter().filter(|k| held_whole(k)).collect()
        };
        unnamed.sort();
        unnamed.dedup();
        unnamed
    }

    /// `key`'s data was dropped.
    pub(crate) fn stripped(&mut self, key: ObjectKey) {
        self.stripped.insert(key);
    }
}

/// The reference of Secret `key`.
pub(crate) fn secret_ref(key: ObjectKey) -> ObjectRef {
    ObjectRef {
        kind: Kind::Secret,
        key,
    }
}

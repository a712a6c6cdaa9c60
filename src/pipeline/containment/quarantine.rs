//! Objects Envoy rejected, held out of the config (a new object) or at their
//! last accepted version (an edited one) until they, or something they refer
//! to, change; then they are tried again, once.

use std::collections::BTreeMap;
use std::time::SystemTime;

use crate::snapshot::ResourceType;
use crate::world::{refers_to, Kind, ObjectKey, ObjectRef, Stored, World};

/// Longest Envoy error kept (its message can embed a whole route table).
const MAX_ERROR: usize = 2048;

/// Why an object is quarantined, for operators.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The node whose Envoy rejected it.
    pub node: String,
    /// The type of the rejected response.
    pub kind: ResourceType,
    /// Envoy's error, truncated and with control characters escaped.
    pub error: String,
}

/// A quarantined object as reported in the pipeline status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuarantinedObject {
    /// The object.
    pub object: ObjectRef,
    /// Who rejected it and why.
    pub rejection: Rejection,
    /// True when its last accepted version is served instead; false when it
    /// is left out.
    pub serves_previous: bool,
    /// Ingresses it keeps from being served as written (itself, or those that
    /// refer to it).
    pub ingresses: Vec<ObjectKey>,
    /// When it was quarantined.
    pub since: SystemTime,
}

#[derive(Clone, Debug)]
struct Entry {
    /// The version Envoy rejected.
    rejected: Option<Stored>,
    /// What is served instead (`None`: left out).
    fallback: Option<Stored>,
    /// What it referred to when rejected, and their versions then.
    refers_to: Vec<(ObjectRef, Option<Stored>)>,
    rejection: Rejection,
    since: SystemTime,
}

/// Every quarantined object.
#[derive(Clone, Debug, Default)]
pub(crate) struct Quarantine {
    entries: BTreeMap<ObjectRef, Entry>,
}

impl Quarantine {
    /// Quarantines `object`'s current version, serving `fallback` instead.
    pub(crate) fn hold(
        &mut self,
        object: ObjectRef,
        fallback: Option<Stored>,
        rejection: Rejection,
        world: &World,
    ) {
        let rejected = world.get(&object);
        let refers_to = refers_to(rejected.as_ref())
            .into_iter()
            .map(|r| {
                let version = world.get(&r);
                (r, version)
            })
            .collect();
        self.entries.insert(
            object,
            Entry {
                rejected,
                fallback,
                refers_to,
                rejection,
                since: SystemTime::now(),
            },
        );
    }

    /// True when `object` is quarantined.
    pub(crate) fn contains(&self, object: &ObjectRef) -> bool {
        self.entries.contains_key(object)
    }

    /// Number of quarantined objects.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// What to serve for each quarantined object.
    pub(crate) fn fallbacks(&self) -> impl Iterator<Item = (&ObjectRef, &Option<Stored>)> {
        self.entries.iter().map(|(o, e)| (o, &e.fallback))
    }

    /// Releases every object that, or whose references, changed in `world`;
    /// returns them with the version that was served instead.
    pub(crate) fn release_changed(&mut self, world: &World) -> Vec<(ObjectRef, Option<Stored>)> {
        let changed: Vec<ObjectRef> = self
            .entries
            .iter()
            .filter(|(object, entry)| {
                world.get(object) != entry.rejected
                    || entry.refers_to.iter().any(|(r, v)| world.get(r) != *v)
            })
            .map(|(object, _)| object.clone())
            .collect();
        changed
            .into_iter()
            .filter_map(|object| {
                let entry = self.entries.remove(&object)?;
                Some((object, entry.fallback))
            })
            .collect()
    }

    /// The report of every quarantined object, with the Ingresses of `world`
    /// each one affects.
    pub(crate) fn report(&self, world: &World) -> Vec<QuarantinedObject> {
        if self.entries.is_empty() {
            return Vec::new();
        }
        let mut affected: BTreeMap<&ObjectRef, Vec<ObjectKey>> = BTreeMap::new();
        for (ingress, objects) in affected_ingresses(world, |o| self.entries.contains_key(o)) {
            for object in objects {
                if let Some((quarantined, _)) = self.entries.get_key_value(&object) {
                    affected
                        .entry(quarantined)
                        .or_default()
                        .push(ingress.clone());
                }
            }
        }
        self.entries
            .iter()
            .map(|(object, entry)| {
                let mut ingresses = affected.remove(object).unwrap_or_default();
                if object.kind == Kind::Ingress && ingresses.is_empty() {
                    ingresses.push(object.key.clone());
                }
                QuarantinedObject {
                    object: object.clone(),
                    rejection: entry.rejection.clone(),
                    serves_previous: entry.fallback.is_some(),
                    ingresses,
                    since: entry.since,
                }
            })
            .collect()
    }
}

/// The Ingresses of `world` that are among `objects` or refer to one of them.
pub(crate) fn affected_ingresses<'a>(
    world: &World,
    objects: impl Fn(&ObjectRef) -> bool + 'a,
) -> BTreeMap<ObjectKey, Vec<ObjectRef>> {
    let mut affected: BTreeMap<ObjectKey, Vec<ObjectRef>> = BTreeMap::new();
    for (key, ingress) in &world.ingresses {
        let this = ObjectRef {
            kind: Kind::Ingress,
            key: key.clone(),
        };
        let refs = refers_to(Some(&Stored::Ingress(ingress.clone())));
        for object in std::iter::once(this).chain(refs) {
            if objects(&object) {
                affected.entry(key.clone()).or_default().push(object);
            }
        }
    }
    affected
}

/// Envoy's error made safe to log and show: control characters escaped,
/// truncated to a bounded length on a character boundary.
pub(crate) fn sanitize_error(error: &str) -> String {
    let mut out = String::with_capacity(error.len().min(MAX_ERROR) + 16);
    for c in error.chars() {
        if out.len() >= MAX_ERROR {
            out.push_str("… (truncated)");
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_escaped_and_bounded() {
        assert_eq!(sanitize_error("a\nb\u{1b}c"), "a\\nb\\u{1b}c");
        let long = "é".repeat(5000);
        let s = sanitize_error(&long);
        assert!(s.len() < MAX_ERROR + 32 && s.ends_with("(truncated)"));
    }
}

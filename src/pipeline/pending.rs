//! What changed in the world since the last build, and so how much the next one
//! must redo: EndpointSlice changes need only their Services' endpoints;
//! Ingress, Service and Secret changes only what reads them (the incremental
//! translator); an IngressClass change or a re-list needs a full translation.

use std::collections::BTreeSet;

use crate::world::{Change, Kind, ObjectKey, ObjectRef};

/// Changes accumulated between two builds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Pending {
    /// An IngressClass changed or a kind was re-listed: only a full
    /// translation is correct.
    pub(crate) full: bool,
    /// Ingresses, Services and Secrets created, changed or deleted.
    pub(crate) objects: BTreeSet<ObjectRef>,
    /// EndpointSlices created, changed or deleted.
    pub(crate) slices: BTreeSet<ObjectKey>,
    /// The Services those slices belonged to before or after their change.
    pub(crate) services: BTreeSet<ObjectKey>,
}

impl Pending {
    /// True when nothing changed.
    pub(crate) fn is_empty(&self) -> bool {
        !self.full && self.slices.is_empty() && self.objects.is_empty()
    }

    /// Records `change`. For an EndpointSlice, `services` are the Services it
    /// belonged to before and after the change (a deleted slice has no "after",
    /// a relabelled one two Services).
    pub(crate) fn record(&mut self, change: Change, services: [Option<ObjectKey>; 2]) {
        if self.full {
            return;
        }
        match change {
            Change::Unchanged => {}
            Change::Object(reference) if reference.kind == Kind::EndpointSlice => {
                self.slices.insert(reference.key);
                self.services.extend(services.into_iter().flatten());
            }
            Change::Object(reference) if reference.kind != Kind::IngressClass => {
                self.objects.insert(reference);
            }
            Change::Object(_) | Change::Kind(_) => {
                // Slices no longer matter: free them now rather than at the build.
                *self = Pending {
                    full: true,
                    ..Pending::default()
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(name: &str) -> Change {
        Change::Object(ObjectRef {
            kind: Kind::EndpointSlice,
            key: ObjectKey::new("ns", name),
        })
    }

    fn svc(name: &str) -> Option<ObjectKey> {
        Some(ObjectKey::new("ns", name))
    }

    #[test]
    fn slice_changes_collect_slices_and_both_services() {
        let mut pending = Pending::default();
        assert!(pending.is_empty());
        pending.record(Change::Unchanged, [svc("x"), None]);
        assert!(pending.is_empty(), "no change records nothing");
        pending.record(slice("a-1"), [svc("a"), svc("b")]);
        pending.record(slice("c-1"), [None, svc("c")]);
        assert!(!pending.full);
        assert_eq!(pending.slices.len(), 2);
        let services: Vec<&str> = pending.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(services, ["a", "b", "c"]);
    }

    #[test]
    fn object_changes_are_collected_for_the_incremental_translator() {
        let mut pending = Pending::default();
        let service = ObjectRef {
            kind: Kind::Service,
            key: ObjectKey::new("ns", "a"),
        };
        pending.record(Change::Object(service.clone()), [None, None]);
        pending.record(slice("a-1"), [svc("a"), None]);
        assert!(!pending.full && !pending.is_empty());
        assert_eq!(pending.objects, BTreeSet::from([service]));
        assert_eq!(pending.slices.len(), 1);
    }

    #[test]
    fn class_changes_and_relists_need_a_full_build() {
        for change in [
            Change::Kind(Kind::EndpointSlice),
            Change::Object(ObjectRef {
                kind: Kind::IngressClass,
                key: ObjectKey::new("", "a"),
            }),
        ] {
            let mut pending = Pending::default();
            pending.record(slice("a-1"), [svc("a"), None]);
            pending.record(change, [None, None]);
            assert!(pending.full);
            assert!(pending.slices.is_empty() && pending.services.is_empty());
            assert!(pending.objects.is_empty());
            pending.record(slice("b-1"), [svc("b"), None]);
            assert!(pending.slices.is_empty(), "stays full until the build");
        }
    }
}

//! What changed in the world since the last build, and so how much the next one
//! must redo: EndpointSlice changes alone need only their Services' endpoints;
//! anything else needs a full translation.

use std::collections::BTreeSet;

use crate::world::{Change, Kind, ObjectKey};

/// Changes accumulated between two builds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Pending {
    /// Something other than single EndpointSlices changed: only a full
    /// translation is correct.
    pub(crate) full: bool,
    /// EndpointSlices created, changed or deleted.
    pub(crate) slices: BTreeSet<ObjectKey>,
    /// The Services those slices belonged to before or after their change.
    pub(crate) services: BTreeSet<ObjectKey>,
}

impl Pending {
    /// True when nothing changed.
    pub(crate) fn is_empty(&self) -> bool {
        !self.full && self.slices.is_empty()
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
    use crate::world::ObjectRef;

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
    fn any_other_change_needs_a_full_build() {
        for change in [
            Change::Kind(Kind::EndpointSlice),
            Change::Object(ObjectRef {
                kind: Kind::Service,
                key: ObjectKey::new("ns", "a"),
            }),
        ] {
            let mut pending = Pending::default();
            pending.record(slice("a-1"), [svc("a"), None]);
            pending.record(change, [None, None]);
            assert!(pending.full);
            assert!(pending.slices.is_empty() && pending.services.is_empty());
            pending.record(slice("b-1"), [svc("b"), None]);
            assert!(pending.slices.is_empty(), "stays full until the build");
        }
    }
}

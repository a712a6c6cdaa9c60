//! What changed between a snapshot and the one it was built from. Every
//! stream holding the older snapshot's maps needs exactly this difference; it
//! is computed once here, when the snapshot is built, instead of once per
//! stream by walking every resource.

use std::cmp::Ordering;
use std::sync::Arc;

use super::resource_type::{PerType, ResourceType};
use super::snapshot::ResourceMap;

/// Names of one type that differ between two maps, each list sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TypeChanges {
    /// In the newer map only.
    pub added: Vec<String>,
    /// In both, at another version.
    pub modified: Vec<String>,
    /// In the older map only.
    pub removed: Vec<String>,
}

/// The maps a snapshot was built from and, per type, how it differs from them.
/// Not part of what a snapshot is: equality ignores it.
#[derive(Clone, Debug)]
pub(super) struct Lineage {
    from: PerType<Arc<ResourceMap>>,
    changes: PerType<Arc<TypeChanges>>,
}

// === impl TypeChanges ===

impl TypeChanges {
    /// The differences from `older` to `newer` (one pass over both).
    pub fn between(older: &ResourceMap, newer: &ResourceMap) -> TypeChanges {
        let mut changes = TypeChanges::default();
        let mut old = older.iter().peekable();
        let mut new = newer.iter().peekable();
        loop {
            match (old.peek(), new.peek()) {
                (Some((o, was)), Some((n, is))) => match o.cmp(n) {
                    Ordering::Less => {
                        changes.removed.push((*o).clone());
                        old.next();
                    }
                    Ordering::Greater => {
                        changes.added.push((*n).clone());
                        new.next();
                    }
                    Ordering::Equal => {
                        if !Arc::ptr_eq(was, is) && was.version() != is.version() {
                            changes.modified.push((*n).clone());
                        }
                        old.next();
                        new.next();
                    }
                },
                (Some((o, _)), None) => {
                    changes.removed.push((*o).clone());
                    old.next();
                }
                (None, Some((n, _))) => {
                    changes.added.push((*n).clone());
                    new.next();
                }
                (None, None) => return changes,
            }
        }
    }

    /// True when both maps hold the same names.
    pub fn same_names(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

// === impl Lineage ===

impl Lineage {
    /// How `resources` differ from `from`'s.
    pub(super) fn new(
        from: &PerType<Arc<ResourceMap>>,
        resources: &PerType<Arc<ResourceMap>>,
    ) -> Self {
        let changes = PerType::from_fn(|kind| {
            if Arc::ptr_eq(&from[kind], &resources[kind]) {
                Arc::default()
            } else {
                Arc::new(TypeChanges::between(&from[kind], &resources[kind]))
            }
        });
        Lineage {
            from: from.clone(),
            changes,
        }
    }

    /// The changes from `map` to this snapshot's map of `kind`, when `map` is
    /// what it was built from.
    pub(super) fn since(
        &self,
        kind: ResourceType,
        map: &Arc<ResourceMap>,
    ) -> Option<&Arc<TypeChanges>> {
        Arc::ptr_eq(&self.from[kind], map).then(|| &self.changes[kind])
    }
}

impl PartialEq for Lineage {
    /// How a snapshot was reached is not what it is.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Lineage {}

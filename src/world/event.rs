//! What sources tell the world.

use super::object::{Kind, Object, ObjectRef};

/// One change from a source. Sources (file, Kubernetes) produce only these, so
/// the world and everything after it never know where objects came from.
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum WorldEvent {
    /// An object was created or changed.
    Upsert(Object),
    /// An object was deleted.
    Delete(ObjectRef),
    /// Every object of a kind, at once (initial list or re-list).
    Replace {
        /// The kind being replaced.
        kind: Kind,
        /// Its complete new set.
        objects: Vec<Object>,
    },
    /// The named source has delivered its initial state (the sync gate counts these).
    Synced {
        /// The source's name, e.g. `file` or `kube/Ingress`.
        source: String,
    },
}

//! What one event changed in the world, so later stages can redo only the work
//! that depends on it (an EndpointSlice change need not re-translate Ingresses).

use super::object::{Kind, ObjectRef};

/// The effect of one [`WorldEvent`](super::WorldEvent) on the world.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Nothing changed (an identical upsert, a delete of an absent object, an
    /// unnamed object, or `Synced`).
    Unchanged,
    /// One object was created, replaced or deleted.
    Object(ObjectRef),
    /// Some objects of a kind changed at once (a re-list); which ones is not
    /// tracked.
    Kind(Kind),
}

impl Change {
    /// True when the world changed.
    pub fn is_change(&self) -> bool {
        *self != Change::Unchanged
    }
}

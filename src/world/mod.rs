//! The world stage: the typed set of Kubernetes objects, fed by sources, plus the
//! sync gate that says when it is complete enough to translate.

mod event;
mod object;
mod sync_gate;
#[allow(clippy::module_inception)]
mod world;

pub use event::WorldEvent;
pub use object::{Kind, Object, ObjectKey, ObjectRef};
pub use sync_gate::SyncGate;
pub use world::World;

//! The world stage: the typed set of Kubernetes objects, fed by sources, plus the
//! sync gate that says when it is complete enough to translate.

mod change;
mod event;
mod object;
mod references;
mod secret_refetch;
mod service_slices;
mod stored;
mod sync_gate;
#[allow(clippy::module_inception)]
mod world;

pub use change::Change;
pub use event::WorldEvent;
pub use object::{Kind, Object, ObjectKey, ObjectRef};
pub use references::{annotation_secrets, ingress_refs, refers_to};
pub use secret_refetch::{without_data, SecretRefetch};
pub use service_slices::{service_name, service_of, SERVICE_NAME_LABEL};
pub use stored::Stored;
pub use sync_gate::SyncGate;
pub use world::World;

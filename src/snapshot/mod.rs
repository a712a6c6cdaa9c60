//! The snapshot stage: immutable, consistent, content-versioned sets of Envoy
//! resources, encoded once, and the store that publishes them to xDS streams.

mod canonical;
mod consistency;
mod lineage;
mod name;
mod references;
mod resource;
mod resource_type;
mod route_splice;
mod secret_scope;
#[allow(clippy::module_inception)]
mod snapshot;
mod store;
mod verdict;
mod version;

pub use consistency::{Inconsistency, InconsistentSnapshot};
pub use lineage::TypeChanges;
pub use name::{intern, same_name, seek_name, Name};
pub use references::References;
pub use resource::{encode_count, Resource};
pub use resource_type::{PerType, ResourceType};
pub(crate) use route_splice::{route_table, virtual_hosts_field};
pub use snapshot::{ResourceMap, Snapshot, SnapshotBuilder};
pub use store::SnapshotStore;
pub use verdict::{Verdict, VerdictReceiver};
pub use version::version_of;

//! Reporting back to Kubernetes (invariant 9): once an Ingress's current routes
//! are ACKed by the connected Envoys, the leader writes the gateway's address
//! into its `status.loadBalancer.ingress`, so `kubectl get ingress` (and
//! external-dns, cert-manager, CI scripts waiting on an ADDRESS) see it only
//! when it really serves.

mod address;
mod everywhere;
mod peer_fetch;
mod peers;
mod publish_service;
mod service_ref;
mod writer;

pub use address::{parse_addresses, StatusAddress};
pub use peers::{watch_peers, ADMIN_PORT_NAME};
pub use publish_service::watch_publish_service;
pub use service_ref::ServiceRef;
pub use writer::StatusWriter;

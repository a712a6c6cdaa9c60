//! Reporting back to Kubernetes (invariant 9): once an Ingress's current routes
//! are ACKed by the connected Envoys, the leader writes the gateway's address
//! into its `status.loadBalancer.ingress`, so `kubectl get ingress` (and
//! external-dns, cert-manager, CI scripts waiting on an ADDRESS) see it only
//! when it really serves.

mod address;
mod publish_service;
mod writer;

pub use address::{parse_addresses, StatusAddress};
pub use publish_service::{watch_publish_service, PublishService};
pub use writer::StatusWriter;

//! The Kubernetes source: kube-rs watchers on the API server, one per kind,
//! feeding the same [`WorldEvent`](crate::world::WorldEvent)s as the file source.
//!
//! Each watcher's initial list (and every re-list after a watch expired, a 410
//! Gone or an API server restart) is buffered and handed over as one
//! [`WorldEvent::Replace`](crate::world::WorldEvent::Replace), so the world never
//! holds a kind half-listed and no snapshot is built from one (invariant 1).

mod backoff;
mod client;
mod cluster_read;
mod config;
mod kind_watch;
mod named_secrets;
mod observed_status;
mod resilient_watch;
mod scrub;
mod secret_fetch;
mod source;

pub use backoff::WatchBackoff;
pub use client::{connect, KubeSourceError};
pub use cluster_read::{read_cluster, ClusterRead, ClusterReadError};
pub use config::{KubeSourceConfig, TLS_SECRET_FIELD_SELECTOR};
pub use observed_status::ObservedIngressStatus;
pub use resilient_watch::{resilient_watch, resilient_watch_reporting};
pub use source::{source_name, KubeSource};

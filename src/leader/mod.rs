//! Leader election over a `coordination.k8s.io/v1` Lease, so that of several Interlock
//! replicas exactly one writes Ingress status (invariant 9) while all serve xDS.
//!
//! kube-runtime 5 has no election helper; this follows client-go's `leaderelection`:
//! - the Lease is the lock, written with optimistic concurrency (create, or replace
//!   with the resourceVersion read: a lost race is a 409, not an error);
//! - a lease held by another replica is taken over only once its record has not
//!   changed for `leaseDurationSeconds` on *our* clock (never comparing the holder's
//!   `renewTime` with our wall clock, so skew cannot depose a live leader);
//! - a lease without a holder is free at once, which is what a graceful release leaves;
//! - the leader renews every `retry_period` and stops leading if it could not renew
//!   for `renew_deadline`, which is shorter than the lease duration, so two replicas
//!   never both believe they lead.
//!
//! ```no_run
//! # async fn example(client: kube::Client) -> Result<(), interlock::leader::LeaderError> {
//! use interlock::leader::{LeaderElector, LeaseConfig};
//!
//! let config = LeaseConfig::new("interlock-system", "interlock-leader", "pod-a-1f3c");
//! let elector = LeaderElector::with_client(client, config);
//! let leadership = elector.leadership(); // hand to the status writer
//! elector.run(async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```

mod config;
mod elector;
mod error;
mod lock;
mod observed;
mod record;

pub use config::{
    LeaseConfig, DEFAULT_LEASE_DURATION, DEFAULT_RENEW_DEADLINE, DEFAULT_RETRY_PERIOD,
};
pub use elector::LeaderElector;
pub use error::LeaderError;

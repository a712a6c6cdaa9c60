//! The xDS stage: an ADS server (SotW and delta) that moves every connected Envoy
//! to the store's newest snapshot in make-before-break order, and the tracker of
//! what each Envoy has accepted.

mod ack_tracker;
mod delta;
mod server;
mod sotw;
mod stream;
mod stream_state;
mod subscription;

pub use ack_tracker::{AckTracker, Nack, NodeStatus, TypeStatus};
pub use server::{AdsServer, XdsError};
pub use stream_state::{Mode, Outcome, Planned, StreamState};
pub use subscription::Subscription;

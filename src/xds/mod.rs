//! The xDS stage: an ADS server (SotW and delta) that moves every connected Envoy
//! to the store's newest snapshot in make-before-break order, and the tracker of
//! what each Envoy has accepted.

mod ack_tracker;
mod delta;
mod drain;
mod initial_sync;
mod limits;
mod request_codec;
mod request_stream;
mod response_body;
mod scoped_target;
mod server;
mod service;
mod sotw;
mod sotw_request;
mod stream;
mod stream_state;
mod subscription;
pub mod tls;
mod whole_types;
mod wire;

pub use ack_tracker::{AckTracker, Nack, NodeStatus, TypeStatus, XdsEvent, XdsObserver};
pub use drain::{Drain, DrainPhase};
pub use limits::XdsLimits;
pub use server::{bind_xds, AdsServer, XdsError};
pub use service::AdsService;
pub use stream_state::{Mode, Outcome, Planned, StreamState};
pub use subscription::Subscription;

//! The admin stage: what operators and scripts use to see Interlock — which
//! Ingresses are programmed on which Envoys, and a stream of events. It reads
//! the pipeline's status, the snapshot store and the ACK tracker; it changes
//! nothing in them.

mod events;
pub mod grpc;
pub mod http;
mod metrics;
mod programmed;
mod server;

pub use events::{not_programmed, AdminEvent, EventHub};
pub use http::{router, AdminState};
pub use metrics::{Metrics, LATENCY_BUCKETS};
pub use programmed::{ingress_states, IngressState};
pub use server::{admin_router, bind_admin, serve_admin, AdminServerError};

//! The admin stage: what operators and scripts use to see Interlock — which
//! Ingresses are programmed on which Envoys, and a stream of events. It reads
//! the pipeline's status, the snapshot store and the ACK tracker; it changes
//! nothing in them.

mod events;
mod programmed;

pub use events::{not_programmed, AdminEvent, EventHub};
pub use programmed::{ingress_states, IngressState};

//! Interlock: an Envoy xDS control plane for Kubernetes Ingress that never lets a
//! batch of changes leave a route missing.
//!
//! Data flows one way: sources → world → translate → validate → snapshot → xds.

pub mod admin;
pub mod bootstrap;
pub mod debounce;
pub mod local_gateway;
pub mod pipeline;
pub mod snapshot;
pub mod sources;
pub mod translate;
pub mod validate;
pub mod world;
pub mod xds;

//! Interlock: an Envoy xDS control plane for Kubernetes Ingress that never lets a
//! batch of changes leave a route missing.
//!
//! Data flows one way: sources → world → translate → validate → snapshot → xds.
//! Beside it, in a Kubernetes cluster: [`leader`] election, and the [`ingress_status`]
//! writer that reports programmed Ingresses back to the API server.

pub mod admin;
pub mod bench;
pub mod bootstrap;
pub mod certs;
pub mod debounce;
pub mod fan_out;
#[doc(hidden)]
pub mod fuzzing;
pub mod ingress_status;
pub mod leader;
pub mod local_gateway;
pub mod pipeline;
pub mod snapshot;
pub mod sources;
pub mod translate;
pub mod validate;
pub mod world;
pub mod x509;
pub mod xds;

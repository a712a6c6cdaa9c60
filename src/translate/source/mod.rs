//! Reading the world's Kubernetes objects into the route model
//! ([`super::model`]).
//!
//! [`ingress`] reads each served Ingress into its contribution. The rest are the
//! lookups any source shares: [`service`] (a Service port reference → a cluster
//! target), [`secret`] (a TLS Secret → a certificate), both memoized per
//! translation by [`Lookups`], and [`endpoint_slice`] (the ready addresses behind
//! a cluster target).

pub mod endpoint_slice;
pub mod ingress;
mod lookups;
pub mod secret;
pub mod service;

pub use lookups::Lookups;

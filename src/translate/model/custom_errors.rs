//! Custom error pages (ingress-nginx's `custom-http-errors`): when the
//! upstream answers one of the listed statuses, the answer comes from an error
//! backend instead, which is told what happened through headers.
//!
//! The error backend is reached through a virtual host of its own
//! ([`ERROR_HOST`]), one route per error backend; `.invalid` is a reserved
//! top-level domain, so no real host shares it.

use std::sync::Arc;

use super::backend::ClusterTarget;

/// The host requests are internally redirected to for their error page.
pub const ERROR_HOST: &str = "custom-errors.interlock.invalid";

/// The request header naming the error backend's cluster on a redirected
/// request (the [`ERROR_HOST`] routes match on it).
pub const ERROR_BACKEND_HEADER: &str = "x-interlock-error-backend";

/// Which upstream statuses are replaced, by what, and what the error backend
/// is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomErrors {
    /// The statuses, sorted, without duplicates.
    pub codes: Vec<u16>,
    /// The error backend.
    pub backend: Arc<ClusterTarget>,
    /// `X-Namespace`.
    pub namespace: String,
    /// `X-Ingress-Name`.
    pub ingress: String,
    /// `X-Service-Name` (empty when the route has no Service).
    pub service: String,
    /// `X-Service-Port` (empty when the route has no Service).
    pub service_port: String,
}

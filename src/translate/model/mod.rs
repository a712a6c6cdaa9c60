//! The route model: what the served objects ask for, as plain Rust values that know
//! neither Kubernetes nor protobuf.
//!
//! Sources ([`super::source`]) read each object into a [`Contribution`] of its own;
//! `merge_routes` and `merge_tls` combine every contribution (oldest first),
//! deciding precedence and conflicts; [`virtual_hosts`] orders the merged routes
//! per host. The render ([`super::render`]) turns the result into Envoy resources
//! and decides nothing. Any later source (Gateway API's HTTPRoute) produces
//! contributions of the same shape.
//!
//! Everything here is pure and deterministic: the same contributions in the same
//! order give the same model.

pub mod backend;
pub mod canary;
pub mod client_auth;
pub mod contribution;
pub mod custom_errors;
pub mod external_auth;
pub mod host;
pub mod merge;
pub mod passthrough;
pub mod path;
pub mod policy;
pub mod route;
pub mod tls;
pub mod upstream;
pub mod virtual_host;

#[cfg(test)]
mod tests;

pub use backend::{fallback_cluster_name, ClusterTarget, WeightedBackend};
pub use canary::{Canary, CanaryWinner, HeaderChoice, HeaderValue};
pub(crate) use client_auth::merge_client_auth;
pub use client_auth::{CaBundle, ClientAuth, ClientAuthClaim, ClientVerify, MergedClientAuth};
pub use contribution::{Contribution, Outcome, PathClaim, RuleClaim, RuleScope};
pub use custom_errors::{CustomErrors, ERROR_BACKEND_HEADER, ERROR_HOST};
pub use external_auth::{AuthHost, AuthServer, ExternalAuth, SigninUrl, UrlPart};
pub use host::{Host, HostError};
pub(crate) use merge::merge_routes;
pub use merge::{MergedRoutes, Winner};
pub(crate) use passthrough::merge_passthrough;
pub use passthrough::{MergedPassthrough, PassthroughClaim, PassthroughWinner};
pub use path::{PathMatch, PathRule, PathType, Precedence};
pub use policy::{
    BasicAuth, Cidr, ClientCertificateHeaders, Cors, CorsOrigin, RateLimit, RedirectCode, Retry,
    Rewrite, RoutePolicy, SourceRanges,
};
pub use route::{Action, Forward, Redirect, Served};
pub(crate) use tls::{merge_tls, merge_tls_except};
pub use tls::{Certificate, MergedTls, TlsClaim, TlsServer};
pub use upstream::{
    Addresses, Balance, SessionCookie, TlsVersion, UpstreamProtocol, UpstreamSettings, UpstreamTls,
    UpstreamVerify,
};
pub use virtual_host::{require_client_certificates, virtual_hosts, PlacedRoute, VirtualHost};

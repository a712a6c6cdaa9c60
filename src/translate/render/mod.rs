//! Rendering the route model into Envoy resources.
//!
//! Every decision (which route wins, in what order, which certificate serves a
//! host) was made in [`super::model`]; the render only converts, so two sources
//! that build the same model get the same bytes. Everything configuration-wide
//! that no object decides lives here too: listener and HCM settings, route
//! timeouts, cluster settings, the ADS config source.

pub mod ads;
pub mod auth_responses;
pub mod canary;
pub mod client_certificate;
pub mod cluster;
pub mod custom_errors;
pub mod custom_response;
pub mod endpoints;
pub mod external_auth;
pub mod fallback_cluster;
pub mod filters;
pub mod listener;
pub mod passthrough;
pub mod policy;
pub mod route;
pub mod tls;
pub mod virtual_host;

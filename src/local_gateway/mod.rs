//! A local gateway for the quickstart and for tests: a real Envoy (found or
//! installed) and demo upstreams. Outside the data flow; it only runs things.

mod demo_upstream;
mod envoy_binary;
mod envoy_process;
mod envoy_validate;
mod error;

pub use demo_upstream::DemoUpstream;
pub use envoy_binary::{default_install_dir, envoy_binary};
pub use envoy_process::{LocalEnvoy, LocalEnvoyOptions};
pub use envoy_validate::validate_config;
pub use error::LocalGatewayError;

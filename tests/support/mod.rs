//! Shared helpers for integration tests and benches: a real Envoy, a trivial HTTP
//! upstream and an HTTP client. Test code: failures panic with a clear message, and a
//! missing Envoy is installed or reported, never skipped.
// Each test binary uses a different subset of these helpers.
#![allow(dead_code, unused_imports)]

pub mod bench_fanout;
pub mod bench_push;
pub mod control_plane;
pub mod envoy;
pub mod fake_kube;
pub mod gateway;
pub mod http;
pub mod interlock_process;
pub mod kube_cluster;
pub mod kube_objects;
pub mod ports;
pub mod prober;
pub mod resources;
pub mod route_ack;
pub mod routes;
pub mod tcp_forwarder;
pub mod tls;
pub mod upstream;
pub mod wait;

pub use control_plane::ControlPlane;
pub use envoy::{dump_section, Envoy, EnvoyOptions};
pub use http::{get, HttpClient, Response};
pub use interlock::local_gateway::envoy_binary;
pub use interlock_process::InterlockProcess;
pub use ports::free_port;
pub use upstream::Upstream;
pub use wait::wait_for;

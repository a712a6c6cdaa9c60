//! `interlock bench push`: the probe mode. Against a running Interlock with
//! real Envoys in front, it writes N probe Ingresses (each with a backend that
//! names itself), and records for each the write, the publish that carried
//! it, each Envoy's ACK, programmed, and the first 200 through the gateway;
//! every answer after programmed that is not the probe's own 200 counts
//! against Interlock's promise. It cleans up everything it wrote, however it
//! ends.

mod events;
mod file_sink;
mod http_client;
mod kube_sink;
mod manifest;
mod plan;
mod probe;
mod prober;
mod progress;
mod record;
mod run;
mod sink;

pub use events::EventsError;
pub use file_sink::{FileSink, FILE_NAMESPACE, FILE_PREFIX, MARKER};
pub use http_client::{connect as connect_http1, HttpClient};
pub use kube_sink::{KubeSink, NAMESPACE_LABEL};
pub use manifest::{probe_objects, Backend, ProbeObjects};
pub use plan::{Ending, Outcome, PushPlan};
pub use probe::{run_id, Probe, MANAGED_BY, MANAGED_BY_LABEL, RUN_LABEL};
pub use prober::{judge, ProbeTiming};
pub use record::{BadAnswer, BadKind, ProbeRecord};
pub use run::{run, PushError};
pub use sink::{ProbeSink, SinkError};

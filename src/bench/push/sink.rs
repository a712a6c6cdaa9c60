//! Where probe Ingresses are written: a directory `serve --ingress-dir` watches,
//! or a namespace of a cluster. Both refuse a place they do not own unless
//! told to, and both can remove every probe object of any run, so a run that
//! ends however it ends (Ctrl-C included) leaves nothing behind.

use std::future::Future;
use std::time::Instant;

use super::manifest::{Backend, ProbeObjects};
use super::probe::Probe;

/// Why writing, removing or preparing probes failed.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The place exists and holds things the bench did not put there.
    #[error("{0}")]
    NotOwned(String),
    /// A file operation failed.
    #[error("{what}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// An API call failed.
    #[error("{what}")]
    Kube {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: kube::Error,
    },
    /// A manifest could not be encoded.
    #[error("encode the probe's manifest")]
    Encode(#[from] serde_json::Error),
    /// The backend a probe should use cannot be determined.
    #[error("{0}")]
    Backend(String),
}

/// A place probes are written to.
pub trait ProbeSink: Send + Sync + 'static {
    /// For messages and the report: "directory DIR" or "namespace NS".
    fn describe(&self) -> String;

    /// The namespace probe objects get.
    fn namespace(&self) -> &str;

    /// Creates (or, for `generation > 1`, updates) a probe's objects; returns
    /// when the Ingress itself began to be written (its Service and endpoints
    /// go first), the moment latencies are measured from.
    fn write(
        &self,
        probe: &Probe,
        objects: &ProbeObjects,
    ) -> impl Future<Output = Result<Instant, SinkError>> + Send;

    /// Removes a probe's objects (the churn phase's delete).
    fn delete(&self, probe: &Probe) -> impl Future<Output = Result<(), SinkError>> + Send;

    /// Removes every probe object the bench ever left here (this run's and
    /// those of runs that were killed), and what the sink itself created for
    /// the run; returns how many probes were removed.
    fn cleanup(&self) -> impl Future<Output = Result<usize, SinkError>> + Send;

    /// The backend of probe objects when the sink supplies one (a cluster's
    /// Service); `None` when the bench starts its own upstreams.
    fn shared_backend(&self) -> Option<Backend>;
}

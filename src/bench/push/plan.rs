//! What a push run does (its parameters), and how it ended.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;

use super::prober::ProbeTiming;
use super::record::ProbeRecord;

/// The parameters of a run.
#[derive(Clone, Debug)]
pub struct PushPlan {
    /// Run id: probe names carry it.
    pub run: String,
    /// How many probe Ingresses.
    pub probes: usize,
    /// Writes per second; `None`: all in one burst.
    pub rate: Option<f64>,
    /// After every probe answered: update each, then delete each.
    pub churn: bool,
    /// The gateway's HTTP listener (Envoy).
    pub gateway: SocketAddr,
    /// `ingressClassName` of the probes.
    pub class: String,
    /// The `x-upstream` a shared backend answers with, when it names itself.
    pub expect_upstream: Option<String>,
    /// How probes are sent.
    pub timing: ProbeTiming,
    /// After the last write, how long every probe may take to answer 200.
    pub timeout: Duration,
    /// Probing goes on this long after every probe answered (and after the churn's updates).
    pub hold: Duration,
    /// The run ends when no request got an HTTP answer for this long.
    pub gateway_dead_after: Duration,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "ending", content = "detail")]
pub enum Ending {
    /// Every phase ran.
    Completed,
    /// Some probe was not programmed or did not answer 200 in time.
    TimedOut,
    /// Ctrl-C (or SIGTERM).
    Interrupted,
    /// The gateway stopped answering.
    GatewayDied,
    /// Interlock's admin API went away.
    AdminLost(String),
    /// Writing or deleting a probe failed.
    SinkFailed(String),
}

/// What a run produced, for the report.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// How it ended.
    pub ending: Ending,
    /// Probes removed by cleanup, or why cleanup failed.
    pub cleanup: Result<usize, String>,
    /// One record per probe.
    pub probes: Vec<ProbeRecord>,
    /// Snapshots published during the run.
    pub publishes: u64,
    /// Requests sent through the gateway.
    pub requests: u64,
    /// From the start to the end of cleanup, in ms.
    pub duration_ms: f64,
}

// === impl PushPlan ===

impl PushPlan {
    /// Time between two writes, `None` for a burst.
    pub fn interval(&self) -> Option<Duration> {
        self.rate
            .filter(|r| r.is_finite() && *r > 0.0)
            .map(|r| Duration::from_secs_f64(1.0 / r))
    }
}

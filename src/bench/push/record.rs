//! What a run learns about each probe, written by the writer, the admin event
//! recorder and the gateway probers, and read by the progress line and the
//! report. Times are offsets from the run's start.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use serde::Serialize;

/// An answer through the gateway that breaks the promise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BadKind {
    /// 404 with `x-envoy-upstream-service-time` absent: Envoy found no route (`NR`).
    NotFoundNoRoute,
    /// 404 from upstream (the header is there): the probe's backend said so.
    NotFound,
    /// 503: no healthy upstream, no cluster, or the upstream refused.
    Unavailable,
    /// 200 from another backend than the probe's.
    WrongBackend,
    /// Any other status.
    OtherStatus,
    /// No HTTP answer at all: the gateway refused, reset or timed out.
    Unreachable,
}

/// One bad answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BadAnswer {
    /// When the request was sent (ms since the run's start).
    pub at_ms: f64,
    /// What was wrong.
    pub kind: BadKind,
    /// Status code, backend seen, or error.
    pub detail: String,
}

/// Everything recorded about one probe (offsets in ms since the run's start).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ProbeRecord {
    /// "namespace/name".
    pub ingress: String,
    /// Its host.
    pub host: String,
    /// When its objects were written.
    pub written_ms: Option<f64>,
    /// When Interlock published a snapshot carrying it.
    pub published_ms: Option<f64>,
    /// When each Envoy (node id) held it.
    pub acked_ms: BTreeMap<String, f64>,
    /// When it was programmed on every connected Envoy.
    pub programmed_ms: Option<f64>,
    /// When the gateway first answered 200 from its own backend.
    pub first_200_ms: Option<f64>,
    /// When the churn phase deleted it (probing stops there).
    pub deleted_ms: Option<f64>,
    /// Answers after programmed that were not its own 200.
    pub bad: Vec<BadAnswer>,
}

/// The shared log of a run. Cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    start: Instant,
    inner: Arc<Mutex<Log>>,
}

/// The log itself (behind the recorder's lock).
#[derive(Debug, Default)]
pub struct Log {
    /// One per probe, by index.
    pub probes: Vec<ProbeRecord>,
    /// "namespace/name" → index.
    pub index: HashMap<String, usize>,
    /// `publishes` of the first and last `SnapshotPublished` seen.
    pub publishes: Option<(u64, u64)>,
    /// Requests sent through the gateway.
    pub requests: u64,
    /// Since when every request has failed without an HTTP answer.
    pub unreachable_since: Option<Instant>,
}

// === impl Recorder ===

impl Recorder {
    /// A log for `probes` ("namespace/name", host), starting now.
    pub fn new(probes: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut log = Log::default();
        for (i, (ingress, host)) in probes.into_iter().enumerate() {
            log.index.insert(ingress.clone(), i);
            log.probes.push(ProbeRecord {
                ingress,
                host,
                ..ProbeRecord::default()
            });
        }
        Recorder {
            start: Instant::now(),
            inner: Arc::new(Mutex::new(log)),
        }
    }

    /// Milliseconds from the run's start to `at`.
    pub fn offset(&self, at: Instant) -> f64 {
        at.saturating_duration_since(self.start).as_secs_f64() * 1e3
    }

    /// Milliseconds since the run's start.
    pub fn now_ms(&self) -> f64 {
        self.offset(Instant::now())
    }

    /// The log, locked (a poisoned lock still holds a usable log: every
    /// writer leaves it consistent between statements).
    pub fn lock(&self) -> MutexGuard<'_, Log> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

// === impl Log ===

impl Log {
    /// Probes written so far.
    pub fn written(&self) -> usize {
        self.count(|p| p.written_ms.is_some())
    }

    /// Probes programmed so far.
    pub fn programmed(&self) -> usize {
        self.count(|p| p.programmed_ms.is_some())
    }

    /// Probes that answered 200 so far.
    pub fn answered(&self) -> usize {
        self.count(|p| p.first_200_ms.is_some())
    }

    /// Bad answers so far.
    pub fn bad(&self) -> usize {
        self.probes.iter().map(|p| p.bad.len()).sum()
    }

    /// Snapshots published during the run (as far as the events tell).
    pub fn publish_count(&self) -> u64 {
        self.publishes.map_or(0, |(first, last)| last - first + 1)
    }

    fn count(&self, f: impl Fn(&ProbeRecord) -> bool) -> usize {
        self.probes.iter().filter(|p| f(p)).count()
    }
}

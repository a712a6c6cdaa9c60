//! What a push run found, in three forms: a summary table for people, JSON for
//! scripts, and a self-contained HTML page (inline SVG, nothing external) with
//! a histogram of each latency and a timeline of every probe.

mod html;
mod summary;
mod svg;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::bench::push::{BadKind, Ending, Outcome, ProbeRecord, PushPlan};
use crate::bench::spread::Spread;

pub use html::render_html;

/// Versions of what was measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Versions {
    /// Interlock's (the bench binary's: the admin API does not report the server's).
    pub interlock: String,
    /// Each Envoy whose admin address was given: address → version.
    pub envoy: BTreeMap<String, String>,
}

/// One of the latencies measured, each from a probe's write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Latency {
    /// → the snapshot carrying it was published.
    Published,
    /// → each Envoy held it.
    Ack,
    /// → programmed on every Envoy.
    Programmed,
    /// → the first 200 from its own backend.
    First200,
}

// === impl Latency ===

impl Latency {
    /// In the order reports show them.
    pub const ALL: [Latency; 4] = [
        Latency::Published,
        Latency::Ack,
        Latency::Programmed,
        Latency::First200,
    ];

    /// Row label ("→ published").
    pub fn label(self) -> &'static str {
        match self {
            Latency::Published => "→ published",
            Latency::Ack => "→ ACK (each Envoy)",
            Latency::Programmed => "→ programmed",
            Latency::First200 => "→ first 200",
        }
    }

    /// Its samples in ms, one per probe (per probe and Envoy for ACKs).
    pub fn samples(self, probes: &[ProbeRecord]) -> Vec<f64> {
        let mut out = Vec::new();
        for probe in probes {
            let Some(written) = probe.written_ms else {
                continue;
            };
            let mut push = |at: Option<f64>| {
                if let Some(at) = at {
                    out.push((at - written).max(0.0));
                }
            };
            match self {
                Latency::Published => push(probe.published_ms),
                Latency::Ack => probe.acked_ms.values().for_each(|at| push(Some(*at))),
                Latency::Programmed => push(probe.programmed_ms),
                Latency::First200 => push(probe.first_200_ms),
            }
        }
        out
    }
}

/// The latencies of a run, each from the probe's write.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Latencies {
    /// → the snapshot carrying it was published.
    pub write_to_published: Spread,
    /// → each Envoy held it (one sample per probe and Envoy).
    pub write_to_ack: Spread,
    /// → programmed on every Envoy.
    pub write_to_programmed: Spread,
    /// → the first 200 from its own backend through the gateway.
    pub write_to_first_200: Spread,
}

// === impl Latencies ===

impl Latencies {
    /// The spread of `which`.
    pub fn get(&self, which: Latency) -> &Spread {
        match which {
            Latency::Published => &self.write_to_published,
            Latency::Ack => &self.write_to_ack,
            Latency::Programmed => &self.write_to_programmed,
            Latency::First200 => &self.write_to_first_200,
        }
    }
}

/// Bad answers by kind.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct BadCounts {
    /// Every 404 (with or without an upstream).
    pub not_found: usize,
    /// Of those, 404s Envoy answered itself (no route: `NR`).
    pub not_found_no_route: usize,
    /// 503s.
    pub unavailable: usize,
    /// 200s from another backend.
    pub wrong_backend: usize,
    /// Any other status.
    pub other_status: usize,
    /// No HTTP answer at all.
    pub unreachable: usize,
    /// All of them: the target is 0.
    pub total: usize,
}

/// The whole report (the JSON file is this).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PushReport {
    /// The run's parameters.
    pub parameters: BTreeMap<String, String>,
    /// What was measured.
    pub versions: Versions,
    /// How the run ended.
    pub ending: Ending,
    /// Probe Ingresses cleanup removed.
    pub cleanup_removed: Option<usize>,
    /// Why cleanup failed, if it did.
    pub cleanup_error: Option<String>,
    /// Probes planned.
    pub probes_total: usize,
    /// Probes written.
    pub written: usize,
    /// Probes seen in a published snapshot.
    pub published: usize,
    /// Probes programmed on every Envoy.
    pub programmed: usize,
    /// Probes that answered 200 from their own backend.
    pub answered: usize,
    /// Latencies from the write.
    pub latency: Latencies,
    /// Bad answers (after programmed).
    pub bad: BadCounts,
    /// Snapshots Interlock published during the run.
    pub publishes: u64,
    /// Requests sent through the gateway.
    pub requests: u64,
    /// Run time, cleanup included, in ms.
    pub duration_ms: f64,
    /// Every probe's record.
    pub probes: Vec<ProbeRecord>,
}

// === impl PushReport ===

impl PushReport {
    /// The report of `outcome`, run with `plan` against `target` (the sink's description).
    pub fn new(plan: &PushPlan, target: &str, versions: Versions, outcome: Outcome) -> Self {
        let probes = outcome.probes;
        let spread = |which: Latency| {
            let ms: Vec<Duration> = which
                .samples(&probes)
                .into_iter()
                .map(|ms| Duration::from_secs_f64(ms / 1e3))
                .collect();
            Spread::of(&ms)
        };
        let latency = Latencies {
            write_to_published: spread(Latency::Published),
            write_to_ack: spread(Latency::Ack),
            write_to_programmed: spread(Latency::Programmed),
            write_to_first_200: spread(Latency::First200),
        };
        let count = |f: &dyn Fn(&ProbeRecord) -> bool| probes.iter().filter(|p| f(p)).count();
        let (cleanup_removed, cleanup_error) = match outcome.cleanup {
            Ok(n) => (Some(n), None),
            Err(e) => (None, Some(e)),
        };
        PushReport {
            parameters: parameters(plan, target),
            versions,
            ending: outcome.ending,
            cleanup_removed,
            cleanup_error,
            probes_total: plan.probes,
            written: count(&|p| p.written_ms.is_some()),
            published: count(&|p| p.published_ms.is_some()),
            programmed: count(&|p| p.programmed_ms.is_some()),
            answered: count(&|p| p.first_200_ms.is_some()),
            latency,
            bad: bad_counts(&probes),
            publishes: outcome.publishes,
            requests: outcome.requests,
            duration_ms: outcome.duration_ms,
            probes,
        }
    }

    /// The promise held: every phase ran, every probe programmed and
    /// answering, no bad answer, and cleanup removed everything.
    pub fn clean(&self) -> bool {
        self.ending == Ending::Completed
            && self.programmed == self.probes_total
            && self.answered == self.probes_total
            && self.bad.total == 0
            && self.cleanup_error.is_none()
    }
}

fn parameters(plan: &PushPlan, target: &str) -> BTreeMap<String, String> {
    let d = |d: Duration| humantime::format_duration(d).to_string();
    BTreeMap::from([
        ("run".into(), plan.run.clone()),
        ("probes".into(), plan.probes.to_string()),
        (
            "rate".into(),
            plan.rate
                .map_or_else(|| "burst".to_owned(), |r| format!("{r}/s")),
        ),
        ("churn".into(), plan.churn.to_string()),
        ("gateway".into(), plan.gateway.to_string()),
        ("target".into(), target.to_owned()),
        ("ingress_class".into(), plan.class.clone()),
        ("timeout".into(), d(plan.timeout)),
        ("hold".into(), d(plan.hold)),
        ("probe_interval".into(), d(plan.timing.steady)),
        ("grace_after_programmed".into(), d(plan.timing.grace)),
    ])
}

fn bad_counts(probes: &[ProbeRecord]) -> BadCounts {
    let mut counts = BadCounts::default();
    for bad in probes.iter().flat_map(|p| &p.bad) {
        match bad.kind {
            BadKind::NotFoundNoRoute => {
                counts.not_found += 1;
                counts.not_found_no_route += 1;
            }
            BadKind::NotFound => counts.not_found += 1,
            BadKind::Unavailable => counts.unavailable += 1,
            BadKind::WrongBackend => counts.wrong_backend += 1,
            BadKind::OtherStatus => counts.other_status += 1,
            BadKind::Unreachable => counts.unreachable += 1,
        }
        counts.total += 1;
    }
    counts
}

//! The migration report: every Ingress of a world with the verdict on each of
//! its annotations, from the same parsers translation uses ([`super::read`]),
//! so the report says exactly what serving would do.

use serde::Serialize;

use super::{read, Finding, Verdict};
use crate::translate::source::ingress::class;
use crate::translate::source::Lookups;
use crate::translate::TranslateConfig;
use crate::world::World;

/// One Ingress in the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IngressReport {
    /// `namespace/name`.
    pub ingress: String,
    /// Whether Interlock, run with the same class flags, would serve it.
    pub served: bool,
    /// Every annotation under the prefix, by name.
    pub annotations: Vec<Finding>,
}

/// Counts over a whole report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Ingresses in the report.
    pub ingresses: usize,
    /// Annotations honoured as written.
    pub honoured: usize,
    /// Annotations implemented with a difference.
    pub approximated: usize,
    /// Annotations not implemented.
    pub ignored: usize,
    /// Annotations with invalid values.
    pub invalid: usize,
}

/// The report for every Ingress of `world`, sorted by namespace/name.
pub fn check(world: &World, config: &TranslateConfig) -> Vec<IngressReport> {
    let mut lookups = Lookups::new(world);
    world
        .ingresses
        .iter()
        .map(|(key, ingress)| {
            let a = read(
                &config.annotations_prefix,
                key,
                ingress.metadata.annotations.as_ref(),
                &mut lookups,
            );
            IngressReport {
                ingress: key.qualified(),
                served: class::is_ours(world, config, ingress),
                annotations: a.findings,
            }
        })
        .collect()
}

/// The counts of `reports`.
pub fn totals(reports: &[IngressReport]) -> Totals {
    let mut totals = Totals {
        ingresses: reports.len(),
        ..Totals::default()
    };
    for finding in reports.iter().flat_map(|r| &r.annotations) {
        match finding.verdict {
            Verdict::Honoured => totals.honoured += 1,
            Verdict::Approximated(_) => totals.approximated += 1,
            Verdict::Ignored(_) => totals.ignored += 1,
            Verdict::Invalid(_) => totals.invalid += 1,
        }
    }
    totals
}

/// The report as text: one block per Ingress, one line per annotation.
pub fn render_text(reports: &[IngressReport]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for report in reports {
        let served = if report.served {
            "served"
        } else {
            "not served with these class flags"
        };
        let _ = writeln!(out, "{} ({served})", report.ingress);
        if report.annotations.is_empty() {
            let _ = writeln!(out, "  (no annotations under the prefix)");
        }
        let width = report
            .annotations
            .iter()
            .map(|f| f.annotation.len())
            .max()
            .unwrap_or(0);
        for f in &report.annotations {
            let _ = writeln!(out, "  {:width$}  {}", f.annotation, f.verdict);
        }
    }
    let t = totals(reports);
    let _ = writeln!(
        out,
        "{} Ingresses: {} honoured, {} approximated, {} ignored, {} invalid",
        t.ingresses, t.honoured, t.approximated, t.ignored, t.invalid
    );
    out
}

//! The summary table printed at the end of a run.

use std::fmt;

use super::{Latency, PushReport};

impl fmt::Display for PushReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = |k: &str| self.parameters.get(k).map_or("", String::as_str);
        writeln!(
            f,
            "push, {} probes ({}) into {}, gateway {}",
            self.probes_total,
            p("rate"),
            p("target"),
            p("gateway")
        )?;
        writeln!(
            f,
            "  {:<22}{:>10}{:>10}{:>10}{:>10}{:>7}",
            "latency from write", "p50 ms", "p90 ms", "p99 ms", "max ms", "n"
        )?;
        for which in Latency::ALL {
            let (name, s) = (which.label(), self.latency.get(which));
            writeln!(
                f,
                "  {name:<22}{:>10.1}{:>10.1}{:>10.1}{:>10.1}{:>7}",
                s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms, s.count
            )?;
        }
        writeln!(
            f,
            "  probes                written {}, published {}, programmed {}, answered 200 {}",
            self.written, self.published, self.programmed, self.answered
        )?;
        let b = &self.bad;
        writeln!(
            f,
            "  bad answers           {} (404: {}, of which NR: {}; 503: {}; wrong backend: {}; \
             other status: {}; unreachable: {}) of {} requests",
            b.total,
            b.not_found,
            b.not_found_no_route,
            b.unavailable,
            b.wrong_backend,
            b.other_status,
            b.unreachable,
            self.requests
        )?;
        writeln!(f, "  publishes             {}", self.publishes)?;
        let ending = serde_json::to_value(&self.ending)
            .ok()
            .and_then(|v| {
                let tag = v.get("ending")?.as_str()?.to_owned();
                Some(match v.get("detail").and_then(|d| d.as_str()) {
                    Some(detail) => format!("{tag}: {detail}"),
                    None => tag,
                })
            })
            .unwrap_or_default();
        writeln!(f, "  ended                 {ending}")?;
        match (&self.cleanup_removed, &self.cleanup_error) {
            (_, Some(e)) => writeln!(f, "  cleanup               FAILED: {e}"),
            (Some(n), None) => writeln!(f, "  cleanup               {n} probe Ingresses removed"),
            (None, None) => Ok(()),
        }
    }
}

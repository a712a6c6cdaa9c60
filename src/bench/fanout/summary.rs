//! What a fan-out run found, as a table for people and JSON for scripts.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::bench::envoy_like::Flavor;

/// p50, p99 and max of some durations, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Spread {
    /// How many durations.
    pub count: usize,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile (nearest rank).
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

/// One change: from the write until every client held the probe's route.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChangeResult {
    /// Clients that held it before the deadline.
    pub held_by: usize,
    /// Write → each client holding it.
    pub write_to_client: Spread,
    /// Write → the last client holding it (`None` if some never did).
    pub write_to_all_ms: Option<f64>,
}

/// The whole run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FanoutReport {
    /// ADS flavour.
    pub flavor: Flavor,
    /// Clients started.
    pub clients: usize,
    /// Clients whose config was complete before the deadline.
    pub complete: usize,
    /// Failed connection or stream attempts (each client reconnects after one).
    pub failures: usize,
    /// The first few distinct failure messages.
    pub failure_samples: Vec<String>,
    /// Start (all clients at once) → each client's config complete.
    pub connect_to_complete: Spread,
    /// The changes, in order.
    pub changes: Vec<ChangeResult>,
    /// Over the changes: median and largest write → all.
    pub write_to_all: Spread,
    /// Bytes of responses the clients received.
    pub bytes_received: u64,
    /// Server CPU seconds spent during the run (with `--server-pid`).
    pub server_cpu_seconds: Option<f64>,
    /// Server peak RSS at the end of the run (with `--server-pid`).
    pub server_peak_rss_bytes: Option<u64>,
}

// === impl Spread ===

impl Spread {
    /// Of these durations (any order).
    pub fn of(durations: &[Duration]) -> Self {
        let mut ms: Vec<f64> = durations.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        let rank = |q: f64| -> f64 {
            if ms.is_empty() {
                return 0.0;
            }
            let index = ((q * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1;
            ms[index]
        };
        Spread {
            count: ms.len(),
            p50_ms: rank(0.5),
            p99_ms: rank(0.99),
            max_ms: ms.last().copied().unwrap_or(0.0),
        }
    }
}

impl fmt::Display for Spread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (n={})",
            self.p50_ms, self.p99_ms, self.max_ms, self.count
        )
    }
}

// === impl FanoutReport ===

impl FanoutReport {
    /// Every client complete, every change held by all, no failed attempt.
    pub fn clean(&self) -> bool {
        self.complete == self.clients
            && self.failures == 0
            && self.changes.iter().all(|c| c.held_by == self.clients)
    }
}

impl fmt::Display for FanoutReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "fan-out, {} clients, {}",
            self.clients,
            self.flavor.name()
        )?;
        writeln!(
            f,
            "  complete config      {}/{} clients, {} failed attempts",
            self.complete, self.clients, self.failures
        )?;
        for sample in &self.failure_samples {
            writeln!(f, "    failure: {sample}")?;
        }
        writeln!(f, "  connect → complete   {}", self.connect_to_complete)?;
        for (i, change) in self.changes.iter().enumerate() {
            let all = change
                .write_to_all_ms
                .map_or_else(|| "never (deadline)".to_owned(), |ms| format!("{ms:.1} ms"));
            writeln!(
                f,
                "  change {:<3}           write → all {all}; held by {}/{}",
                i + 1,
                change.held_by,
                self.clients
            )?;
        }
        if !self.changes.is_empty() {
            writeln!(f, "  write → all clients  {}", self.write_to_all)?;
        }
        writeln!(
            f,
            "  received             {:.1} MB",
            self.bytes_received as f64 / 1e6
        )?;
        if let (Some(cpu), Some(rss)) = (self.server_cpu_seconds, self.server_peak_rss_bytes) {
            writeln!(
                f,
                "  server               {cpu:.2} s CPU, peak RSS {:.0} MB",
                rss as f64 / 1e6
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_uses_nearest_rank() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|m| Duration::from_millis(*m))
                .collect::<Vec<_>>()
        };
        let s = Spread::of(&ms(&[5, 1, 3, 2, 4]));
        assert_eq!((s.count, s.p50_ms, s.p99_ms, s.max_ms), (5, 3.0, 5.0, 5.0));
        let hundred: Vec<u64> = (1..=100).collect();
        let s = Spread::of(&ms(&hundred));
        assert_eq!((s.p50_ms, s.p99_ms), (50.0, 99.0));
        assert_eq!(Spread::of(&[]), Spread::default());
    }
}

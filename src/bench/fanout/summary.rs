//! What a fan-out run found, as a table for people and JSON for scripts.

use std::fmt;

use serde::Serialize;

use crate::bench::envoy_like::Flavor;
use crate::bench::spread::Spread;

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

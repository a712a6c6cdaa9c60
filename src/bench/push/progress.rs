//! Where a run stands, for the person watching: one line redrawn in place on
//! a terminal, a plain line every few seconds (and at each phase) otherwise.
//! Hand-written: `indicatif` would bring `console` and more for one line.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use super::record::Log;

/// Plain lines (not a terminal) are printed at most this often within a phase.
const PLAIN_EVERY: Duration = Duration::from_secs(2);
/// Width of the bar.
const BAR: usize = 30;

/// The progress display, on stderr.
pub struct Progress {
    tty: bool,
    phase: String,
    last: Option<Instant>,
}

// === impl Progress ===

impl Progress {
    /// A bar when stderr is a terminal, plain lines otherwise.
    pub fn new() -> Self {
        Progress {
            tty: std::io::stderr().is_terminal(),
            phase: String::new(),
            last: None,
        }
    }

    /// Shows `phase` and the counts of `log`.
    pub fn update(&mut self, phase: &str, log: &Log) {
        let changed = phase != self.phase;
        if !self.tty && !changed && self.last.is_some_and(|at| at.elapsed() < PLAIN_EVERY) {
            return;
        }
        let line = line(phase, log);
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{line}");
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
        self.phase = phase.to_owned();
        self.last = Some(Instant::now());
    }

    /// Ends the bar's line (a terminal), so what follows starts on its own.
    pub fn finish(&mut self) {
        if self.tty && self.last.is_some() {
            eprintln!();
        }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

/// "writing [#####.....] written 10/50 programmed 8 answered 7 bad 0 publishes 3".
fn line(phase: &str, log: &Log) -> String {
    let total = log.probes.len().max(1);
    let answered = log.answered();
    let filled = answered * BAR / total;
    format!(
        "{phase:<9} [{}{}] written {}/{} programmed {} answered {} bad {} publishes {}",
        "#".repeat(filled),
        ".".repeat(BAR - filled),
        log.written(),
        log.probes.len(),
        log.programmed(),
        answered,
        log.bad(),
        log.publish_count()
    )
}

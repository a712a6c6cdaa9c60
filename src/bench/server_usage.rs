//! CPU time and peak memory of a server process on this machine, read from
//! `/proc` the way `ps` and `time` would, so a bench can report what the server
//! spent on a run and not only how long the run took.

use std::time::Duration;

/// `USER_HZ`: the unit of `/proc/<pid>/stat` CPU times, fixed at 100 by the
/// Linux ABI on every architecture Interlock builds for.
const TICKS_PER_SECOND: u64 = 100;

/// One reading of a process.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ServerUsage {
    /// User + system CPU time so far.
    pub cpu: Duration,
    /// Peak resident set size so far (`VmHWM`), in bytes.
    pub peak_rss_bytes: u64,
}

// === impl ServerUsage ===

impl ServerUsage {
    /// Reads process `pid`, or `None` when it is gone or not readable.
    pub fn read(pid: u32) -> Option<Self> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        Some(ServerUsage {
            cpu: cpu_of(&stat)?,
            peak_rss_bytes: peak_rss_of(&status)?,
        })
    }
}

/// utime + stime from `/proc/<pid>/stat` (fields 14 and 15; the command name in
/// field 2 may hold spaces and parentheses, so count from its closing one).
fn cpu_of(stat: &str) -> Option<Duration> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis(
        (user + system) * 1000 / TICKS_PER_SECOND,
    ))
}

fn peak_rss_of(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_counts_user_and_system_ticks_after_the_command_name() {
        let stat = "42 (a (weird) name) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0";
        assert_eq!(cpu_of(stat), Some(Duration::from_secs(3)));
        assert_eq!(cpu_of("garbage"), None);
    }

    #[test]
    fn peak_rss_is_vmhwm_in_bytes() {
        let status = "Name:\tinterlock\nVmHWM:\t  2048 kB\nVmRSS:\t1024 kB\n";
        assert_eq!(peak_rss_of(status), Some(2048 * 1024));
    }

    #[test]
    fn this_process_can_be_read() {
        let usage = ServerUsage::read(std::process::id()).expect("own /proc entry");
        assert!(usage.peak_rss_bytes > 0);
    }
}

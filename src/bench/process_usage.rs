//! CPU time and memory of a process on this machine (a server under test, or a
//! bench itself), read from `/proc` the way `ps` and `time` would, so a bench
//! reports what a run cost and not only how long it took.

use std::time::Duration;

/// `USER_HZ`: the unit of `/proc/<pid>/stat` CPU times, fixed at 100 by the
/// Linux ABI on every architecture Interlock builds for.
const TICKS_PER_SECOND: u64 = 100;

/// One reading of a process.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ProcessUsage {
    /// User + system CPU time so far.
    pub cpu: Duration,
    /// Resident set size now (`VmRSS`), in bytes.
    pub rss_bytes: u64,
    /// Peak resident set size so far (`VmHWM`), in bytes.
    pub peak_rss_bytes: u64,
}

// === impl ProcessUsage ===

impl ProcessUsage {
    /// This process.
    pub fn own() -> Option<Self> {
        Self::read(std::process::id())
    }

    /// Reads process `pid`, or `None` when it is gone or not readable.
    pub fn read(pid: u32) -> Option<Self> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        Some(ProcessUsage {
            cpu: cpu_of(&stat)?,
            rss_bytes: status_bytes(&status, "VmRSS")?,
            peak_rss_bytes: status_bytes(&status, "VmHWM")?,
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

/// A `kB` field of `/proc/<pid>/status`, in bytes.
fn status_bytes(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|l| {
        l.strip_prefix(field)
            .is_some_and(|rest| rest.starts_with(':'))
    })?;
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
    fn memory_fields_are_read_in_bytes() {
        let status = "Name:\tinterlock\nVmHWM:\t  2048 kB\nVmRSS:\t1024 kB\n";
        assert_eq!(status_bytes(status, "VmHWM"), Some(2048 * 1024));
        assert_eq!(status_bytes(status, "VmRSS"), Some(1024 * 1024));
        assert_eq!(status_bytes(status, "VmRS"), None);
    }

    #[test]
    fn this_process_can_be_read() {
        let usage = ProcessUsage::own().expect("own /proc entry");
        assert!(usage.rss_bytes > 0 && usage.peak_rss_bytes >= usage.rss_bytes);
    }
}

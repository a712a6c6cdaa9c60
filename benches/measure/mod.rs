//! What every bench reports with: process memory from /proc and simple order
//! statistics, so each bench prints figures the same way.
#![allow(dead_code)]

use std::time::Duration;

use interlock::bench::process_usage::ProcessUsage;

/// This process's resident set size now, in KiB.
pub fn rss_kib() -> u64 {
    own_usage().rss_bytes / 1024
}

/// This process's peak resident set size so far, in KiB.
pub fn peak_rss_kib() -> u64 {
    own_usage().peak_rss_bytes / 1024
}

fn own_usage() -> ProcessUsage {
    ProcessUsage::own().unwrap_or_else(|| panic!("cannot read this process's /proc entry"))
}

/// KiB to MiB.
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// A duration in milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Sorted copy's minimum and median.
pub fn min_median(samples: &[Duration]) -> (Duration, Duration) {
    let mut sorted = samples.to_vec();
    sorted.sort();
    (sorted[0], sorted[sorted.len() / 2])
}

/// The `p`th percentile (nearest rank) of already sorted samples.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// User + system CPU time of this process.
pub fn cpu_time() -> Duration {
    own_usage().cpu
}

/// A comma-separated list of numbers from environment variable `name`
/// (a bench knob such as `PUSH_SIZES`), else `default`.
pub fn env_numbers(name: &str, default: &str) -> Vec<usize> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

/// A number from environment variable `name`, else `default`.
pub fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The two-worker runtime the end-to-end benches run in (the machine has 2 cores).
pub fn two_worker_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

//! How watchers retry after an error.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use kube::runtime::utils::Backoff;

/// The first retry: soon, because the commonest error is a routine 410 Gone
/// (the watch fell out of etcd's window) after which the re-list should start
/// at once, not after kube-rs's default 800 ms.
const FIRST: Duration = Duration::from_millis(100);
/// The longest wait, for an API server that stays away.
const LONGEST: Duration = Duration::from_secs(30);

/// Exponential backoff from 100 ms to 30 s, doubled per failure, ±25 %
/// jitter (so replicas do not retry in step after an API server restart),
/// reset by kube-rs's `StreamBackoff` on the first event that is not an error.
#[derive(Clone, Debug)]
pub struct WatchBackoff {
    next: Duration,
}

impl Default for WatchBackoff {
    fn default() -> Self {
        WatchBackoff { next: FIRST }
    }
}

impl Iterator for WatchBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let base = self.next;
        self.next = (self.next * 2).min(LONGEST);
        // A random factor in [0.75, 1.25) without a random-number crate: std's
        // hasher keys are random per process.
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let factor = 0.75 + (random % 1000) as f64 / 2000.0;
        Some(base.mul_f64(factor))
    }
}

impl Backoff for WatchBackoff {
    fn reset(&mut self) {
        self.next = FIRST;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_thirty_seconds_and_resets() {
        let mut backoff = WatchBackoff::default();
        let first = backoff.next().unwrap_or_default();
        assert!((Duration::from_millis(75)..Duration::from_millis(125)).contains(&first));
        let late = backoff.by_ref().nth(20).unwrap_or_default();
        assert!(late >= Duration::from_millis(22_500) && late < Duration::from_millis(37_500));
        backoff.reset();
        assert!(backoff.next().unwrap_or_default() < Duration::from_millis(125));
    }
}

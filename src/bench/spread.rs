//! Percentiles of measured durations, one definition for every bench mode so
//! that `fanout` and `push` report the same p50 the same way.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

/// p50, p90, p99 and max of some durations, in milliseconds (nearest rank).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Spread {
    /// How many durations.
    pub count: usize,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

// === impl Spread ===

impl Spread {
    /// Of these durations (any order).
    pub fn of(durations: &[Duration]) -> Self {
        let mut ms: Vec<f64> = durations.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        Spread {
            count: ms.len(),
            p50_ms: nearest_rank(&ms, 0.5),
            p90_ms: nearest_rank(&ms, 0.9),
            p99_ms: nearest_rank(&ms, 0.99),
            max_ms: ms.last().copied().unwrap_or(0.0),
        }
    }
}

/// The `q` quantile of sorted `ms` by nearest rank; 0 for none.
fn nearest_rank(ms: &[f64], q: f64) -> f64 {
    if ms.is_empty() {
        return 0.0;
    }
    let index = ((q * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1;
    ms[index]
}

impl fmt::Display for Spread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms (n={})",
            self.p50_ms, self.p90_ms, self.p99_ms, self.max_ms, self.count
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|m| Duration::from_millis(*m)).collect()
    }

    #[test]
    fn spread_uses_nearest_rank() {
        let s = Spread::of(&ms(&[5, 1, 3, 2, 4]));
        assert_eq!(
            (s.count, s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms),
            (5, 3.0, 5.0, 5.0, 5.0)
        );
        let hundred: Vec<u64> = (1..=100).collect();
        let s = Spread::of(&ms(&hundred));
        assert_eq!((s.p50_ms, s.p90_ms, s.p99_ms), (50.0, 90.0, 99.0));
        assert_eq!(Spread::of(&[]), Spread::default());
    }
}

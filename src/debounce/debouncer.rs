//! Invariant 4 as a pure state machine: time is whatever `Instant` the caller
//! passes in, so every edge can be tested with virtual time and no runtime.

use std::time::{Duration, Instant};

use super::DebounceConfig;

/// Decides when world changes must be translated and published.
///
/// Edges, with `quiet` and `max_delay` from [`DebounceConfig`]:
/// - **leading**: a change that finds nothing pending and no publish within
///   the last `quiet` is published at once;
/// - **trailing**: otherwise it joins the pending batch, published when
///   `quiet` has passed since the batch's newest change;
/// - **max delay**: or, if changes keep coming, `max_delay` after the batch's
///   oldest change, whichever is first.
///
/// So, when the caller passes non-decreasing times and calls
/// [`Debouncer::on_deadline`] at every [`Debouncer::deadline`] (a caller late
/// by `L` adds `L` to the bounds): every change is published no later than
/// `max_delay` after it arrived, the newest change of a batch no later than
/// `min(quiet, max_delay)` after it arrived, nothing is published unless a
/// change is pending, and publishes it asks for are at least
/// `min(quiet, max_delay)` apart.
#[derive(Clone, Debug)]
pub struct Debouncer {
    config: DebounceConfig,
    last_publish: Option<Instant>,
    pending: Option<Batch>,
    coalesced: u64,
}

/// The changes that arrived since the last publish.
#[derive(Clone, Copy, Debug)]
struct Batch {
    oldest: Instant,
    newest: Instant,
    changes: u64,
}

// === impl Debouncer ===

impl Debouncer {
    /// An idle debouncer: the first change will be published at once.
    pub fn new(config: DebounceConfig) -> Self {
        Debouncer {
            config,
            last_publish: None,
            pending: None,
            coalesced: 0,
        }
    }

    /// The configuration it was built with (for logs).
    pub fn config(&self) -> DebounceConfig {
        self.config
    }

    /// A change arrived at `now`. Returns true when the caller must publish
    /// now: a leading edge, or a deadline the caller has let pass. Otherwise
    /// the change is pending until [`Debouncer::deadline`].
    #[must_use = "true means the caller must publish now"]
    pub fn on_change(&mut self, now: Instant) -> bool {
        let leading = self.pending.is_none() && self.quiet_since_publish(now);
        let overdue = self.is_due(now);
        match &mut self.pending {
            Some(batch) => batch.add(now),
            None => self.pending = Some(Batch::new(now)),
        }
        // `is_due` again: a zero (or unrepresentably large) window is due at once.
        if leading || overdue || self.is_due(now) {
            self.publish(now);
            true
        } else {
            false
        }
    }

    /// When the caller must next call [`Debouncer::on_deadline`]; `None` when
    /// nothing is pending.
    pub fn deadline(&self) -> Option<Instant> {
        self.pending.map(|batch| batch.deadline(self.config))
    }

    /// Time has reached `now`. Returns true when the pending changes must be
    /// published now; early or spurious wake-ups return false.
    #[must_use = "true means the caller must publish now"]
    pub fn on_deadline(&mut self, now: Instant) -> bool {
        if self.is_due(now) {
            self.publish(now);
            true
        } else {
            false
        }
    }

    /// The caller published at `now` without being asked (say, the first
    /// snapshot when the sync gate opens): pending changes are covered and
    /// the quiet window restarts.
    pub fn published(&mut self, now: Instant) {
        if let Some(batch) = self.pending.take() {
            self.coalesced = self.coalesced.saturating_add(batch.changes);
        }
        self.last_publish = Some(now);
    }

    /// Changes that did not get a publish of their own but rode along in
    /// another one (for the coalescing metric).
    pub fn coalesced(&self) -> u64 {
        self.coalesced
    }

    fn quiet_since_publish(&self, now: Instant) -> bool {
        self.last_publish
            .is_none_or(|at| now.saturating_duration_since(at) >= self.config.quiet)
    }

    fn is_due(&self, now: Instant) -> bool {
        self.deadline().is_some_and(|deadline| deadline <= now)
    }

    fn publish(&mut self, now: Instant) {
        if let Some(batch) = self.pending.take() {
            // One change "owns" the publish; the rest were folded into it.
            let folded = batch.changes.saturating_sub(1);
            self.coalesced = self.coalesced.saturating_add(folded);
        }
        self.last_publish = Some(now);
    }
}

// === impl Batch ===

impl Batch {
    fn new(at: Instant) -> Self {
        Batch {
            oldest: at,
            newest: at,
            changes: 1,
        }
    }

    fn add(&mut self, at: Instant) {
        self.newest = self.newest.max(at);
        self.oldest = self.oldest.min(at);
        self.changes = self.changes.saturating_add(1);
    }

    fn deadline(self, config: DebounceConfig) -> Instant {
        let trailing = later(self.newest, config.quiet);
        let capped = later(self.oldest, config.max_delay);
        trailing.min(capped)
    }
}

/// `at + wait`, or `at` itself when that is past the end of time: an absurd
/// window degrades to publishing at once, never to waiting forever.
fn later(at: Instant, wait: Duration) -> Instant {
    at.checked_add(wait).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUIET: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_millis(1000);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn debouncer() -> (Debouncer, Instant) {
        let config = DebounceConfig {
            quiet: QUIET,
            max_delay: MAX,
        };
        (Debouncer::new(config), Instant::now())
    }

    #[test]
    fn an_idle_system_publishes_the_first_change_at_once() {
        let (mut d, t0) = debouncer();
        assert_eq!(d.deadline(), None);
        assert!(d.on_change(t0), "leading edge");
        assert_eq!(d.deadline(), None, "nothing left pending");
        assert!(d.on_change(t0 + QUIET), "quiet again: leading edge again");
        assert!(d.on_change(t0 + QUIET * 5));
        assert_eq!(d.coalesced(), 0);
    }

    #[test]
    fn changes_after_a_leading_edge_wait_for_the_trailing_edge() {
        let (mut d, t0) = debouncer();
        assert!(d.on_change(t0));
        assert!(!d.on_change(t0 + ms(10)), "within quiet of the publish");
        assert!(!d.on_change(t0 + ms(50)));
        assert_eq!(d.deadline(), Some(t0 + ms(150)), "quiet after the newest");
        assert!(!d.on_deadline(t0 + ms(149)), "early wake-up");
        assert!(d.on_deadline(t0 + ms(150)));
        assert_eq!(d.deadline(), None);
        assert_eq!(d.coalesced(), 1, "two changes, one trailing publish");
    }

    #[test]
    fn a_burst_is_coalesced_into_one_trailing_publish() {
        let (mut d, t0) = debouncer();
        assert!(d.on_change(t0));
        for i in 1..=8 {
            assert!(!d.on_change(t0 + ms(10 * i)));
        }
        assert_eq!(d.deadline(), Some(t0 + ms(180)));
        assert!(d.on_deadline(t0 + ms(180)));
        assert_eq!(d.coalesced(), 7);
    }

    #[test]
    fn the_trailing_change_is_never_swallowed() {
        let (mut d, t0) = debouncer();
        assert!(d.on_change(t0));
        assert!(!d.on_change(t0 + ms(99)), "last change of the burst");
        assert!(
            d.on_deadline(t0 + ms(199)),
            "published at its trailing edge"
        );
        // A lone change just after a trailing publish is still published.
        assert!(!d.on_change(t0 + ms(200)));
        assert_eq!(d.deadline(), Some(t0 + ms(300)));
        assert!(d.on_deadline(t0 + ms(300)));
    }

    #[test]
    fn a_continuous_stream_publishes_every_max_delay() {
        let (mut d, t0) = debouncer();
        assert!(d.on_change(t0));
        let mut publishes = vec![t0];
        // A change every 50 ms for 5 s: quiet never passes.
        for i in 1..=100 {
            let now = t0 + ms(50 * i);
            while let Some(deadline) = d.deadline().filter(|at| *at < now) {
                assert!(d.on_deadline(deadline));
                publishes.push(deadline);
            }
            if d.on_change(now) {
                publishes.push(now);
            }
        }
        // Oldest pending change after each publish arrives 50 ms later.
        let expected: Vec<_> = (0..5).map(|k| t0 + ms(1050 * k)).collect();
        assert_eq!(publishes, expected);
        assert_eq!(d.deadline(), Some(t0 + ms(5000 + 100)));
    }

    #[test]
    fn nothing_is_published_without_a_pending_change() {
        let (mut d, t0) = debouncer();
        assert!(!d.on_deadline(t0 + MAX * 10));
        assert!(d.on_change(t0));
        assert!(!d.on_deadline(t0 + MAX * 10), "the leading edge covered it");
    }

    #[test]
    fn a_late_caller_is_told_to_publish_on_the_next_change() {
        let (mut d, t0) = debouncer();
        assert!(d.on_change(t0));
        assert!(!d.on_change(t0 + ms(10)));
        // The deadline (110 ms) passed unnoticed; the next change flushes both.
        assert!(d.on_change(t0 + ms(120)));
        assert_eq!(d.deadline(), None);
    }

    #[test]
    fn an_outside_publish_covers_pending_changes_and_restarts_the_window() {
        let (mut d, t0) = debouncer();
        assert!(d.on_change(t0));
        assert!(!d.on_change(t0 + ms(10)));
        d.published(t0 + ms(20));
        assert_eq!(d.deadline(), None);
        assert_eq!(d.coalesced(), 1);
        assert!(
            !d.on_change(t0 + ms(30)),
            "within quiet of the outside publish"
        );
        assert_eq!(d.deadline(), Some(t0 + ms(130)));
    }

    #[test]
    fn max_delay_below_quiet_caps_the_wait() {
        let config = DebounceConfig {
            quiet: ms(500),
            max_delay: ms(200),
        };
        let mut d = Debouncer::new(config);
        let t0 = Instant::now();
        assert!(d.on_change(t0));
        assert!(!d.on_change(t0 + ms(1)));
        assert_eq!(d.deadline(), Some(t0 + ms(201)));
    }

    #[test]
    fn absurd_windows_degrade_to_publishing_at_once() {
        let config = DebounceConfig {
            quiet: Duration::MAX,
            max_delay: Duration::MAX,
        };
        let mut d = Debouncer::new(config);
        let t0 = Instant::now();
        assert!(d.on_change(t0));
        assert!(
            d.on_change(t0 + ms(1)),
            "no deadline representable: publish"
        );
        assert_eq!(d.deadline(), None);
    }

    #[test]
    fn zero_quiet_publishes_every_change() {
        let config = DebounceConfig {
            quiet: Duration::ZERO,
            max_delay: MAX,
        };
        let mut d = Debouncer::new(config);
        let t0 = Instant::now();
        assert!(d.on_change(t0));
        assert!(d.on_change(t0));
        assert_eq!(d.deadline(), None);
    }
}

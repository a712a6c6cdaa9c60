//! Invariant 4 ("nothing lost in debouncing") for any timing of events, in
//! virtual time: a simulated controller calls `on_change` at each arrival and
//! `on_deadline` exactly at each deadline, and the properties below are
//! checked against what it observed, not against the debouncer's internals.
//!
//! With `window = min(quiet, max_delay)` (which is `quiet` whenever
//! `max_delay >= quiet`), the guarantees are:
//! - every event is published at or after its arrival and at most `max_delay`
//!   after it;
//! - the newest event of every publish at most `window` after its arrival;
//! - an event that finds nothing pending and no publish within `quiet` is
//!   published at its arrival, alone (leading edge);
//! - every publish covers at least one event no earlier publish covered;
//! - publishes are at least `window` apart;
//! - a publish that is not a leading edge waits until `quiet` has passed since
//!   the newest event before it, or `max_delay` since the oldest it covers.

use std::time::{Duration, Instant};

use interlock::debounce::{DebounceConfig, Debouncer};
use proptest::collection::vec;
use proptest::prelude::*;

/// A configuration, event timings, and how the simulated caller orders an
/// event and a deadline that fall on the same instant (`select!` may pick
/// either).
#[derive(Clone, Debug)]
struct Scenario {
    quiet_ms: u64,
    max_ms: u64,
    gaps_ms: Vec<u64>,
    deadline_first_on_ties: bool,
}

/// What the simulated controller saw.
#[derive(Debug)]
struct Trace {
    config: DebounceConfig,
    events: Vec<Instant>,
    publishes: Vec<Publish>,
    coalesced: u64,
}

/// One publish and the events it newly covered: `events[first..end]`.
#[derive(Debug)]
struct Publish {
    at: Instant,
    first: usize,
    end: usize,
    /// Asked for by the arrival of an event that found the system idle.
    leading: bool,
}

/// Mostly `1ms <= quiet <= max_delay <= 5 * quiet`; sometimes zero windows
/// or `max_delay < quiet`, where the same guarantees hold with `min`.
fn scenario() -> impl Strategy<Value = Scenario> {
    let usual = (1u64..=200).prop_flat_map(|quiet| (Just(quiet), quiet..=5 * quiet));
    let odd = (0u64..=200, 0u64..=1000);
    let config = prop_oneof![9 => usual, 1 => odd];
    (config, any::<bool>()).prop_flat_map(|((quiet_ms, max_ms), ties)| {
        let gaps = vec(0..=3 * quiet_ms.max(1), 0..=200);
        (Just(quiet_ms), Just(max_ms), gaps, Just(ties)).prop_map(
            |(quiet_ms, max_ms, gaps_ms, deadline_first_on_ties)| Scenario {
                quiet_ms,
                max_ms,
                gaps_ms,
                deadline_first_on_ties,
            },
        )
    })
}

fn simulate(scenario: &Scenario) -> Trace {
    let config = DebounceConfig {
        quiet: Duration::from_millis(scenario.quiet_ms),
        max_delay: Duration::from_millis(scenario.max_ms),
    };
    let mut sim = Simulation {
        debouncer: Debouncer::new(config),
        clock: Instant::now(),
        events: Vec::new(),
        publishes: Vec::new(),
        covered: 0,
    };
    let mut now = sim.clock;
    for gap in &scenario.gaps_ms {
        now += Duration::from_millis(*gap);
        sim.fire_deadlines(Some(now), scenario.deadline_first_on_ties);
        sim.arrive(now);
    }
    sim.fire_deadlines(None, true);
    Trace {
        config,
        coalesced: sim.debouncer.coalesced(),
        events: sim.events,
        publishes: sim.publishes,
    }
}

/// A correct caller: wakes exactly at every deadline.
struct Simulation {
    debouncer: Debouncer,
    clock: Instant,
    events: Vec<Instant>,
    publishes: Vec<Publish>,
    covered: usize,
}

impl Simulation {
    /// Fires every deadline before `until` (and at it, when deadlines win ties).
    fn fire_deadlines(&mut self, until: Option<Instant>, deadline_first_on_ties: bool) {
        while let Some(deadline) = self.debouncer.deadline() {
            let reached = until.is_none_or(|until| {
                deadline < until || (deadline == until && deadline_first_on_ties)
            });
            if !reached {
                break;
            }
            assert!(deadline >= self.clock, "deadline in the past");
            self.clock = deadline;
            assert!(
                self.debouncer.on_deadline(deadline),
                "a deadline reached must publish"
            );
            self.record(deadline, false);
        }
    }

    fn arrive(&mut self, now: Instant) {
        self.clock = now;
        let idle = self.covered == self.events.len()
            && self
                .publishes
                .last()
                .is_none_or(|last| now - last.at >= self.debouncer.config().quiet);
        self.events.push(now);
        if self.debouncer.on_change(now) {
            self.record(now, idle);
        }
    }

    fn record(&mut self, at: Instant, leading: bool) {
        self.publishes.push(Publish {
            at,
            first: self.covered,
            end: self.events.len(),
            leading,
        });
        self.covered = self.events.len();
        assert!(
            !self.debouncer.on_deadline(at),
            "a second publish at the same instant"
        );
    }
}

fn window(config: DebounceConfig) -> Duration {
    config.quiet.min(config.max_delay)
}

proptest! {
    #[test]
    fn every_event_is_published_within_max_delay(scenario in scenario()) {
        let trace = simulate(&scenario);
        let covered = trace.publishes.last().map_or(0, |p| p.end);
        prop_assert_eq!(covered, trace.events.len(), "an event was never published");
        for publish in &trace.publishes {
            for arrived in &trace.events[publish.first..publish.end] {
                prop_assert!(publish.at >= *arrived);
                prop_assert!(publish.at - *arrived <= trace.config.max_delay);
            }
        }
    }

    #[test]
    fn the_newest_event_of_a_publish_waits_at_most_the_quiet_window(scenario in scenario()) {
        let trace = simulate(&scenario);
        for publish in &trace.publishes {
            let Some(newest) = publish.end.checked_sub(1).map(|i| trace.events[i]) else {
                continue; // reported by no_publish_happens_without_a_pending_change
            };
            prop_assert!(publish.at - newest <= window(trace.config));
        }
    }

    #[test]
    fn an_idle_system_publishes_the_first_change_at_once(scenario in scenario()) {
        let trace = simulate(&scenario);
        for publish in trace.publishes.iter().filter(|p| p.leading) {
            prop_assert_eq!(publish.end, publish.first + 1, "a leading edge covers one event");
            prop_assert_eq!(publish.at, trace.events[publish.first]);
        }
        // Conversely, recount idle arrivals from the trace alone: each must
        // have been a leading edge (`leading` is set only when the debouncer
        // asked to publish on that arrival).
        let mut last: Option<Instant> = None;
        let mut covered = 0;
        let mut idle_arrivals = 0;
        let mut publishes = trace.publishes.iter().peekable();
        for (i, arrived) in trace.events.iter().enumerate() {
            while let Some(p) = publishes.next_if(|p| p.end <= i) {
                last = Some(p.at);
                covered = p.end;
            }
            let quiet_since = last.is_none_or(|at| *arrived - at >= trace.config.quiet);
            if covered == i && quiet_since {
                idle_arrivals += 1;
            }
        }
        let leading = trace.publishes.iter().filter(|p| p.leading).count();
        prop_assert_eq!(leading, idle_arrivals);
    }

    #[test]
    fn no_publish_happens_without_a_pending_change(scenario in scenario()) {
        let trace = simulate(&scenario);
        for publish in &trace.publishes {
            prop_assert!(publish.end > publish.first, "published nothing new at {:?}", publish);
        }
    }

    #[test]
    fn publishes_are_at_least_the_quiet_window_apart(scenario in scenario()) {
        let trace = simulate(&scenario);
        for pair in trace.publishes.windows(2) {
            prop_assert!(pair[1].at - pair[0].at >= window(trace.config));
        }
    }

    #[test]
    fn a_burst_is_not_published_before_it_settles_or_hits_max_delay(scenario in scenario()) {
        let trace = simulate(&scenario);
        for publish in trace.publishes.iter().filter(|p| !p.leading) {
            let batch = &trace.events[publish.first..publish.end];
            let Some(oldest) = batch.first() else { continue };
            let capped = publish.at - *oldest >= trace.config.max_delay;
            let settled = batch
                .iter()
                .rev()
                .find(|arrived| **arrived < publish.at)
                .is_some_and(|newest| publish.at - *newest >= trace.config.quiet);
            prop_assert!(capped || settled, "cut short: {:?}", publish);
        }
    }

    #[test]
    fn coalesced_counts_every_event_that_shared_a_publish(scenario in scenario()) {
        let trace = simulate(&scenario);
        let expected = trace.events.len() - trace.publishes.len();
        prop_assert_eq!(trace.coalesced, u64::try_from(expected).unwrap_or(u64::MAX));
    }
}

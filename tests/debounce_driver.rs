//! The debouncer driven the way the controller drives it: events from an mpsc
//! channel, `sleep_until_deadline` as the timer branch of a `select!`.
//!
//! tokio's `test-util` feature (paused time) is not enabled in this crate, so
//! this runs on the real clock with short windows and asserts nothing about
//! timing; the timing guarantees are proven in virtual time by
//! `debounce_properties.rs`.

use std::time::Duration;

use interlock::debounce::{self, DebounceConfig, Debouncer};
use tokio::sync::mpsc;

/// The controller loop: applies each event to a "world" (here the latest
/// value seen), then publishes a copy of it whenever the debouncer says so.
/// Returns what was published, once the channel is closed and nothing is
/// pending, plus the coalescing count.
async fn controller(mut events: mpsc::Receiver<u64>, config: DebounceConfig) -> (Vec<u64>, u64) {
    let mut debouncer = Debouncer::new(config);
    let mut world = 0;
    let mut published = Vec::new();
    let mut open = true;
    while open || debouncer.deadline().is_some() {
        let publish = tokio::select! {
            event = events.recv(), if open => match event {
                Some(value) => {
                    world = value;
                    debouncer.on_change(debounce::now())
                }
                None => {
                    open = false;
                    false
                }
            },
            () = debounce::sleep_until_deadline(debouncer.deadline()) => {
                debouncer.on_deadline(debounce::now())
            }
        };
        if publish {
            published.push(world);
        }
    }
    (published, debouncer.coalesced())
}

#[tokio::test]
async fn a_controller_loop_publishes_the_first_and_the_last_event_of_each_burst() {
    let config = DebounceConfig {
        quiet: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
    };
    let (tx, rx) = mpsc::channel(256);
    let run = tokio::spawn(controller(rx, config));
    for value in 1..=50 {
        tx.send(value).await.expect("controller alive");
    }
    tokio::time::sleep(Duration::from_millis(60)).await;
    for value in 51..=100 {
        tx.send(value).await.expect("controller alive");
    }
    drop(tx);

    let (published, coalesced) = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("the loop ends once the channel closes and nothing is pending")
        .expect("controller did not panic");

    assert_eq!(
        published.first(),
        Some(&1),
        "leading edge: the first event at once"
    );
    assert_eq!(
        published.last(),
        Some(&100),
        "the trailing event is never lost"
    );
    assert!(published.windows(2).all(|w| w[0] < w[1]), "{published:?}");
    let expected = 100 - u64::try_from(published.len()).unwrap_or(u64::MAX);
    assert_eq!(coalesced, expected, "every other event rode along");
}

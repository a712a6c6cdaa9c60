//! The only tokio in debouncing: a timer for the controller's `select!` loop,
//! and the clock to feed the state machine so paused test time drives both.

use std::time::Instant;

/// Sleeps until `deadline` (from [`Debouncer::deadline`](super::Debouncer::deadline));
/// with no deadline it never completes, so the branch can sit in a `select!`
/// unconditionally. Takes the deadline by value so the future does not borrow
/// the debouncer the other branches update.
pub async fn sleep_until_deadline(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}

/// The current time on tokio's clock: the same clock as
/// [`sleep_until_deadline`], so a paused runtime moves both together.
pub fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

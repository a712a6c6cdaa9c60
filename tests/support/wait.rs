//! Polling for conditions that become true asynchronously (Envoy ACKs, routes going live).

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// How often [`wait_for`] re-checks its condition.
const POLL: Duration = Duration::from_millis(20);

/// Polls `f` every 20 ms until it returns true; panics naming `what` after `timeout`.
/// A single check that hangs is cut off at the deadline too.
pub async fn wait_for<F, Fut>(timeout: Duration, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(true) = tokio::time::timeout_at(deadline, f()).await {
            return;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(POLL).await;
    }
}

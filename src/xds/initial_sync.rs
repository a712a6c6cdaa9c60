//! Turns for a stream's first full config. When a thousand Envoys connect at
//! once (a control-plane restart, a node pool rolling), sending all of them
//! their whole config at the same time makes every one of them wait for all the
//! others: each completes at the end of the storm. A bounded number of streams
//! take their first sync at once, first come first served, so the median Envoy
//! is ready in about half the time and none later (the work is the same).
//!
//! A turn ends when the stream is in sync, when its Envoy rejects the config,
//! or after `hold` at most, so a client that never ACKs cannot keep a turn.
//! Changes to streams already synced are never held back.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The server's turns for first syncs.
#[derive(Clone, Debug)]
pub(crate) struct InitialSyncs {
    turns: Arc<Semaphore>,
    hold: Duration,
}

/// Where one stream is with its first sync.
#[derive(Debug)]
pub(crate) struct InitialSync {
    syncs: InitialSyncs,
    stage: Stage,
}

#[derive(Debug)]
enum Stage {
    /// Not planned anything yet: waits for a turn.
    Waiting,
    /// Sending its first config under a turn, at most until the deadline.
    Syncing {
        _turn: OwnedSemaphorePermit,
        until: Instant,
    },
    /// Synced once (or its turn ran out): never held back again.
    Done,
}

// === impl InitialSyncs ===

impl InitialSyncs {
    /// `concurrent` streams take their first sync at once (at least one), each
    /// for at most `hold`.
    pub fn new(concurrent: usize, hold: Duration) -> Self {
        InitialSyncs {
            turns: Arc::new(Semaphore::new(concurrent.max(1))),
            hold,
        }
    }

    /// A new stream's place: it waits for a turn.
    pub fn stream(&self) -> InitialSync {
        InitialSync {
            syncs: self.clone(),
            stage: Stage::Waiting,
        }
    }
}

// === impl InitialSync ===

impl InitialSync {
    /// Whether the stream may plan and send now.
    pub fn may_send(&self) -> bool {
        !matches!(self.stage, Stage::Waiting)
    }

    /// The stream's first sync is over (in sync, or its Envoy rejected the
    /// config): the turn goes to the next stream.
    pub fn finish(&mut self) {
        if matches!(self.stage, Stage::Syncing { .. }) {
            self.stage = Stage::Done;
        }
    }

    /// Resolves when the stage moves on by itself: a turn is granted, or a
    /// turn runs out. Never resolves once done. Cancel-safe: a turn granted
    /// to a dropped future goes back to the semaphore.
    pub async fn advance(&mut self) {
        match &self.stage {
            Stage::Waiting => {
                let turns = Arc::clone(&self.syncs.turns);
                // The semaphore is never closed.
                let Ok(turn) = turns.acquire_owned().await else {
                    return std::future::pending().await;
                };
                self.stage = Stage::Syncing {
                    _turn: turn,
                    until: Instant::now() + self.syncs.hold,
                };
            }
            Stage::Syncing { until, .. } => {
                tokio::time::sleep_until(*until).await;
                self.stage = Stage::Done;
            }
            Stage::Done => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn turns_go_first_come_first_served_and_end_with_the_sync_or_the_hold() {
        let hold = Duration::from_millis(200);
        let syncs = InitialSyncs::new(1, hold);
        let (mut first, mut second) = (syncs.stream(), syncs.stream());
        assert!(!first.may_send() && !second.may_send());
        first.advance().await;
        assert!(first.may_send());
        // The only turn is taken: the second stream waits.
        let waited = tokio::time::timeout(Duration::from_millis(10), second.advance()).await;
        assert!(waited.is_err() && !second.may_send());
        first.finish();
        second.advance().await;
        assert!(second.may_send());
        // A turn that is never finished runs out after `hold`, then goes on.
        let mut third = syncs.stream();
        tokio::join!(second.advance(), third.advance());
        assert!(third.may_send());
        // Done: never held back, never advances again.
        first.finish();
        assert!(first.may_send());
        let idle = tokio::time::timeout(Duration::from_millis(50), first.advance()).await;
        assert!(idle.is_err());
    }
}

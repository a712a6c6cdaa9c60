//! Graceful shutdown of a replica (a rolling upgrade, a node drain): stop
//! taking new Envoys, keep the connected ones served while they move to
//! another replica, then let go.

use tokio::sync::watch;

/// Where a replica is in its shutdown.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DrainPhase {
    /// Normal operation.
    Serving,
    /// Not ready, no new connections or streams; open streams still served.
    Draining,
    /// Open streams are being ended.
    Closed,
}

/// The shared shutdown phase: the ADS server refuses new streams and ends open
/// ones by it, and `/readyz` turns false on it (so Kubernetes stops sending new
/// Envoys here before any stream is cut). Cheap to clone.
#[derive(Clone, Debug)]
pub struct Drain {
    phase: watch::Sender<DrainPhase>,
}

impl Default for Drain {
    fn default() -> Self {
        Drain {
            phase: watch::channel(DrainPhase::Serving).0,
        }
    }
}

impl Drain {
    /// Enters [`DrainPhase::Draining`] (unless already further).
    pub fn start(&self) {
        self.phase.send_if_modified(|p| {
            let serving = *p == DrainPhase::Serving;
            if serving {
                *p = DrainPhase::Draining;
            }
            serving
        });
    }

    /// Enters [`DrainPhase::Closed`]: every open stream ends.
    pub fn close(&self) {
        self.phase.send_replace(DrainPhase::Closed);
    }

    /// The current phase.
    pub fn phase(&self) -> DrainPhase {
        *self.phase.borrow()
    }

    /// True once draining has started.
    pub fn is_draining(&self) -> bool {
        self.phase() != DrainPhase::Serving
    }

    /// Completes once draining has started.
    pub async fn started(&self) {
        let mut phase = self.phase.subscribe();
        let _ = phase.wait_for(|p| *p != DrainPhase::Serving).await;
    }

    /// Completes once open streams must end.
    pub async fn closed(&self) {
        let mut phase = self.phase.subscribe();
        let _ = phase.wait_for(|p| *p == DrainPhase::Closed).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn phases_only_move_forward() {
        let drain = Drain::default();
        assert!(!drain.is_draining());
        drain.start();
        drain.started().await;
        assert_eq!(drain.phase(), DrainPhase::Draining);
        drain.close();
        drain.start();
        assert_eq!(drain.phase(), DrainPhase::Closed, "start after close");
        drain.closed().await;
    }
}

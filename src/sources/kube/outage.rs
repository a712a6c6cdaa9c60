//! A watch that fails is retried with backoff, often many times: its outage
//! is logged when it starts and when it ends, not on every retry.

use std::fmt::Display;

use tracing::{info, warn};

/// The state of one watch's outage, for logging.
#[derive(Debug)]
pub struct WatchOutage {
    what: String,
    failing: bool,
}

impl WatchOutage {
    /// For the watch described by `what` (e.g. `Ingress`, `publish service gw/envoy`).
    pub fn new(what: impl Into<String>) -> Self {
        WatchOutage {
            what: what.into(),
            failing: false,
        }
    }

    /// An error: logged when it starts an outage.
    pub fn failed(&mut self, error: &dyn Display) {
        if !std::mem::replace(&mut self.failing, true) {
            warn!(watch = %self.what, %error, "watch failed; retrying with backoff (the last good state stays)");
        }
    }

    /// An event: logged when it ends an outage.
    pub fn succeeded(&mut self) {
        if std::mem::take(&mut self.failing) {
            info!(watch = %self.what, "watch recovered");
        }
    }
}

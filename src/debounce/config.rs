//! The two knobs of debouncing, kept apart from the state machine so the CLI
//! can build them without knowing how they are used.

use std::time::Duration;

/// How long a burst must be silent before it is published, and how long any
/// change may wait at most (invariant 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DebounceConfig {
    /// `--debounce`: a pending change is published once no further change has
    /// arrived for this long.
    pub quiet: Duration,
    /// `--debounce-max`: no change waits longer than this, however long the
    /// burst goes on. Values below `quiet` cap the quiet window too.
    pub max_delay: Duration,
}

impl DebounceConfig {
    /// Default `--debounce`: long enough to fold a scripted burst of writes,
    /// short enough to stay unnoticed next to Envoy's own latency.
    pub const DEFAULT_QUIET: Duration = Duration::from_millis(100);
    /// Default `--debounce-max`: the longest a change may go unpublished.
    pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(1);
}

impl Default for DebounceConfig {
    fn default() -> Self {
        DebounceConfig {
            quiet: Self::DEFAULT_QUIET,
            max_delay: Self::DEFAULT_MAX_DELAY,
        }
    }
}

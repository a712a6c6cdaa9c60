//! Invariant 1: nothing is published until every source has delivered its
//! initial state.

use std::collections::BTreeSet;

/// Tracks which sources have finished their initial load.
#[derive(Clone, Debug, Default)]
pub struct SyncGate {
    pending: BTreeSet<String>,
}

impl SyncGate {
    /// A gate waiting for every source in `sources`.
    pub fn new<I, S>(sources: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        SyncGate {
            pending: sources.into_iter().map(Into::into).collect(),
        }
    }

    /// Records that `source` has synced; returns true when this opened the gate.
    pub fn synced(&mut self, source: &str) -> bool {
        self.pending.remove(source) && self.pending.is_empty()
    }

    /// True once every source has synced.
    pub fn is_open(&self) -> bool {
        self.pending.is_empty()
    }

    /// Sources still loading (for logs and /readyz).
    pub fn pending(&self) -> impl Iterator<Item = &str> {
        self.pending.iter().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_only_when_every_source_synced() {
        let mut gate = SyncGate::new(["a", "b"]);
        assert!(!gate.is_open());
        assert!(!gate.synced("a"));
        assert!(!gate.synced("a"), "a repeat does not count twice");
        assert!(gate.synced("b"));
        assert!(gate.is_open());
    }
}

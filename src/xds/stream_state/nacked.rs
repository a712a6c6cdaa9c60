//! The versions Envoy rejected on a stream, never sent to it again
//! (invariant 6). Bounded: a stream that keeps rejecting does not grow without
//! limit; the oldest rejections are forgotten first (by then containment has
//! long published something else).

use std::collections::{BTreeSet, VecDeque};

/// Rejected versions remembered per type and stream.
const REMEMBERED: usize = 64;

/// The most recent rejected versions of one type.
#[derive(Clone, Debug, Default)]
pub(super) struct NackedVersions {
    order: VecDeque<String>,
    set: BTreeSet<String>,
}

impl NackedVersions {
    /// Remembers `version` as rejected.
    pub(super) fn insert(&mut self, version: String) {
        if !self.set.insert(version.clone()) {
            return;
        }
        self.order.push_back(version);
        while self.order.len() > REMEMBERED {
            if let Some(oldest) = self.order.pop_front() {
                self.set.remove(&oldest);
            }
        }
    }

    /// True when `version` was rejected (and is still remembered).
    pub(super) fn contains(&self, version: &str) -> bool {
        self.set.contains(version)
    }

    /// True when nothing was rejected.
    pub(super) fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_rejections_are_forgotten_first() {
        let mut nacked = NackedVersions::default();
        assert!(nacked.is_empty());
        for i in 0..=REMEMBERED {
            nacked.insert(format!("v{i}"));
            nacked.insert(format!("v{i}"));
        }
        assert!(!nacked.contains("v0"), "beyond the bound");
        assert!(nacked.contains("v1") && nacked.contains(&format!("v{REMEMBERED}")));
        assert_eq!(nacked.order.len(), REMEMBERED);
    }
}

//! What each published snapshot changed, object by object, with the version each
//! object had before: the difference between what an Envoy last accepted and
//! what it rejected is read from here, and so are the versions to fall back to.

use std::collections::{BTreeMap, VecDeque};

use crate::world::{ObjectRef, Stored};

/// Publishes remembered at most; older ones are forgotten first (an Envoy that
/// far behind is attributed without history).
const MAX_RECORDS: usize = 1024;

/// The version of each changed object before a publish (`None`: it did not exist).
pub(crate) type Before = BTreeMap<ObjectRef, Option<Stored>>;

/// One publish: its sequence number, snapshot version and what it changed.
#[derive(Debug)]
struct Record {
    seq: u64,
    version: String,
    before: Before,
}

/// Recent publishes, oldest first.
#[derive(Debug, Default)]
pub(crate) struct History {
    records: VecDeque<Record>,
    next_seq: u64,
}

impl History {
    /// Records a publish of `version` that changed `before`'s objects; returns
    /// its sequence number (1, 2, ...).
    pub(crate) fn published(&mut self, version: String, before: Before) -> u64 {
        self.next_seq += 1;
        self.records.push_back(Record {
            seq: self.next_seq,
            version,
            before,
        });
        while self.records.len() > MAX_RECORDS {
            self.records.pop_front();
        }
        self.next_seq
    }

    /// The newest publish of `version`, if remembered.
    pub(crate) fn seq_of(&self, version: &str) -> Option<u64> {
        self.records
            .iter()
            .rev()
            .find(|r| r.version == version)
            .map(|r| r.seq)
    }

    /// The latest publish's sequence number (0 before the first).
    pub(crate) fn latest(&self) -> u64 {
        self.next_seq
    }

    /// Every object changed by publishes after `seq`, with its version at `seq`;
    /// `None` when some of those publishes are forgotten.
    pub(crate) fn changed_since(&self, seq: u64) -> Option<Before> {
        let first = self.records.front().map_or(self.next_seq + 1, |r| r.seq);
        if seq + 1 < first {
            return None;
        }
        let mut changed = Before::new();
        for record in self.records.iter().filter(|r| r.seq > seq) {
            for (object, before) in &record.before {
                changed
                    .entry(object.clone())
                    .or_insert_with(|| before.clone());
            }
        }
        Some(changed)
    }

    /// Forgets publishes up to `seq` (every Envoy is past them).
    pub(crate) fn forget_through(&mut self, seq: u64) {
        while self.records.front().is_some_and(|r| r.seq <= seq) {
            self.records.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::{Kind, ObjectKey};

    fn ingress(name: &str) -> ObjectRef {
        ObjectRef {
            kind: Kind::Ingress,
            key: ObjectKey::new("ns", name),
        }
    }

    #[test]
    fn changes_since_a_publish_keep_the_version_at_that_publish() {
        let mut history = History::default();
        let a = history.published("a".into(), Before::from([(ingress("x"), None)]));
        let b = history.published("b".into(), Before::from([(ingress("y"), None)]));
        // A second change of y after b: its version at b is what the first change replaced.
        history.published("c".into(), Before::from([(ingress("y"), None)]));
        assert_eq!((a, b, history.latest()), (1, 2, 3));
        assert_eq!(history.seq_of("b"), Some(2));
        let since_a = history.changed_since(a).expect("remembered");
        assert_eq!(since_a.keys().cloned().collect::<Vec<_>>(), [ingress("y")]);
        let since_start = history.changed_since(0).expect("remembered");
        assert_eq!(since_start.len(), 2);
        history.forget_through(a);
        assert!(history.changed_since(0).is_none(), "publish 1 is forgotten");
        assert!(history.changed_since(a).is_some());
        assert!(history.changed_since(3).is_some_and(|c| c.is_empty()));
    }
}

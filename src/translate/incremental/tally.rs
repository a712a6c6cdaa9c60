//! Diagnostics as a multiset, so each unit of work (an Ingress read, one
//! host's merge, one cluster's endpoints) can take back exactly what it added.

use std::collections::BTreeMap;

use crate::translate::Diagnostic;

/// Every diagnostic with how many units currently report it. Its keys, in
/// order, are what a full translation reports (sorted and de-duplicated).
#[derive(Debug, Default)]
pub(super) struct Tally {
    counts: BTreeMap<Diagnostic, usize>,
    changed: bool,
}

// === impl Tally ===

impl Tally {
    /// Counts `diagnostics` in.
    pub(super) fn add(&mut self, diagnostics: &[Diagnostic]) {
        for d in diagnostics {
            let count = self.counts.entry(d.clone()).or_default();
            self.changed |= *count == 0;
            *count += 1;
        }
    }

    /// Counts `diagnostics` (added before) out.
    pub(super) fn remove(&mut self, diagnostics: &[Diagnostic]) {
        for d in diagnostics {
            if let Some(count) = self.counts.get_mut(d) {
                *count -= 1;
                if *count == 0 {
                    self.counts.remove(d);
                    self.changed = true;
                }
            }
        }
    }

    /// Replaces `old` with `new`.
    pub(super) fn replace(&mut self, old: &[Diagnostic], new: &[Diagnostic]) {
        if old != new {
            self.add(new);
            self.remove(old);
        }
    }

    /// The distinct diagnostics, sorted.
    pub(super) fn all(&self) -> Vec<Diagnostic> {
        self.counts.keys().cloned().collect()
    }

    /// The distinct diagnostics, sorted, when they changed since the last call.
    pub(super) fn take_changed(&mut self) -> Option<Vec<Diagnostic>> {
        std::mem::take(&mut self.changed).then(|| self.counts.keys().cloned().collect())
    }
}

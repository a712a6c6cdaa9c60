//! What one Envoy stream asked for, of one resource type.

use std::collections::BTreeSet;

use crate::snapshot::ResourceType;

/// The wildcard name of xDS (explicit form); an empty SotW list means the same
/// for LDS/CDS (legacy form).
const WILDCARD: &str = "*";

/// Names an Envoy subscribed to, and whether it wants everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subscription {
    wildcard: bool,
    names: BTreeSet<String>,
}

impl Subscription {
    /// True when `name` should be in this stream's view.
    pub fn wants(&self, name: &str) -> bool {
        self.wildcard || self.names.contains(name)
    }

    /// True for a wildcard subscription (all resources of the type).
    pub fn is_wildcard(&self) -> bool {
        self.wildcard
    }

    /// Explicitly subscribed names (besides any wildcard).
    pub fn names(&self) -> &BTreeSet<String> {
        &self.names
    }

    /// A SotW request replaces the subscription with its name list.
    pub fn set_sotw(&mut self, kind: ResourceType, names: &[String]) {
        self.wildcard =
            (kind.is_wildcard() && names.is_empty()) || names.iter().any(|n| n == WILDCARD);
        self.names = names.iter().filter(|n| *n != WILDCARD).cloned().collect();
    }

    /// A delta request changes the subscription; `first` marks the stream's first
    /// request for the type, where an empty list means legacy wildcard for LDS/CDS.
    pub fn apply_delta(
        &mut self,
        kind: ResourceType,
        first: bool,
        subscribe: &[String],
        unsubscribe: &[String],
    ) {
        if first && kind.is_wildcard() && subscribe.is_empty() {
            self.wildcard = true;
        }
        for name in subscribe {
            if name == WILDCARD {
                self.wildcard = true;
            } else {
                self.names.insert(name.clone());
            }
        }
        for name in unsubscribe {
            if name == WILDCARD {
                self.wildcard = false;
            } else {
                self.names.remove(name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn empty_sotw_list_is_wildcard_only_for_lds_and_cds() {
        let mut s = Subscription::default();
        s.set_sotw(ResourceType::Listener, &[]);
        assert!(s.is_wildcard());
        s.set_sotw(ResourceType::Route, &[]);
        assert!(!s.is_wildcard());
        assert!(!s.wants("r"));
        s.set_sotw(ResourceType::Route, &names(&["*"]));
        assert!(s.wants("r"));
    }

    #[test]
    fn delta_subscribe_and_unsubscribe_accumulate() {
        let mut s = Subscription::default();
        s.apply_delta(ResourceType::Cluster, true, &[], &[]);
        assert!(s.is_wildcard());
        let mut r = Subscription::default();
        r.apply_delta(ResourceType::Route, true, &names(&["a", "b"]), &[]);
        r.apply_delta(ResourceType::Route, false, &names(&["c"]), &names(&["a"]));
        assert!(!r.wants("a") && r.wants("b") && r.wants("c"));
        let mut explicit = Subscription::default();
        explicit.apply_delta(ResourceType::Cluster, true, &names(&["x"]), &[]);
        assert!(!explicit.is_wildcard() && explicit.wants("x"));
    }
}

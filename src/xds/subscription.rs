//! What one Envoy stream asked for, of one resource type.

use std::collections::BTreeSet;

use xxhash_rust::xxh3::xxh3_64;

use crate::snapshot::{intern, Name, ResourceType};

/// The wildcard name of xDS (explicit form); an empty SotW list means the same
/// for LDS/CDS (legacy form).
const WILDCARD: &str = "*";

/// Names an Envoy subscribed to, and whether it wants everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subscription {
    wildcard: bool,
    /// Interned: 1,000 streams naming the same clusters share one copy.
    names: BTreeSet<Name>,
    /// Order-independent hash of `names`, so a SotW request repeating the same
    /// thousand names (every EDS ACK does) is recognised without rebuilding the set.
    names_hash: u64,
    generation: u64,
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
    pub fn names(&self) -> &BTreeSet<Name> {
        &self.names
    }

    /// Bumped on every change, so "has it changed since then?" costs nothing.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// A SotW request replaces the subscription with its name list. Returns true
    /// when that changed anything.
    pub fn set_sotw(&mut self, kind: ResourceType, names: &[impl AsRef<str>]) -> bool {
        let names = names.iter().map(AsRef::as_ref);
        let wildcard =
            (kind.is_wildcard() && names.len() == 0) || names.clone().any(|n| n == WILDCARD);
        let explicit = names.filter(|n| *n != WILDCARD);
        let hash = explicit
            .clone()
            .fold(0u64, |h, n| h.wrapping_add(name_hash(n)));
        let count = explicit.clone().count();
        if wildcard == self.wildcard && hash == self.names_hash && count == self.names.len() {
            return false;
        }
        self.wildcard = wildcard;
        self.names = explicit.map(intern).collect();
        self.names_hash = self
            .names
            .iter()
            .fold(0, |h, n| h.wrapping_add(name_hash(n)));
        self.generation += 1;
        true
    }

    /// How many explicit names the subscription would hold after a delta
    /// request adding `subscribe` and then dropping `unsubscribe`, without
    /// applying it (limits refuse a request before anything is kept).
    pub fn names_after_delta(&self, subscribe: &[String], unsubscribe: &[String]) -> usize {
        let added: BTreeSet<&str> = subscribe
            .iter()
            .map(String::as_str)
            .filter(|n| *n != WILDCARD && !self.names.contains(*n))
            .collect();
        let dropped = unsubscribe
            .iter()
            .map(String::as_str)
            .filter(|n| *n != WILDCARD && (self.names.contains(*n) || added.contains(n)))
            .collect::<BTreeSet<&str>>()
            .len();
        self.names.len() + added.len() - dropped
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
        let before = (self.wildcard, self.names.len(), self.names_hash);
        if first && kind.is_wildcard() && subscribe.is_empty() {
            self.wildcard = true;
        }
        self.wildcard |= subscribe.iter().any(|n| n == WILDCARD);
        // Merged in bulk: Envoy's first EDS request names every cluster at once.
        let mut added: BTreeSet<Name> = subscribe
            .iter()
            .filter(|n| *n != WILDCARD && !self.names.contains(n.as_str()))
            .map(|n| intern(n))
            .collect();
        for name in &added {
            self.names_hash = self.names_hash.wrapping_add(name_hash(name));
        }
        self.names.append(&mut added);
        for name in unsubscribe {
            if name == WILDCARD {
                self.wildcard = false;
            } else if self.names.remove(name.as_str()) {
                self.names_hash = self.names_hash.wrapping_sub(name_hash(name));
            }
        }
        if before != (self.wildcard, self.names.len(), self.names_hash) {
            self.generation += 1;
        }
    }
}

fn name_hash(name: &str) -> u64 {
    xxh3_64(name.as_bytes())
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
        s.set_sotw(ResourceType::Listener, &[] as &[&str]);
        assert!(s.is_wildcard());
        s.set_sotw(ResourceType::Route, &[] as &[&str]);
        assert!(!s.is_wildcard());
        assert!(!s.wants("r"));
        s.set_sotw(ResourceType::Route, &names(&["*"]));
        assert!(s.wants("r"));
    }

    #[test]
    fn repeating_the_same_names_is_not_a_change() {
        let mut s = Subscription::default();
        assert!(s.set_sotw(ResourceType::Endpoints, &names(&["a", "b"])));
        let generation = s.generation();
        assert!(!s.set_sotw(ResourceType::Endpoints, &names(&["b", "a"])));
        assert_eq!(s.generation(), generation);
        assert!(s.set_sotw(ResourceType::Endpoints, &names(&["a"])));
        assert!(s.generation() > generation);
        assert!(!s.wants("b"));
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

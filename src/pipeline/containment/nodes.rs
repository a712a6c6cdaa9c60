//! Which Envoys are connected, and the newest publish each has accepted in full
//! or rejected: a trial is decided by all of them.

use std::collections::BTreeMap;

/// One node's standing.
#[derive(Clone, Debug, Default)]
struct Node {
    streams: usize,
    /// Newest publish it holds completely.
    in_sync: Option<u64>,
    /// Newest publish it rejected part of.
    rejected: Option<u64>,
}

/// Connected nodes by id.
#[derive(Clone, Debug, Default)]
pub(crate) struct Nodes {
    nodes: BTreeMap<String, Node>,
}

impl Nodes {
    /// A stream of `node` opened.
    pub(crate) fn connected(&mut self, node: &str) {
        self.nodes.entry(node.to_owned()).or_default().streams += 1;
    }

    /// A stream of `node` closed; the node is forgotten with its last stream.
    pub(crate) fn disconnected(&mut self, node: &str) {
        if let Some(n) = self.nodes.get_mut(node) {
            n.streams = n.streams.saturating_sub(1);
            if n.streams == 0 {
                self.nodes.remove(node);
            }
        }
    }

    /// `node` holds all of publish `seq`.
    pub(crate) fn in_sync(&mut self, node: &str, seq: u64) {
        if let Some(n) = self.nodes.get_mut(node) {
            n.in_sync = n.in_sync.max(Some(seq));
        }
    }

    /// `node` rejected part of publish `seq`.
    pub(crate) fn rejected(&mut self, node: &str, seq: u64) {
        if let Some(n) = self.nodes.get_mut(node) {
            n.rejected = n.rejected.max(Some(seq));
        }
    }

    /// The newest publish `node` holds completely.
    pub(crate) fn in_sync_at(&self, node: &str) -> Option<u64> {
        self.nodes.get(node).and_then(|n| n.in_sync)
    }

    /// How every connected node took publish `seq` (or a later one): `None`
    /// while undecided or nobody is connected.
    pub(crate) fn verdict_on(&self, seq: u64) -> Option<bool> {
        if self.nodes.is_empty() {
            return None;
        }
        if self.nodes.values().any(|n| n.rejected >= Some(seq)) {
            return Some(false);
        }
        self.nodes
            .values()
            .all(|n| n.in_sync >= Some(seq))
            .then_some(true)
    }

    /// The oldest publish some connected node may still build on (`None` when
    /// one has accepted nothing yet, or nobody is connected).
    pub(crate) fn oldest_in_sync(&self) -> Option<u64> {
        self.nodes.values().map(|n| n.in_sync).min().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trial_is_decided_by_every_connected_node() {
        let mut nodes = Nodes::default();
        assert_eq!(
            nodes.verdict_on(1),
            None,
            "nobody connected decides nothing"
        );
        nodes.connected("a");
        nodes.connected("b");
        nodes.in_sync("a", 3);
        assert_eq!(nodes.verdict_on(3), None);
        nodes.in_sync("b", 4);
        assert_eq!(nodes.verdict_on(3), Some(true));
        assert_eq!(nodes.oldest_in_sync(), Some(3));
        nodes.rejected("b", 5);
        assert_eq!(nodes.verdict_on(5), Some(false));
        nodes.disconnected("b");
        assert_eq!(nodes.verdict_on(5), None);
        nodes.in_sync("a", 5);
        assert_eq!(nodes.verdict_on(5), Some(true));
    }
}

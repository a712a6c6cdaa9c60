//! Warmth: a cluster is safe to route to once Envoy holds it with endpoints. A
//! cluster CDS (re)sends is owed its ClusterLoadAssignment, even an unchanged
//! one, because Envoy warms a cluster only when a CLA arrives for it.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use crate::snapshot::{Name, Resource, ResourceMap, ResourceType, Snapshot};

use super::{InFlight, StreamState};

// === impl StreamState ===

impl StreamState {
    /// Every target cluster is ACKed at its target version and warm.
    pub(super) fn clusters_ready(&self, target: &Snapshot) -> bool {
        if self.clusters_ready_for.as_deref() == Some(target.version()) {
            return true;
        }
        let clusters = target.resources(ResourceType::Cluster);
        let cds = &self.types[ResourceType::Cluster];
        if !cds.requested {
            return clusters.is_empty();
        }
        if cds.in_flight.is_some() {
            return false;
        }
        if Arc::ptr_eq(&cds.acked, clusters) {
            // `warm` only ever holds ACKed clusters, so counting suffices.
            return self.warm.len() == clusters.len();
        }
        if cds.acked.len() < clusters.len() || self.warm.len() < clusters.len() {
            return false;
        }
        clusters.values().all(|c| {
            cds.acked
                .get(c.name())
                .is_some_and(|a| a.version() == c.version())
                && self.warm.contains(c.name())
        })
    }

    /// The CDS response in flight, if Envoy has already processed it.
    pub(super) fn warming_cds(&self) -> Option<&InFlight> {
        let eds = self.types[ResourceType::Endpoints]
            .subscription
            .generation();
        self.types[ResourceType::Cluster]
            .in_flight
            .as_ref()
            .filter(|f| f.eds_generation != eds)
    }

    /// CDS is sending these clusters: new or changed ones are owed their endpoints.
    pub(super) fn owe_endpoints(&mut self, sent: &[Arc<Resource>]) {
        let held = &self.types[ResourceType::Cluster].acked;
        for cluster in sent {
            let unchanged = held
                .get(cluster.name())
                .is_some_and(|h| h.version() == cluster.version());
            if let (false, Some(cla)) = (unchanged, &cluster.references().endpoints) {
                self.owed.insert(cla.clone());
            }
        }
    }

    /// EDS is sending these CLAs: they are no longer owed, and their clusters warm
    /// up when this response is ACKed.
    pub(super) fn endpoints_sent(
        &mut self,
        sent: &[Arc<Resource>],
    ) -> (Vec<Name>, Vec<Name>, Option<String>) {
        // Sorted (a SotW view already is), so the walks below are merges.
        let mut names: Vec<&str> = sent.iter().map(|r| r.name()).collect();
        if !names.is_sorted() {
            names.sort_unstable();
        }
        names.dedup();
        let sent_owed = owed_among(&self.owed, &names);
        for n in sent_owed {
            self.owed.remove(&n);
            self.owed_in_flight.insert(n);
        }
        let warms = fed_clusters(&self.types[ResourceType::Cluster].acked, &names);
        let Some(cds) = self.warming_cds() else {
            return (warms, Vec::new(), None);
        };
        let warming = if warms.is_empty() {
            fed_clusters(&cds.view, &names)
        } else {
            let warms: HashSet<&str> = warms.iter().map(|c| &**c).collect();
            fed_clusters(&cds.view, &names)
                .into_iter()
                .filter(|c| !warms.contains(&**c))
                .collect()
        };
        (warms, warming, Some(cds.nonce.clone()))
    }
}

/// Equal names, usually told by address: names are interned, so a CLA's name
/// and the name its cluster references are one allocation.
fn same_name(a: &str, b: &str) -> bool {
    std::ptr::eq(a, b) || a == b
}

/// The names of `owed` that are among `names` (sorted, deduplicated).
fn owed_among(owed: &BTreeSet<Name>, names: &[&str]) -> Vec<Name> {
    if owed.len() * 8 < names.len() {
        let sent = |n: &&Name| names.binary_search(&&***n).is_ok();
        return owed.iter().filter(sent).cloned().collect();
    }
    let mut sent = Vec::new();
    let mut rest = names;
    for n in owed {
        // Skip what precedes `n`; with a thousand owed CLAs all being sent,
        // every step is an address match (no string comparison).
        while let Some((&first, tail)) = rest.split_first() {
            if same_name(first, n) {
                sent.push(Arc::clone(n));
                rest = tail;
                break;
            }
            if first > &**n {
                break;
            }
            rest = tail;
        }
    }
    sent
}

/// Clusters of `clusters` whose ClusterLoadAssignment is among `names`
/// (sorted, deduplicated).
fn fed_clusters(clusters: &ResourceMap, names: &[&str]) -> Vec<Name> {
    let feeds = |c: &Resource, cla: &str| {
        c.references()
            .endpoints
            .as_deref()
            .is_some_and(|e| same_name(e, cla))
    };
    // Usually a CLA is named after its cluster; scan only for those that are not.
    let mut fed = Vec::new();
    let mut unmatched = Vec::new();
    if names.len() * 8 < clusters.len() {
        for &cla in names {
            match clusters.get(cla) {
                Some(c) if feeds(c, cla) => fed.push(Arc::clone(c.shared_name())),
                _ => unmatched.push(cla),
            }
        }
    } else {
        // A merge of two sorted sequences: the whole EDS set sent to a
        // thousand streams costs one address comparison per CLA.
        let mut rest = clusters.values().peekable();
        for &cla in names {
            while rest
                .next_if(|c| !same_name(c.name(), cla) && c.name() < cla)
                .is_some()
            {}
            match rest.next_if(|c| same_name(c.name(), cla)) {
                Some(c) if feeds(c, cla) => fed.push(Arc::clone(c.shared_name())),
                _ => unmatched.push(cla),
            }
        }
    }
    if !unmatched.is_empty() {
        let others = clusters.values().filter(|c| {
            c.references()
                .endpoints
                .as_deref()
                .is_some_and(|e| e != c.name() && unmatched.binary_search(&e).is_ok())
        });
        fed.extend(others.map(|c| Arc::clone(c.shared_name())));
    }
    fed
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{
        carries, converged, kinds, snapshot, snapshot_with, Client, CDS, EDS, LDS, MODES, RDS,
    };

    #[test]
    fn a_resent_cluster_is_owed_its_unchanged_endpoints() {
        for mode in MODES {
            let mut client = converged(mode, &snapshot(&["a"], &["a"]));
            // Only the cluster changes; its CLA is the same.
            let next = snapshot_with(&[("a", 2, 1)], &["a"]);
            let planned = client.state.plan(&next);
            assert_eq!(kinds(&planned), [CDS], "{mode:?}");
            client.answer(&planned[0], None);
            let planned = client.state.plan(&next);
            assert_eq!(kinds(&planned), [EDS], "{mode:?}");
            assert!(carries(&planned, EDS, "a"), "{mode:?}");
            client.answer(&planned[0], None);
            assert!(client.state.plan(&next).is_empty(), "{mode:?}");
        }
    }

    /// Found by the `stream_state` fuzz target: readiness was remembered per
    /// snapshot version, so a snapshot published again after Envoy dropped its
    /// clusters (A → B → A) let its route table out before they warmed again.
    #[test]
    fn a_snapshot_seen_before_waits_for_its_clusters_to_warm_again() {
        for mode in MODES {
            let first = snapshot(&["a"], &["a"]);
            let mut client = converged(mode, &first);
            // Routes nowhere, so `a` leaves; `b` never warms (its CLA is rejected).
            let other = snapshot(&["b"], &[]);
            client.converge_with(&other, |p| (p.kind == EDS).then(|| "no".to_owned()));
            let planned = client.state.plan(&first);
            assert_eq!(kinds(&planned), [CDS], "{mode:?}: a is not warm");
            client.answer(&planned[0], None);
            let planned = client.state.plan(&first);
            assert_eq!(kinds(&planned), [EDS], "{mode:?}: the route table waits");
            assert!(carries(&planned, EDS, "a"), "{mode:?}");
            client.answer(&planned[0], None);
            assert_eq!(kinds(&client.converge(&first)), [RDS], "{mode:?}");
        }
    }

    #[test]
    fn listeners_wait_until_every_cluster_is_warm() {
        for mode in MODES {
            let target = snapshot(&["a"], &["a"]);
            let mut client = Client::connect(mode);
            client.manual.insert(EDS);
            let sent = client.converge(&target);
            assert_eq!(kinds(&sent), [CDS], "{mode:?}: no endpoints, no listeners");
            client.subscribe(EDS, &["a"]);
            let planned = client.state.plan(&target);
            assert_eq!(kinds(&planned), [EDS], "{mode:?}");
            assert!(
                client.state.plan(&target).is_empty(),
                "{mode:?}: EDS not ACKed"
            );
            client.answer(&planned[0], None);
            let sent = client.converge(&target);
            assert_eq!(kinds(&sent), [LDS, RDS], "{mode:?}");
        }
    }

    #[test]
    fn the_merge_and_the_lookups_find_the_same_fed_clusters() {
        use super::{fed_clusters, owed_among};
        use crate::snapshot::intern;
        use std::collections::BTreeSet;
        let names: Vec<String> = (0..40).map(|i| format!("c{i:02}")).collect();
        let all: Vec<&str> = names.iter().map(String::as_str).collect();
        let target = snapshot(&all, &[]);
        let clusters = target.resources(CDS);
        let fed = |sent: &[&str]| -> Vec<String> {
            fed_clusters(clusters, sent)
                .iter()
                .map(|n| n.to_string())
                .collect()
        };
        // Few names against many clusters: lookups; many: a merge. Names the
        // snapshot lacks ("c0x", "zz") feed nothing either way.
        for sent in [
            &["c03", "c0x", "c17"][..],
            &all[..],
            &[&all[..30], &["zz"][..]].concat()[..],
        ] {
            let want: Vec<String> = sent
                .iter()
                .filter(|n| clusters.contains_key(**n))
                .map(|n| n.to_string())
                .collect();
            assert_eq!(fed(sent), want, "{sent:?}");
            let owed: BTreeSet<_> = ["c03", "c17", "c39", "zz"].map(intern).into();
            let among: Vec<String> = owed_among(&owed, sent)
                .iter()
                .map(|n| n.to_string())
                .collect();
            let want: Vec<String> = owed
                .iter()
                .filter(|n| sent.contains(&&***n))
                .map(|n| n.to_string())
                .collect();
            assert_eq!(among, want, "{sent:?}");
        }
    }
}

//! Warmth: a cluster is safe to route to once Envoy holds it with endpoints. A
//! cluster CDS (re)sends is owed its ClusterLoadAssignment, even an unchanged
//! one, because Envoy warms a cluster only when a CLA arrives for it.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use crate::snapshot::{same_name, seek_name, Name, Resource, ResourceMap, ResourceType, Snapshot};

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
        let owed = sent.iter().filter_map(|cluster| {
            let unchanged = held
                .get(cluster.name())
                .is_some_and(|h| h.version() == cluster.version());
            let cla = cluster.references().endpoints.as_ref();
            cla.filter(|_| !unchanged).map(Arc::clone)
        });
        // Built in bulk and merged: a CDS of 1,000 clusters owes 1,000 CLAs, and
        // inserting them one by one was a tenth of a connect storm's CPU.
        let mut owed: BTreeSet<Name> = owed.collect();
        self.owed.append(&mut owed);
    }

    /// Owed CLAs go out even when unchanged (their cluster was re-sent): those
    /// of `view` that `changed` (sorted by name) lacks.
    pub(super) fn owed_unchanged(
        &self,
        view: &ResourceMap,
        changed: &[Arc<Resource>],
    ) -> Vec<Arc<Resource>> {
        owed_unchanged(&self.owed, view, changed)
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
        if sent_owed.len() == self.owed.len() {
            self.owed_in_flight.append(&mut self.owed);
        } else if !sent_owed.is_empty() {
            // `sent_owed` is `owed`'s own names in its order: one pass by address.
            let mut next = sent_owed.iter().peekable();
            self.owed.retain(|n| match next.peek() {
                Some(sent) if Arc::ptr_eq(sent, n) => {
                    next.next();
                    false
                }
                _ => true,
            });
            self.owed_in_flight
                .append(&mut sent_owed.into_iter().collect());
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

/// The names of `owed` that are among `names` (sorted, deduplicated), in
/// `owed`'s order and as `owed`'s own allocations.
fn owed_among(owed: &BTreeSet<Name>, names: &[&str]) -> Vec<Name> {
    if owed.len() * 8 < names.len() {
        let sent = |n: &&Name| names.binary_search(&&***n).is_ok();
        return owed.iter().filter(sent).cloned().collect();
    }
    let mut rest = names.iter().peekable();
    let sent = |n: &&Name| seek_name(&mut rest, n, |s| s).is_some();
    owed.iter().filter(sent).cloned().collect()
}

/// The CLAs of `owed` that `view` holds and `changed` (sorted by name) lacks.
fn owed_unchanged(
    owed: &BTreeSet<Name>,
    view: &ResourceMap,
    changed: &[Arc<Resource>],
) -> Vec<Arc<Resource>> {
    let unchanged = |r: &Arc<Resource>| {
        changed
            .binary_search_by(|c| c.name().cmp(r.name()))
            .is_err()
    };
    if owed.len() * 8 < view.len() {
        let held = owed.iter().filter_map(|n| view.get(&**n));
        return held.filter(|r| unchanged(r)).cloned().collect();
    }
    let (mut held, mut sent) = (view.values().peekable(), changed.iter().peekable());
    let owed_held = owed.iter().filter_map(|n| {
        let r = seek_name(&mut held, n, |r| r.name())?;
        seek_name(&mut sent, n, |c| c.name()).is_none().then_some(r)
    });
    owed_held.cloned().collect()
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
            match seek_name(&mut rest, cla, |c| c.name()) {
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

    #[test]
    fn owed_clas_resent_unchanged_are_the_same_by_merge_and_by_lookups() {
        use super::owed_unchanged;
        use crate::snapshot::intern;
        use std::collections::BTreeSet;
        let names: Vec<String> = (0..40).map(|i| format!("c{i:02}")).collect();
        let all: Vec<&str> = names.iter().map(String::as_str).collect();
        let target = snapshot(&all, &all);
        let view = target.resources(EDS);
        let changed: Vec<_> = ["c03", "c20", "c21"]
            .iter()
            .filter_map(|n| view.get(*n).cloned())
            .collect();
        // Few owed against a large view: lookups; many: a merge. Owed names the
        // view lacks ("c0x", "zz") and changed ones are left out either way.
        let few = ["c03", "c0x", "c17", "zz"];
        let many: Vec<&str> = all.iter().copied().chain(["c0x", "zz"]).collect();
        for owed in [&few[..], &many[..]] {
            let owed: BTreeSet<_> = owed.iter().map(|n| intern(n)).collect();
            let resent = owed_unchanged(&owed, view, &changed);
            let got: Vec<&str> = resent.iter().map(|r| r.name()).collect();
            let want: Vec<&str> = owed
                .iter()
                .map(|n| &**n)
                .filter(|n| view.contains_key(*n) && !["c03", "c20", "c21"].contains(n))
                .collect();
            assert!(!want.is_empty());
            assert_eq!(got, want, "{} owed", owed.len());
        }
    }
}

//! The gates of make-before-break: route tables move only once LDS is settled
//! and every cluster a table names is warm, and an old cluster stays in CDS while
//! a listener or route table Envoy holds (or is being sent) still names it.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::snapshot::{Resource, ResourceMap, ResourceType, Snapshot};

use super::view_diff::gone;
use super::StreamState;

/// Whether one route table's clusters were all warm and kept by the CDS in
/// flight, for (that table, warm generation, CDS nonce in flight).
#[derive(Clone, Debug)]
pub(super) struct RouteGate {
    route: Arc<Resource>,
    warm_generation: u64,
    cds_in_flight: Option<String>,
    open: bool,
}

// === impl StreamState ===

impl StreamState {
    /// Every cluster `route` names is warm and not being removed by the CDS in
    /// flight. Memoised: each request re-plans, and a route table names thousands.
    pub(super) fn route_gate_open(&self, route: &Arc<Resource>) -> bool {
        let cds_in_flight = self.types[ResourceType::Cluster].in_flight.as_ref();
        let nonce = cds_in_flight.map(|f| f.nonce.clone());
        if let Some(gate) = self.route_gate.borrow().get(route.name()) {
            if Arc::ptr_eq(&gate.route, route)
                && gate.warm_generation == self.warm_generation
                && gate.cds_in_flight == nonce
            {
                return gate.open;
            }
        }
        let refs = &route.references().clusters;
        // `warm` ⊆ ACKed clusters: fewer warm clusters than references means closed.
        let open = refs.len() <= self.warm.len()
            && refs.iter().all(|c| {
                self.warm.contains(c.as_str())
                    && cds_in_flight.is_none_or(|f| f.view.contains_key(c))
            });
        self.route_gate.borrow_mut().insert(
            route.name().to_owned(),
            RouteGate {
                route: Arc::clone(route),
                warm_generation: self.warm_generation,
                cds_in_flight: nonce,
                open,
            },
        );
        open
    }

    /// LDS holds the target listeners and nothing is in flight.
    pub(super) fn listeners_settled(&self, target: &Snapshot) -> bool {
        let lds = &self.types[ResourceType::Listener];
        if !lds.requested {
            return true;
        }
        if lds.in_flight.is_some() {
            return false;
        }
        let wanted = target.resources(ResourceType::Listener);
        Arc::ptr_eq(&lds.acked, wanted)
            || (lds.acked.len() == wanted.len()
                && wanted.values().all(|l| {
                    lds.acked
                        .get(l.name())
                        .is_some_and(|a| a.version() == l.version())
                }))
    }

    /// A listener or route table Envoy holds, or is being sent, names `cluster`.
    pub(super) fn cluster_still_named(&self, cluster: &str) -> bool {
        [ResourceType::Listener, ResourceType::Route]
            .into_iter()
            .any(|kind| {
                let ts = &self.types[kind];
                let views =
                    std::iter::once(&ts.acked).chain(ts.in_flight.as_ref().map(|f| &f.view));
                views
                    .flat_map(|v| v.values())
                    .any(|r| r.references().clusters.iter().any(|c| c == cluster))
            })
    }

    /// Target clusters plus old ones still named by what Envoy holds or is being sent.
    pub(super) fn desired_clusters(&self, target: &Snapshot) -> Arc<ResourceMap> {
        let source = target.resources(ResourceType::Cluster);
        let held_clusters = &self.types[ResourceType::Cluster].acked;
        let mut pinned: ResourceMap = BTreeMap::new();
        // Only a held cluster the target lacks can need pinning; usually none.
        let stale_held =
            !Arc::ptr_eq(held_clusters, source) && gone(source, held_clusters).next().is_some();
        let kinds = if stale_held {
            &[ResourceType::Listener, ResourceType::Route][..]
        } else {
            &[]
        };
        for &kind in kinds {
            let ts = &self.types[kind];
            let views = std::iter::once(&ts.acked).chain(ts.in_flight.as_ref().map(|f| &f.view));
            for resource in views.flat_map(|v| v.values()) {
                if target
                    .get(kind, resource.name())
                    .is_some_and(|t| Arc::ptr_eq(t, resource))
                {
                    continue; // consistent with the target, so its clusters are in it
                }
                for cluster in &resource.references().clusters {
                    if source.contains_key(cluster) {
                        continue;
                    }
                    if let Some(old) = held_clusters.get(cluster) {
                        pinned.insert(cluster.clone(), Arc::clone(old));
                    }
                }
            }
        }
        if !self.routes_known() {
            // After a reconnect Envoy's routes are not known yet: keep what it holds.
            for (name, held) in held_clusters.iter() {
                if !source.contains_key(name) {
                    pinned.insert(name.clone(), Arc::clone(held));
                }
            }
        }
        let with_pins = if pinned.is_empty() {
            Arc::clone(source)
        } else {
            let mut all = ResourceMap::clone(source);
            all.extend(pinned);
            Arc::new(all)
        };
        let sub = &self.types[ResourceType::Cluster].subscription;
        if sub.is_wildcard() {
            with_pins
        } else {
            let wanted = with_pins.iter().filter(|(n, _)| sub.wants(n));
            Arc::new(wanted.map(|(n, r)| (n.clone(), Arc::clone(r))).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{
        carries, converged, kinds, snapshot, snapshot_with, CDS, EDS, MODES, RDS,
    };
    use super::super::Mode;

    #[test]
    fn a_route_to_a_new_cluster_waits_for_that_clusters_endpoints_ack() {
        for mode in MODES {
            let mut client = converged(mode, &snapshot(&["a"], &["a"]));
            let next = snapshot(&["a", "g"], &["a", "g"]);
            let planned = client.state.plan(&next);
            assert_eq!(kinds(&planned), [CDS], "{mode:?}");
            client.answer(&planned[0], None);
            let planned = client.state.plan(&next);
            assert_eq!(kinds(&planned), [EDS], "{mode:?}: the route table waits");
            assert!(carries(&planned, EDS, "g"), "{mode:?}");
            assert!(
                client.state.plan(&next).is_empty(),
                "{mode:?}: g not warm yet"
            );
            client.answer(&planned[0], None);
            let planned = client.state.plan(&next);
            assert_eq!(kinds(&planned), [RDS], "{mode:?}");
            assert!(carries(&planned, RDS, "main"), "{mode:?}");
        }
    }

    #[test]
    fn a_cluster_leaves_only_once_no_route_names_it() {
        for mode in MODES {
            let mut client = converged(mode, &snapshot(&["a", "b"], &["a", "b"]));
            let next = snapshot(&["a"], &["a"]);
            let planned = client.state.plan(&next);
            assert_eq!(
                kinds(&planned),
                [RDS],
                "{mode:?}: b stays while main names it"
            );
            client.answer(&planned[0], None);
            let planned = client.state.plan(&next);
            assert_eq!(kinds(&planned), [CDS], "{mode:?}");
            match mode {
                Mode::Sotw => assert!(!carries(&planned, CDS, "b")),
                Mode::Delta => assert_eq!(planned[0].removed, ["b"]),
            }
        }
    }

    /// Found by the `stream_state` fuzz target: after a delta reconnect, a
    /// cluster Envoy claimed at another version (so not held as such) left CDS
    /// while a route table Envoy held still named it.
    #[test]
    fn a_claimed_cluster_a_held_route_names_stays_until_that_route_moves() {
        let first = snapshot_with(&[("a", 1, 1), ("b", 1, 1)], &["a", "b"]);
        let mut again = converged(Mode::Delta, &first).reconnect();
        // The claim for b does not match this snapshot's b, which Envoy rejects.
        let other_b = snapshot_with(&[("a", 1, 1), ("b", 2, 1)], &["a", "b"]);
        again.converge_with(&other_b, |p| (p.kind == CDS).then(|| "bad b".to_owned()));
        let next = snapshot(&["a"], &["a"]);
        let planned = again.state.plan(&next);
        assert_eq!(kinds(&planned), [RDS], "b stays while main names it");
        again.answer(&planned[0], None);
        let planned = again.state.plan(&next);
        assert_eq!(kinds(&planned), [CDS]);
        assert_eq!(planned[0].removed, ["b"]);
    }
}

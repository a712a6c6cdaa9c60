//! In sync: this Envoy holds the complete config of a snapshot, so nothing more
//! will be sent for it. NACK containment waits for this before it trusts a
//! snapshot (a held-back or NACKed view is not in sync).

use std::sync::Arc;

use crate::snapshot::{ResourceMap, ResourceType, Snapshot};

use super::view_diff::same_view;
use super::{Mode, StreamState, TypeState};

// === impl StreamState ===

impl StreamState {
    /// True exactly when this Envoy holds the complete config for `target`, so
    /// nothing more will be sent for it: no response of any type in flight; CDS
    /// and LDS requested; every requested type ACKed at its full view of `target`
    /// (not held back by ordering, not NACKed, no reconnect claim unresolved);
    /// and every route table and secret an ACKed listener names, and every CLA an
    /// ACKed EDS cluster names, subscribed and ACKed.
    ///
    /// Cheap enough to call after every plan: a few pointer comparisons when
    /// Envoy holds the snapshot's own maps, at most one pass per type otherwise.
    pub fn in_sync(&self, target: &Snapshot) -> bool {
        let types = &self.types;
        if ResourceType::ALL
            .iter()
            .any(|&kind| types[kind].in_flight.is_some())
        {
            return false;
        }
        if !types[ResourceType::Cluster].requested || !types[ResourceType::Listener].requested {
            return false;
        }
        self.listener_references_held()
            && ResourceType::ALL
                .into_iter()
                .filter(|&kind| types[kind].requested)
                .all(|kind| self.type_in_sync(kind, target))
            && self.cluster_endpoints_held(target)
    }

    /// `Some(target.version())` the first time [`StreamState::in_sync`] holds for
    /// that snapshot version on this stream, `None` otherwise (also when it was
    /// already reported, until another version has been).
    pub fn take_in_sync(&mut self, target: &Snapshot) -> Option<String> {
        if self.reported_in_sync.as_deref() == Some(target.version()) || !self.in_sync(target) {
            return None;
        }
        self.reported_in_sync = Some(target.version().to_owned());
        self.reported_in_sync.clone()
    }

    /// Envoy holds the full view of `kind` for `target`, and the planner would
    /// send it nothing more.
    fn type_in_sync(&self, kind: ResourceType, target: &Snapshot) -> bool {
        let ts = &self.types[kind];
        if ts.claim_pending || !ts.unknown.is_empty() {
            return false;
        }
        let view = self.full_view(kind, target);
        if !same_view(&view, &ts.acked) {
            return false;
        }
        let version = self.view_version(&view, kind, target);
        if ts.nacked.contains(&version) {
            return false;
        }
        match self.mode {
            Mode::Sotw => self.sotw_content(kind, &view, &version).is_none(),
            Mode::Delta => self.delta_content(kind, &view, &version, target).is_none(),
        }
    }

    /// What Envoy holds of `kind` once every rule lets `target` through: the
    /// target's clusters alone (no old one pinned), and for other types the
    /// subscribed view with nothing held back.
    pub(super) fn full_view(&self, kind: ResourceType, target: &Snapshot) -> Arc<ResourceMap> {
        if kind != ResourceType::Cluster {
            return self.subscribed_view(kind, target, true, |_| true);
        }
        let source = target.resources(kind);
        let sub = &self.types[kind].subscription;
        if sub.is_wildcard() {
            return Arc::clone(source);
        }
        let wanted = source.iter().filter(|(n, _)| sub.wants(n));
        Arc::new(wanted.map(|(n, r)| (n.clone(), Arc::clone(r))).collect())
    }

    /// Every route table and secret an ACKed listener names is subscribed and ACKed.
    fn listener_references_held(&self) -> bool {
        let rds = &self.types[ResourceType::Route];
        let sds = &self.types[ResourceType::Secret];
        self.types[ResourceType::Listener].acked.values().all(|l| {
            let refs = l.references();
            refs.routes.iter().all(|r| holds(rds, r)) && refs.secrets.iter().all(|s| holds(sds, s))
        })
    }

    /// Every CLA an ACKed EDS cluster names is subscribed and ACKed.
    fn cluster_endpoints_held(&self, target: &Snapshot) -> bool {
        let cds = &self.types[ResourceType::Cluster];
        let eds = &self.types[ResourceType::Endpoints];
        let whole = |kind: ResourceType, ts: &TypeState| {
            ts.requested && Arc::ptr_eq(&ts.acked, target.resources(kind))
        };
        if whole(ResourceType::Cluster, cds) && whole(ResourceType::Endpoints, eds) {
            // A snapshot holds the CLA of each of its EDS clusters (invariant 2),
            // and an ACKed map holds only subscribed names.
            return true;
        }
        cds.acked
            .values()
            .filter_map(|c| c.references().endpoints.as_deref())
            .all(|cla| holds(eds, cla))
    }
}

/// Envoy asked for `name` and holds it.
fn holds(ts: &TypeState, name: &str) -> bool {
    ts.requested && ts.subscription.wants(name) && ts.acked.contains_key(name)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{
        builder, converged, kinds, listener, snapshot, with_tls_listener, Client, CDS, EDS, MODES,
        RDS, SDS,
    };
    use super::StreamState;

    #[test]
    fn not_in_sync_before_any_ack_or_while_a_response_is_in_flight() {
        for mode in MODES {
            let target = snapshot(&["a"], &["a"]);
            assert!(!StreamState::new(mode).in_sync(&target), "{mode:?}");
            let mut client = Client::connect(mode);
            assert!(!client.state.in_sync(&target), "{mode:?}: nothing sent");
            let planned = client.state.plan(&target);
            assert_eq!(kinds(&planned), [CDS], "{mode:?}");
            assert!(!client.state.in_sync(&target), "{mode:?}: CDS in flight");
            assert_eq!(client.state.take_in_sync(&target), None, "{mode:?}");
            client.answer(&planned[0], None);
            // Nothing in flight, but EDS is asked for and not answered yet.
            assert!(!client.state.in_sync(&target), "{mode:?}: EDS owed");
        }
    }

    #[test]
    fn in_sync_once_cds_eds_lds_rds_are_all_acked_and_reported_once() {
        for mode in MODES {
            let target = snapshot(&["a", "b"], &["a", "b"]);
            let mut client = Client::connect(mode);
            loop {
                let planned = client.state.plan(&target);
                if planned.is_empty() {
                    break;
                }
                assert!(!client.state.in_sync(&target), "{mode:?}: {planned:?}");
                for p in &planned {
                    client.answer(p, None);
                }
            }
            assert!(client.state.in_sync(&target), "{mode:?}");
            let version = Some(target.version().to_owned());
            assert_eq!(client.state.take_in_sync(&target), version, "{mode:?}");
            assert_eq!(client.state.take_in_sync(&target), None, "{mode:?}: once");
            assert!(client.state.in_sync(&target), "{mode:?}");
        }
    }

    #[test]
    fn a_nacked_route_table_is_not_in_sync_until_a_later_snapshot_is_acked() {
        for mode in MODES {
            let first = snapshot(&["a", "b"], &["a"]);
            let mut client = converged(mode, &first);
            let version = |s: &crate::snapshot::Snapshot| Some(s.version().to_owned());
            assert_eq!(client.state.take_in_sync(&first), version(&first));

            let rejected = snapshot(&["a", "b"], &["a", "b"]);
            let nack_rds = |p: &super::super::Planned| (p.kind == RDS).then(|| "bad".to_owned());
            let sent = client.converge_with(&rejected, nack_rds);
            assert_eq!(kinds(&sent), [RDS], "{mode:?}");
            assert!(!client.state.in_sync(&rejected), "{mode:?}");
            assert_eq!(client.state.take_in_sync(&rejected), None, "{mode:?}");
            assert!(
                client.state.in_sync(&first),
                "{mode:?}: still holds all of it"
            );

            let later = snapshot(&["a", "b"], &["b"]);
            assert_eq!(kinds(&client.converge(&later)), [RDS], "{mode:?}");
            assert!(client.state.in_sync(&later), "{mode:?}");
            assert_eq!(client.state.take_in_sync(&later), version(&later));
            assert!(!client.state.in_sync(&rejected), "{mode:?}");
        }
    }

    #[test]
    fn what_listeners_and_clusters_name_must_be_subscribed_and_acked() {
        for mode in MODES {
            let target = with_tls_listener();
            let mut client = Client::connect(mode);
            client.manual.extend([EDS, RDS, SDS]);
            assert_eq!(kinds(&client.converge(&target)), [CDS], "{mode:?}");
            assert!(!client.state.in_sync(&target), "{mode:?}: no endpoints");
            client.subscribe(EDS, &["a"]);
            client.converge(&target);
            assert!(!client.state.in_sync(&target), "{mode:?}: no route table");
            client.subscribe(RDS, &["main"]);
            client.converge(&target);
            assert!(!client.state.in_sync(&target), "{mode:?}: no secret");
            client.subscribe(SDS, &["cert"]);
            assert_eq!(kinds(&client.converge(&target)), [SDS], "{mode:?}");
            assert!(client.state.in_sync(&target), "{mode:?}");
        }
    }

    #[test]
    fn a_resumed_reconnect_is_in_sync_without_anything_sent() {
        for mode in MODES {
            let target = snapshot(&["a"], &["a"]);
            let mut again = converged(mode, &target).reconnect();
            assert!(again.state.plan(&target).is_empty(), "{mode:?}");
            assert!(again.state.in_sync(&target), "{mode:?}");
        }
    }

    /// Random walks over snapshots, with NACKs: whenever the state says in sync,
    /// Envoy holds exactly the target and nothing is planned; a fresh snapshot
    /// Envoy accepts always ends in sync.
    #[test]
    fn in_sync_means_envoy_holds_exactly_the_target() {
        let pool = ["a", "b", "c"];
        for mode in MODES {
            for seed in 1..=40u64 {
                let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                let mut next = |n: u64| {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    rng % n
                };
                let mut client = Client::connect(mode);
                for _ in 0..30 {
                    let mut clusters: Vec<(&str, i64, u8)> = Vec::new();
                    for c in pool {
                        if next(3) > 0 {
                            clusters.push((c, 1 + next(2) as i64, 1 + next(2) as u8));
                        }
                    }
                    let routed: Vec<&str> = clusters
                        .iter()
                        .map(|c| c.0)
                        .filter(|_| next(2) == 0)
                        .collect();
                    let target = builder(&clusters, &routed)
                        .listener(listener("http", "main", None))
                        .build()
                        .expect("consistent");
                    for _ in 0..next(4) {
                        let planned = client.state.plan(&target);
                        for p in &planned {
                            let nack = next(8) == 0;
                            client.answer(p, nack.then_some("rejected"));
                        }
                    }
                    if client.state.in_sync(&target) {
                        assert!(client.holds_exactly(&target), "{mode:?} seed {seed}");
                        assert!(client.state.plan(&target).is_empty(), "{mode:?} {seed}");
                    }
                }
                // Never seen (so never NACKed) in any type: Envoy takes it all.
                let last = builder(&[("a", 1, 1), ("z", 9, 1)], &["z"])
                    .listener(listener("last", "main", None))
                    .build()
                    .expect("consistent");
                client.converge(&last);
                assert!(client.state.in_sync(&last), "{mode:?} seed {seed}");
                assert!(client.holds_exactly(&last), "{mode:?} seed {seed}");
            }
        }
    }
}

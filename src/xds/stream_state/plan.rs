//! Planning: the next response per type towards a target snapshot, in
//! CDS → EDS → LDS → RDS order, and what it carries (SotW: the whole view;
//! delta: what changed against what Envoy holds).

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::snapshot::{Resource, ResourceMap, ResourceType, Snapshot};

use super::view_diff::diff_in;
use super::{InFlight, Mode, Planned, StreamState};

// === impl StreamState ===

impl StreamState {
    /// The responses to send now to move Envoy towards `target`, in order.
    pub fn plan(&mut self, target: &Snapshot) -> Vec<Planned> {
        self.resolve_claims(target);
        if self.clusters_ready_for.as_deref() != Some(target.version())
            && self.clusters_ready(target)
        {
            // Stays true for this target until a CDS answer or release moves
            // what Envoy holds (EDS ACKs only move Envoy towards it).
            self.clusters_ready_for = Some(target.version().to_owned());
        }
        ResourceType::ALL
            .into_iter()
            .filter_map(|kind| self.plan_type(kind, target))
            .collect()
    }

    fn plan_type(&mut self, kind: ResourceType, target: &Snapshot) -> Option<Planned> {
        let ts = &self.types[kind];
        if !ts.requested || ts.in_flight.is_some() {
            return None;
        }
        let view = self.desired(kind, target)?;
        let version = self.view_version(&view, kind, target);
        let (resources, removed) = match self.mode {
            Mode::Sotw => (self.sotw_content(kind, &view, &version)?, Vec::new()),
            Mode::Delta => self.delta_content(kind, &view, &version, target)?,
        };
        let (warms, warming, warming_cds) = match kind {
            ResourceType::Cluster => {
                self.owe_endpoints(&resources);
                (Vec::new(), Vec::new(), None)
            }
            ResourceType::Endpoints => self.endpoints_sent(&resources),
            _ => (Vec::new(), Vec::new(), None),
        };
        let whole = (Arc::ptr_eq(&view, target.resources(kind)) && resources.len() == view.len())
            .then(|| Arc::clone(&view));
        let warms_of = (kind == ResourceType::Endpoints)
            .then(|| Arc::clone(&self.types[ResourceType::Cluster].acked));
        let eds_generation = self.types[ResourceType::Endpoints]
            .subscription
            .generation();
        self.nonces += 1;
        let nonce = self.nonces.to_string();
        let ts = &mut self.types[kind];
        ts.last_nonce = Some(nonce.clone());
        ts.answered = true;
        ts.sent_generation = Some(ts.subscription.generation());
        if self.mode == Mode::Delta {
            let missing = removed.iter().filter(|n| !ts.acked.contains_key(*n));
            ts.answered_missing.extend(missing.cloned());
        }
        ts.in_flight = Some(InFlight {
            nonce: nonce.clone(),
            version: version.clone(),
            view,
            snapshot: target.version().to_owned(),
            warms_of,
            warms,
            warming,
            warming_cds,
            eds_generation,
            removed: removed.clone(),
            generation: ts.subscription.generation(),
        });
        Some(Planned {
            kind,
            nonce,
            version,
            resources,
            removed,
            whole,
        })
    }

    /// SotW: the whole view, when it differs from what Envoy has (or was asked anew).
    pub(super) fn sotw_content(
        &self,
        kind: ResourceType,
        view: &Arc<ResourceMap>,
        version: &str,
    ) -> Option<Vec<Arc<Resource>>> {
        let ts = &self.types[kind];
        let names_changed =
            !kind.is_wildcard() && ts.sent_generation != Some(ts.subscription.generation());
        let owed =
            kind == ResourceType::Endpoints && self.owed.iter().any(|n| view.contains_key(&**n));
        if ts.nacked.contains(version) {
            return None;
        }
        let same = ts.acked_version.as_deref() == Some(version);
        if !names_changed && !owed && same {
            return None;
        }
        Some(view.values().cloned().collect())
    }

    /// Delta: what changed against what Envoy holds, and what it must drop.
    pub(super) fn delta_content(
        &self,
        kind: ResourceType,
        view: &Arc<ResourceMap>,
        version: &str,
        target: &Snapshot,
    ) -> Option<(Vec<Arc<Resource>>, Vec<String>)> {
        let ts = &self.types[kind];
        let first = !ts.answered;
        let owes =
            kind == ResourceType::Endpoints && self.owed.iter().any(|n| view.contains_key(&**n));
        if Arc::ptr_eq(view, &ts.acked) && ts.unknown.is_empty() && !first && !owes {
            return None;
        }
        if ts.nacked.contains(version) {
            return None;
        }
        let (mut changed, gone) = diff_in(view, &ts.acked, kind, target);
        if kind == ResourceType::Endpoints {
            // `changed` is sorted by name (it comes from sorted maps).
            let owed_unchanged = self.owed_unchanged(view, &changed);
            changed.extend(owed_unchanged);
        }
        // Claimed (unknown) resources are dropped only where that cannot break a
        // route: listeners any time, clusters once Envoy's routes are known; an
        // explicitly subscribed one leaves when Envoy unsubscribes.
        let drop_unknown = match kind {
            ResourceType::Listener => true,
            ResourceType::Cluster => self.routes_known(),
            _ => false,
        };
        let mut removed: BTreeSet<String> = gone.into_iter().collect();
        // A claimed cluster a listener or route table Envoy holds still names
        // stays too, as a held one would be pinned.
        let unknown_gone = ts.unknown.keys().filter(|n| {
            drop_unknown
                && !view.contains_key(*n)
                && (kind != ResourceType::Cluster || !self.cluster_still_named(n))
        });
        removed.extend(unknown_gone.cloned());
        // A view only holds subscribed names, so names it lacks exist only if the
        // subscription is larger.
        let may_miss = ts.subscription.names().len() > view.len();
        let missing = ts.subscription.names().iter().filter(|n| {
            may_miss
                && !view.contains_key(&***n)
                && target.get(kind, n).is_none()
                && !ts.unknown.contains_key(&***n)
                && !ts.acked.contains_key(&***n)
                && !ts.answered_missing.contains(&***n)
        });
        removed.extend(missing.map(|n| n.to_string()));
        if changed.is_empty() && removed.is_empty() && !first {
            return None;
        }
        Some((changed, removed.into_iter().collect()))
    }

    /// What Envoy should hold of `kind` now, or `None` while ordering holds it back.
    fn desired(&self, kind: ResourceType, target: &Snapshot) -> Option<Arc<ResourceMap>> {
        match kind {
            ResourceType::Cluster => Some(self.desired_clusters(target)),
            ResourceType::Endpoints => {
                // CDS → EDS, but once Envoy has processed the CDS in flight (it asked
                // for new endpoints) answer at once: Envoy 1.40 holds that CDS ACK
                // until the new clusters are warm, i.e. until their CLAs arrive.
                let cds = &self.types[ResourceType::Cluster];
                let cds_busy = cds.in_flight.is_some() && self.warming_cds().is_none();
                (!cds_busy).then(|| self.subscribed_view(kind, target, true, |_| true))
            }
            ResourceType::Listener => self
                .clusters_ready(target)
                .then(|| self.subscribed_view(kind, target, true, |_| true)),
            ResourceType::Route => self.listeners_settled(target).then(|| {
                let acked = &self.types[kind].acked;
                // Every target cluster ACKed and warm: every target route may go.
                let all_warm = self.clusters_ready_for.as_deref() == Some(target.version());
                self.subscribed_view(kind, target, false, |route| {
                    all_warm
                        || acked
                            .get(route.name())
                            .is_some_and(|a| Arc::ptr_eq(a, route))
                        || self.route_gate_open(route)
                })
            }),
            ResourceType::Secret => Some(self.subscribed_view(kind, target, true, |_| true)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{
        carries, converged, kinds, snapshot, snapshot_with, with_tls_listener, Client, CDS, EDS,
        LDS, MODES, RDS, SDS,
    };
    use super::Mode;

    #[test]
    fn adds_go_cds_then_eds_then_lds_then_rds() {
        for mode in MODES {
            let target = snapshot(&["a", "b"], &["a", "b"]);
            let mut client = Client::connect(mode);
            let planned = client.state.plan(&target);
            assert_eq!(kinds(&planned), [CDS], "{mode:?}");
            client.answer(&planned[0], None);
            let mut order = vec![CDS];
            for kind in kinds(&client.converge(&target)) {
                if !order.contains(&kind) {
                    order.push(kind);
                }
            }
            assert_eq!(order, [CDS, EDS, LDS, RDS], "{mode:?}");
        }
    }

    #[test]
    fn one_response_per_type_in_flight_and_the_latest_snapshot_wins() {
        for mode in MODES {
            let first = snapshot(&["a"], &["a"]);
            let latest = snapshot(&["a", "b"], &["a", "b"]);
            let mut client = Client::connect(mode);
            let planned = client.state.plan(&first);
            assert_eq!(kinds(&planned), [CDS], "{mode:?}");
            assert!(
                client.state.plan(&latest).is_empty(),
                "{mode:?}: CDS in flight"
            );
            client.answer(&planned[0], None);
            let planned = client.state.plan(&latest);
            assert_eq!(kinds(&planned), [CDS], "{mode:?}");
            assert_eq!(planned[0].version, latest.type_version(CDS), "{mode:?}");
            client.answer(&planned[0], None);
            let rest = client.converge(&latest);
            assert!(!rest.is_empty(), "{mode:?}");
            assert!(client.state.plan(&latest).is_empty(), "{mode:?}");
        }
    }

    #[test]
    fn sotw_sends_the_whole_view_and_delta_only_what_changed() {
        for mode in MODES {
            let mut client = converged(mode, &snapshot(&["a", "b"], &["a", "b"]));
            let next = snapshot_with(&[("a", 1, 1), ("b", 1, 2)], &["a", "b"]);
            let planned = client.state.plan(&next);
            assert_eq!(kinds(&planned), [EDS], "{mode:?}");
            let names: Vec<&str> = planned[0].resources.iter().map(|r| r.name()).collect();
            match mode {
                Mode::Sotw => assert_eq!(names, ["a", "b"]),
                Mode::Delta => assert_eq!(names, ["b"]),
            }
            assert!(planned[0].removed.is_empty(), "{mode:?}");
        }
    }

    #[test]
    fn a_secret_a_listener_names_goes_out_once_envoy_asks_for_it() {
        for mode in MODES {
            let target = with_tls_listener();
            let sent = Client::connect(mode).converge(&target);
            assert!(carries(&sent, SDS, "cert"), "{mode:?}");
            let lds_at = kinds(&sent).iter().position(|k| *k == LDS);
            let sds_at = kinds(&sent).iter().position(|k| *k == SDS);
            assert!(
                lds_at < sds_at,
                "{mode:?}: asked for once the listener is held"
            );
        }
    }
}

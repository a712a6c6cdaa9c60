//! Envoy's answer to the response in flight: an ACK moves what it holds (and
//! which clusters are warm); a NACK marks that version as never to be sent again.

use std::sync::Arc;

use crate::snapshot::{Name, ResourceType};

use super::view_diff::gone;
use super::{Outcome, StreamState};

// === impl StreamState ===

impl StreamState {
    /// Settles the response `nonce` names: an ACK, or a NACK when `error` is set.
    /// `Subscribed` when nothing is in flight under that nonce (a repeat).
    pub(super) fn on_response_answered(
        &mut self,
        kind: ResourceType,
        nonce: &str,
        error: Option<String>,
    ) -> Outcome {
        let ts = &mut self.types[kind];
        let Some(flight) = ts.in_flight.take_if(|f| f.nonce == nonce) else {
            // A repeat of an answered nonce: only its names mattered.
            return Outcome::Subscribed;
        };
        if kind == ResourceType::Endpoints {
            let settled = std::mem::take(&mut self.owed_in_flight);
            if error.is_some() {
                self.owed.extend(settled);
            }
        }
        let ts = &mut self.types[kind];
        if let Some(error) = error {
            ts.nacked.insert(flight.version.clone());
            ts.nack_error = Some(error.clone());
            if kind == ResourceType::Cluster {
                // Clusters warmed from the rejected response never made it.
                let held = Arc::clone(&ts.acked);
                self.warm.retain(|c| held.contains_key(&**c));
                self.warm_generation += 1;
                self.clusters_ready_for = None;
            }
            return Outcome::Nack {
                kind,
                version: flight.version,
                error,
                snapshot: flight.snapshot,
            };
        }
        ts.unknown
            .retain(|n, _| !flight.view.contains_key(n) && !flight.removed.contains(n));
        ts.acked_version = Some(flight.version.clone());
        ts.acked_nonce = Some(flight.nonce.clone());
        let previous = Arc::clone(&ts.acked);
        let whole_view = ts.subscription.is_wildcard()
            || ts.subscription.generation() == flight.generation
            || flight.view.keys().all(|n| ts.subscription.wants(n));
        ts.acked = if whole_view {
            flight.view
        } else {
            let wanted = flight
                .view
                .iter()
                .filter(|(n, _)| ts.subscription.wants(n))
                .map(|(n, r)| (n.clone(), Arc::clone(r)));
            Arc::new(wanted.collect())
        };
        let acked = Arc::clone(&ts.acked);
        if matches!(kind, ResourceType::Cluster | ResourceType::Endpoints) {
            self.warm_generation += 1;
        }
        match kind {
            ResourceType::Cluster => {
                // What Envoy holds moved, maybe away from a snapshot it was
                // ready for (one published again later: A → B → A).
                self.clusters_ready_for = None;
                // Clusters Envoy no longer has are no longer warm (`warm` ⊆ ACKed CDS).
                if !Arc::ptr_eq(&previous, &acked) {
                    for name in gone(&acked, &previous) {
                        self.warm.remove(name.as_str());
                    }
                }
                let static_clusters = acked
                    .values()
                    .filter(|c| c.references().endpoints.is_none());
                self.warm
                    .extend(static_clusters.map(|c| Arc::clone(c.shared_name())));
            }
            ResourceType::Endpoints => {
                // Only clusters still held (`warm` stays within ACKed CDS), plus
                // those of the CDS response these endpoints answered, while it is in
                // flight (pruned if it is NACKed) or once it is ACKed.
                let cds = &self.types[ResourceType::Cluster];
                let held = |c: &Name| cds.acked.contains_key(&**c);
                // Checked one by one only if the clusters Envoy holds moved
                // since (a thousand lookups per ACK otherwise).
                let still_held = flight
                    .warms_of
                    .as_ref()
                    .is_some_and(|of| Arc::ptr_eq(of, &cds.acked));
                let mut warm = flight.warms;
                if !still_held {
                    warm.retain(held);
                }
                if let Some(nonce) = &flight.warming_cds {
                    let in_flight = cds.in_flight.as_ref().filter(|f| f.nonce == *nonce);
                    let answered = |c: &Name| match in_flight {
                        Some(f) => f.view.contains_key(&**c),
                        None => cds.acked_nonce.as_ref() == Some(nonce) && held(c),
                    };
                    warm.extend(flight.warming.into_iter().filter(answered));
                }
                self.warm.extend(warm);
            }
            _ => {}
        }
        Outcome::Ack {
            kind,
            version: flight.version,
            acked,
            whole_view,
            snapshot: flight.snapshot,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::test_support::{
        converged, kinds, snapshot, snapshot_with, Client, CDS, MODES,
    };
    use super::Outcome;

    #[test]
    fn an_ack_makes_the_sent_view_held() {
        for mode in MODES {
            let target = snapshot(&["a"], &["a"]);
            let mut client = Client::connect(mode);
            let planned = client.state.plan(&target);
            assert_eq!(kinds(&planned), [CDS], "{mode:?}");
            match client.answer(&planned[0], None) {
                Outcome::Ack {
                    kind,
                    version,
                    acked,
                    whole_view,
                    snapshot: cut_from,
                } => {
                    assert!(whole_view, "{mode:?}");
                    assert_eq!(kind, CDS);
                    assert_eq!(cut_from, target.version(), "{mode:?}");
                    assert_eq!(version, planned[0].version);
                    assert!(Arc::ptr_eq(&acked, target.resources(CDS)), "{mode:?}");
                }
                other => panic!("{mode:?}: expected Ack, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_nacked_version_is_never_planned_again() {
        for mode in MODES {
            let mut client = converged(mode, &snapshot(&["a"], &["a"]));
            let rejected = snapshot_with(&[("a", 2, 1)], &["a"]);
            let planned = client.state.plan(&rejected);
            assert_eq!(kinds(&planned), [CDS], "{mode:?}");
            let outcome = client.answer(&planned[0], Some("a: bad connect_timeout"));
            assert!(
                matches!(&outcome, Outcome::Nack { kind: CDS, version, error, snapshot: cut_from }
                    if *version == planned[0].version && error == "a: bad connect_timeout"
                        && cut_from == rejected.version()),
                "{mode:?}: {outcome:?}"
            );
            // (The CLA owed to the rejected cluster may still go out.)
            let sent = client.converge(&rejected);
            assert!(!kinds(&sent).contains(&CDS), "{mode:?}");
            for _ in 0..3 {
                assert!(client.state.plan(&rejected).is_empty(), "{mode:?}");
            }
            // Rebuilt from scratch: same content, same version, still rejected.
            let rebuilt = snapshot_with(&[("a", 2, 1)], &["a"]);
            assert!(client.converge(&rebuilt).is_empty(), "{mode:?}");
            // Different content goes out.
            let fixed = snapshot_with(&[("a", 3, 1)], &["a"]);
            assert_eq!(kinds(&client.state.plan(&fixed)), [CDS], "{mode:?}");
        }
    }

    #[test]
    fn an_answer_names_the_snapshot_its_response_was_planned_towards() {
        for mode in MODES {
            let first = snapshot(&["a"], &["a"]);
            let newer = snapshot(&["a", "b"], &["a", "b"]);
            let mut client = Client::connect(mode);
            let planned = client.state.plan(&first);
            // A newer snapshot is published before Envoy answers.
            assert!(client.state.plan(&newer).is_empty(), "{mode:?}");
            match client.answer(&planned[0], None) {
                Outcome::Ack { snapshot, .. } => assert_eq!(snapshot, first.version()),
                other => panic!("{mode:?}: expected Ack, got {other:?}"),
            }
            let planned = client.state.plan(&newer);
            match client.answer(&planned[0], Some("no")) {
                Outcome::Nack { snapshot, .. } => assert_eq!(snapshot, newer.version()),
                other => panic!("{mode:?}: expected Nack, got {other:?}"),
            }
        }
    }
}

//! Requests from Envoy: SotW and delta subscriptions, reconnect claims and stale
//! nonces. What a request ACKs or NACKs is settled in `answer`.

use std::collections::HashMap;
use std::sync::Arc;

use crate::snapshot::ResourceType;

use super::{Outcome, StreamState};

// === impl StreamState ===

impl StreamState {
    /// Applies a SotW `DiscoveryRequest`.
    pub fn on_sotw_request(
        &mut self,
        kind: ResourceType,
        version_info: &str,
        nonce: &str,
        names: &[impl AsRef<str>],
        error: Option<String>,
    ) -> Outcome {
        let ts = &mut self.types[kind];
        if !nonce.is_empty() && ts.last_nonce.as_deref() != Some(nonce) {
            return Outcome::Stale;
        }
        let first = !ts.requested;
        ts.requested = true;
        let changed = ts.subscription.set_sotw(kind, names);
        let released = changed && ts.acked.keys().any(|n| !ts.subscription.wants(n));
        if released {
            let sub = ts.subscription.clone();
            Arc::make_mut(&mut ts.acked).retain(|n, _| sub.wants(n));
            ts.sent_generation = None;
            self.released(kind);
        }
        let ts = &mut self.types[kind];
        if nonce.is_empty() {
            if first && !version_info.is_empty() {
                ts.acked_version = Some(version_info.to_owned());
                ts.claim_pending = true;
            }
            return self.subscribed(kind, released);
        }
        match self.on_response_answered(kind, nonce, error) {
            Outcome::Subscribed => self.subscribed(kind, released),
            outcome => outcome,
        }
    }

    /// Envoy dropped some of what it held of `kind`: a released cluster is no
    /// longer warm (`warm` stays within the ACKed clusters), so a route naming
    /// it waits for its endpoints again once it is asked for anew.
    fn released(&mut self, kind: ResourceType) {
        if kind != ResourceType::Cluster {
            return;
        }
        let held = &self.types[kind].acked;
        self.warm.retain(|c| held.contains_key(&**c));
        self.warm_generation += 1;
        self.clusters_ready_for = None;
    }

    /// `Subscribed`, or `Released` when the request dropped held resources.
    fn subscribed(&self, kind: ResourceType, released: bool) -> Outcome {
        if released {
            Outcome::Released {
                kind,
                acked: Arc::clone(&self.types[kind].acked),
            }
        } else {
            Outcome::Subscribed
        }
    }

    /// Applies a `DeltaDiscoveryRequest`. Subscription changes apply whatever the
    /// nonce; only the ACK/NACK part is ignored when the nonce is stale.
    pub fn on_delta_request(
        &mut self,
        kind: ResourceType,
        nonce: &str,
        subscribe: &[String],
        unsubscribe: &[String],
        initial_versions: &HashMap<String, String>,
        error: Option<String>,
    ) -> Outcome {
        let ts = &mut self.types[kind];
        let first = !ts.requested;
        ts.requested = true;
        ts.subscription
            .apply_delta(kind, first, subscribe, unsubscribe);
        if first && !initial_versions.is_empty() {
            ts.unknown = initial_versions
                .iter()
                .filter(|(name, _)| ts.subscription.wants(name))
                .map(|(n, v)| (n.clone(), v.clone()))
                .collect();
            ts.claim_pending = true;
            ts.answered = true;
        }
        for name in subscribe {
            ts.answered_missing.remove(name);
        }
        let dropped: Vec<&String> = unsubscribe
            .iter()
            .filter(|n| !ts.subscription.wants(n))
            .collect();
        let released = dropped.iter().any(|n| ts.acked.contains_key(*n));
        if released {
            let acked = Arc::make_mut(&mut ts.acked);
            for name in &dropped {
                acked.remove(*name);
            }
        }
        for name in dropped {
            ts.answered_missing.remove(name);
            ts.unknown.remove(name);
        }
        if released {
            self.released(kind);
        }
        let ts = &mut self.types[kind];
        if nonce.is_empty() || ts.last_nonce.as_deref() != Some(nonce) {
            let stale = !nonce.is_empty();
            return match self.subscribed(kind, released) {
                Outcome::Subscribed if stale => Outcome::Stale,
                outcome => outcome,
            };
        }
        match self.on_response_answered(kind, nonce, error) {
            Outcome::Subscribed => self.subscribed(kind, released),
            outcome => outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::super::test_support::{carries, converged, kinds, snapshot, CDS, EDS, MODES, RDS};
    use super::super::{Mode, Outcome, StreamState};

    #[test]
    fn a_stale_nonce_is_ignored() {
        for mode in MODES {
            let target = snapshot(&["a"], &["a"]);
            let mut state = StreamState::new(mode);
            let none = HashMap::new();
            let request = |state: &mut StreamState, version: &str, nonce: &str| match mode {
                Mode::Sotw => state.on_sotw_request(CDS, version, nonce, &[] as &[&str], None),
                Mode::Delta => state.on_delta_request(CDS, nonce, &[], &[], &none, None),
            };
            assert!(matches!(request(&mut state, "", ""), Outcome::Subscribed));
            let planned = state.plan(&target);
            let outcome = request(&mut state, "", "not-a-nonce");
            assert!(matches!(outcome, Outcome::Stale), "{mode:?}: {outcome:?}");
            assert!(state.plan(&target).is_empty(), "{mode:?}: still in flight");
            let outcome = request(&mut state, &planned[0].version, &planned[0].nonce);
            assert!(
                matches!(outcome, Outcome::Ack { .. }),
                "{mode:?}: {outcome:?}"
            );
        }
    }

    /// Found by the `stream_state` fuzz target: a cluster Envoy unsubscribed
    /// from stayed warm, so once asked for again, a route naming it went out
    /// with the CDS response re-adding it, before its endpoints were ACKed.
    #[test]
    fn a_released_cluster_must_warm_again_before_a_route_names_it() {
        for mode in MODES {
            let first = snapshot(&["a", "b"], &["a"]);
            let mut client = converged(mode, &first);
            if mode == Mode::Delta {
                // Delta: leave the wildcard, so unsubscribing a name releases it.
                let (star, none) = (["*".to_owned()], HashMap::new());
                client
                    .state
                    .on_delta_request(CDS, "", &[], &star, &none, None);
            }
            client.subscribe(CDS, &["a", "b"]);
            let outcome = client.subscribe(CDS, &["a"]);
            assert!(
                matches!(outcome, Outcome::Released { .. }),
                "{mode:?}: {outcome:?}"
            );
            // The server plans after every request.
            client.converge(&first);
            client.subscribe(CDS, &["a", "b"]);
            let next = snapshot(&["a", "b"], &["a", "b"]);
            let planned = client.state.plan(&next);
            assert_eq!(kinds(&planned), [CDS], "{mode:?}: b is not warm");
            assert!(carries(&planned, CDS, "b"), "{mode:?}");
            client.answer(&planned[0], None);
            let planned = client.state.plan(&next);
            assert_eq!(kinds(&planned), [EDS], "{mode:?}: the route table waits");
            assert!(carries(&planned, EDS, "b"), "{mode:?}");
            client.answer(&planned[0], None);
            let planned = client.state.plan(&next);
            assert_eq!(kinds(&planned), [RDS], "{mode:?}");
        }
    }

    #[test]
    fn unsubscribing_from_a_held_resource_releases_it() {
        for mode in MODES {
            let target = snapshot(&["a", "b"], &["a", "b"]);
            let mut client = converged(mode, &target);
            match client.subscribe(EDS, &["a"]) {
                Outcome::Released { kind, acked } => {
                    assert_eq!(kind, EDS);
                    assert_eq!(acked.keys().collect::<Vec<_>>(), ["a"], "{mode:?}");
                }
                other => panic!("{mode:?}: expected Released, got {other:?}"),
            }
            let outcome = client.subscribe(EDS, &["a"]);
            assert!(
                matches!(outcome, Outcome::Subscribed),
                "{mode:?}: {outcome:?}"
            );
        }
    }
}

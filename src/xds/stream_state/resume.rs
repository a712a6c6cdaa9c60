//! Resumption after a reconnect: an Envoy that moved here (from another replica,
//! or after a restart of this one) claims what it holds; claims that match the
//! target become known state, so nothing unchanged is re-sent.

use std::sync::Arc;

use crate::snapshot::{ResourceType, Snapshot};

use super::view_diff::view_version;
use super::{Mode, Outcome, StreamState};

// === impl StreamState ===

impl StreamState {
    /// What reconnect claims the last [`StreamState::plan`] resolved
    /// ([`Outcome::Resumed`]):
    /// an Envoy that moved here from another replica holds that config (and is
    /// sent nothing for it), so it counts as programmed with it.
    pub fn take_resumed(&mut self) -> Vec<Outcome> {
        std::mem::take(&mut self.resumed)
    }

    /// Delta reconnect: what Envoy's listeners and route tables are is known (no
    /// claim unresolved), so clusters it claims can be dropped safely.
    pub(super) fn routes_known(&self) -> bool {
        let lds = &self.types[ResourceType::Listener];
        let rds = &self.types[ResourceType::Route];
        lds.requested
            && !lds.claim_pending
            && lds.unknown.is_empty()
            && !rds.claim_pending
            && rds.unknown.is_empty()
            && (rds.requested || lds.acked.values().all(|l| l.references().routes.is_empty()))
    }

    /// After a reconnect, turns what Envoy claims to hold into known state when it
    /// matches the target, so nothing unchanged is re-sent.
    pub(super) fn resolve_claims(&mut self, target: &Snapshot) {
        let mut resolved = false;
        for kind in ResourceType::ALL {
            if !self.types[kind].claim_pending {
                continue;
            }
            let view = self.subscribed_view(kind, target, true, |_| true);
            let ts = &mut self.types[kind];
            ts.claim_pending = false;
            match self.mode {
                Mode::Sotw => {
                    let version = view_version(&view, kind, target);
                    if ts.acked_version.as_deref() == Some(version.as_str()) {
                        ts.acked = view;
                        ts.sent_generation = Some(ts.subscription.generation());
                        resolved = true;
                        self.resumed.push(Outcome::Resumed {
                            kind,
                            version,
                            acked: Arc::clone(&ts.acked),
                        });
                    }
                }
                Mode::Delta => {
                    let matching: Vec<String> = ts
                        .unknown
                        .iter()
                        .filter(|(n, v)| target.get(kind, n).is_some_and(|r| r.version() == *v))
                        .map(|(n, _)| n.clone())
                        .collect();
                    if !matching.is_empty() {
                        let acked = Arc::make_mut(&mut ts.acked);
                        for name in matching {
                            ts.unknown.remove(&name);
                            if let Some(r) = target.get(kind, &name) {
                                acked.insert(name, Arc::clone(r));
                            }
                        }
                        resolved = true;
                        self.resumed.push(Outcome::Resumed {
                            kind,
                            version: view_version(&ts.acked, kind, target),
                            acked: Arc::clone(&ts.acked),
                        });
                    }
                }
            }
        }
        if resolved {
            let endpoints = &self.types[ResourceType::Endpoints].acked;
            let warm = self.types[ResourceType::Cluster]
                .acked
                .values()
                .filter(|c| {
                    c.references()
                        .endpoints
                        .as_ref()
                        .is_none_or(|e| endpoints.contains_key(&**e))
                });
            self.warm.extend(warm.map(|c| Arc::clone(c.shared_name())));
            self.warm_generation += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{
        converged, kinds, snapshot, snapshot_with, CDS, EDS, LDS, MODES, RDS,
    };
    use super::Outcome;

    fn resumed_kinds(outcomes: &[Outcome]) -> Vec<crate::snapshot::ResourceType> {
        let kind = |o: &Outcome| match o {
            Outcome::Resumed { kind, .. } => *kind,
            other => panic!("expected Resumed, got {other:?}"),
        };
        outcomes.iter().map(kind).collect()
    }

    #[test]
    fn a_reconnect_claim_matching_the_snapshot_resumes_with_nothing_sent() {
        for mode in MODES {
            let target = snapshot(&["a", "b"], &["a", "b"]);
            let client = converged(mode, &target);
            let mut again = client.reconnect();
            assert!(again.state.plan(&target).is_empty(), "{mode:?}");
            let resumed = again.state.take_resumed();
            assert_eq!(resumed_kinds(&resumed), [CDS, EDS, LDS, RDS], "{mode:?}");
            assert!(
                again.state.take_resumed().is_empty(),
                "{mode:?}: taken once"
            );
        }
    }

    #[test]
    fn a_reconnect_claim_that_no_longer_matches_is_sent_again() {
        for mode in MODES {
            let client = converged(mode, &snapshot(&["a"], &["a"]));
            let next = snapshot_with(&[("a", 1, 2)], &["a"]);
            let mut again = client.reconnect();
            let planned = again.state.plan(&next);
            assert_eq!(kinds(&planned), [EDS], "{mode:?}");
            let resumed = again.state.take_resumed();
            assert_eq!(resumed_kinds(&resumed), [CDS, LDS, RDS], "{mode:?}");
        }
    }
}

//! A snapshot this Envoy cannot take because it already rejected part of it:
//! the planner never re-sends a NACKed view, so no new NACK will come, and NACK
//! containment must hear of it all the same (a bisection trial may rebuild a
//! view that was rejected before).

use crate::snapshot::{ResourceType, Snapshot};

use super::StreamState;

// === impl StreamState ===

impl StreamState {
    /// The first time `target` is planned while Envoy's full view of some type
    /// of it was NACKed before: that type and Envoy's error then. `None` when
    /// nothing of `target` was rejected, or it was already reported.
    pub fn take_known_rejection(&mut self, target: &Snapshot) -> Option<(ResourceType, String)> {
        if self.reported_rejection.as_deref() == Some(target.version())
            || ResourceType::ALL
                .iter()
                .all(|&kind| self.types[kind].nacked.is_empty())
        {
            return None;
        }
        let kind = ResourceType::ALL.into_iter().find(|&kind| {
            let ts = &self.types[kind];
            if !ts.requested || ts.in_flight.is_some() || ts.nacked.is_empty() {
                return false;
            }
            let view = self.full_view(kind, target);
            ts.nacked.contains(&self.view_version(&view, kind, target))
        })?;
        self.reported_rejection = Some(target.version().to_owned());
        let error = self.types[kind].nack_error.clone().unwrap_or_default();
        Some((kind, error))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{converged, kinds, snapshot, snapshot_with, CDS, MODES};

    #[test]
    fn a_snapshot_carrying_a_view_rejected_before_is_reported_once() {
        for mode in MODES {
            let mut client = converged(mode, &snapshot(&["a"], &["a"]));
            let rejected = snapshot_with(&[("a", 2, 1)], &["a"]);
            let planned = client.state.plan(&rejected);
            assert_eq!(kinds(&planned), [CDS], "{mode:?}");
            client.answer(&planned[0], Some("a: bad"));
            assert_eq!(
                client.state.take_known_rejection(&snapshot(&["a"], &["a"])),
                None
            );
            // Same clusters, something else added: CDS would be the rejected view again.
            let again = snapshot_with(&[("a", 2, 1), ("b", 1, 1)], &["a"]);
            let cds_only_a = snapshot_with(&[("a", 2, 1)], &[]);
            assert_ne!(again.version(), rejected.version());
            for target in [&rejected, &cds_only_a] {
                let reported = client.state.take_known_rejection(target);
                assert_eq!(reported, Some((CDS, "a: bad".to_owned())), "{mode:?}");
                assert_eq!(
                    client.state.take_known_rejection(target),
                    None,
                    "{mode:?}: once"
                );
            }
            assert_eq!(
                client.state.take_known_rejection(&again),
                None,
                "{mode:?}: another view"
            );
        }
    }
}

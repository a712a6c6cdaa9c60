//! The part of a snapshot a stream subscribed to, falling back to what Envoy
//! holds where the snapshot lacks a name or ordering holds it back; memoised per
//! type, since every request re-plans and most see the same inputs.

use std::cell::Cell;
use std::sync::Arc;

use crate::snapshot::{Resource, ResourceMap, ResourceType, Snapshot};

use super::StreamState;

/// The last unconditional view of one type and what it was cut from.
#[derive(Clone, Debug)]
pub(super) struct ViewCache {
    source: Arc<ResourceMap>,
    generation: u64,
    /// Set only when the view fell back to ACKed resources (names the snapshot lacks).
    acked: Option<Arc<ResourceMap>>,
    view: Arc<ResourceMap>,
}

// === impl StreamState ===

impl StreamState {
    /// The target's resources the stream subscribed to, where `allowed`; for a
    /// name the target lacks or may not send yet, whatever Envoy already holds.
    /// `cacheable` when `allowed` depends on nothing but the resource (the view is
    /// then a function of snapshot, subscription and ACKed map alone).
    pub(super) fn subscribed_view(
        &self,
        kind: ResourceType,
        target: &Snapshot,
        cacheable: bool,
        allowed: impl Fn(&Arc<Resource>) -> bool,
    ) -> Arc<ResourceMap> {
        let ts = &self.types[kind];
        let source = target.resources(kind);
        let sub = &ts.subscription;
        if let Some(hit) = ts.view_cache.borrow().as_ref() {
            if cacheable
                && Arc::ptr_eq(&hit.source, source)
                && hit.generation == sub.generation()
                && hit.acked.as_ref().is_none_or(|a| Arc::ptr_eq(a, &ts.acked))
            {
                return Arc::clone(&hit.view);
            }
        }
        // The target was built from the map the last view was cut from, with
        // the same subscription: its change set says what the view becomes,
        // without walking the subscription.
        let carried = if cacheable {
            ts.view_cache.borrow().as_ref().and_then(|hit| {
                if hit.generation != sub.generation() || hit.acked.is_some() {
                    return None;
                }
                let changes = target.changes_since(kind, &hit.source)?;
                let whole = Arc::ptr_eq(&hit.view, &hit.source);
                if whole
                    && changes.same_names()
                    && changes
                        .modified
                        .iter()
                        .all(|n| source.get(n).is_some_and(&allowed))
                {
                    // The whole of the old map, so the whole of this one.
                    return Some(Arc::clone(source));
                }
                // Nothing the view holds changed and nothing added is wanted:
                // the view stands (a new cluster's CLA before Envoy asks for it).
                let untouched = |n: &String| !hit.view.contains_key(n);
                (changes.modified.iter().all(untouched)
                    && changes.removed.iter().all(untouched)
                    && !changes.added.iter().any(|n| sub.wants(n)))
                .then(|| Arc::clone(&hit.view))
            })
        } else {
            None
        };
        let remember = |view: &Arc<ResourceMap>, used_acked: bool| {
            if cacheable {
                *ts.view_cache.borrow_mut() = Some(ViewCache {
                    source: Arc::clone(source),
                    generation: sub.generation(),
                    acked: used_acked.then(|| Arc::clone(&ts.acked)),
                    view: Arc::clone(view),
                });
            }
        };
        if let Some(view) = carried {
            remember(&view, false);
            return view;
        }
        // Names are interned: compared by address first.
        let covers_exactly = sub.is_wildcard()
            || (sub.names().len() == source.len()
                && sub
                    .names()
                    .iter()
                    .zip(source.values())
                    .all(|(a, r)| Arc::ptr_eq(a, r.shared_name()) || **a == *r.name()));
        if covers_exactly && source.values().all(&allowed) {
            remember(source, false);
            return Arc::clone(source);
        }
        let used_acked = Cell::new(false);
        let pick = |name: &str| {
            source
                .get(name)
                .filter(|r| allowed(r))
                .or_else(|| {
                    used_acked.set(true);
                    ts.acked.get(name)
                })
                .map(|r| (name.to_owned(), Arc::clone(r)))
        };
        let view: ResourceMap = if sub.is_wildcard() {
            source.keys().map(String::as_str).filter_map(pick).collect()
        } else {
            sub.names().iter().map(|n| &**n).filter_map(pick).collect()
        };
        let view = Arc::new(view);
        remember(&view, used_acked.get());
        view
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{kinds, snapshot, Client, EDS, MODES};
    use super::super::Mode;

    /// A client that holds every cluster but subscribes to EDS only when told.
    fn without_endpoints(mode: Mode, target: &crate::snapshot::Snapshot) -> Client {
        let mut client = Client::connect(mode);
        client.manual.insert(EDS);
        client.converge(target);
        client
    }

    #[test]
    fn a_view_holds_only_the_subscribed_names() {
        for mode in MODES {
            let target = snapshot(&["a", "b"], &["a", "b"]);
            let mut client = without_endpoints(mode, &target);
            client.subscribe(EDS, &["a"]);
            let planned = client.state.plan(&target);
            assert_eq!(kinds(&planned), [EDS], "{mode:?}");
            let names: Vec<&str> = planned[0].resources.iter().map(|r| r.name()).collect();
            assert_eq!(names, ["a"], "{mode:?}");
        }
    }

    #[test]
    fn a_resource_envoy_has_not_asked_for_leaves_the_view_as_it_was() {
        for mode in MODES {
            let first = snapshot(&["a", "b"], &["a", "b"]);
            let mut client = without_endpoints(mode, &first);
            client.subscribe(EDS, &["a", "b"]);
            client.converge(&first);
            let view = client.state.subscribed_view(EDS, &first, true, |_| true);
            // Built from `first`, as the pipeline builds: a cluster (and its
            // CLA) added, which this Envoy has not asked for yet.
            let next = snapshot(&["a", "b", "c"], &["a", "b", "c"]).share_with(&first);
            let carried = client.state.subscribed_view(EDS, &next, true, |_| true);
            assert!(std::sync::Arc::ptr_eq(&view, &carried), "{mode:?}");
            let names: Vec<&String> = carried.keys().collect();
            assert_eq!(names, ["a", "b"], "{mode:?}");
            // Once asked for, the view follows the subscription.
            client.subscribe(EDS, &["a", "b", "c"]);
            let asked = client.state.subscribed_view(EDS, &next, true, |_| true);
            assert_eq!(asked.len(), 3, "{mode:?}");
        }
    }

    #[test]
    fn a_subscribed_name_the_snapshot_lacks_is_left_out_or_answered_missing_once() {
        for mode in MODES {
            let target = snapshot(&["a"], &["a"]);
            let mut client = without_endpoints(mode, &target);
            client.subscribe(EDS, &["a", "ghost"]);
            let planned = client.state.plan(&target);
            assert_eq!(kinds(&planned), [EDS], "{mode:?}");
            let names: Vec<&str> = planned[0].resources.iter().map(|r| r.name()).collect();
            assert_eq!(names, ["a"], "{mode:?}");
            match mode {
                Mode::Sotw => assert!(planned[0].removed.is_empty()),
                Mode::Delta => assert_eq!(planned[0].removed, ["ghost"]),
            }
            client.answer(&planned[0], None);
            let again = client.state.plan(&target);
            assert!(!again.iter().any(|p| p.kind == EDS), "{mode:?}");
        }
    }
}

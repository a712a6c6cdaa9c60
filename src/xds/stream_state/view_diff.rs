//! Comparing views: what changed between the view to send and the view Envoy
//! holds, and the version a view is sent under.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::snapshot::{seek_name, version_of, Resource, ResourceMap, ResourceType, Snapshot};

use super::StreamState;

/// One pass over two sorted maps: resources of `view` that `held` lacks or holds
/// at another version, and names `held` has that `view` lacks.
pub(super) fn diff(view: &ResourceMap, held: &ResourceMap) -> (Vec<Arc<Resource>>, Vec<String>) {
    let (mut changed, mut gone) = (Vec::new(), Vec::new());
    let mut wanted = view.iter().peekable();
    let mut had = held.iter().peekable();
    loop {
        match (wanted.peek(), had.peek()) {
            (Some((name, want)), Some((held_name, have))) => match name.cmp(held_name) {
                Ordering::Less => {
                    changed.push(Arc::clone(want));
                    wanted.next();
                }
                Ordering::Greater => {
                    gone.push((*held_name).clone());
                    had.next();
                }
                Ordering::Equal => {
                    if !Arc::ptr_eq(want, have) && want.version() != have.version() {
                        changed.push(Arc::clone(want));
                    }
                    wanted.next();
                    had.next();
                }
            },
            (Some((_, want)), None) => {
                changed.push(Arc::clone(want));
                wanted.next();
            }
            (None, Some((held_name, _))) => {
                gone.push((*held_name).clone());
                had.next();
            }
            (None, None) => return (changed, gone),
        }
    }
}

/// The names `held` has and `view` lacks, in order: [`diff`]'s second half
/// without its first (a thousand `Arc` clones when Envoy holds nothing yet).
pub(super) fn gone<'a>(
    view: &'a ResourceMap,
    held: &'a ResourceMap,
) -> impl Iterator<Item = &'a String> + 'a {
    let mut wanted = view.keys().peekable();
    held.keys()
        .filter(move |name| seek_name(&mut wanted, name, |w| w.as_str()).is_none())
}

/// [`diff`] of `view` against `held`, read from the snapshot's own change set
/// when `view` is `target`'s whole map and `held` the one it was built from:
/// then the cost follows what changed, not how much the stream holds.
pub(super) fn diff_in(
    view: &Arc<ResourceMap>,
    held: &Arc<ResourceMap>,
    kind: ResourceType,
    target: &Snapshot,
) -> (Vec<Arc<Resource>>, Vec<String>) {
    if Arc::ptr_eq(view, target.resources(kind)) {
        if let Some(changes) = target.changes_since(kind, held) {
            let mut names: Vec<&String> = changes.added.iter().chain(&changes.modified).collect();
            names.sort_unstable();
            let changed = names.into_iter().filter_map(|n| view.get(n)).cloned();
            return (changed.collect(), changes.removed.clone());
        }
    }
    diff(view, held)
}

/// The same resources at the same versions (the same map, usually).
pub(super) fn same_view(a: &Arc<ResourceMap>, b: &Arc<ResourceMap>) -> bool {
    Arc::ptr_eq(a, b)
        || (a.len() == b.len()
            && a.iter().zip(b.iter()).all(|((n, r), (m, s))| {
                n == m && (Arc::ptr_eq(r, s) || r.version() == s.version())
            }))
}

// === impl StreamState ===

impl StreamState {
    /// [`view_version`], remembered for the last view of each type: views are
    /// memoised, so re-planning the same view does not hash it again.
    pub(super) fn view_version(
        &self,
        view: &Arc<ResourceMap>,
        kind: ResourceType,
        target: &Snapshot,
    ) -> String {
        if Arc::ptr_eq(view, target.resources(kind)) {
            return target.type_version(kind).to_owned();
        }
        let memo = &self.types[kind].version_memo;
        if let Some((seen, version)) = memo.borrow().as_ref() {
            if Arc::ptr_eq(seen, view) {
                return version.clone();
            }
        }
        let version = view_version(view, kind, target);
        *memo.borrow_mut() = Some((Arc::clone(view), version.clone()));
        version
    }
}

/// The version of a view: the snapshot's precomputed type version when the view is
/// the snapshot's whole set, otherwise hashed from the view.
pub(super) fn view_version(
    view: &Arc<ResourceMap>,
    kind: ResourceType,
    target: &Snapshot,
) -> String {
    if Arc::ptr_eq(view, target.resources(kind)) {
        target.type_version(kind).to_owned()
    } else {
        version_of(view.values().map(|r| (r.name(), r.version())))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::test_support::{builder, snapshot, CDS};
    use super::{diff, diff_in, same_view, view_version};
    use crate::snapshot::ResourceMap;

    #[test]
    fn diff_lists_changed_and_gone_names_in_one_pass() {
        let held = snapshot(&["a", "b", "c"], &[]);
        // b edited, c rebuilt identically (another Arc, same version), d new, a gone.
        let view = builder(&[("b", 2, 1), ("c", 1, 1), ("d", 1, 1)], &[])
            .build()
            .expect("consistent");
        let (changed, gone) = diff(view.resources(CDS), held.resources(CDS));
        let changed: Vec<&str> = changed.iter().map(|r| r.name()).collect();
        assert_eq!(changed, ["b", "d"]);
        assert_eq!(gone, ["a"]);
        let gone_only: Vec<&String> =
            super::gone(view.resources(CDS), held.resources(CDS)).collect();
        assert_eq!(gone_only, ["a"]);
        assert_eq!(
            super::gone(held.resources(CDS), view.resources(CDS)).collect::<Vec<_>>(),
            ["d"]
        );
        assert_eq!(
            super::gone(&ResourceMap::new(), held.resources(CDS)).count(),
            3
        );
        assert_eq!(
            super::gone(held.resources(CDS), &ResourceMap::new()).count(),
            0
        );

        let (changed, gone) = diff(held.resources(CDS), held.resources(CDS));
        assert!(changed.is_empty() && gone.is_empty());
        let (changed, gone) = diff(&ResourceMap::new(), held.resources(CDS));
        assert!(changed.is_empty());
        assert_eq!(gone, ["a", "b", "c"]);
    }

    #[test]
    fn the_snapshot_change_set_gives_the_same_diff_as_a_full_walk() {
        let held = snapshot(&["a", "b", "c"], &[]);
        let target = held
            .edit()
            .remove(CDS, "a")
            .cluster(envoy_types::pb::envoy::config::cluster::v3::Cluster {
                name: "b".into(),
                connect_timeout: Some(Default::default()),
                ..Default::default()
            })
            .cluster(envoy_types::pb::envoy::config::cluster::v3::Cluster {
                name: "d".into(),
                ..Default::default()
            })
            .build()
            .expect("consistent");
        let (view, before) = (target.resources(CDS), held.resources(CDS));
        assert!(target.changes_since(CDS, before).is_some(), "built from it");
        let names = |d: (Vec<Arc<crate::snapshot::Resource>>, Vec<String>)| {
            let changed: Vec<String> = d.0.iter().map(|r| r.name().to_owned()).collect();
            (changed, d.1)
        };
        let fast = names(diff_in(view, before, CDS, &target));
        assert_eq!(fast, names(diff(view, before)));
        assert_eq!(
            fast,
            (vec!["b".to_owned(), "d".to_owned()], vec!["a".to_owned()])
        );
        let unrelated = snapshot(&["a"], &[]);
        assert!(target
            .changes_since(CDS, unrelated.resources(CDS))
            .is_none());
        assert_eq!(
            names(diff_in(view, unrelated.resources(CDS), CDS, &target)),
            names(diff(view, unrelated.resources(CDS))),
            "falls back to the walk"
        );
    }

    #[test]
    fn view_version_is_the_type_version_for_the_whole_set_and_hashed_otherwise() {
        let target = snapshot(&["a", "b"], &["a"]);
        let whole = target.resources(CDS);
        assert_eq!(view_version(whole, CDS, &target), target.type_version(CDS));
        let copy = Arc::new(ResourceMap::clone(whole));
        assert_eq!(
            view_version(&copy, CDS, &target),
            target.type_version(CDS),
            "same content, same version"
        );
        let mut part = ResourceMap::clone(whole);
        part.remove("b");
        assert_ne!(
            view_version(&Arc::new(part), CDS, &target),
            target.type_version(CDS)
        );
    }

    #[test]
    fn same_view_compares_names_and_versions() {
        let target = snapshot(&["a", "b"], &["a"]);
        let whole = target.resources(CDS);
        assert!(same_view(whole, whole));
        let rebuilt = snapshot(&["a", "b"], &["a"]);
        assert!(
            same_view(whole, rebuilt.resources(CDS)),
            "another Arc, same content"
        );
        let edited = builder(&[("a", 1, 1), ("b", 2, 1)], &["a"])
            .build()
            .expect("consistent");
        assert!(!same_view(whole, edited.resources(CDS)));
        let fewer = snapshot(&["a"], &["a"]);
        assert!(!same_view(whole, fewer.resources(CDS)));
    }
}

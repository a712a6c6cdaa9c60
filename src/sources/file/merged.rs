//! The directory as one set of objects: the union of every file's objects,
//! one rule for an object defined twice, and the events that move the world
//! from one such set to the next.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::world::{Kind, Object, ObjectRef, WorldEvent};

/// Kinds in the order a consumer should see them arrive: what an Ingress
/// refers to first, the Ingress last (deletions go the other way), so a
/// translation between two events meets as few dangling references as possible.
const APPLY_ORDER: [Kind; 5] = [
    Kind::Secret,
    Kind::Service,
    Kind::EndpointSlice,
    Kind::IngressClass,
    Kind::Ingress,
];

/// One file's objects, keyed once when the file is read.
pub(super) type FileObjects = Vec<(ObjectRef, Arc<Object>)>;

/// The merged view of a directory.
///
/// Duplicate rule: when files define the same object (kind, namespace, name),
/// the definition **last in path order wins**, and within a file the last
/// document wins: the same result `kubectl apply -f DIR` gives, since it
/// applies files in lexical order, one document after another. Removing the
/// winning definition lets the next one apply.
#[derive(Debug, Default)]
pub(super) struct Merged {
    pub(super) objects: BTreeMap<ObjectRef, Arc<Object>>,
    pub(super) conflicts: BTreeMap<ObjectRef, Vec<PathBuf>>,
    /// Every file defining each object, in path order (a file appears once per
    /// definition): the last one is the winner. It lets a pass re-merge only the
    /// objects the changed files define (`merge_pass`).
    pub(super) definers: BTreeMap<ObjectRef, Vec<PathBuf>>,
}

impl Merged {
    /// Merges files, which must come in path order.
    pub(super) fn build<'a>(
        files: impl IntoIterator<Item = (&'a PathBuf, &'a FileObjects)>,
    ) -> Self {
        let mut objects: BTreeMap<ObjectRef, Arc<Object>> = BTreeMap::new();
        let mut definers: BTreeMap<ObjectRef, Vec<PathBuf>> = BTreeMap::new();
        for (path, file) in files {
            for (reference, object) in file {
                objects.insert(reference.clone(), Arc::clone(object));
                definers
                    .entry(reference.clone())
                    .or_default()
                    .push(path.clone());
            }
        }
        let conflicts = definers
            .iter()
            .filter(|(_, paths)| paths.len() > 1)
            .map(|(reference, paths)| (reference.clone(), paths.clone()))
            .collect();
        Merged {
            objects,
            conflicts,
            definers,
        }
    }

    /// Objects defined more than once, with every defining file in path order
    /// (a file appears twice when it repeats an object); the last one wins.
    pub(super) fn conflicts(&self) -> &BTreeMap<ObjectRef, Vec<PathBuf>> {
        &self.conflicts
    }

    /// How many objects the view holds.
    pub(super) fn object_count(&self) -> usize {
        self.objects.len()
    }

    /// The whole view as one `Replace` per kind (every kind, even empty ones:
    /// the file source owns these kinds), for the initial load.
    pub(super) fn replace_events(&self) -> Vec<WorldEvent> {
        APPLY_ORDER
            .into_iter()
            .map(|kind| WorldEvent::Replace {
                kind,
                objects: self
                    .objects
                    .iter()
                    .filter(|(reference, _)| reference.kind == kind)
                    .map(|(_, object)| Object::clone(object))
                    .collect(),
            })
            .collect()
    }

    /// The events that turn `self` into `next`: upserts for new or changed
    /// objects before deletes for gone ones (make before break). The reference
    /// a pass's incremental re-merge (`merge_pass`) is tested against.
    #[cfg(test)]
    pub(super) fn diff(&self, next: &Merged) -> Vec<WorldEvent> {
        let upserts: Vec<&Arc<Object>> = next
            .objects
            .iter()
            .filter(|(reference, object)| changed(self.objects.get(*reference), object))
            .map(|(_, object)| object)
            .collect();
        let deletes: Vec<&ObjectRef> = self
            .objects
            .keys()
            .filter(|reference| !next.objects.contains_key(*reference))
            .collect();
        in_apply_order(upserts, deletes)
    }
}

/// Whether `new` differs from what was merged before (`old`).
pub(super) fn changed(old: Option<&Arc<Object>>, new: &Arc<Object>) -> bool {
    old.is_none_or(|old| !Arc::ptr_eq(old, new) && old != new)
}

/// Upserts in [`APPLY_ORDER`], then deletes in reverse (make before break).
pub(super) fn in_apply_order(
    mut upserts: Vec<&Arc<Object>>,
    mut deletes: Vec<&ObjectRef>,
) -> Vec<WorldEvent> {
    upserts.sort_by_key(|object| rank(object.kind()));
    deletes.sort_by_key(|reference| Reverse(rank(reference.kind)));
    upserts
        .into_iter()
        .map(|object| WorldEvent::Upsert(Object::clone(object)))
        .chain(deletes.into_iter().cloned().map(WorldEvent::Delete))
        .collect()
}

fn rank(kind: Kind) -> usize {
    APPLY_ORDER.iter().position(|k| *k == kind).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{Secret, Service};
    use k8s_openapi::api::networking::v1::Ingress;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    fn meta(name: &str, label: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some("ns".to_owned()),
            labels: Some([("v".to_owned(), label.to_owned())].into()),
            ..ObjectMeta::default()
        }
    }

    fn entry(object: Object) -> (ObjectRef, Arc<Object>) {
        let reference = object.reference().expect("named");
        (reference, Arc::new(object))
    }

    fn service(name: &str, label: &str) -> (ObjectRef, Arc<Object>) {
        entry(Object::Service(Service {
            metadata: meta(name, label),
            ..Service::default()
        }))
    }

    fn ingress(name: &str) -> (ObjectRef, Arc<Object>) {
        entry(Object::Ingress(Ingress {
            metadata: meta(name, ""),
            ..Ingress::default()
        }))
    }

    fn secret(name: &str) -> (ObjectRef, Arc<Object>) {
        entry(Object::Secret(Secret {
            metadata: meta(name, ""),
            ..Secret::default()
        }))
    }

    fn merge(files: &[(&str, FileObjects)]) -> Merged {
        let files: Vec<(PathBuf, FileObjects)> = files
            .iter()
            .map(|(path, objects)| (PathBuf::from(path), objects.clone()))
            .collect();
        Merged::build(files.iter().map(|(path, objects)| (path, objects)))
    }

    fn label(merged: &Merged, name: &str) -> Option<String> {
        let (reference, _) = service(name, "");
        merged
            .objects
            .get(&reference)?
            .meta()
            .labels
            .as_ref()?
            .get("v")
            .cloned()
    }

    #[test]
    fn the_last_definition_in_path_order_wins() {
        let merged = merge(&[
            ("/d/a.yaml", vec![service("web", "a"), service("solo", "a")]),
            (
                "/d/b.yaml",
                vec![service("web", "b1"), service("web", "b2")],
            ),
        ]);
        assert_eq!(label(&merged, "web").as_deref(), Some("b2"));
        assert_eq!(label(&merged, "solo").as_deref(), Some("a"));
        let paths: Vec<&PathBuf> = merged.conflicts().values().flatten().collect();
        assert_eq!(paths, ["/d/a.yaml", "/d/b.yaml", "/d/b.yaml"]);
    }

    #[test]
    fn diff_makes_before_it_breaks() {
        let old = merge(&[("/d/a.yaml", vec![ingress("old"), service("s", "1")])]);
        let new = merge(&[(
            "/d/a.yaml",
            vec![ingress("new"), service("s", "2"), secret("tls")],
        )]);
        let events: Vec<String> = old
            .diff(&new)
            .iter()
            .map(|event| match event {
                WorldEvent::Upsert(object) => format!("upsert {}", object.kind()),
                WorldEvent::Delete(reference) => format!("delete {}", reference.kind),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            events,
            [
                "upsert Secret",
                "upsert Service",
                "upsert Ingress",
                "delete Ingress"
            ],
            "referenced kinds first, Ingresses last, deletions after additions"
        );
        assert!(new.diff(&new).is_empty(), "no change, no events");
    }
}

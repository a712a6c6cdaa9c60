//! One pass's re-merge, limited to what the changed files define. Rebuilding
//! the merged view of every file and diffing it against the last one cost
//! O(objects) per edit: with 10,000 Ingresses in a directory it was most of
//! Interlock's CPU for a one-line change. Only objects a re-read or removed
//! file defined before or defines now can change winner; the result and the
//! events are those of a full `Merged::build` and `diff`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::world::{Object, ObjectRef, WorldEvent};

use super::merged::{changed, in_apply_order, FileObjects, Merged};

/// A file re-read or removed in this pass: what it defined before and now.
#[derive(Debug, Default)]
pub(super) struct FileChange {
    pub path: PathBuf,
    pub before: Vec<ObjectRef>,
    pub after: Vec<ObjectRef>,
}

// === impl Merged ===

impl Merged {
    /// Applies `changes` (the files now hold what `objects_of` returns) and
    /// returns the events, plus the objects whose set of defining files
    /// changed while defined more than once (conflicts to report).
    pub(super) fn update<'a>(
        &mut self,
        changes: &[FileChange],
        objects_of: impl Fn(&Path) -> Option<&'a FileObjects>,
    ) -> (Vec<WorldEvent>, Vec<ObjectRef>) {
        let mut touched: BTreeSet<&ObjectRef> = BTreeSet::new();
        for change in changes {
            self.forget_definitions(&change.path, &change.before);
            self.add_definitions(&change.path, &change.after);
            touched.extend(change.before.iter().chain(&change.after));
        }
        let mut upserts: Vec<Arc<Object>> = Vec::new();
        let mut deletes: Vec<ObjectRef> = Vec::new();
        let mut conflicts = Vec::new();
        for reference in touched {
            let definers = self.definers.get(reference);
            let winner = definers
                .and_then(|paths| paths.last())
                .and_then(|path| objects_of(path))
                .and_then(|file| file.iter().rev().find(|(r, _)| r == reference))
                .map(|(_, object)| Arc::clone(object));
            match definers.filter(|paths| paths.len() > 1) {
                Some(paths) => {
                    if self.conflicts.get(reference) != Some(paths) {
                        self.conflicts.insert(reference.clone(), paths.clone());
                        conflicts.push(reference.clone());
                    }
                }
                None => drop(self.conflicts.remove(reference)),
            }
            match winner {
                Some(object) => {
                    if changed(self.objects.get(reference), &object) {
                        upserts.push(Arc::clone(&object));
                    }
                    self.objects.insert(reference.clone(), object);
                }
                None => {
                    if self.objects.remove(reference).is_some() {
                        deletes.push(reference.clone());
                    }
                }
            }
        }
        let events = in_apply_order(upserts.iter().collect(), deletes.iter().collect());
        (events, conflicts)
    }

    /// `path` no longer defines `references`.
    fn forget_definitions(&mut self, path: &Path, references: &[ObjectRef]) {
        for reference in references {
            if let Some(paths) = self.definers.get_mut(reference) {
                paths.retain(|p| p != path);
                if paths.is_empty() {
                    self.definers.remove(reference);
                }
            }
        }
    }

    /// `path` defines `references` (once per occurrence), kept in path order.
    fn add_definitions(&mut self, path: &Path, references: &[ObjectRef]) {
        for reference in references {
            let paths = self.definers.entry(reference.clone()).or_default();
            let at = paths.partition_point(|p| p.as_path() <= path);
            paths.insert(at, path.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::Service;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    fn service(name: &str, label: u64) -> (ObjectRef, Arc<Object>) {
        let object = Object::Service(Service {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some("ns".to_owned()),
                labels: Some([("v".to_owned(), label.to_string())].into()),
                ..ObjectMeta::default()
            },
            ..Service::default()
        });
        (object.reference().expect("named"), Arc::new(object))
    }

    fn refs(file: &FileObjects) -> Vec<ObjectRef> {
        file.iter().map(|(r, _)| r.clone()).collect()
    }

    /// A small xorshift: the walk is the same on every run.
    fn next(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn a_pass_merges_the_same_objects_conflicts_and_events_as_a_full_rebuild() {
        let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
        let mut files: BTreeMap<PathBuf, FileObjects> = BTreeMap::new();
        let mut incremental = Merged::default();
        let mut full = Merged::default();
        for step in 0..2_000 {
            // Up to three files change per pass: rewritten with 0..4 objects
            // drawn from 6 names (so files redefine each other's objects and
            // their own), or removed.
            let mut changes = Vec::new();
            for _ in 0..=next(&mut rng) % 3 {
                let path = PathBuf::from(format!("/d/{}.yaml", next(&mut rng) % 5));
                let before = files.get(&path).map(refs).unwrap_or_default();
                let after: FileObjects = if next(&mut rng).is_multiple_of(6) {
                    files.remove(&path);
                    Vec::new()
                } else {
                    let objects: FileObjects = (0..next(&mut rng) % 5)
                        .map(|_| {
                            let name = format!("s{}", next(&mut rng) % 6);
                            service(&name, next(&mut rng) % 3)
                        })
                        .collect();
                    files.insert(path.clone(), objects.clone());
                    objects
                };
                changes.push(FileChange {
                    path,
                    before,
                    after: refs(&after),
                });
            }
            let next_full = Merged::build(files.iter());
            let expected = full.diff(&next_full);
            full = next_full;
            let (events, _) = incremental.update(&changes, |p| files.get(p));
            assert_eq!(events, expected, "step {step}: events");
            assert_eq!(incremental.objects, full.objects, "step {step}: objects");
            assert_eq!(
                incremental.conflicts, full.conflicts,
                "step {step}: conflicts"
            );
            assert_eq!(incremental.definers, full.definers, "step {step}: definers");
        }
    }
}

//! What every annotation table test needs: reading annotations as an Ingress
//! in namespace `ns` carries them, and the verdict one of them got.

use std::collections::BTreeMap;

use super::*;
use crate::world::World;

/// Annotations as written: `(name without prefix, value)`.
pub(super) type Written = &'static [(&'static str, &'static str)];

/// `(annotations, annotation whose verdict is checked, verdict prefix)`.
pub(super) type VerdictCase = (Written, &'static str, &'static str);

/// `annotations` (names without the prefix) read against `world`.
pub(super) fn read_in(world: &World, annotations: &[(&str, &str)]) -> IngressAnnotations {
    let map: BTreeMap<String, String> = annotations
        .iter()
        .map(|(k, v)| (format!("{DEFAULT_PREFIX}/{k}"), (*v).to_owned()))
        .collect();
    let mut lookups = Lookups::new(world);
    read(
        DEFAULT_PREFIX,
        &ObjectKey::new("ns", "ing"),
        Some(&map),
        &mut lookups,
    )
}

/// `annotations` read against an empty world.
pub(super) fn parse(annotations: &[(&str, &str)]) -> IngressAnnotations {
    read_in(&World::new(), annotations)
}

/// The verdict `name` got, or `absent`.
pub(super) fn verdict(a: &IngressAnnotations, name: &str) -> String {
    a.findings
        .iter()
        .find(|f| f.annotation == name)
        .map_or_else(|| "absent".to_owned(), |f| f.verdict.to_string())
}

/// Checks every case of a verdict table, listing all that fail.
pub(super) fn check_verdicts(cases: &[VerdictCase]) {
    let mut failures = Vec::new();
    for (annotations, name, want) in cases {
        let got = verdict(&parse(annotations), name);
        if !got.starts_with(want) {
            failures.push(format!("{annotations:?}: {name}: want {want}, got {got}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

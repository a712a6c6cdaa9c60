//! The file source's manifest parsing on arbitrary UTF-8 text, and what the
//! pipeline does with whatever parses: invariant 8 ("bad input never crashes")
//! and invariant 2 ("consistent snapshot") for hand-written YAML.
//!
//! Checked for every input:
//! - [`Manifests::parse`] never panics; its error and every skip render;
//! - every object it returns can be keyed (unnamed ones are skipped instead);
//! - the objects, upserted into a `World` and translated with the default
//!   config, always validate into a snapshot (no dangling reference, no
//!   duplicate name: invariant 2);
//! - translating the same world again gives the same snapshot version
//!   (invariant 7: versions come from content alone).

#![no_main]

use interlock::sources::file::Manifests;
use interlock::translate::{translate, TranslateConfig};
use interlock::validate::validate;
use interlock::world::World;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let manifests = match Manifests::parse(text) {
        Ok(manifests) => manifests,
        Err(error) => {
            let _ = error.to_string();
            return;
        }
    };
    for skipped in &manifests.skipped {
        let _ = skipped.to_string();
    }
    let mut world = World::new();
    for object in manifests.objects {
        assert!(object.reference().is_some(), "an unkeyed object was kept");
        world.upsert(object);
    }
    let config = TranslateConfig::default();
    let snapshot = |world: &World| {
        let mut translation = translate(world, &config);
        for diagnostic in &translation.diagnostics {
            let _ = diagnostic.to_string();
        }
        match validate(&mut translation, None) {
            Ok(snapshot) => snapshot,
            Err(inconsistent) => panic!("translation is inconsistent: {inconsistent}"),
        }
    };
    let first = snapshot(&world);
    let again = snapshot(&world);
    assert_eq!(first.version(), again.version(), "same world, same version");
});

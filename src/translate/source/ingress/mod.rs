//! Ingress (networking.k8s.io/v1) as a source of the route model.
//!
//! [`served`] picks our Ingresses ([`class`]) and orders them oldest first
//! (`age.rs`), the order the merge resolves conflicts in. [`read`] turns one
//! Ingress into its [`Contribution`]: its rules (`rules.rs`, paths in [`path`],
//! backends in [`backend`]) and its TLS entries (`tls.rs`). A contribution
//! depends only on its Ingress and on the Services and Secrets it names.

mod age;
pub mod backend;
pub mod class;
pub mod path;
mod rules;
mod tls;

use k8s_openapi::api::networking::v1::Ingress;

use super::Lookups;
use crate::translate::diagnostic::Diagnostics;
use crate::translate::model::Contribution;
use crate::translate::TranslateConfig;
use crate::world::{Kind, ObjectKey, ObjectRef, World};
use age::Age;

/// Our Ingresses, oldest first (the order that decides conflicts).
pub fn served<'w>(world: &'w World, config: &TranslateConfig) -> Vec<(&'w ObjectKey, &'w Ingress)> {
    let mut served: Vec<(&ObjectKey, &Ingress)> = world
        .ingresses
        .iter()
        .filter(|(_, ingress)| class::is_ours(world, config, ingress))
        .map(|(key, ingress)| (key, ingress.as_ref()))
        .collect();
    served.sort_by_cached_key(|(key, ingress)| Age::of(key, ingress));
    served
}

/// What the Ingress `ingress`, stored under `key`, asks for on its own.
pub fn read<'w>(
    key: &'w ObjectKey,
    ingress: &'w Ingress,
    lookups: &mut Lookups<'w>,
) -> Contribution {
    let mut contribution = Contribution::new(ObjectRef {
        kind: Kind::Ingress,
        key: key.clone(),
    });
    let mut diagnostics = Diagnostics::default();
    match &ingress.spec {
        None => diagnostics.warning(key, "Ingress has no spec; nothing is served"),
        Some(spec) => rules::read(key, spec, lookups, &mut contribution, &mut diagnostics),
    }
    tls::read(key, ingress, lookups, &mut contribution, &mut diagnostics);
    contribution.diagnostics = diagnostics.finish();
    contribution
}

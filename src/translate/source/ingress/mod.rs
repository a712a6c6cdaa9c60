//! Ingress (networking.k8s.io/v1) as a source of the route model.
//!
//! [`served`] picks our Ingresses ([`class`]) and orders them oldest first
//! (`age.rs`), the order the merge resolves conflicts in. [`read`] turns one
//! Ingress into its [`Contribution`]: its rules (`rules.rs`, paths in [`path`],
//! backends in [`backend`]), its TLS entries (`tls.rs`), its passthrough hosts
//! (`passthrough.rs`) and its client-certificate setting. A contribution
//! depends only on its Ingress and on the Services and Secrets it names.

mod age;
pub mod annotations;
mod apply;
pub mod backend;
pub mod class;
mod passthrough;
pub mod path;
mod rules;
mod tls;

use k8s_openapi::api::networking::v1::Ingress;

use super::Lookups;
use crate::translate::diagnostic::Diagnostics;
use crate::translate::model::{ClientAuthClaim, Contribution};
use crate::translate::TranslateConfig;
use crate::world::{Kind, ObjectKey, ObjectRef, World};
use age::Age;

pub use annotations::DEFAULT_PREFIX;

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

/// What the Ingress `ingress`, stored under `key`, asks for on its own, its
/// annotations read under `annotations_prefix`
/// ([`TranslateConfig::annotations_prefix`]).
pub fn read<'w>(
    key: &'w ObjectKey,
    ingress: &'w Ingress,
    lookups: &mut Lookups<'w>,
    annotations_prefix: &str,
) -> Contribution {
    let mut contribution = Contribution::new(ObjectRef {
        kind: Kind::Ingress,
        key: key.clone(),
    });
    let mut diagnostics = Diagnostics::default();
    let a = annotations::read(
        annotations_prefix,
        key,
        ingress.metadata.annotations.as_ref(),
        lookups,
    );
    report(key, &a.findings, &mut diagnostics);
    contribution.canary = a.canary.clone();
    match &ingress.spec {
        None => diagnostics.warning(key, "Ingress has no spec; nothing is served"),
        Some(spec) => rules::read(key, spec, lookups, &mut contribution, &mut diagnostics, &a),
    }
    tls::read(key, ingress, lookups, &mut contribution, &mut diagnostics);
    if a.passthrough {
        if let Some(spec) = &ingress.spec {
            passthrough::read(key, spec, lookups, &mut contribution, &mut diagnostics);
        }
    }
    if let Some(auth) = &a.client_auth {
        let hosts = tls::rule_hosts(ingress);
        if !hosts.is_empty() {
            contribution.client_auth.push(ClientAuthClaim {
                auth: std::sync::Arc::clone(auth),
                hosts,
            });
        }
    }
    contribution.diagnostics = diagnostics.finish();
    contribution
}

/// Warnings for the annotations that are ignored or invalid.
fn report(key: &ObjectKey, findings: &[annotations::Finding], diagnostics: &mut Diagnostics) {
    for finding in findings {
        match &finding.verdict {
            annotations::Verdict::Ignored(why) => diagnostics.warning(
                key,
                format!("annotation {} ignored: {why}", finding.annotation),
            ),
            annotations::Verdict::Invalid(why) => {
                diagnostics.warning(key, format!("annotation {}: {why}", finding.annotation))
            }
            annotations::Verdict::Honoured | annotations::Verdict::Approximated(_) => {}
        }
    }
}

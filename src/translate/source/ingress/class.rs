//! Which Ingresses are ours: IngressClass selection.
//!
//! An Ingress is served when the class it names (`spec.ingressClassName`, else the
//! legacy `kubernetes.io/ingress.class` annotation) is an IngressClass whose
//! `spec.controller` is our controller name, or, when no IngressClass object of that
//! name exists at all, when the name equals the configured class name (so the
//! file-based quickstart works without an IngressClass object). An Ingress naming
//! no class is served when one of our IngressClasses carries
//! `ingressclass.kubernetes.io/is-default-class: "true"`. Everything else belongs
//! to another controller: no config and no diagnostics.

use k8s_openapi::api::networking::v1::{Ingress, IngressClass};

use crate::translate::TranslateConfig;
use crate::world::{ObjectKey, World};

/// The legacy (pre-`ingressClassName`) annotation naming an Ingress's class.
pub const LEGACY_CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";

/// The annotation that makes an IngressClass the default for class-less Ingresses.
pub const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";

/// True when `ingress` is for this controller.
pub(crate) fn is_ours(world: &World, config: &TranslateConfig, ingress: &Ingress) -> bool {
    match class_name(ingress) {
        Some(name) => match world.ingress_classes.get(&ObjectKey::new("", name)) {
            Some(class) => is_our_class(class, config),
            None => name == config.ingress_class,
        },
        None => world
            .ingress_classes
            .values()
            .any(|class| is_our_class(class, config) && is_default(class)),
    }
}

/// The class an Ingress names, if any (an empty name counts as none).
fn class_name(ingress: &Ingress) -> Option<&str> {
    let from_spec = ingress
        .spec
        .as_ref()
        .and_then(|s| s.ingress_class_name.as_deref());
    let from_annotation = || {
        ingress
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(LEGACY_CLASS_ANNOTATION))
            .map(String::as_str)
    };
    from_spec
        .filter(|n| !n.is_empty())
        .or_else(|| from_annotation().filter(|n| !n.is_empty()))
}

fn is_our_class(class: &IngressClass, config: &TranslateConfig) -> bool {
    class
        .spec
        .as_ref()
        .and_then(|s| s.controller.as_deref())
        .is_some_and(|c| c == config.controller_name)
}

fn is_default(class: &IngressClass) -> bool {
    class
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(DEFAULT_CLASS_ANNOTATION))
        .is_some_and(|v| v == "true")
}

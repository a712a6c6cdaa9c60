//! Reading served Ingresses into one merged set of rules.
//!
//! Ingresses are read oldest first ([`super::age`]), so on an identical
//! path + pathType for the same host (or both host-less) the oldest Ingress simply
//! got there first; the newer one is reported, naming the winner. The same goes
//! for `defaultBackend`: the oldest served Ingress with a usable one wins. Invalid
//! parts (bad host, path or backend) are skipped with a diagnostic; everything
//! else of the Ingress is still served.

use std::collections::btree_map::Entry as MapEntry;
use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::networking::v1::{HTTPIngressPath, Ingress, IngressBackend, IngressRule};

use super::backend::{self, Backend};
use super::diagnostic::Diagnostics;
use super::host::Host;
use super::path::{PathRule, PathType};
use crate::world::{ObjectKey, World};

/// Where one served path (or the default backend) goes, and whose it is.
#[derive(Clone, Debug)]
pub struct Served<'w> {
    /// The target.
    pub backend: Backend,
    /// The Ingress it came from.
    pub owner: &'w ObjectKey,
}

/// Every served rule of every served Ingress, conflicts resolved.
#[derive(Debug, Default)]
pub struct Rules<'w> {
    /// Paths of rules with a host.
    pub by_host: BTreeMap<Host, BTreeMap<PathRule, Served<'w>>>,
    /// Paths of rules without a host (they apply to every host).
    pub hostless: BTreeMap<PathRule, Served<'w>>,
    /// The winning `defaultBackend`.
    pub default_backend: Option<Served<'w>>,
    /// Each Ingress's valid rule hosts (for TLS entries that list none).
    pub rule_hosts: BTreeMap<ObjectKey, BTreeSet<Host>>,
}

impl<'w> Rules<'w> {
    /// Every winning path and the winning default backend.
    pub fn all(&self) -> impl Iterator<Item = &Served<'w>> {
        self.by_host
            .values()
            .flat_map(BTreeMap::values)
            .chain(self.hostless.values())
            .chain(self.default_backend.as_ref())
    }
}

/// Reads `ingresses` (oldest first).
pub(crate) fn collect<'w>(
    world: &World,
    ingresses: &[(&'w ObjectKey, &'w Ingress)],
    diagnostics: &mut Diagnostics,
) -> Rules<'w> {
    let mut rules = Rules::default();
    for (key, ingress) in ingresses {
        let Some(spec) = &ingress.spec else {
            diagnostics.warning(key, "Ingress has no spec; nothing is served");
            continue;
        };
        let ingress_rules = spec.rules.as_deref().unwrap_or_default();
        if ingress_rules.is_empty() && spec.default_backend.is_none() {
            diagnostics.warning(key, "Ingress has no rules and no defaultBackend; no routes");
        }
        for rule in ingress_rules {
            read_rule(world, key, rule, &mut rules, diagnostics);
        }
        if let Some(default) = &spec.default_backend {
            read_default(world, key, default, &mut rules, diagnostics);
        }
    }
    rules
}

fn read_rule<'w>(
    world: &World,
    key: &'w ObjectKey,
    rule: &IngressRule,
    rules: &mut Rules<'w>,
    diagnostics: &mut Diagnostics,
) {
    let host = match rule.host.as_deref().filter(|h| !h.is_empty()) {
        None => None,
        Some(h) => match Host::parse(h) {
            Ok(host) => Some(host),
            Err(e) => {
                diagnostics.error(key, format!("{e}; its rule is skipped"));
                return;
            }
        },
    };
    if let Some(host) = &host {
        rules
            .rule_hosts
            .entry(key.clone())
            .or_default()
            .insert(host.clone());
    }
    let where_ = host
        .as_ref()
        .map_or_else(|| "rule without host".to_owned(), |h| format!("host {h}"));
    let Some(http) = &rule.http else {
        return;
    };
    if http.paths.is_empty() {
        diagnostics.warning(key, format!("{where_}: http has no paths"));
    }
    for path in &http.paths {
        let Some(rule) = read_path(key, &where_, path, diagnostics) else {
            continue;
        };
        let table = match &host {
            Some(h) => rules.by_host.entry(h.clone()).or_default(),
            None => &mut rules.hostless,
        };
        match table.entry(rule) {
            MapEntry::Occupied(existing) => {
                let (rule, winner) = (existing.key(), existing.get().owner);
                let message = if winner == key {
                    format!("{where_}: path {rule} appears twice; the first one is used")
                } else {
                    format!(
                        "{where_}: path {rule} is already served by older Ingress {winner}; ignored here"
                    )
                };
                diagnostics.warning(key, message);
            }
            MapEntry::Vacant(slot) => {
                let rule = slot.key().clone();
                match backend::resolve(world, &key.namespace, &path.backend) {
                    Ok((backend, unavailable)) => {
                        if let Some(reason) = unavailable {
                            diagnostics.error(key, format!("{where_}: path {rule}: {reason}"));
                        }
                        slot.insert(Served {
                            backend,
                            owner: key,
                        });
                    }
                    Err(e) => {
                        diagnostics.error(key, format!("{where_}: path {rule}: {e}; path skipped"))
                    }
                }
            }
        }
    }
}

fn read_path(
    key: &ObjectKey,
    where_: &str,
    path: &HTTPIngressPath,
    diagnostics: &mut Diagnostics,
) -> Option<PathRule> {
    let written = path.path.as_deref();
    let path_type = match PathType::parse(&path.path_type) {
        Ok(Some(t)) => Some(t),
        Ok(None) => {
            diagnostics.warning(
                key,
                format!(
                    "{where_}: path {:?} has no pathType; treated as Prefix",
                    written.unwrap_or_default()
                ),
            );
            None
        }
        Err(e) => {
            diagnostics.error(key, format!("{where_}: {e}; path skipped"));
            return None;
        }
    };
    match PathRule::parse(written, path_type) {
        Ok(rule) => Some(rule),
        Err(e) => {
            diagnostics.error(key, format!("{where_}: {e}; path skipped"));
            None
        }
    }
}

fn read_default<'w>(
    world: &World,
    key: &'w ObjectKey,
    default: &IngressBackend,
    rules: &mut Rules<'w>,
    diagnostics: &mut Diagnostics,
) {
    if let Some(winner) = &rules.default_backend {
        diagnostics.warning(
            key,
            format!(
                "defaultBackend ignored: older Ingress {} already sets one",
                winner.owner
            ),
        );
        return;
    }
    match backend::resolve(world, &key.namespace, default) {
        Ok((backend, unavailable)) => {
            if let Some(reason) = unavailable {
                diagnostics.error(key, format!("defaultBackend: {reason}"));
            }
            rules.default_backend = Some(Served {
                backend,
                owner: key,
            });
        }
        Err(e) => diagnostics.error(key, format!("defaultBackend: {e}; it is skipped")),
    }
}

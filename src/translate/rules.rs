//! Reading served Ingresses into one merged set of rules.
//!
//! Ingresses are read oldest first ([`super::age`]), so on an identical
//! path + pathType for the same host (or both host-less) the oldest Ingress simply
//! got there first; the newer one is reported, naming the winner. The same goes
//! for `defaultBackend`: the oldest served Ingress with a usable one wins. Invalid
//! parts (bad host, path or backend) are skipped with a diagnostic; everything
//! else of the Ingress is still served.

use std::collections::btree_map::Entry as MapEntry;
use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::networking::v1::{HTTPIngressPath, Ingress, IngressBackend, IngressRule};

use super::backend::Backend;
use super::diagnostic::Diagnostics;
use super::host::Host;
use super::path::{PathRule, PathType};
use super::resolver::Resolver;
use crate::world::{ObjectKey, World};

/// Where one served path (or the default backend) goes, and whose it is.
#[derive(Clone, Debug)]
pub struct Served<'w> {
    /// The target.
    pub backend: Backend,
    /// The Ingress it came from.
    pub owner: &'w ObjectKey,
}

/// Where a path is written, for diagnostics: `host <host>` or `rule without
/// host`. Formatted only when a diagnostic is made, not for every rule.
#[derive(Clone, Copy)]
struct Where<'a>(Option<&'a Host>);

impl fmt::Display for Where<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(host) => write!(f, "host {host}"),
            None => f.write_str("rule without host"),
        }
    }
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
    world: &'w World,
    ingresses: &[(&'w ObjectKey, &'w Ingress)],
    diagnostics: &mut Diagnostics,
) -> Rules<'w> {
    let mut rules = Rules::default();
    let mut resolver = Resolver::new(world);
    for &(key, ingress) in ingresses {
        let Some(spec) = &ingress.spec else {
            diagnostics.warning(key, "Ingress has no spec; nothing is served");
            continue;
        };
        let ingress_rules = spec.rules.as_deref().unwrap_or_default();
        if ingress_rules.is_empty() && spec.default_backend.is_none() {
            diagnostics.warning(key, "Ingress has no rules and no defaultBackend; no routes");
        }
        for rule in ingress_rules {
            read_rule(&mut resolver, key, rule, &mut rules, diagnostics);
        }
        if let Some(default) = &spec.default_backend {
            read_default(&mut resolver, key, default, &mut rules, diagnostics);
        }
    }
    rules
}

fn read_rule<'w>(
    resolver: &mut Resolver<'w>,
    key: &'w ObjectKey,
    rule: &'w IngressRule,
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
    let where_ = Where(host.as_ref());
    let Some(http) = &rule.http else {
        return;
    };
    if http.paths.is_empty() {
        diagnostics.warning(key, format!("{where_}: http has no paths"));
    }
    // The host's table is found once per rule, not per path. It must exist only
    // if some path of the rule parsed (even when that path's backend then fails),
    // so one created here for nothing is removed again below.
    let (table, created) = match &host {
        Some(h) => match rules.by_host.entry(h.clone()) {
            MapEntry::Vacant(slot) => (slot.insert(BTreeMap::new()), true),
            MapEntry::Occupied(slot) => (slot.into_mut(), false),
        },
        None => (&mut rules.hostless, false),
    };
    let mut parsed = false;
    for path in &http.paths {
        let Some(rule) = read_path(key, where_, path, diagnostics) else {
            continue;
        };
        parsed = true;
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
                let rule = slot.key();
                match resolver.resolve(&key.namespace, &path.backend) {
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
    if created && !parsed {
        if let Some(h) = &host {
            rules.by_host.remove(h);
        }
    }
}

fn read_path(
    key: &ObjectKey,
    where_: Where<'_>,
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
    resolver: &mut Resolver<'w>,
    key: &'w ObjectKey,
    default: &'w IngressBackend,
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
    match resolver.resolve(&key.namespace, default) {
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

#[cfg(test)]
mod tests {
    use k8s_openapi::api::networking::v1::Ingress;
    use serde_json::json;

    use super::*;
    use crate::world::Object;

    fn ingress(name: &str, rules: serde_json::Value) -> Ingress {
        serde_json::from_value(json!({
            "metadata": {"namespace": "ns", "name": name},
            "spec": {"rules": rules},
        }))
        .unwrap_or_else(|e| panic!("bad fixture: {e}"))
    }

    fn path(path_type: &str, backend: serde_json::Value) -> serde_json::Value {
        json!({"path": "/", "pathType": path_type, "backend": backend})
    }

    /// The hosts `collect` makes tables for (each becomes a virtual host).
    fn hosts(rules: serde_json::Value) -> Vec<String> {
        let mut world = World::new();
        world.upsert(Object::Ingress(ingress("ing", rules)));
        let served: Vec<(&ObjectKey, &Ingress)> = world
            .ingresses
            .iter()
            .map(|(k, i)| (k, i.as_ref()))
            .collect();
        let rules = collect(&world, &served, &mut Diagnostics::default());
        rules
            .by_host
            .keys()
            .map(|h| h.as_str().to_owned())
            .collect()
    }

    #[test]
    fn a_host_needs_a_parsed_path_but_not_a_working_backend() {
        let resource = json!({"resource": {"kind": "Bucket", "name": "b"}});
        let service = json!({"service": {"name": "missing", "port": {"number": 80}}});
        assert_eq!(
            hosts(json!([
                // Every path invalid: no table.
                {"host": "invalid.test", "http": {"paths": [path("Bogus", service.clone())]}},
                // A parsed path whose backend is refused: the table stays.
                {"host": "refused.test", "http": {"paths": [path("Prefix", resource.clone())]}},
                // No paths: no table.
                {"host": "empty.test", "http": {"paths": []}},
                // An earlier rule made the table; a later one with nothing valid
                // must not remove it.
                {"host": "shared.test", "http": {"paths": [path("Prefix", resource)]}},
                {"host": "shared.test", "http": {"paths": [path("Bogus", service)]}},
            ])),
            ["refused.test", "shared.test"]
        );
    }
}

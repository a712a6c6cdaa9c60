//! Reading one Ingress's rules and default backend into its contribution.
//!
//! Invalid parts (bad host, path or backend) are skipped with a diagnostic;
//! everything else of the Ingress is still read. Whether a path is served, and
//! which of two Ingresses gets an identical one, is the merge's decision
//! ([`crate::translate::model::merge`]).

use k8s_openapi::api::networking::v1::{HTTPIngressPath, IngressRule, IngressSpec};

use super::annotations::IngressAnnotations;
use super::apply;
use super::backend::outcome;
use super::path::{parse_path, parse_path_type};
use crate::translate::diagnostic::Diagnostics;
use crate::translate::model::{Contribution, Host, PathClaim, PathRule, RuleClaim, RuleScope};
use crate::translate::source::Lookups;
use crate::world::ObjectKey;

/// Reads the rules and default backend of `spec` (the Ingress `key`) into
/// `contribution`, applying its annotations `a`.
pub(super) fn read<'w>(
    key: &'w ObjectKey,
    spec: &'w IngressSpec,
    lookups: &mut Lookups<'w>,
    contribution: &mut Contribution,
    diagnostics: &mut Diagnostics,
    a: &IngressAnnotations,
) {
    let rules = spec.rules.as_deref().unwrap_or_default();
    if rules.is_empty() && spec.default_backend.is_none() {
        diagnostics.warning(key, "Ingress has no rules and no defaultBackend; no routes");
    }
    let tls_hosts: Vec<&str> = spec
        .tls
        .iter()
        .flatten()
        .flat_map(|t| t.hosts.iter().flatten())
        .map(String::as_str)
        .collect();
    for rule in rules {
        let Some(claim) = read_rule(key, rule, lookups, diagnostics, a, &tls_hosts) else {
            continue;
        };
        let twin = apply::www_twin(&claim, a);
        contribution.rules.push(claim);
        contribution.rules.extend(twin);
    }
    if let Some(default) = &spec.default_backend {
        let served = outcome(
            lookups,
            &key.namespace,
            default,
            &a.cluster,
            "defaultBackend",
            "it is skipped",
        );
        let everything = PathRule {
            path_type: crate::translate::model::PathType::Prefix,
            matcher: crate::translate::model::PathMatch::Prefix("/".to_owned()),
        };
        contribution.default_backend = Some(apply::outcome(served, &everything, false, a));
    }
}

/// The paths of one rule that parsed; `None` when none did (a host gets a
/// virtual host only from a rule with a parsed path).
fn read_rule<'w>(
    key: &'w ObjectKey,
    rule: &'w IngressRule,
    lookups: &mut Lookups<'w>,
    diagnostics: &mut Diagnostics,
    a: &IngressAnnotations,
    tls_hosts: &[&str],
) -> Option<RuleClaim> {
    let host = match rule.host.as_deref().filter(|h| !h.is_empty()) {
        None => None,
        Some(h) => match Host::parse(h) {
            Ok(host) => Some(host),
            Err(e) => {
                diagnostics.error(key, format!("{e}; its rule is skipped"));
                return None;
            }
        },
    };
    let http = rule.http.as_ref()?;
    let scope = RuleScope(host.as_ref());
    if http.paths.is_empty() {
        diagnostics.warning(key, format!("{scope}: http has no paths"));
    }
    let tls = host
        .as_ref()
        .is_some_and(|h| tls_hosts.contains(&h.as_str()));
    let mut paths = Vec::with_capacity(http.paths.len());
    for written in &http.paths {
        let Some(path) = read_path(key, scope, written, diagnostics, a.paths.regex) else {
            continue;
        };
        let outcome = outcome(
            lookups,
            &key.namespace,
            &written.backend,
            &a.cluster,
            format_args!("{scope}: path {path}"),
            "path skipped",
        );
        let outcome = apply::outcome(outcome, &path, tls, a);
        paths.push(PathClaim { path, outcome });
    }
    paths.extend(apply::app_root(a));
    if paths.is_empty() {
        return None;
    }
    Some(RuleClaim { host, paths })
}

fn read_path(
    key: &ObjectKey,
    scope: RuleScope<'_>,
    path: &HTTPIngressPath,
    diagnostics: &mut Diagnostics,
    nginx_regex: bool,
) -> Option<PathRule> {
    let written = path.path.as_deref();
    let path_type = match parse_path_type(&path.path_type) {
        Ok(Some(t)) => Some(t),
        Ok(None) => {
            diagnostics.warning(
                key,
                format!(
                    "{scope}: path {:?} has no pathType; treated as Prefix",
                    written.unwrap_or_default()
                ),
            );
            None
        }
        Err(e) => {
            diagnostics.error(key, format!("{scope}: {e}; path skipped"));
            return None;
        }
    };
    let parsed = match nginx_regex {
        true => super::annotations::paths::regex_rule(written, path_type),
        false => None,
    };
    match parsed.unwrap_or_else(|| parse_path(written, path_type)) {
        Ok(rule) => Some(rule),
        Err(e) => {
            diagnostics.error(key, format!("{scope}: {e}; path skipped"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::networking::v1::Ingress;
    use serde_json::json;

    use super::*;
    use crate::translate::model::merge_routes;
    use crate::world::{Object, World};

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

    /// The hosts the merge makes virtual hosts for.
    fn hosts(rules: serde_json::Value) -> Vec<String> {
        let mut world = World::new();
        world.upsert(Object::Ingress(ingress("ing", rules)));
        let mut lookups = Lookups::new(&world);
        let contributions: Vec<Contribution> = world
            .ingresses
            .iter()
            .map(|(key, ingress)| {
                super::super::read(key, ingress, &mut lookups, super::super::DEFAULT_PREFIX)
            })
            .collect();
        let merged = merge_routes(&contributions, &mut Diagnostics::default());
        merged
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

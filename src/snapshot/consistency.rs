//! Invariant 2: a snapshot may only be published when everything it references is
//! in it. The check lists every problem, not just the first, so an operator can fix
//! them in one go.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;

use super::resource::Resource;
use super::resource_type::{PerType, ResourceType};

/// One dangling reference or duplicate found in a snapshot.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Inconsistency {
    /// Two resources of one type share a name.
    DuplicateName { kind: ResourceType, name: String },
    /// A resource names a resource of `missing_kind` that the snapshot lacks.
    Dangling {
        kind: ResourceType,
        name: String,
        missing_kind: ResourceType,
        missing: String,
    },
    /// Two virtual hosts of one route table claim the same domain.
    DuplicateDomain { route: String, domain: String },
}

impl fmt::Display for Inconsistency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Inconsistency::DuplicateName { kind, name } => {
                write!(f, "{kind} resource {name:?} appears more than once")
            }
            Inconsistency::Dangling {
                kind,
                name,
                missing_kind,
                missing,
            } => write!(
                f,
                "{kind} resource {name:?} references {missing_kind} resource {missing:?}, which is missing"
            ),
            Inconsistency::DuplicateDomain { route, domain } => write!(
                f,
                "route table {route:?} has more than one virtual host for domain {domain:?}"
            ),
        }
    }
}

/// Why a snapshot could not be built: every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("inconsistent snapshot: {}", join(.problems))]
pub struct InconsistentSnapshot {
    /// Every problem, sorted.
    pub problems: Vec<Inconsistency>,
}

fn join(problems: &[Inconsistency]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Domains that appear in more than one virtual host of `route`.
pub(crate) fn duplicate_domains(route: &RouteConfiguration) -> Vec<Inconsistency> {
    let mut seen = BTreeSet::new();
    let mut duplicates = BTreeSet::new();
    for domain in route.virtual_hosts.iter().flat_map(|vh| &vh.domains) {
        if !seen.insert(domain.to_ascii_lowercase()) {
            duplicates.insert(domain.clone());
        }
    }
    duplicates
        .into_iter()
        .map(|domain| Inconsistency::DuplicateDomain {
            route: route.name.clone(),
            domain,
        })
        .collect()
}

/// Every reference in `resources` that does not resolve within `resources`;
/// with `only`, just the references of those names (an edit that added them to
/// an already consistent snapshot).
pub(crate) fn dangling(
    resources: &PerType<Arc<BTreeMap<String, Arc<Resource>>>>,
    only: Option<&PerType<BTreeSet<String>>>,
) -> Vec<Inconsistency> {
    let mut problems = Vec::new();
    for kind in ResourceType::ALL {
        let checked: Box<dyn Iterator<Item = (&String, &Arc<Resource>)>> = match only {
            Some(only) => Box::new(
                only[kind]
                    .iter()
                    .filter_map(|n| resources[kind].get_key_value(n)),
            ),
            None => Box::new(resources[kind].iter()),
        };
        for (name, resource) in checked {
            let refs = resource.references();
            let wanted = refs
                .clusters
                .iter()
                .map(|n| (ResourceType::Cluster, n.as_str()))
                .chain(
                    refs.routes
                        .iter()
                        .map(|n| (ResourceType::Route, n.as_str())),
                )
                .chain(
                    refs.secrets
                        .iter()
                        .map(|n| (ResourceType::Secret, n.as_str())),
                )
                .chain(
                    refs.endpoints
                        .iter()
                        .map(|n| (ResourceType::Endpoints, &**n)),
                );
            for (missing_kind, missing) in wanted {
                if !resources[missing_kind].contains_key(missing) {
                    problems.push(Inconsistency::Dangling {
                        kind,
                        name: name.clone(),
                        missing_kind,
                        missing: missing.to_owned(),
                    });
                }
            }
        }
    }
    problems
}

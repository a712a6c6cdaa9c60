//! Merging every contribution's routes into one conflict-free set.
//!
//! Inputs: the contributions of every served object, **oldest first** (for
//! Ingresses: `creationTimestamp`, then namespace/name; see
//! [`crate::translate::source::ingress`]). The result depends on nothing else, so
//! the same contributions in the same order always merge the same way.
//!
//! Rules:
//! - Paths are keyed by host (or "no host") and [`PathRule`] (type and match). On
//!   an identical key the oldest object simply got there first: the newer one is
//!   reported as a warning naming the winner (or, within one object, the second
//!   occurrence is reported as a duplicate).
//! - A claim whose target is refused ([`Outcome::Refused`]) takes nothing: its
//!   error is reported and the key stays free for a newer object.
//! - A host has a virtual host as soon as some rule for it has a parsed path, even
//!   when that path loses or is refused.
//! - The default backend: the oldest object with a usable one wins; later ones are
//!   reported.
//! - Canary objects claim nothing: once every other object is merged, each
//!   canary path attaches to the identical winning path ([`super::canary`]).
//!
//! The merged set borrows from the contributions: nothing is copied.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;

use super::canary::{Canary, CanaryWinner};
use super::contribution::{Contribution, Outcome, RuleClaim, RuleScope};
use super::host::Host;
use super::path::PathRule;
use super::route::Served;
use crate::translate::diagnostic::{Diagnostics, Severity};
use crate::world::ObjectRef;

/// A served path (or default backend) and the object it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Winner<'c> {
    /// How it is served.
    pub served: &'c Served,
    /// Whose it is.
    pub owner: &'c ObjectRef,
    /// A canary object's backends attached to this path.
    pub canary: Option<CanaryWinner<'c>>,
}

/// Every winning path of every contribution, conflicts resolved.
#[derive(Debug, Default)]
pub struct MergedRoutes<'c> {
    /// Paths of rules with a host, by host.
    pub by_host: BTreeMap<&'c Host, BTreeMap<&'c PathRule, Winner<'c>>>,
    /// Paths of rules without a host (they apply to every host).
    pub hostless: BTreeMap<&'c PathRule, Winner<'c>>,
    /// The winning default backend.
    pub default_backend: Option<Winner<'c>>,
}

// === impl MergedRoutes ===

impl<'c> MergedRoutes<'c> {
    /// Every winning path and the winning default backend.
    pub fn all(&self) -> impl Iterator<Item = &Winner<'c>> {
        self.by_host
            .values()
            .flat_map(BTreeMap::values)
            .chain(self.hostless.values())
            .chain(self.default_backend.as_ref())
    }

    /// The winner at `path` of `host` (`None`: the host-less paths).
    fn slot(&mut self, host: Option<&'c Host>, path: &PathRule) -> Option<&mut Winner<'c>> {
        match host {
            Some(host) => self.by_host.get_mut(host)?.get_mut(path),
            None => self.hostless.get_mut(path),
        }
    }
}

/// Merges the routes of `contributions`, given oldest first, reporting every
/// conflict and every winning claim's problem to `diagnostics`.
pub(crate) fn merge_routes<'c>(
    contributions: impl IntoIterator<Item = &'c Contribution>,
    diagnostics: &mut Diagnostics,
) -> MergedRoutes<'c> {
    let mut merged = MergedRoutes::default();
    let mut canaries = Vec::new();
    for contribution in contributions {
        let owner = &contribution.owner;
        if let Some(canary) = &contribution.canary {
            canaries.push((contribution, canary));
            continue;
        }
        for rule in &contribution.rules {
            merge_rule(&mut merged, owner, rule, diagnostics);
        }
        if let Some(default) = &contribution.default_backend {
            merge_default(&mut merged, owner, default, diagnostics);
        }
    }
    for (contribution, canary) in canaries {
        attach_canary(&mut merged, contribution, canary, diagnostics);
    }
    merged
}

/// Attaches the paths of the canary `contribution` to the identical winning paths.
fn attach_canary<'c>(
    merged: &mut MergedRoutes<'c>,
    contribution: &'c Contribution,
    canary: &'c Canary,
    diagnostics: &mut Diagnostics,
) {
    let owner = &contribution.owner;
    if contribution.default_backend.is_some() {
        let message = "defaultBackend of a canary Ingress is ignored".to_owned();
        report(diagnostics, owner, Severity::Warning, message);
    }
    for rule in &contribution.rules {
        let scope = RuleScope(rule.host.as_ref());
        for claim in &rule.paths {
            let path = &claim.path;
            let served = match &claim.outcome {
                Outcome::Serve(served) => served,
                Outcome::Refused(message) => {
                    report(diagnostics, owner, Severity::Error, message.clone());
                    continue;
                }
            };
            let message = match merged.slot(rule.host.as_ref(), path) {
                None => {
                    format!("{scope}: canary path {path} has no main Ingress serving it; ignored")
                }
                Some(main) => match main.canary {
                    Some(other) => format!(
                        "{scope}: path {path} already has canary {}; ignored here",
                        other.owner
                    ),
                    None => {
                        if let Some(problem) = &served.problem {
                            report(diagnostics, owner, Severity::Error, problem.clone());
                        }
                        main.canary = Some(CanaryWinner {
                            canary,
                            served,
                            owner,
                        });
                        continue;
                    }
                },
            };
            report(diagnostics, owner, Severity::Warning, message);
        }
    }
}

pub(crate) fn merge_rule<'c>(
    merged: &mut MergedRoutes<'c>,
    owner: &'c ObjectRef,
    rule: &'c RuleClaim,
    diagnostics: &mut Diagnostics,
) {
    if rule.paths.is_empty() {
        return;
    }
    let scope = RuleScope(rule.host.as_ref());
    let table = match &rule.host {
        Some(host) => merged.by_host.entry(host).or_default(),
        None => &mut merged.hostless,
    };
    for claim in &rule.paths {
        let path = &claim.path;
        match table.entry(path) {
            Entry::Occupied(existing) => {
                let winner = existing.get().owner;
                let message = if winner == owner {
                    format!("{scope}: path {path} appears twice; the first one is used")
                } else {
                    format!(
                        "{scope}: path {path} is already served by older {winner}; ignored here"
                    )
                };
                report(diagnostics, owner, Severity::Warning, message);
            }
            Entry::Vacant(slot) => match &claim.outcome {
                Outcome::Serve(served) => {
                    if let Some(problem) = &served.problem {
                        report(diagnostics, owner, Severity::Error, problem.clone());
                    }
                    slot.insert(Winner {
                        served,
                        owner,
                        canary: None,
                    });
                }
                Outcome::Refused(message) => {
                    report(diagnostics, owner, Severity::Error, message.clone());
                }
            },
        }
    }
}

pub(crate) fn merge_default<'c>(
    merged: &mut MergedRoutes<'c>,
    owner: &'c ObjectRef,
    default: &'c Outcome,
    diagnostics: &mut Diagnostics,
) {
    if let Some(winner) = &merged.default_backend {
        let message = format!(
            "defaultBackend ignored: older {} already sets one",
            winner.owner
        );
        report(diagnostics, owner, Severity::Warning, message);
        return;
    }
    match default {
        Outcome::Serve(served) => {
            if let Some(problem) = &served.problem {
                report(diagnostics, owner, Severity::Error, problem.clone());
            }
            merged.default_backend = Some(Winner {
                served,
                owner,
                canary: None,
            });
        }
        Outcome::Refused(message) => report(diagnostics, owner, Severity::Error, message.clone()),
    }
}

/// Reports `message` about `owner`.
pub(crate) fn report(
    diagnostics: &mut Diagnostics,
    owner: &ObjectRef,
    severity: Severity,
    message: String,
) {
    diagnostics.push(owner.kind, &owner.key, severity, message);
}

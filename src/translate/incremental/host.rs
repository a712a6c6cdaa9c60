//! One virtual host merged, rendered and encoded on its own.
//!
//! A host's virtual host depends only on the rules naming it (merged oldest
//! first) and on the rules without host and the default backend (the
//! "global" claims, appended to every host). Merging just those with the
//! model's own merge gives exactly the virtual host a full merge gives, and its
//! bytes are exactly what encoding it inside the route table gives, so route
//! tables can be spliced from them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use prost::Message;

use crate::translate::diagnostic::Diagnostics;
use crate::translate::model::merge::{merge_default, merge_rule};
use crate::translate::model::{
    self, Action, ClusterTarget, Contribution, Host, MergedRoutes, Winner,
};
use crate::translate::render;
use crate::translate::Diagnostic;
use crate::world::ObjectKey;

/// What one virtual host (or the catch-all) came to.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct HostUnit {
    /// The Envoy VirtualHost message, encoded.
    pub(super) encoded: Vec<u8>,
    /// Owners of the routes merged here, with the clusters they forward to.
    pub(super) winners: BTreeMap<ObjectKey, BTreeSet<Arc<ClusterTarget>>>,
    /// What this merge reported.
    pub(super) diagnostics: Vec<Diagnostic>,
}

/// The global claims (rules without host, default backend) merged, oldest first.
/// Their diagnostics belong to the catch-all's unit.
pub(super) fn merge_global<'c>(
    global: impl IntoIterator<Item = &'c Contribution>,
    diagnostics: &mut Diagnostics,
) -> MergedRoutes<'c> {
    let mut merged = MergedRoutes::default();
    for contribution in global {
        let owner = &contribution.owner;
        for rule in contribution.rules.iter().filter(|r| r.host.is_none()) {
            merge_rule(&mut merged, owner, rule, diagnostics);
        }
        if let Some(default) = &contribution.default_backend {
            merge_default(&mut merged, owner, default, diagnostics);
        }
    }
    merged
}

/// The catch-all virtual host, from the merged global claims.
pub(super) fn catch_all(global: &MergedRoutes<'_>, diagnostics: Vec<Diagnostic>) -> HostUnit {
    let mut winners = BTreeMap::new();
    for winner in global.hostless.values().chain(&global.default_backend) {
        add_winner(&mut winners, winner);
    }
    let hosts = model::virtual_hosts(global);
    HostUnit {
        encoded: encode(&hosts[hosts.len() - 1..]),
        winners,
        diagnostics,
    }
}

/// The virtual host of `host`, merged from the contributions naming it
/// (`claimers`, oldest first) and the merged `global` claims; `None` when no
/// rule of it has paths (a full merge gives it no virtual host either).
pub(super) fn host_unit<'c>(
    host: &'c Host,
    claimers: impl IntoIterator<Item = &'c Contribution>,
    global: &MergedRoutes<'c>,
) -> Option<HostUnit> {
    let mut diagnostics = Diagnostics::default();
    let mut merged = MergedRoutes {
        by_host: BTreeMap::new(),
        hostless: global.hostless.clone(),
        default_backend: global.default_backend,
    };
    for contribution in claimers {
        let owner = &contribution.owner;
        for rule in &contribution.rules {
            if rule.host.as_ref() == Some(host) {
                merge_rule(&mut merged, owner, rule, &mut diagnostics);
            }
        }
    }
    let own = merged.by_host.get(host)?;
    let mut winners = BTreeMap::new();
    for winner in own.values() {
        add_winner(&mut winners, winner);
    }
    let hosts = model::virtual_hosts(&merged);
    Some(HostUnit {
        encoded: encode(&hosts[..1]),
        winners,
        diagnostics: diagnostics.finish(),
    })
}

fn add_winner(
    winners: &mut BTreeMap<ObjectKey, BTreeSet<Arc<ClusterTarget>>>,
    winner: &Winner<'_>,
) {
    let clusters = winners.entry(winner.owner.key.clone()).or_default();
    if let Action::Forward(forward) = &winner.served.action {
        clusters.extend(forward.backends.iter().map(|b| Arc::clone(&b.cluster)));
    }
}

/// The one model virtual host in `hosts`, rendered and encoded. One encoding
/// serves both route tables: only plain contributions are translated here
/// ([`super::Translator::plain`]), and those render alike for either scheme.
fn encode(hosts: &[model::VirtualHost<'_>]) -> Vec<u8> {
    render::virtual_host::virtual_hosts(hosts, render::route::Scheme::Http)
        .first()
        .map(Message::encode_to_vec)
        .unwrap_or_default()
}

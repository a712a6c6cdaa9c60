//! Reading one Ingress's `spec.tls` into TLS claims.
//!
//! Every entry names a Secret in the Ingress's namespace. An entry without
//! `hosts` applies to the Ingress's own valid rule hosts (and is skipped with a
//! diagnostic when it has none). Hosts listed in `tls[]` get their SNI filter
//! chain even when no rule names them: routing comes from the route table, where
//! such a host falls to the catch-all. When an entry's Secret is unusable
//! ([`crate::translate::source::secret`]) its hosts get no HTTPS and a
//! diagnostic; HTTP is unaffected. Which Ingress gets a host that two of them
//! claim with different Secrets is the merge's decision
//! ([`crate::translate::model::tls`]).

use std::collections::BTreeSet;

use k8s_openapi::api::networking::v1::Ingress;

use crate::translate::diagnostic::Diagnostics;
use crate::translate::model::{Contribution, Host, TlsClaim};
use crate::translate::source::Lookups;
use crate::world::ObjectKey;

/// Reads the tls entries of `ingress` (stored under `key`) into `contribution`.
pub(super) fn read(
    key: &ObjectKey,
    ingress: &Ingress,
    lookups: &mut Lookups<'_>,
    contribution: &mut Contribution,
    diagnostics: &mut Diagnostics,
) {
    let entries = ingress.spec.iter().flat_map(|s| s.tls.iter().flatten());
    for entry in entries {
        let Some(name) = entry.secret_name.as_deref().filter(|n| !n.is_empty()) else {
            diagnostics.error(key, "tls entry has no secretName; its hosts get no HTTPS");
            continue;
        };
        let hosts = entry_hosts(key, ingress, entry.hosts.as_deref(), diagnostics);
        if hosts.is_empty() {
            continue;
        }
        let secret = ObjectKey::new(key.namespace.clone(), name);
        match lookups.certificate(&secret) {
            Ok(certificate) => contribution.tls.push(TlsClaim { certificate, hosts }),
            Err(e) => diagnostics.error(
                key,
                format!("{e}; HTTPS is not served for {}", list(&hosts)),
            ),
        }
    }
}

/// The valid hosts of one tls entry of Ingress `ingress` (stored under `key`).
fn entry_hosts(
    key: &ObjectKey,
    ingress: &Ingress,
    hosts: Option<&[String]>,
    diagnostics: &mut Diagnostics,
) -> BTreeSet<Host> {
    match hosts.filter(|h| !h.is_empty()) {
        Some(hosts) => hosts
            .iter()
            .filter_map(|h| match Host::parse(h) {
                Ok(host) => Some(host),
                Err(e) => {
                    diagnostics.error(key, format!("tls: {e}; it gets no HTTPS"));
                    None
                }
            })
            .collect(),
        None => {
            let own = rule_hosts(ingress);
            if own.is_empty() {
                diagnostics.error(
                    key,
                    "tls entry lists no hosts and the Ingress has no rule hosts; it is ignored",
                );
            }
            own
        }
    }
}

/// The Ingress's valid rule hosts: what a tls entry without `hosts` covers.
/// Invalid ones were already reported with their rule.
pub(super) fn rule_hosts(ingress: &Ingress) -> BTreeSet<Host> {
    ingress
        .spec
        .iter()
        .flat_map(|s| s.rules.iter().flatten())
        .filter_map(|rule| rule.host.as_deref().filter(|h| !h.is_empty()))
        .filter_map(|host| Host::parse(host).ok())
        .collect()
}

fn list(hosts: &BTreeSet<Host>) -> String {
    hosts
        .iter()
        .map(Host::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

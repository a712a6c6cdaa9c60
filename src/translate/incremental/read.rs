//! One served Ingress as the incremental translator keeps it: its
//! contribution, its place in the age order, and what it looked up.

use std::collections::BTreeSet;

use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::jiff::Timestamp;

use crate::translate::model::{Contribution, Host, Outcome};
use crate::translate::source::{ingress, Lookups};
use crate::translate::Diagnostic;
use crate::world::{ingress_refs, ObjectKey, ObjectRef};

/// The owned form of the merge order (`source::ingress`'s `Age`): oldest first
/// by `creationTimestamp`, timestamp-less last, then namespace/name. Field order
/// is the comparison order, as in `Age`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct AgeKey {
    missing_timestamp: bool,
    created: Option<Timestamp>,
    /// The Ingress.
    pub(super) key: ObjectKey,
}

// === impl AgeKey ===

impl AgeKey {
    /// The age of `ingress` stored under `key`.
    pub(super) fn of(key: &ObjectKey, ingress: &Ingress) -> Self {
        let created = ingress.metadata.creation_timestamp.as_ref().map(|t| t.0);
        AgeKey {
            missing_timestamp: created.is_none(),
            created,
            key: key.clone(),
        }
    }
}

/// A served Ingress read on its own, with the indexes the merge needs.
#[derive(Debug)]
pub(super) struct IngressRead {
    /// Where it sorts in the merge.
    pub(super) age: AgeKey,
    /// What it asks for (its own diagnostics moved to `diagnostics`).
    pub(super) contribution: Contribution,
    /// What reading it reported.
    pub(super) diagnostics: Vec<Diagnostic>,
    /// Objects it looked up (or names): a change to one re-reads it.
    pub(super) depends_on: Vec<ObjectRef>,
    /// Hosts its rules name.
    pub(super) hosts: BTreeSet<Host>,
    /// It has a rule without host or a default backend, which reach every
    /// virtual host.
    pub(super) global: bool,
    /// It claims TLS hosts.
    pub(super) tls: bool,
    /// What it asks for renders the same in every route table and merges
    /// host by host (see [`super::Translator::plain`]).
    pub(super) plain: bool,
}

// === impl IngressRead ===

impl IngressRead {
    /// Reads `ingress`, stored under `key`, through `lookups` (recording),
    /// with its annotations under `prefix`.
    pub(super) fn read<'w>(
        key: &'w ObjectKey,
        ingress: &'w Ingress,
        lookups: &mut Lookups<'w>,
        prefix: &str,
    ) -> IngressRead {
        lookups.take_visited();
        let mut contribution = ingress::read(key, ingress, lookups, prefix);
        let mut depends_on = lookups.take_visited();
        // What the Ingress names, too, in case a reader looks something up
        // without going through `Lookups`.
        depends_on.extend(ingress_refs(ingress));
        depends_on.sort();
        depends_on.dedup();
        let diagnostics = std::mem::take(&mut contribution.diagnostics);
        let hosts = contribution
            .rules
            .iter()
            .filter_map(|r| r.host.clone())
            .collect();
        let global = contribution.default_backend.is_some()
            || contribution.rules.iter().any(|r| r.host.is_none());
        let tls = !contribution.tls.is_empty();
        let plain = is_plain(&contribution);
        IngressRead {
            age: AgeKey::of(key, ingress),
            contribution,
            diagnostics,
            depends_on,
            hosts,
            global,
            tls,
            plain,
        }
    }
}

/// No canary, no route redirecting plain HTTP to HTTPS (the one policy
/// rendered differently per route table), no route whose policy adds
/// clusters or virtual hosts of its own (an external auth service, a default
/// backend's aggregates, custom error pages), which only the full translation
/// renders, no TLS passthrough and no client certificates (both reshape the
/// https listener across Ingresses).
fn is_plain(contribution: &Contribution) -> bool {
    let not_plain = |outcome: &Outcome| match outcome {
        Outcome::Serve(served) => {
            served.policy.https_redirect.is_some()
                || served.policy.external_auth.is_some()
                || served.policy.default_backend.is_some()
                || served.policy.custom_errors.is_some()
        }
        Outcome::Refused(_) => false,
    };
    contribution.canary.is_none()
        && contribution.passthrough.is_empty()
        && contribution.client_auth.is_empty()
        && !contribution
            .rules
            .iter()
            .flat_map(|rule| &rule.paths)
            .map(|claim| &claim.outcome)
            .chain(&contribution.default_backend)
            .any(not_plain)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::translate::model::{
        CaBundle, ClientAuth, ClientAuthClaim, ClientVerify, ClusterTarget, PassthroughClaim,
    };
    use crate::world::Kind;

    fn host(name: &str) -> Host {
        Host::parse(name).unwrap_or_else(|e| panic!("bad fixture host: {e}"))
    }

    #[test]
    fn passthrough_and_client_certificates_go_through_the_full_translation() {
        let empty = Contribution::new(ObjectRef {
            kind: Kind::Ingress,
            key: ObjectKey::new("ns", "i"),
        });
        assert!(is_plain(&empty));
        let mut passing = empty.clone();
        passing.passthrough.push(PassthroughClaim {
            host: host("a.test"),
            cluster: Arc::new(ClusterTarget::new(ObjectKey::new("ns", "s"), 443, None)),
        });
        assert!(!is_plain(&passing));
        let mut asking = empty;
        asking.client_auth.push(ClientAuthClaim {
            auth: Arc::new(ClientAuth {
                ca: Arc::new(CaBundle {
                    name: "ca:ns/ca".to_owned(),
                    certificates: Vec::new(),
                }),
                verify: ClientVerify::On,
                depth: 1,
                error_page: None,
            }),
            hosts: [host("a.test")].into(),
        });
        assert!(!is_plain(&asking));
    }
}

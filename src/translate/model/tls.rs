//! TLS: which certificate serves which SNI host.
//!
//! Inputs: the contributions' [`TlsClaim`]s, **oldest object first**, each
//! object's claims in the order written. A host gets the certificate of the first
//! claim naming it; a later claim giving the same host another certificate is
//! reported and ignored for that host (Envoy refuses a listener whose filter
//! chains repeat a server name). Claiming it again with the same certificate is
//! no conflict. Only usable certificates are claimed: a source reports an
//! unusable one itself and claims nothing for it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use super::contribution::Contribution;
use super::host::Host;
use super::merge::report;
use super::passthrough::MergedPassthrough;
use crate::translate::diagnostic::{Diagnostics, Severity};
use crate::world::ObjectRef;

/// A validated certificate chain and its private key. `Debug` shows the name
/// only: key material must never reach a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Certificate {
    /// Its stable name, also its SDS resource name: `<namespace>/<name>` of the
    /// Secret it came from (invariant 10).
    pub name: String,
    /// PEM certificate chain, leaf first.
    pub certificate_chain: Vec<u8>,
    /// PEM private key of the leaf.
    pub private_key: Vec<u8>,
}

/// Hosts one object asks to serve with one certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsClaim {
    /// The certificate, shared by every claim naming it.
    pub certificate: Arc<Certificate>,
    /// The SNI hosts.
    pub hosts: BTreeSet<Host>,
}

/// The hosts one certificate serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsServer<'c> {
    /// The certificate.
    pub certificate: &'c Certificate,
    /// Its SNI hosts; no host is in two servers.
    pub hosts: BTreeSet<&'c Host>,
}

/// Every TLS claim merged: one server per certificate some host uses.
#[derive(Debug, Default)]
pub struct MergedTls<'c> {
    /// Servers by certificate name.
    pub servers: BTreeMap<&'c str, TlsServer<'c>>,
    /// The certificates each object serves at least one host with.
    pub by_owner: BTreeMap<&'c ObjectRef, BTreeSet<&'c str>>,
}

// === impl Certificate ===

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Merges the TLS claims of `contributions`, given oldest first.
pub(crate) fn merge_tls<'c>(
    contributions: impl IntoIterator<Item = &'c Contribution>,
    diagnostics: &mut Diagnostics,
) -> MergedTls<'c> {
    merge_tls_except(contributions, &MergedPassthrough::default(), diagnostics)
}

/// [`merge_tls`], leaving out the hosts `passthrough` passes through
/// unterminated: a certificate claimed for one is reported and not served for
/// it.
pub(crate) fn merge_tls_except<'c>(
    contributions: impl IntoIterator<Item = &'c Contribution>,
    passthrough: &MergedPassthrough<'_>,
    diagnostics: &mut Diagnostics,
) -> MergedTls<'c> {
    // host → (certificate name, owner) of the first claim.
    let mut owners: BTreeMap<&'c Host, (&'c str, &'c ObjectRef)> = BTreeMap::new();
    let mut merged = MergedTls::default();
    for contribution in contributions {
        let owner = &contribution.owner;
        for claim in &contribution.tls {
            let certificate: &'c Certificate = &claim.certificate;
            let name = certificate.name.as_str();
            for host in &claim.hosts {
                if let Some(passing) = passthrough.by_host.get(host) {
                    let message = format!(
                        "TLS host {host} is passed through unterminated by {} (ssl-passthrough); Secret {name} is not served for it",
                        passing.owner
                    );
                    report(diagnostics, owner, Severity::Warning, message);
                    continue;
                }
                match owners.get(host) {
                    Some((winner_name, winner)) if *winner_name != name => {
                        let message = format!(
                            "TLS host {host} already uses Secret {winner_name} from older {winner}; Secret {name} is ignored for it"
                        );
                        report(diagnostics, owner, Severity::Warning, message);
                        continue;
                    }
                    Some(_) => {}
                    None => {
                        owners.insert(host, (name, owner));
                    }
                }
                merged
                    .servers
                    .entry(name)
                    .or_insert_with(|| TlsServer {
                        certificate,
                        hosts: BTreeSet::new(),
                    })
                    .hosts
                    .insert(host);
                merged.by_owner.entry(owner).or_default().insert(name);
            }
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::diagnostic::Diagnostic;
    use crate::translate::model::tests::{host, owner};
    use crate::world::ObjectKey;

    fn messages(diagnostics: &[Diagnostic]) -> Vec<String> {
        diagnostics.iter().map(ToString::to_string).collect()
    }

    fn certificate(name: &str) -> Arc<Certificate> {
        Arc::new(Certificate {
            name: format!("ns/{name}"),
            certificate_chain: b"chain".to_vec(),
            private_key: b"key".to_vec(),
        })
    }

    fn tls(name: &str, claims: Vec<(&Arc<Certificate>, &[&str])>) -> Contribution {
        Contribution {
            tls: claims
                .into_iter()
                .map(|(certificate, hosts)| TlsClaim {
                    certificate: Arc::clone(certificate),
                    hosts: hosts.iter().map(|h| host(h)).collect(),
                })
                .collect(),
            ..Contribution::new(owner(name))
        }
    }

    #[test]
    fn the_oldest_certificate_wins_a_host_and_sharing_one_is_no_conflict() {
        let (one, two) = (certificate("one"), certificate("two"));
        let contributions = [
            tls("old", vec![(&one, &["a.test", "b.test"])]),
            tls(
                "new",
                vec![(&two, &["b.test", "c.test"]), (&one, &["a.test"])],
            ),
        ];
        let mut diagnostics = Diagnostics::default();
        let merged = merge_tls(&contributions, &mut diagnostics);
        let servers: Vec<(&str, Vec<&str>)> = merged
            .servers
            .iter()
            .map(|(name, s)| (*name, s.hosts.iter().map(|h| h.as_str()).collect()))
            .collect();
        assert_eq!(
            servers,
            [
                ("ns/one", vec!["a.test", "b.test"]),
                ("ns/two", vec!["c.test"])
            ]
        );
        let by_owner: Vec<(&str, BTreeSet<&str>)> = merged
            .by_owner
            .iter()
            .map(|(owner, names)| (owner.key.name.as_str(), names.clone()))
            .collect();
        assert_eq!(
            by_owner,
            [
                ("new", BTreeSet::from(["ns/one", "ns/two"])),
                ("old", BTreeSet::from(["ns/one"]))
            ]
        );
        assert_eq!(
            messages(&diagnostics.finish()),
            ["Ingress ns/new: TLS host b.test already uses Secret ns/one from older Ingress ns/old; Secret ns/two is ignored for it"]
        );
    }

    #[test]
    fn a_passed_through_host_gets_no_certificate_and_the_claim_is_reported() {
        use crate::translate::model::{ClusterTarget, PassthroughClaim};
        let one = certificate("one");
        let passing = Contribution {
            passthrough: vec![PassthroughClaim {
                host: host("pass.test"),
                cluster: Arc::new(ClusterTarget::new(ObjectKey::new("ns", "tls"), 443, None)),
            }],
            ..Contribution::new(owner("passing"))
        };
        let contributions = [
            tls("terminating", vec![(&one, &["pass.test", "other.test"])]),
            passing,
        ];
        let mut diagnostics = Diagnostics::default();
        let passthrough = super::super::merge_passthrough(&contributions, &mut diagnostics);
        let merged = merge_tls_except(&contributions, &passthrough, &mut diagnostics);
        let servers: Vec<(&str, Vec<&str>)> = merged
            .servers
            .iter()
            .map(|(name, s)| (*name, s.hosts.iter().map(|h| h.as_str()).collect()))
            .collect();
        assert_eq!(servers, [("ns/one", vec!["other.test"])]);
        assert_eq!(
            messages(&diagnostics.finish()),
            ["Ingress ns/terminating: TLS host pass.test is passed through unterminated by Ingress ns/passing (ssl-passthrough); Secret ns/one is not served for it"]
        );
    }

    #[test]
    fn a_certificates_debug_form_has_no_key_material() {
        let shown = format!("{:?}", certificate("one"));
        assert!(shown.contains("ns/one"), "{shown}");
        assert!(
            !shown.contains("key") && !shown.contains("chain"),
            "{shown}"
        );
    }
}

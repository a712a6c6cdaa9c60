//! Client certificates (ingress-nginx's `auth-tls-*`): which SNI hosts ask
//! their TLS clients for a certificate, checked against which CA.
//!
//! Client certificates are asked for during the handshake, before any request:
//! the setting belongs to a host, not to a route. Inputs: the contributions'
//! [`ClientAuthClaim`]s, **oldest object first**. A host gets the setting of
//! the first claim naming it, as ingress-nginx configures a server's mutual
//! authentication from the first Ingress that asks; a newer object asking for a
//! different one is reported and ignored for that host.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use super::contribution::Contribution;
use super::host::Host;
use super::merge::report;
use super::route::Redirect;
use crate::translate::diagnostic::{Diagnostics, Severity};
use crate::world::ObjectRef;

/// Trusted CA certificates. `Debug` shows the name only.
#[derive(Clone, PartialEq, Eq)]
pub struct CaBundle {
    /// Its stable name, also its SDS resource name:
    /// `ca:<namespace>/<name>` of the Secret it came from (a Secret can hold a
    /// certificate and a CA, which are two SDS resources).
    pub name: String,
    /// PEM CA certificates.
    pub certificates: Vec<u8>,
}

/// How a client certificate is asked for (`auth-tls-verify-client`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ClientVerify {
    /// Required and verified against the CA.
    On,
    /// Verified against the CA when presented; connections without one pass.
    Optional,
    /// Asked for but not verified: the upstream decides.
    OptionalNoCa,
}

/// One host's client-certificate setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientAuth {
    /// The trusted CAs.
    pub ca: Arc<CaBundle>,
    /// How the certificate is asked for.
    pub verify: ClientVerify,
    /// The longest chain accepted, not counting the leaf
    /// (`auth-tls-verify-depth`, default 1).
    pub depth: u32,
    /// Where a refused client is redirected instead of getting 400
    /// (`auth-tls-error-page`).
    pub error_page: Option<Redirect>,
}

/// The hosts one object asks to serve with one client-certificate setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientAuthClaim {
    /// The setting, shared by every host of the object.
    pub auth: Arc<ClientAuth>,
    /// The SNI hosts (the object's rule hosts).
    pub hosts: BTreeSet<Host>,
}

/// Every host's client-certificate setting, conflicts resolved.
#[derive(Debug, Default)]
pub struct MergedClientAuth<'c> {
    /// The winning setting of each host, and whose it is.
    pub by_host: BTreeMap<&'c Host, (&'c ClientAuth, &'c ObjectRef)>,
}

// === impl CaBundle ===

impl fmt::Debug for CaBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaBundle")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Merges the client-certificate claims of `contributions`, given oldest first.
pub(crate) fn merge_client_auth<'c>(
    contributions: impl IntoIterator<Item = &'c Contribution>,
    diagnostics: &mut Diagnostics,
) -> MergedClientAuth<'c> {
    let mut merged = MergedClientAuth::default();
    for contribution in contributions {
        let owner = &contribution.owner;
        for claim in &contribution.client_auth {
            for host in &claim.hosts {
                match merged.by_host.get(host) {
                    Some((auth, winner)) if *auth != claim.auth.as_ref() => {
                        let message = format!(
                            "auth-tls: host {host} already has the client-certificate setting of older {winner}; ignored for it"
                        );
                        report(diagnostics, owner, Severity::Warning, message);
                    }
                    Some(_) => {}
                    None => {
                        merged.by_host.insert(host, (claim.auth.as_ref(), owner));
                    }
                }
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

    fn auth(ca: &str, verify: ClientVerify) -> Arc<ClientAuth> {
        Arc::new(ClientAuth {
            ca: Arc::new(CaBundle {
                name: format!("ca:ns/{ca}"),
                certificates: b"pem".to_vec(),
            }),
            verify,
            depth: 1,
            error_page: None,
        })
    }

    fn asking(name: &str, auth: &Arc<ClientAuth>, hosts: &[&str]) -> Contribution {
        Contribution {
            client_auth: vec![ClientAuthClaim {
                auth: Arc::clone(auth),
                hosts: hosts.iter().map(|h| host(h)).collect(),
            }],
            ..Contribution::new(owner(name))
        }
    }

    fn messages(diagnostics: &[Diagnostic]) -> Vec<String> {
        diagnostics.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_oldest_setting_wins_a_host_and_an_identical_one_is_no_conflict() {
        let strict = auth("ca", ClientVerify::On);
        let same = auth("ca", ClientVerify::On);
        let lax = auth("other", ClientVerify::Optional);
        let contributions = [
            asking("old", &strict, &["a.test"]),
            asking("same", &same, &["a.test"]),
            asking("new", &lax, &["a.test", "b.test"]),
        ];
        let mut diagnostics = Diagnostics::default();
        let merged = merge_client_auth(&contributions, &mut diagnostics);
        let hosts: Vec<(&str, &str, ClientVerify, &str)> = merged
            .by_host
            .iter()
            .map(|(h, (a, o))| {
                (
                    h.as_str(),
                    a.ca.name.as_str(),
                    a.verify,
                    o.key.name.as_str(),
                )
            })
            .collect();
        assert_eq!(
            hosts,
            [
                ("a.test", "ca:ns/ca", ClientVerify::On, "old"),
                ("b.test", "ca:ns/other", ClientVerify::Optional, "new"),
            ]
        );
        assert_eq!(
            messages(&diagnostics.finish()),
            ["Ingress ns/new: auth-tls: host a.test already has the client-certificate setting of older Ingress ns/old; ignored for it"]
        );
    }

    #[test]
    fn a_ca_bundles_debug_form_has_no_certificates() {
        let shown = format!("{:?}", auth("ca", ClientVerify::On).ca);
        assert!(
            shown.contains("ca:ns/ca") && !shown.contains("pem"),
            "{shown}"
        );
    }
}

//! TLS passthrough: SNI hosts whose TLS connections go, unterminated, to one
//! backend (ingress-nginx's `ssl-passthrough`).
//!
//! Inputs: the contributions' [`PassthroughClaim`]s, **oldest object first**. A
//! host is passed through to the backend of the first claim naming it; a newer
//! claim for the same host is reported and ignored. A passed-through host is
//! never also terminated: a certificate claimed for it (by any object,
//! including the passing one) is reported and left out for that host
//! ([`super::tls::merge_tls_except`]), since Envoy refuses two filter chains
//! matching one server name, and ingress-nginx's TCP proxy takes such a host
//! before its TLS terminator sees it.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::backend::ClusterTarget;
use super::contribution::Contribution;
use super::host::Host;
use super::merge::report;
use crate::translate::diagnostic::{Diagnostics, Severity};
use crate::world::ObjectRef;

/// One host an object asks to pass through, and where to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PassthroughClaim {
    /// The SNI host.
    pub host: Host,
    /// The backend the TLS stream goes to (the host's `/` path).
    pub cluster: Arc<ClusterTarget>,
}

/// The passthrough that won a host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PassthroughWinner<'c> {
    /// Where its connections go.
    pub cluster: &'c Arc<ClusterTarget>,
    /// Whose it is.
    pub owner: &'c ObjectRef,
}

/// Every passthrough claim merged: at most one per host.
#[derive(Debug, Default)]
pub struct MergedPassthrough<'c> {
    /// The winner of each passed-through host.
    pub by_host: BTreeMap<&'c Host, PassthroughWinner<'c>>,
}

/// Merges the passthrough claims of `contributions`, given oldest first.
pub(crate) fn merge_passthrough<'c>(
    contributions: impl IntoIterator<Item = &'c Contribution>,
    diagnostics: &mut Diagnostics,
) -> MergedPassthrough<'c> {
    let mut merged = MergedPassthrough::default();
    for contribution in contributions {
        let owner = &contribution.owner;
        for claim in &contribution.passthrough {
            match merged.by_host.get(&claim.host) {
                Some(winner) if winner.owner != owner => {
                    let message = format!(
                        "ssl-passthrough: host {} is already passed through by older {}; ignored",
                        claim.host, winner.owner
                    );
                    report(diagnostics, owner, Severity::Warning, message);
                }
                Some(_) => {}
                None => {
                    merged.by_host.insert(
                        &claim.host,
                        PassthroughWinner {
                            cluster: &claim.cluster,
                            owner,
                        },
                    );
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
    use crate::world::ObjectKey;

    fn passing(name: &str, hosts: &[(&str, &str)]) -> Contribution {
        Contribution {
            passthrough: hosts
                .iter()
                .map(|(h, service)| PassthroughClaim {
                    host: host(h),
                    cluster: Arc::new(ClusterTarget::new(
                        ObjectKey::new("ns", *service),
                        443,
                        None,
                    )),
                })
                .collect(),
            ..Contribution::new(owner(name))
        }
    }

    fn messages(diagnostics: &[Diagnostic]) -> Vec<String> {
        diagnostics.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_oldest_passthrough_wins_a_host_and_a_newer_one_is_reported() {
        let contributions = [
            passing("old", &[("a.test", "one")]),
            passing("new", &[("a.test", "two"), ("b.test", "two")]),
        ];
        let mut diagnostics = Diagnostics::default();
        let merged = merge_passthrough(&contributions, &mut diagnostics);
        let hosts: Vec<(&str, &str, &str)> = merged
            .by_host
            .iter()
            .map(|(h, w)| {
                (
                    h.as_str(),
                    w.cluster.name.as_str(),
                    w.owner.key.name.as_str(),
                )
            })
            .collect();
        assert_eq!(
            hosts,
            [
                ("a.test", "ns/one:443", "old"),
                ("b.test", "ns/two:443", "new")
            ]
        );
        assert_eq!(
            messages(&diagnostics.finish()),
            ["Ingress ns/new: ssl-passthrough: host a.test is already passed through by older Ingress ns/old; ignored"]
        );
    }
}

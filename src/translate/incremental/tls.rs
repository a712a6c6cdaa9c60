//! TLS merged again from the Ingresses that claim TLS hosts, whenever one of
//! them changes: usually a small set, and the HTTPS listener holds every
//! certificate's filter chain anyway.

use std::collections::{BTreeMap, BTreeSet};

use envoy_types::pb::envoy::config::listener::v3::Listener;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::Secret;

use crate::translate::diagnostic::Diagnostics;
use crate::translate::model::{merge_tls, Contribution, MergedClientAuth, MergedPassthrough};
use crate::translate::render::{self, listener};
use crate::translate::{Diagnostic, TranslateConfig};
use crate::world::ObjectKey;

/// What the TLS claims came to.
#[derive(Debug, Default, PartialEq)]
pub(super) struct TlsUnit {
    /// The HTTPS listener; `None` when no TLS host is servable.
    pub(super) listener: Option<Listener>,
    /// The SDS secrets, by name.
    pub(super) secrets: BTreeMap<String, Secret>,
    /// The secrets serving each Ingress's TLS hosts.
    pub(super) by_owner: BTreeMap<ObjectKey, BTreeSet<String>>,
    /// What the merge reported.
    pub(super) diagnostics: Vec<Diagnostic>,
}

/// Merges the TLS claims of `claimers` (oldest first) and renders them.
/// Passthrough and client certificates are left out: worlds with them are not
/// plain ([`super::Translator::plain`]) and go through the full translation.
pub(super) fn tls_unit<'c>(
    config: &TranslateConfig,
    claimers: impl IntoIterator<Item = &'c Contribution>,
) -> TlsUnit {
    let mut diagnostics = Diagnostics::default();
    let merged = merge_tls(claimers, &mut diagnostics);
    TlsUnit {
        listener: listener::https_listener(
            config,
            &merged.servers,
            &MergedPassthrough::default(),
            &MergedClientAuth::default(),
        ),
        secrets: merged
            .servers
            .iter()
            .map(|(name, server)| ((*name).to_owned(), render::tls::secret(server.certificate)))
            .collect(),
        by_owner: merged
            .by_owner
            .iter()
            .map(|(owner, names)| {
                let names = names.iter().map(|n| (*n).to_owned()).collect();
                (owner.key.clone(), names)
            })
            .collect(),
        diagnostics: diagnostics.finish(),
    }
}

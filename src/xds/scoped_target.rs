//! The snapshot one stream converges to: the published one, or for a gateway
//! limited to some namespaces' Secrets, the published one cut down to them
//! (computed once per publish). Verdicts name the published version either way,
//! so NACK containment sees one history.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

use tracing::error;

use crate::snapshot::Snapshot;

use super::tls::in_scope;

/// Cut-down versions remembered, to map a late NACK back to what was published.
const REMEMBERED: usize = 16;

/// A stream's view of the store.
pub(crate) struct ScopedTarget {
    /// The namespaces whose Secrets this gateway may hold; `None`: all.
    scope: Option<Arc<BTreeSet<String>>>,
    /// The last published snapshot and what this stream converges to for it.
    last: Option<(Arc<Snapshot>, Arc<Snapshot>)>,
    /// (cut-down version, published version), newest last.
    published_of: VecDeque<(String, String)>,
}

impl ScopedTarget {
    /// A view limited to `scope`'s namespaces, or of everything.
    pub(crate) fn new(scope: Option<Arc<BTreeSet<String>>>) -> Self {
        ScopedTarget {
            scope,
            last: None,
            published_of: VecDeque::new(),
        }
    }

    /// What to converge to for `published`; `None` (logged) when it cannot be
    /// cut down consistently, so nothing of it is sent.
    pub(crate) fn target(&mut self, published: Arc<Snapshot>) -> Option<Arc<Snapshot>> {
        let Some(scope) = &self.scope else {
            return Some(published);
        };
        if let Some((from, to)) = &self.last {
            if Arc::ptr_eq(from, &published) {
                return Some(Arc::clone(to));
            }
        }
        let cut = match published.with_secrets_only(|name| in_scope(scope, name)) {
            None => Arc::clone(&published),
            Some(Ok(cut)) => Arc::new(cut.share_with(&published)),
            Some(Err(e)) => {
                error!(error = %e, "cannot cut the snapshot down to this gateway's Secrets; sending it nothing new");
                return None;
            }
        };
        if self.published_of.len() >= REMEMBERED {
            self.published_of.pop_front();
        }
        self.published_of
            .push_back((cut.version().to_owned(), published.version().to_owned()));
        self.last = Some((published, Arc::clone(&cut)));
        Some(cut)
    }

    /// The published version that the converged-to version `version` stands for.
    pub(crate) fn published_version(&self, version: &str) -> String {
        self.published_of
            .iter()
            .rev()
            .find(|(cut, _)| cut == version)
            .map_or_else(|| version.to_owned(), |(_, published)| published.clone())
    }
}

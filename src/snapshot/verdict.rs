//! What connected Envoys made of published snapshots. Streams report verdicts to
//! the store and the pipeline reads them back, so a snapshot Envoy rejects can be
//! contained (invariant 6) without the pipeline knowing anything about xDS.

use tokio::sync::mpsc;

use super::resource_type::ResourceType;

/// How many verdicts may wait for the pipeline; beyond that new ones are dropped
/// (the pipeline then decides on a timeout instead).
pub(crate) const VERDICT_BUFFER: usize = 65_536;

/// One Envoy's word on a snapshot, by node id and snapshot version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A stream of `node` opened: its verdicts count from now on.
    Connected {
        /// The node id.
        node: String,
    },
    /// A stream of `node` ended.
    Disconnected {
        /// The node id.
        node: String,
    },
    /// `node` holds everything of `snapshot`: it accepted it.
    InSync {
        /// The node id.
        node: String,
        /// The snapshot's version.
        snapshot: String,
    },
    /// `node` rejected (NACKed) a response cut from `snapshot`.
    Rejected {
        /// The node id.
        node: String,
        /// The version of the snapshot the response was cut from.
        snapshot: String,
        /// The type of the rejected response.
        kind: ResourceType,
        /// Envoy's `error_detail.message`, verbatim.
        error: String,
    },
}

/// The receiving end, taken once by the pipeline.
pub type VerdictReceiver = mpsc::Receiver<Verdict>;

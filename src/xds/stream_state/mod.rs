//! The per-stream make-before-break state machine (invariants 1, 3, 5, 6).
//!
//! Pure and synchronous: requests go in, planned responses come out, so the
//! ordering rules are unit-tested against scripted clients without any I/O.
//!
//! The rules, per stream:
//! - CDS carries the target clusters plus any old cluster that a listener or route
//!   Envoy holds (or is being sent) still names, so removals wait for RDS.
//! - EDS is answered only while no CDS response is in flight; a cluster that CDS
//!   (re)sent is owed its ClusterLoadAssignment even when the CLA is unchanged.
//! - LDS waits until every target cluster is ACKed and warm (its CLA ACKed).
//! - RDS waits until LDS is settled, and a route table goes out only once every
//!   cluster it names is warm; until then Envoy keeps the table it has.
//! - One response per type in flight; the next plan uses the newest snapshot, so
//!   intermediate snapshots are skipped (latest wins).
//! - A NACKed view is never sent again; only a different view is.
//!
//! One file per concept, each adding an `impl StreamState` block:
//! - `request`: SotW and delta requests (subscriptions, stale nonces, releases);
//! - `answer`: what the ACK or NACK of the response in flight changes;
//! - `plan`: the next response per type, and what it carries;
//! - `view`: the part of a snapshot a stream subscribed to, memoised;
//! - `warmth`: which clusters are warm, and which CLAs they are owed;
//! - `route_gate`: when listeners and route tables may move, and which old
//!   clusters stay until nothing Envoy holds names them;
//! - `resume`: what an Envoy holds after a reconnect;
//! - `in_sync`: whether an Envoy holds the complete config of a snapshot;
//! - `view_diff`: comparing and versioning views.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use foldhash::fast::RandomState;

use crate::snapshot::{Name, PerType, Resource, ResourceMap, ResourceType};

use super::subscription::Subscription;
use nacked::NackedVersions;

mod answer;
mod in_sync;
mod known_rejection;
mod nacked;
mod plan;
mod request;
mod resume;
mod route_gate;
mod view;
mod view_diff;
mod warmth;

#[cfg(test)]
mod test_support;

/// The two ADS flavours; they share every ordering rule and differ in what a
/// response carries.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// State of the world: a response carries the whole view of its type.
    Sotw,
    /// Incremental: a response carries changed resources and removed names.
    Delta,
}

/// A response the stream must send now.
#[derive(Clone, Debug)]
pub struct Planned {
    /// The resource type.
    pub kind: ResourceType,
    /// Unique within the stream.
    pub nonce: String,
    /// Content hash of the full view Envoy holds once it accepts this.
    pub version: String,
    /// SotW: the whole view; delta: only what changed.
    pub resources: Vec<Arc<Resource>>,
    /// Delta only: names Envoy must drop (or that do not exist).
    pub removed: Vec<String>,
    /// Set when `resources` are every resource of this snapshot map, in order:
    /// every stream sending it can then share one encoding of the whole set.
    pub whole: Option<Arc<ResourceMap>>,
}

/// What a request meant, for the ack tracker.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// Envoy accepted the in-flight response.
    Ack {
        kind: ResourceType,
        version: String,
        acked: Arc<ResourceMap>,
        /// `acked` is exactly the view `version` hashes (not cut down to a
        /// subscription that shrank meanwhile): nodes with the same `version`
        /// then hold the same resources.
        whole_view: bool,
        /// Version of the snapshot the response was planned towards.
        snapshot: String,
    },
    /// Envoy rejected the in-flight response; that version is never re-sent.
    Nack {
        kind: ResourceType,
        version: String,
        error: String,
        /// Version of the snapshot the response was planned towards.
        snapshot: String,
    },
    /// A subscription change or initial request.
    Subscribed,
    /// Envoy unsubscribed from resources it held: it holds only `acked` now.
    Released {
        kind: ResourceType,
        acked: Arc<ResourceMap>,
    },
    /// A request carrying an old nonce: ignored, the next ACK repeats its content.
    Stale,
    /// After a reconnect, Envoy holds `acked` (claimed, and matching the
    /// snapshot) without being sent anything: as good as an ACK, minus latency.
    Resumed {
        kind: ResourceType,
        version: String,
        acked: Arc<ResourceMap>,
    },
}

/// A response Envoy has not answered yet.
#[derive(Clone, Debug)]
struct InFlight {
    nonce: String,
    version: String,
    view: Arc<ResourceMap>,
    /// Version of the snapshot this was planned towards (the `target` of `plan`).
    snapshot: String,
    /// EDS only: clusters Envoy held when this was sent, warm once it is ACKed.
    warms: Vec<Name>,
    /// EDS only: the ACKed cluster map `warms` was drawn from; while Envoy
    /// still holds that map, every one of them is still held.
    warms_of: Option<Arc<ResourceMap>>,
    /// EDS only: clusters of the processed-but-unACKed CDS response `warming_cds`
    /// this answered; warm once both are ACKed (or while that CDS is in flight).
    warming: Vec<Name>,
    warming_cds: Option<String>,
    /// Subscription generation the view was cut for.
    generation: u64,
    /// CDS only: the EDS subscription's generation when this went out. Once it
    /// moves, Envoy has processed this response (only CDS changes what EDS it
    /// asks for) and may be holding the CDS ACK until the new clusters warm.
    eds_generation: u64,
    /// Delta: names this response removed.
    removed: Vec<String>,
}

#[derive(Clone, Debug, Default)]
struct TypeState {
    subscription: Subscription,
    /// Envoy asked for this type on this stream.
    requested: bool,
    /// What Envoy has accepted.
    acked: Arc<ResourceMap>,
    /// SotW: version of the accepted view (or the one claimed on reconnect).
    acked_version: Option<String>,
    /// Delta reconnect: resources Envoy says it holds that are not resolved yet.
    unknown: BTreeMap<String, String>,
    /// A reconnect claim waits for a snapshot to be resolved against.
    claim_pending: bool,
    in_flight: Option<InFlight>,
    last_nonce: Option<String>,
    /// Nonce of the last ACKed response.
    acked_nonce: Option<String>,
    /// Envoy has had an answer of this type, or held config from before a reconnect.
    answered: bool,
    nacked: NackedVersions,
    /// Envoy's error of the last NACK of this type.
    nack_error: Option<String>,
    /// SotW: the explicit names the last response answered.
    sent_generation: Option<u64>,
    /// Delta: subscribed names already answered as not existing.
    answered_missing: BTreeSet<String>,
    /// The last unconditional view and what it was cut from (snapshot map,
    /// subscription generation, ACKed map; held, so pointers stay unique): every
    /// request re-plans, and most see the same inputs.
    view_cache: RefCell<Option<view::ViewCache>>,
    /// The last view whose version was hashed, and that version: a view that
    /// is not the snapshot's whole set is hashed in full, once.
    version_memo: RefCell<Option<(Arc<ResourceMap>, String)>>,
}

/// Everything one stream knows about its Envoy. Holds only subscriptions, what
/// was sent and ACKed, and nonces: the config itself is shared with the snapshot.
#[derive(Debug)]
pub struct StreamState {
    mode: Mode,
    types: PerType<TypeState>,
    /// Clusters Envoy has with endpoints: safe to route to.
    /// Hashed, not ordered: route gates look each of a table's thousands of
    /// clusters up in it, and nothing iterates it.
    warm: HashSet<Name, RandomState>,
    /// Bumped whenever `warm` may have changed (keys the route gate memo).
    warm_generation: u64,
    /// Per route table: whether its clusters were all warm and kept by the CDS
    /// in flight, for (that table, warm generation, CDS nonce in flight).
    route_gate: RefCell<BTreeMap<String, route_gate::RouteGate>>,
    /// ClusterLoadAssignments Envoy needs because their cluster was (re)sent.
    owed: BTreeSet<Name>,
    /// Reconnect claims resolved since [`StreamState::take_resumed`] last ran:
    /// what Envoy holds without being sent anything, to record like ACKs.
    resumed: Vec<Outcome>,
    /// Owed CLAs carried by the EDS response in flight: settled by its ACK, owed
    /// again if it is NACKed.
    owed_in_flight: BTreeSet<Name>,
    /// Snapshot version whose clusters are all ACKed and warm.
    clusters_ready_for: Option<String>,
    /// Snapshot version [`StreamState::take_in_sync`] last reported.
    reported_in_sync: Option<String>,
    /// Snapshot version [`StreamState::take_known_rejection`] last reported.
    reported_rejection: Option<String>,
    nonces: u64,
}

// === impl StreamState ===

impl StreamState {
    /// What Envoy subscribed to of `kind` (limits count its names).
    pub fn subscription(&self, kind: ResourceType) -> &Subscription {
        &self.types[kind].subscription
    }

    /// A fresh stream.
    pub fn new(mode: Mode) -> Self {
        StreamState {
            mode,
            types: PerType::default(),
            warm: HashSet::default(),
            warm_generation: 0,
            route_gate: RefCell::new(BTreeMap::new()),
            owed: BTreeSet::new(),
            resumed: Vec::new(),
            owed_in_flight: BTreeSet::new(),
            clusters_ready_for: None,
            reported_in_sync: None,
            reported_rejection: None,
            nonces: 0,
        }
    }
}

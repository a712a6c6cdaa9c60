//! A scripted model of an Envoy 1.40 ADS client, for driving a [`StreamState`]
//! without Envoy, tokio or a network.
//!
//! The model decodes what it accepts (it does not trust `Resource::references`), so
//! it is an independent oracle of what a real Envoy would hold:
//! - it opens with wildcard CDS and LDS requests;
//! - accepting CDS makes new or changed EDS clusters warm up only once a
//!   ClusterLoadAssignment for them is accepted afterwards, and (re)subscribes EDS to
//!   the CLA names of its EDS clusters;
//! - accepting LDS (re)subscribes RDS to the route names its listeners use;
//! - SotW subscription changes carry the full name list, the last accepted version
//!   and the last received nonce; delta ones carry subscribe/unsubscribe, no nonce;
//! - every response is ACKed or, when the script says so, NACKed;
//! - the wire is two FIFO queues, so a test can interleave snapshots, deliveries and
//!   answers in any order.
//!
//! It checks what Envoy cares about: after every delivery, every cluster named by an
//! accepted route table is held and warm; on every response, the server never has
//! two responses of one type unanswered, never re-sends a version Envoy NACKed on
//! this stream, and never calls a resource of its current snapshot removed (delta).
// Each test uses a different subset of the helpers.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;

use envoy_types::pb::envoy::config::cluster::v3::{cluster, Cluster};
use envoy_types::pb::envoy::config::listener::v3::{filter, Listener};
use envoy_types::pb::envoy::config::route::v3::{route, route_action, RouteConfiguration};
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    http_connection_manager::RouteSpecifier, HttpConnectionManager,
};
use envoy_types::pb::google::protobuf::Any;
use interlock::snapshot::{Resource, ResourceType, Snapshot};
use interlock::xds::{Mode, Outcome, Planned, StreamState};
use prost::{Message, Name};

pub const CDS: ResourceType = ResourceType::Cluster;
pub const EDS: ResourceType = ResourceType::Endpoints;
pub const LDS: ResourceType = ResourceType::Listener;
pub const RDS: ResourceType = ResourceType::Route;

/// How many plan/deliver/answer steps [`converge`] allows before giving up.
pub const MAX_STEPS: usize = 400;

// === Requests ===

/// One request on the wire from the fake Envoy to the server. SotW requests use
/// `version_info`/`names`; delta requests use `subscribe`/`unsubscribe`/`initial_versions`.
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub kind: Option<ResourceType>,
    pub nonce: String,
    pub version_info: String,
    pub names: Vec<String>,
    pub subscribe: Vec<String>,
    pub unsubscribe: Vec<String>,
    pub initial_versions: HashMap<String, String>,
    pub error: Option<String>,
    /// Model bookkeeping, not on the wire: the response nonce this request answers.
    pub answers: Option<String>,
}

impl Request {
    pub fn kind(&self) -> ResourceType {
        self.kind.expect("request has a type")
    }

    /// Feeds this request to the server's stream state.
    pub fn apply(&self, mode: Mode, state: &mut StreamState) -> Outcome {
        match mode {
            Mode::Sotw => state.on_sotw_request(
                self.kind(),
                &self.version_info,
                &self.nonce,
                &self.names,
                self.error.clone(),
            ),
            Mode::Delta => state.on_delta_request(
                self.kind(),
                &self.nonce,
                &self.subscribe,
                &self.unsubscribe,
                &self.initial_versions,
                self.error.clone(),
            ),
        }
    }
}

/// What the fake Envoy does with the next response.
#[derive(Clone, Debug)]
pub enum Verdict {
    Accept,
    Reject(String),
}

// === Trace ===

/// Summary of one planned response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentSummary {
    pub kind: ResourceType,
    pub nonce: String,
    pub version: String,
    /// (name, resource version) of every resource carried.
    pub resources: Vec<(String, String)>,
    pub removed: Vec<String>,
}

impl SentSummary {
    pub fn of(p: &Planned) -> Self {
        SentSummary {
            kind: p.kind,
            nonce: p.nonce.clone(),
            version: p.version.clone(),
            resources: p
                .resources
                .iter()
                .map(|r| (r.name().to_owned(), r.version().to_owned()))
                .collect(),
            removed: p.removed.clone(),
        }
    }

    pub fn carries(&self, name: &str) -> bool {
        self.resources.iter().any(|(n, _)| n == name)
    }

    pub fn carries_version(&self, name: &str, version: &str) -> bool {
        self.resources
            .iter()
            .any(|(n, v)| n == name && v == version)
    }
}

/// What happened, in order, on one fake stream.
#[derive(Clone, Debug)]
pub enum Event {
    /// A test published a new target snapshot.
    Published { version: String },
    /// The stream broke; Envoy reconnected to a fresh stream.
    Reconnected,
    /// The server planned a response; it is now on the wire to Envoy.
    Sent(SentSummary),
    /// Envoy processed a response.
    Delivered {
        kind: ResourceType,
        nonce: String,
        accepted: bool,
    },
    /// The server applied a request from Envoy.
    Applied {
        kind: ResourceType,
        nonce: String,
        answers: Option<String>,
        outcome: OutcomeKind,
    },
}

/// The shape of an [`Outcome`], for the trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutcomeKind {
    Ack,
    Nack,
    Subscribed,
    Stale,
    Resumed,
}

impl OutcomeKind {
    pub fn of(o: &Outcome) -> Self {
        match o {
            Outcome::Ack { .. } => OutcomeKind::Ack,
            Outcome::Nack { .. } => OutcomeKind::Nack,
            Outcome::Subscribed | Outcome::Released { .. } => OutcomeKind::Subscribed,
            Outcome::Stale => OutcomeKind::Stale,
            Outcome::Resumed { .. } => OutcomeKind::Resumed,
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Published { version } => write!(f, "publish {}", short(version)),
            Event::Reconnected => write!(f, "--- stream broken, Envoy reconnects ---"),
            Event::Sent(s) => {
                let res: Vec<String> = s
                    .resources
                    .iter()
                    .map(|(n, v)| format!("{n}@{}", short(v)))
                    .collect();
                write!(
                    f,
                    "server -> {} nonce {} version {} [{}] removed {:?}",
                    s.kind,
                    s.nonce,
                    short(&s.version),
                    res.join(", "),
                    s.removed
                )
            }
            Event::Delivered {
                kind,
                nonce,
                accepted,
            } => write!(
                f,
                "envoy {} {kind} nonce {nonce}",
                if *accepted { "accepts" } else { "REJECTS" }
            ),
            Event::Applied {
                kind,
                nonce,
                answers,
                outcome,
            } => write!(
                f,
                "server <- {kind} request nonce {nonce:?} (answers {answers:?}): {outcome:?}"
            ),
        }
    }
}

fn short(version: &str) -> &str {
    &version[..version.len().min(8)]
}

// === Decoding (independent of the code under test) ===

fn decode<M: Message + Name + Default>(any: &Any) -> M {
    assert_eq!(any.type_url, M::type_url(), "unexpected type in response");
    M::decode(any.value.as_slice()).expect("a resource Envoy can decode")
}

/// The ClusterLoadAssignment name an EDS cluster waits for; `None` for other clusters.
fn cla_name(resource: &Resource) -> Option<String> {
    let c: Cluster = decode(&resource.to_any());
    let eds = matches!(
        c.cluster_discovery_type,
        Some(cluster::ClusterDiscoveryType::Type(t)) if t == cluster::DiscoveryType::Eds as i32
    );
    eds.then(|| {
        c.eds_cluster_config
            .map(|e| e.service_name)
            .filter(|n| !n.is_empty())
            .unwrap_or(c.name)
    })
}

/// The RDS names a listener's HTTP connection managers use.
fn listener_routes(resource: &Resource) -> BTreeSet<String> {
    let l: Listener = decode(&resource.to_any());
    l.filter_chains
        .iter()
        .chain(l.default_filter_chain.as_ref())
        .flat_map(|chain| &chain.filters)
        .filter_map(|f| match &f.config_type {
            Some(filter::ConfigType::TypedConfig(any))
                if any.type_url == HttpConnectionManager::type_url() =>
            {
                match decode::<HttpConnectionManager>(any).route_specifier {
                    Some(RouteSpecifier::Rds(rds)) => Some(rds.route_config_name),
                    _ => None,
                }
            }
            _ => None,
        })
        .collect()
}

/// Every cluster a route table forwards to.
fn route_clusters(resource: &Resource) -> BTreeSet<String> {
    let r: RouteConfiguration = decode(&resource.to_any());
    let mut out = BTreeSet::new();
    for action in r
        .virtual_hosts
        .iter()
        .flat_map(|vh| &vh.routes)
        .filter_map(|r| match &r.action {
            Some(route::Action::Route(a)) => a.cluster_specifier.as_ref(),
            _ => None,
        })
    {
        match action {
            route_action::ClusterSpecifier::Cluster(c) => {
                out.insert(c.clone());
            }
            route_action::ClusterSpecifier::WeightedClusters(w) => {
                out.extend(w.clusters.iter().map(|c| c.name.clone()))
            }
            _ => {}
        }
    }
    out
}

// === The fake Envoy ===

#[derive(Clone, Debug, Default)]
struct TypeView {
    /// Envoy has sent a request of this type on this stream.
    requested: bool,
    accepted: BTreeMap<String, Arc<Resource>>,
    /// SotW: version_info of the last accepted response.
    version: String,
    /// Nonce of the last response received (accepted or not).
    last_nonce: String,
    /// Explicit subscription (EDS/RDS); LDS/CDS are wildcard.
    names: BTreeSet<String>,
    /// Names subscribed by the test on top of what the config needs.
    extra: BTreeSet<String>,
    /// Delta: subscribed names the server answered as not existing.
    missing: BTreeSet<String>,
}

#[derive(Clone, Debug)]
struct ClusterState {
    version: String,
    cla: Option<String>,
    /// Has had a ClusterLoadAssignment since it was added: routes to it work.
    active: bool,
    /// A new or changed version waits for a ClusterLoadAssignment.
    warming: bool,
}

/// A scripted Envoy on one ADS stream.
#[derive(Clone, Debug)]
pub struct FakeEnvoy {
    mode: Mode,
    types: BTreeMap<ResourceType, TypeView>,
    clusters: BTreeMap<String, ClusterState>,
    /// Responses on the wire, server → Envoy.
    inbound: VecDeque<Planned>,
    /// Requests on the wire, Envoy → server.
    outbound: VecDeque<Request>,
    /// Per type: the response the server sent whose answer it has not applied yet.
    outstanding: BTreeMap<ResourceType, String>,
    nonces_seen: BTreeSet<String>,
    /// (type, version) of every response Envoy rejected on this stream.
    rejected: BTreeSet<(ResourceType, String)>,
    /// Names of every type in the snapshot the server currently plans against.
    target_names: BTreeMap<ResourceType, BTreeSet<String>>,
    target_version: String,
    /// Queue the ACK before the subscription changes an update causes. Envoy 1.40
    /// resumes the paused dependent type first, so the default is `false`.
    pub ack_first: bool,
    pub trace: Vec<Event>,
}

impl FakeEnvoy {
    /// A fresh Envoy: its first requests (wildcard CDS, then LDS) are on the wire.
    pub fn new(mode: Mode) -> Self {
        let mut envoy = FakeEnvoy {
            mode,
            types: ResourceType::ALL
                .into_iter()
                .map(|k| (k, TypeView::default()))
                .collect(),
            clusters: BTreeMap::new(),
            inbound: VecDeque::new(),
            outbound: VecDeque::new(),
            outstanding: BTreeMap::new(),
            nonces_seen: BTreeSet::new(),
            rejected: BTreeSet::new(),
            target_names: BTreeMap::new(),
            target_version: String::new(),
            ack_first: false,
            trace: Vec::new(),
        };
        for kind in [CDS, LDS] {
            envoy.tv(kind).requested = true;
            envoy.outbound.push_back(Request {
                kind: Some(kind),
                ..Request::default()
            });
        }
        envoy
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    fn tv(&mut self, kind: ResourceType) -> &mut TypeView {
        self.types.get_mut(&kind).expect("every type has a view")
    }

    fn view(&self, kind: ResourceType) -> &TypeView {
        &self.types[&kind]
    }

    // --- wire ---

    /// Puts planned responses on the wire to Envoy (in order).
    pub fn receive(&mut self, planned: Vec<Planned>) {
        for p in planned {
            let summary = SentSummary::of(&p);
            self.trace.push(Event::Sent(summary));
            if let Some(previous) = self.outstanding.get(&p.kind) {
                self.fail(&format!(
                    "server sent {} nonce {} while its {} nonce {previous} was unanswered \
                     (one response per type in flight)",
                    p.kind, p.nonce, p.kind
                ));
            }
            if self.rejected.contains(&(p.kind, p.version.clone())) {
                self.fail(&format!(
                    "{} version {} was NACKed on this stream and is sent again (invariant 6)",
                    p.kind, p.version
                ));
            }
            if !self.nonces_seen.insert(p.nonce.clone()) {
                self.fail(&format!("nonce {} reused on one stream", p.nonce));
            }
            if self.mode == Mode::Sotw && !p.removed.is_empty() {
                self.fail("SotW response with removed names");
            }
            if p.nonce.is_empty() {
                self.fail("response without a nonce");
            }
            let target = self.target_names.get(&p.kind);
            if let Some(name) = p
                .removed
                .iter()
                .find(|n| target.is_some_and(|t| t.contains(*n)))
            {
                self.fail(&format!(
                    "{} nonce {} answers {name:?} as removed (does not exist), but the snapshot \
                     it was planned against has it",
                    p.kind, p.nonce
                ));
            }
            self.outstanding.insert(p.kind, p.nonce.clone());
            self.inbound.push_back(p);
        }
    }

    pub fn pending_responses(&self) -> usize {
        self.inbound.len()
    }

    pub fn pending_requests(&self) -> usize {
        self.outbound.len()
    }

    /// The response at the head of the wire, if any.
    pub fn peek_response(&self) -> Option<&Planned> {
        self.inbound.front()
    }

    /// Envoy processes the next response on the wire; returns its type.
    pub fn deliver(&mut self, verdict: Verdict) -> Option<ResourceType> {
        let p = self.inbound.pop_front()?;
        let kind = p.kind;
        self.process(p, verdict);
        self.check();
        Some(kind)
    }

    /// Envoy processes (and accepts) every response on the wire.
    pub fn deliver_all(&mut self) {
        while self.deliver(Verdict::Accept).is_some() {}
    }

    /// The server applies the next request on the wire.
    pub fn send_next(&mut self, state: &mut StreamState) -> Option<(Request, Outcome)> {
        let req = self.outbound.pop_front()?;
        let outcome = req.apply(self.mode, state);
        if let Some(answered) = &req.answers {
            if self.outstanding.get(&req.kind()) == Some(answered) {
                self.outstanding.remove(&req.kind());
            }
        }
        self.trace.push(Event::Applied {
            kind: req.kind(),
            nonce: req.nonce.clone(),
            answers: req.answers.clone(),
            outcome: OutcomeKind::of(&outcome),
        });
        Some((req, outcome))
    }

    /// Drops a request from the wire unseen (a test that hand-crafts its own).
    pub fn take_request(&mut self) -> Option<Request> {
        self.outbound.pop_front()
    }

    // --- Envoy's behaviour ---

    fn process(&mut self, p: Planned, verdict: Verdict) {
        let kind = p.kind;
        let mode = self.mode;
        self.tv(kind).last_nonce = p.nonce.clone();
        if let Verdict::Reject(error) = verdict {
            self.rejected.insert((kind, p.version.clone()));
            self.trace.push(Event::Delivered {
                kind,
                nonce: p.nonce.clone(),
                accepted: false,
            });
            let nack = match mode {
                Mode::Sotw => Request {
                    kind: Some(kind),
                    version_info: self.view(kind).version.clone(),
                    nonce: p.nonce.clone(),
                    names: self.view(kind).names.iter().cloned().collect(),
                    error: Some(error),
                    answers: Some(p.nonce),
                    ..Request::default()
                },
                Mode::Delta => Request {
                    kind: Some(kind),
                    nonce: p.nonce.clone(),
                    error: Some(error),
                    answers: Some(p.nonce),
                    ..Request::default()
                },
            };
            self.outbound.push_back(nack);
            return;
        }
        self.trace.push(Event::Delivered {
            kind,
            nonce: p.nonce.clone(),
            accepted: true,
        });
        if mode == Mode::Sotw && p.version.is_empty() {
            self.fail("SotW response without version_info");
        }

        // Hold what the response carries.
        let tv = self.tv(kind);
        let wants = |tv: &TypeView, n: &str| kind.is_wildcard() || tv.names.contains(n);
        match mode {
            Mode::Sotw if kind.is_wildcard() => {
                tv.accepted = p
                    .resources
                    .iter()
                    .map(|r| (r.name().to_owned(), Arc::clone(r)))
                    .collect();
            }
            Mode::Sotw => {
                for r in &p.resources {
                    if wants(tv, r.name()) {
                        tv.accepted.insert(r.name().to_owned(), Arc::clone(r));
                    }
                }
            }
            Mode::Delta => {
                for r in &p.resources {
                    if wants(tv, r.name()) {
                        tv.missing.remove(r.name());
                        tv.accepted.insert(r.name().to_owned(), Arc::clone(r));
                    }
                }
            }
        }
        tv.version = p.version.clone();
        if mode == Mode::Delta {
            self.apply_removed(kind, &p.removed);
        }

        // What accepting it sets off.
        let mut subscriptions = Vec::new();
        match kind {
            ResourceType::Cluster => {
                self.update_clusters();
                let names = self
                    .clusters
                    .values()
                    .filter_map(|c| c.cla.clone())
                    .collect();
                subscriptions.extend(self.resubscribe(EDS, names));
            }
            ResourceType::Endpoints => {
                for r in &p.resources {
                    if !self.view(EDS).accepted.contains_key(r.name()) {
                        continue;
                    }
                    for c in self.clusters.values_mut() {
                        if c.cla.as_deref() == Some(r.name()) {
                            c.active = true;
                            c.warming = false;
                        }
                    }
                }
            }
            ResourceType::Listener => {
                let names = self
                    .view(LDS)
                    .accepted
                    .values()
                    .flat_map(|l| listener_routes(l))
                    .collect();
                subscriptions.extend(self.resubscribe(RDS, names));
            }
            ResourceType::Route | ResourceType::Secret => {}
        }

        let ack = match mode {
            Mode::Sotw => Request {
                kind: Some(kind),
                version_info: p.version.clone(),
                nonce: p.nonce.clone(),
                names: self.view(kind).names.iter().cloned().collect(),
                answers: Some(p.nonce.clone()),
                ..Request::default()
            },
            Mode::Delta => Request {
                kind: Some(kind),
                nonce: p.nonce.clone(),
                answers: Some(p.nonce.clone()),
                ..Request::default()
            },
        };
        if self.ack_first {
            self.outbound.push_back(ack);
            self.outbound.extend(subscriptions);
        } else {
            self.outbound.extend(subscriptions);
            self.outbound.push_back(ack);
        }
    }

    /// Delta `removed_resources`: a held resource is dropped, except a route table
    /// (Envoy 1.40 ignores RDS removals: "Server sent a delta RDS update attempting to
    /// remove a resource ... Ignoring."). A removed CLA leaves an initialised
    /// cluster's hosts alone and ends a warming one's warm-up with no hosts; the model
    /// never counts it as endpoints arriving. A subscribed name never held is now
    /// known not to exist.
    fn apply_removed(&mut self, kind: ResourceType, removed: &[String]) {
        for name in removed {
            let tv = self.tv(kind);
            let held = if kind == RDS {
                tv.accepted.contains_key(name)
            } else {
                tv.accepted.remove(name).is_some()
            };
            if !held && (kind.is_wildcard() || tv.names.contains(name)) {
                tv.missing.insert(name.clone());
            }
        }
    }

    /// Brings the cluster table in line with accepted CDS: new and changed EDS clusters
    /// start warming; removed ones are gone.
    fn update_clusters(&mut self) {
        let accepted = self.view(CDS).accepted.clone();
        self.clusters.retain(|name, _| accepted.contains_key(name));
        for (name, r) in &accepted {
            let cla = cla_name(r);
            match self.clusters.get_mut(name) {
                Some(c) if c.version == r.version() => {}
                Some(c) => {
                    c.version = r.version().to_owned();
                    c.warming = cla.is_some();
                    c.active |= cla.is_none();
                    c.cla = cla;
                }
                None => {
                    self.clusters.insert(
                        name.clone(),
                        ClusterState {
                            version: r.version().to_owned(),
                            active: cla.is_none(),
                            warming: cla.is_some(),
                            cla,
                        },
                    );
                }
            }
        }
    }

    /// Changes the explicit subscription of `kind` to `wanted` (plus test extras);
    /// returns the request announcing it, if it changed.
    fn resubscribe(&mut self, kind: ResourceType, wanted: BTreeSet<String>) -> Option<Request> {
        let mode = self.mode;
        let tv = self.tv(kind);
        let wanted: BTreeSet<String> = wanted.union(&tv.extra).cloned().collect();
        if tv.names == wanted && (tv.requested || wanted.is_empty()) {
            return None;
        }
        let added: Vec<String> = wanted.difference(&tv.names).cloned().collect();
        let dropped: Vec<String> = tv.names.difference(&wanted).cloned().collect();
        tv.names = wanted;
        tv.accepted.retain(|n, _| !dropped.contains(n));
        tv.missing.retain(|n| !dropped.contains(n));
        tv.requested = true;
        Some(match mode {
            Mode::Sotw => Request {
                kind: Some(kind),
                version_info: tv.version.clone(),
                nonce: tv.last_nonce.clone(),
                names: tv.names.iter().cloned().collect(),
                ..Request::default()
            },
            Mode::Delta => Request {
                kind: Some(kind),
                subscribe: added,
                unsubscribe: dropped,
                ..Request::default()
            },
        })
    }

    /// The test subscribes `name` on top of what the config needs (e.g. a name the
    /// server does not have). The request goes on the wire now.
    pub fn subscribe_extra(&mut self, kind: ResourceType, name: &str) {
        self.tv(kind).extra.insert(name.to_owned());
        let names = self.view(kind).names.clone();
        if let Some(req) = self.resubscribe(kind, names) {
            self.outbound.push_back(req);
        }
    }

    /// The stream broke and Envoy reconnects: the wire is cleared and Envoy re-requests
    /// every type it uses with what it holds (SotW: last accepted version, no nonce;
    /// delta: `initial_resource_versions`). Order: CDS, EDS, LDS, RDS.
    ///
    /// A cluster that was still warming when the stream broke cannot be seen by the
    /// new stream (Envoy claims the CLA it holds, and the server has nothing newer).
    /// Envoy ends such a warm-up after `initial_fetch_timeout` with the CLA it has
    /// cached; the model does that at once.
    pub fn reconnect(&mut self) {
        self.trace.push(Event::Reconnected);
        let held_clas = self.view(EDS).accepted.clone();
        for c in self.clusters.values_mut() {
            if c.warming && c.cla.as_ref().is_some_and(|n| held_clas.contains_key(n)) {
                c.warming = false;
                c.active = true;
            }
        }
        self.inbound.clear();
        self.outbound.clear();
        self.outstanding.clear();
        self.nonces_seen.clear();
        self.rejected.clear();
        for kind in [CDS, EDS, LDS, RDS] {
            let mode = self.mode;
            let tv = self.tv(kind);
            tv.last_nonce.clear();
            if !tv.requested {
                continue;
            }
            let names: Vec<String> = tv.names.iter().cloned().collect();
            let req = match mode {
                Mode::Sotw => Request {
                    kind: Some(kind),
                    version_info: tv.version.clone(),
                    names,
                    ..Request::default()
                },
                Mode::Delta => Request {
                    kind: Some(kind),
                    subscribe: names,
                    initial_versions: tv
                        .accepted
                        .iter()
                        .map(|(n, r)| (n.clone(), r.version().to_owned()))
                        .collect(),
                    ..Request::default()
                },
            };
            self.outbound.push_back(req);
        }
    }

    // --- what Envoy holds ---

    /// Accepted resources of one type: name → resource version.
    pub fn held(&self, kind: ResourceType) -> BTreeMap<String, String> {
        self.view(kind)
            .accepted
            .iter()
            .map(|(n, r)| (n.clone(), r.version().to_owned()))
            .collect()
    }

    /// SotW version_info of the last accepted response of `kind`.
    pub fn held_version(&self, kind: ResourceType) -> &str {
        &self.view(kind).version
    }

    /// Delta: subscribed names the server said do not exist.
    pub fn missing(&self, kind: ResourceType) -> &BTreeSet<String> {
        &self.view(kind).missing
    }

    pub fn subscribed(&self, kind: ResourceType) -> &BTreeSet<String> {
        &self.view(kind).names
    }

    /// The cluster is held, has had endpoints since it was added, and no newer
    /// version of it is waiting for endpoints.
    pub fn cluster_warm(&self, name: &str) -> bool {
        self.clusters
            .get(name)
            .is_some_and(|c| c.active && !c.warming)
    }

    /// The invariant Envoy cares about, after every step: every cluster named by an
    /// accepted route table is held and warm (has had endpoints since it was added).
    pub fn check(&self) {
        for (table, r) in &self.view(RDS).accepted {
            for cluster in route_clusters(r) {
                match self.clusters.get(&cluster) {
                    None => self.fail(&format!(
                        "route table {table:?} names cluster {cluster:?}, which Envoy does not \
                         hold (503 NC)"
                    )),
                    Some(c) if !c.active => self.fail(&format!(
                        "route table {table:?} names cluster {cluster:?}, which has had no \
                         endpoints since it was added (still warming)"
                    )),
                    Some(_) => {}
                }
            }
        }
    }

    /// Envoy holds exactly `target` (every type, by name and version), every cluster is
    /// warm, every route name a listener uses resolved, and the wire is quiet.
    pub fn assert_converged(&self, target: &Snapshot) {
        self.check();
        for kind in ResourceType::ALL {
            let want: BTreeMap<String, String> = target
                .resources(kind)
                .iter()
                .map(|(n, r)| (n.clone(), r.version().to_owned()))
                .collect();
            if self.held(kind) != want {
                self.fail(&format!(
                    "{kind}: Envoy holds {:?}, target has {want:?}",
                    self.held(kind)
                ));
            }
        }
        for (name, c) in &self.clusters {
            if !c.active || c.warming {
                self.fail(&format!("cluster {name:?} never finished warming"));
            }
        }
        for l in self.view(LDS).accepted.values() {
            for route in listener_routes(l) {
                if !self.view(RDS).accepted.contains_key(&route) {
                    self.fail(&format!("route table {route:?} never arrived"));
                }
            }
        }
        if !self.inbound.is_empty() || !self.outbound.is_empty() {
            self.fail("wire not quiet after convergence");
        }
    }

    /// The trace so far, one event per line.
    pub fn transcript(&self) -> String {
        self.trace
            .iter()
            .enumerate()
            .map(|(i, e)| format!("{i:4} {e}\n"))
            .collect()
    }

    fn fail(&self, msg: &str) -> ! {
        let tail = self.trace.len().saturating_sub(60);
        let recent: String = self.trace[tail..]
            .iter()
            .enumerate()
            .map(|(i, e)| format!("{:4} {e}\n", i + tail))
            .collect();
        panic!(
            "fake Envoy ({:?}): {msg}\nrecent events:\n{recent}",
            self.mode
        );
    }

    // --- trace queries ---

    /// Every response sent so far, with its trace index.
    pub fn sent(&self) -> Vec<(usize, &SentSummary)> {
        self.trace
            .iter()
            .enumerate()
            .filter_map(|(i, e)| match e {
                Event::Sent(s) => Some((i, s)),
                _ => None,
            })
            .collect()
    }

    /// Responses of one type sent so far.
    pub fn sent_of(&self, kind: ResourceType) -> Vec<(usize, &SentSummary)> {
        self.sent()
            .into_iter()
            .filter(|(_, s)| s.kind == kind)
            .collect()
    }

    /// Trace index at which the server applied an ACK of `nonce`.
    pub fn ack_applied_at(&self, nonce: &str) -> Option<usize> {
        self.trace.iter().position(|e| {
            matches!(e, Event::Applied { answers: Some(n), outcome: OutcomeKind::Ack, .. } if n == nonce)
        })
    }

    /// The server now plans against `target`: recorded in the trace, and used to
    /// check that a delta response never calls a resource of it removed.
    pub fn note_published(&mut self, target: &Snapshot) {
        self.trace.push(Event::Published {
            version: target.version().to_owned(),
        });
        self.target_version = target.version().to_owned();
        self.target_names = ResourceType::ALL
            .into_iter()
            .map(|k| (k, target.resources(k).keys().cloned().collect()))
            .collect();
    }

    /// [`FakeEnvoy::note_published`] unless `target` is already the noted one.
    pub fn note_target(&mut self, target: &Snapshot) {
        if self.target_version != target.version() {
            self.note_published(target);
        }
    }
}

// === Drivers ===

/// Loops plan → deliver → answer → plan until nothing is planned and the wire is
/// quiet; Envoy accepts everything. The server plans when the real stream task
/// would: once at the start (a snapshot woke it) and after every request it applies.
/// Returns every planned response in order. Panics if it does not settle.
pub fn converge(state: &mut StreamState, envoy: &mut FakeEnvoy, target: &Snapshot) -> Vec<Planned> {
    converge_with(state, envoy, target, |_| Verdict::Accept)
}

/// [`converge`], with Envoy judging each response by `verdict`.
pub fn converge_with(
    state: &mut StreamState,
    envoy: &mut FakeEnvoy,
    target: &Snapshot,
    mut verdict: impl FnMut(&Planned) -> Verdict,
) -> Vec<Planned> {
    envoy.note_target(target);
    let mut log = Vec::new();
    let mut plan_now = true;
    for _ in 0..MAX_STEPS {
        if plan_now {
            let planned = state.plan(target);
            log.extend(planned.iter().cloned());
            envoy.receive(planned);
            plan_now = false;
        }
        if let Some(next) = envoy.peek_response() {
            let v = verdict(next);
            envoy.deliver(v);
            continue;
        }
        if envoy.send_next(state).is_some() {
            plan_now = true;
            continue;
        }
        return log;
    }
    panic!(
        "did not converge in {MAX_STEPS} steps ({:?}); transcript:\n{}",
        envoy.mode(),
        envoy.transcript()
    );
}

/// A stream and its fake Envoy, stepped by hand.
pub struct Harness {
    pub state: StreamState,
    pub envoy: FakeEnvoy,
    pub target: Arc<Snapshot>,
}

impl Harness {
    /// A new stream whose server already has `target` (nothing is planned until the
    /// first requests arrive).
    pub fn new(mode: Mode, target: Snapshot) -> Self {
        let mut envoy = FakeEnvoy::new(mode);
        envoy.note_published(&target);
        Harness {
            state: StreamState::new(mode),
            envoy,
            target: Arc::new(target),
        }
    }

    /// A stream converged on `target`.
    pub fn converged(mode: Mode, target: Snapshot) -> Self {
        let mut h = Harness::new(mode, target);
        h.converge();
        h.envoy.assert_converged(&h.target);
        h
    }

    pub fn mode(&self) -> Mode {
        self.envoy.mode()
    }

    /// A new snapshot is published: the server plans against it.
    pub fn publish(&mut self, target: Snapshot) -> Vec<Planned> {
        self.envoy.note_published(&target);
        self.target = Arc::new(target);
        self.plan()
    }

    /// The server plans against the current target; the responses go on the wire.
    pub fn plan(&mut self) -> Vec<Planned> {
        let planned = self.state.plan(&self.target);
        self.envoy.receive(planned.clone());
        planned
    }

    /// Envoy processes the next response.
    pub fn deliver(&mut self, verdict: Verdict) -> Option<ResourceType> {
        self.envoy.deliver(verdict)
    }

    /// The server applies the next request and plans (as the stream task does).
    pub fn answer(&mut self) -> Option<(Request, Outcome, Vec<Planned>)> {
        let (req, outcome) = self.envoy.send_next(&mut self.state)?;
        let planned = self.plan();
        Some((req, outcome, planned))
    }

    /// The server applies every request on the wire, planning after each.
    pub fn answer_all(&mut self) -> Vec<Planned> {
        let mut all = Vec::new();
        while let Some((_, _, planned)) = self.answer() {
            all.extend(planned);
        }
        all
    }

    pub fn converge(&mut self) -> Vec<Planned> {
        converge(&mut self.state, &mut self.envoy, &self.target)
    }

    pub fn converge_with(&mut self, verdict: impl FnMut(&Planned) -> Verdict) -> Vec<Planned> {
        converge_with(&mut self.state, &mut self.envoy, &self.target, verdict)
    }
}

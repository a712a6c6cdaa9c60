//! The per-stream make-before-break state machine, [`StreamState`], against a
//! scripted Envoy fed arbitrary request sequences and snapshot sequences.
//!
//! The universe: EDS clusters `c0`..`c3` (`c3`'s ClusterLoadAssignment is
//! `c3-cla`, not its own name), a static cluster `st`, route tables `r0` and
//! `r1` routing to any of them, listener `http` (table `r0`) and `https` (table
//! `r1` and secret `cert`), and names no snapshot has (`ghost`). Each snapshot
//! picks which exist and at which version; every one is consistent.
//!
//! The stream is driven as the server drives it (`src/xds/stream.rs`): after
//! every request and every new snapshot it plans, and what it plans is sent.
//! The scripted Envoy receives responses in order when the input says, takes
//! or rejects each then (as Envoy does), and follows what it holds (asks for the
//! CLAs of its clusters, the tables and secrets of its listeners) at once or,
//! for types the input marks manual, only when told; its ACK or NACK is a
//! separate step, as are subscription changes, stale nonces, reconnects (with
//! reconnect claims) and new snapshots. A state-of-the-world request sent while
//! a response of its type is on the way carries the older nonce, and is
//! ignored.
//!
//! The invariants of DESIGN.md checkable on one stream, asserted as each
//! response is planned (by the stream), received and answered (by Envoy):
//! - **3, make-before-break (adds)**: a new or changed route table (or
//!   listener) reaches Envoy only naming clusters it holds and has ACKed
//!   endpoints for since it added them (or claimed them on a reconnect; static
//!   clusters: once it holds them);
//! - **3, make-before-break (removals)**: CDS never drops a cluster a listener
//!   Envoy holds, or a route table one of them names, still names; RDS, SDS and
//!   EDS never drop a resource a listener or cluster Envoy holds still names;
//! - **3/5, one response per type in flight**, and each plan is in
//!   CDS → EDS → LDS → RDS → SDS order (latest wins: every plan is cut from the
//!   current snapshot, and nothing is queued behind a response in flight);
//! - **6, a NACKed version is never re-sent** on the stream (of the last 64
//!   rejected per type, which is what the stream remembers);
//! - **7, nonces are unique per stream**;
//! - delta: no name is both sent and removed; a response never repeats a name,
//!   and carries only names the stream subscribed to;
//! - the outcome of each request is what it must be (an ACK or NACK of the
//!   response it answers, with that version and snapshot; a stale nonce is
//!   ignored);
//! - when the stream says Envoy is in sync with the snapshot, Envoy holds
//!   exactly the snapshot (what it subscribed to of it; by-name subscriptions
//!   the snapshot lacks keep what Envoy holds) and nothing more is planned; a
//!   known rejection is reported only after a NACK of that type.
//!
//! Left out, as paths Envoy does not take or the protocol leaves open: in
//! delta, CDS and LDS stay wildcard (leaving `*` is not pinned down); in SotW,
//! an Envoy that dropped CDS or LDS names and reconnects before it gets another
//! response of that type would claim a version whose view it no longer holds
//! whole, which the stream cannot tell, so the scripted Envoy claims none then.
//!
//! Not checkable here: the sync gate (1), consistency (2, by construction
//! here), debouncing (4), containment beyond the stream (6), status (9) and
//! naming (10). After a state-of-the-world reconnect whose claim did not match
//! the snapshot, the stream cannot know what an old version held, so the
//! removal checks wait until those types are ACKed again.

#![no_main]

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use arbitrary::Arbitrary;
use envoy_types::pb::envoy::config::cluster::v3::{cluster, Cluster};
use envoy_types::pb::envoy::config::core::v3::{
    config_source, transport_socket, AggregatedConfigSource, ConfigSource, TransportSocket,
};
use envoy_types::pb::envoy::config::endpoint::v3::{
    lb_endpoint, ClusterLoadAssignment, Endpoint, LbEndpoint, LocalityLbEndpoints,
};
use envoy_types::pb::envoy::config::listener::v3::{filter, Filter, FilterChain, Listener};
use envoy_types::pb::envoy::config::route::v3::{
    route, route_action, route_match, Route, RouteAction, RouteConfiguration, RouteMatch,
    VirtualHost,
};
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    http_connection_manager::RouteSpecifier, HttpConnectionManager, Rds,
};
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{
    secret, CommonTlsContext, DownstreamTlsContext, SdsSecretConfig, Secret, TlsCertificate,
};
use envoy_types::pb::google::protobuf::Duration as PbDuration;
use envoy_types::util::pack_any;
use interlock::snapshot::{Resource, ResourceType, Snapshot};
use interlock::xds::{Mode, Outcome, Planned, StreamState};
use libfuzzer_sys::fuzz_target;

const CDS: ResourceType = ResourceType::Cluster;
const EDS: ResourceType = ResourceType::Endpoints;
const LDS: ResourceType = ResourceType::Listener;
const RDS: ResourceType = ResourceType::Route;
const SDS: ResourceType = ResourceType::Secret;

/// EDS clusters, and the CLA each is fed by.
const EDS_CLUSTERS: [(&str, &str); 4] =
    [("c0", "c0"), ("c1", "c1"), ("c2", "c2"), ("c3", "c3-cla")];
const STATIC: &str = "st";
const ALL_CLUSTERS: [&str; 5] = ["c0", "c1", "c2", "c3", STATIC];
const GHOST: &str = "ghost";
/// Rejected versions a stream remembers per type (`nacked.rs`).
const REMEMBERED: usize = 64;
const MAX_OPS: usize = 96;

/// One snapshot of the universe.
#[derive(Arbitrary, Debug, Clone, Copy)]
struct World {
    /// Bit i: cluster `ALL_CLUSTERS[i]` exists.
    clusters: u8,
    /// Bit i: cluster i has a 2 s connect timeout instead of 1 s (another version).
    timeouts: u8,
    /// Two bits per EDS cluster: how many endpoints its CLA has.
    endpoints: u8,
    /// Per route table: bit 7, it exists even when no listener names it; bits
    /// 0-4, the clusters it routes to (those that exist).
    routes: [u8; 2],
    /// Bit 0: listener `http`; bit 1: listener `https` (with secret `cert`);
    /// bit 2: the secret's other version; bit 3: `http`'s other version.
    listeners: u8,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Kind {
    Cds,
    Eds,
    Lds,
    Rds,
    Sds,
}

impl Kind {
    fn get(self) -> ResourceType {
        match self {
            Kind::Cds => CDS,
            Kind::Eds => EDS,
            Kind::Lds => LDS,
            Kind::Rds => RDS,
            Kind::Sds => SDS,
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Op {
    /// Envoy receives the next response sent, and takes it or rejects it.
    Receive { reject: bool },
    /// Envoy receives every response sent, rejecting those whose type's bit
    /// is set.
    ReceiveAll { reject: u8 },
    /// Envoy sends its ACK or NACK of the response of this type it received.
    Answer(Kind),
    /// ACKs or NACKs of every response it received.
    AnswerAll,
    /// Receive and accept everything, answer, a few rounds.
    Converge,
    /// A request with a nonce this stream never sent.
    StaleNonce(Kind, u8),
    /// A request repeating the last nonce Envoy answered.
    Repeat(Kind),
    /// CDS/LDS, SotW only: the names Envoy asks for (bits over the type's
    /// names; none is wildcard). EDS/RDS/SDS: what it follows, plus `ghost` when set.
    Subscribe(Kind, u8, bool),
    /// A manual type asks for what Envoy's clusters or listeners name.
    Follow(Kind),
    /// A new snapshot.
    Publish(World),
    /// The same Envoy on a new stream, claiming what it holds.
    Reconnect,
}

#[derive(Arbitrary, Debug)]
struct Input {
    delta: bool,
    /// Bits for EDS, RDS, SDS: the type follows only on `Follow`.
    manual: u8,
    first: World,
    ops: Vec<Op>,
}

fuzz_target!(|input: Input| {
    let mode = if input.delta { Mode::Delta } else { Mode::Sotw };
    let mut envoy = Envoy::connect(mode, input.manual, &input.first);
    for op in input.ops.iter().take(MAX_OPS) {
        envoy.step(*op);
    }
});

// === the universe ===

fn ads() -> ConfigSource {
    ConfigSource {
        config_source_specifier: Some(config_source::ConfigSourceSpecifier::Ads(
            AggregatedConfigSource::default(),
        )),
        ..ConfigSource::default()
    }
}

fn eds_cluster(name: &str, cla: &str, secs: i64) -> Cluster {
    Cluster {
        name: name.to_owned(),
        cluster_discovery_type: Some(cluster::ClusterDiscoveryType::Type(
            cluster::DiscoveryType::Eds as i32,
        )),
        eds_cluster_config: Some(cluster::EdsClusterConfig {
            eds_config: Some(ads()),
            service_name: if cla == name {
                String::new()
            } else {
                cla.to_owned()
            },
        }),
        connect_timeout: Some(PbDuration {
            seconds: secs,
            nanos: 0,
        }),
        ..Cluster::default()
    }
}

fn static_cluster(secs: i64) -> Cluster {
    Cluster {
        name: STATIC.to_owned(),
        cluster_discovery_type: Some(cluster::ClusterDiscoveryType::Type(
            cluster::DiscoveryType::Static as i32,
        )),
        load_assignment: Some(cla(STATIC, 1)),
        connect_timeout: Some(PbDuration {
            seconds: secs,
            nanos: 0,
        }),
        ..Cluster::default()
    }
}

fn cla(name: &str, count: u8) -> ClusterLoadAssignment {
    let endpoint = |i: u8| LbEndpoint {
        host_identifier: Some(lb_endpoint::HostIdentifier::Endpoint(Endpoint {
            hostname: format!("10.0.0.{i}"),
            ..Endpoint::default()
        })),
        ..LbEndpoint::default()
    };
    ClusterLoadAssignment {
        cluster_name: name.to_owned(),
        endpoints: vec![LocalityLbEndpoints {
            lb_endpoints: (1..=count).map(endpoint).collect(),
            ..LocalityLbEndpoints::default()
        }],
        ..ClusterLoadAssignment::default()
    }
}

fn listener(name: &str, route: &str, secret: Option<&str>, version: u32) -> Listener {
    let hcm = HttpConnectionManager {
        stat_prefix: format!("{name}{version}"),
        route_specifier: Some(RouteSpecifier::Rds(Rds {
            config_source: Some(ads()),
            route_config_name: route.to_owned(),
        })),
        ..HttpConnectionManager::default()
    };
    let tls = secret.map(|secret| TransportSocket {
        name: "envoy.transport_sockets.tls".to_owned(),
        config_type: Some(transport_socket::ConfigType::TypedConfig(pack_any(
            DownstreamTlsContext {
                common_tls_context: Some(CommonTlsContext {
                    tls_certificate_sds_secret_configs: vec![SdsSecretConfig {
                        name: secret.to_owned(),
                        sds_config: Some(ads()),
                    }],
                    ..CommonTlsContext::default()
                }),
                ..DownstreamTlsContext::default()
            },
        ))),
    });
    Listener {
        name: name.to_owned(),
        filter_chains: vec![FilterChain {
            filters: vec![Filter {
                name: "envoy.filters.network.http_connection_manager".to_owned(),
                config_type: Some(filter::ConfigType::TypedConfig(pack_any(hcm))),
            }],
            transport_socket: tls,
            ..FilterChain::default()
        }],
        ..Listener::default()
    }
}

fn route_table(name: &str, clusters: &[&str]) -> RouteConfiguration {
    let host = |cluster: &&str| VirtualHost {
        name: (*cluster).to_owned(),
        domains: vec![format!("{cluster}.example")],
        routes: vec![Route {
            r#match: Some(RouteMatch {
                path_specifier: Some(route_match::PathSpecifier::Prefix("/".to_owned())),
                ..RouteMatch::default()
            }),
            action: Some(route::Action::Route(RouteAction {
                cluster_specifier: Some(route_action::ClusterSpecifier::Cluster(
                    (*cluster).to_owned(),
                )),
                ..RouteAction::default()
            })),
            ..Route::default()
        }],
        ..VirtualHost::default()
    };
    RouteConfiguration {
        name: name.to_owned(),
        virtual_hosts: clusters.iter().map(host).collect(),
        ..RouteConfiguration::default()
    }
}

fn build(world: &World) -> Snapshot {
    let mut b = Snapshot::builder();
    let present: Vec<&str> = (0..ALL_CLUSTERS.len())
        .filter(|i| world.clusters & (1 << i) != 0)
        .map(|i| ALL_CLUSTERS[i])
        .collect();
    for (i, &(name, cla_name)) in EDS_CLUSTERS.iter().enumerate() {
        if !present.contains(&name) {
            continue;
        }
        let secs = 1 + i64::from((world.timeouts >> i) & 1);
        let count = (world.endpoints >> (2 * i)) & 3;
        b = b
            .cluster(eds_cluster(name, cla_name, secs))
            .endpoints(cla(cla_name, count));
    }
    if present.contains(&STATIC) {
        b = b.cluster(static_cluster(1 + i64::from((world.timeouts >> 4) & 1)));
    }
    let http = world.listeners & 1 != 0;
    let https = world.listeners & 2 != 0;
    for (i, table) in ["r0", "r1"].into_iter().enumerate() {
        let named = if i == 0 { http } else { https };
        if world.routes[i] & 0x80 == 0 && !named {
            continue;
        }
        let routed: Vec<&str> = (0..ALL_CLUSTERS.len())
            .filter(|c| world.routes[i] & (1 << c) != 0)
            .map(|c| ALL_CLUSTERS[c])
            .filter(|c| present.contains(c))
            .collect();
        b = b.route(route_table(table, &routed));
    }
    if http {
        let version = u32::from((world.listeners >> 3) & 1);
        b = b.listener(listener("http", "r0", None, version));
    }
    if https {
        b = b.listener(listener("https", "r1", Some("cert"), 0));
        let mut cert = Secret {
            name: "cert".to_owned(),
            ..Secret::default()
        };
        if world.listeners & 4 != 0 {
            cert.r#type = Some(secret::Type::TlsCertificate(TlsCertificate::default()));
        }
        b = b.secret(cert);
    }
    b.build()
        .expect("the universe is consistent by construction")
}

// === the scripted Envoy ===

/// `STREAM_STATE_TRACE=1` prints every step (to read a crash input with
/// `cargo fuzz run stream_state <input>`).
fn trace(line: impl FnOnce() -> String) {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("STREAM_STATE_TRACE").is_some()) {
        eprintln!("{}", line());
    }
}

fn names(resources: &[Arc<Resource>]) -> Vec<String> {
    let name =
        |r: &Arc<Resource>| format!("{}@{}", r.name(), &r.version()[..4.min(r.version().len())]);
    resources.iter().map(name).collect()
}

type Held = BTreeMap<String, Arc<Resource>>;

fn idx(kind: ResourceType) -> usize {
    ResourceType::ALL
        .iter()
        .position(|k| *k == kind)
        .expect("a type")
}

/// A response sent, with the version of the snapshot it was planned towards.
struct Sent {
    planned: Planned,
    snapshot: String,
}

/// A response Envoy received and has not answered yet.
struct Received {
    sent: Sent,
    rejected: bool,
    /// EDS: clusters (with their add generation) whose CLA this carried while
    /// Envoy held them; warm once this is ACKed.
    feeds: Vec<(String, u64)>,
}

struct Envoy {
    mode: Mode,
    state: StreamState,
    target: Snapshot,
    manual: [bool; 5],
    /// Sent, not received yet, in order.
    transit: VecDeque<Sent>,
    /// Received, not answered yet.
    received: [Option<Received>; 5],
    /// What Envoy applied, per type.
    held: [Held; 5],
    /// SotW `version_info`: the last version accepted.
    version: [String; 5],
    /// What Envoy asks for (`None`: never asked; CDS/LDS: empty is wildcard).
    names: [Option<BTreeSet<String>>; 5],
    /// `ghost` is asked for too (EDS/RDS/SDS).
    ghost: [bool; 5],
    /// Nonce of the last response received (SotW requests carry it).
    nonce: [String; 5],
    /// Nonce of the last response answered.
    answered: [String; 5],
    /// Nonce of the last response the stream sent, per type.
    last_sent: [String; 5],
    /// Every nonce the stream sent.
    nonces: BTreeSet<String>,
    /// Versions rejected, newest last (the stream remembers the last 64).
    nacked: [VecDeque<String>; 5],
    /// Per cluster: bumped each time Envoy adds it (absent → present).
    added: BTreeMap<String, u64>,
    /// Clusters whose endpoints Envoy ACKed since it added them (static: that
    /// it holds).
    warm: BTreeSet<String>,
    /// SotW reconnect: types whose claim the stream has not confirmed yet.
    unconfirmed: BTreeSet<usize>,
    /// SotW CDS/LDS: Envoy dropped names since it accepted `version`, with no
    /// response since (the stream answers name changes of these types only
    /// when the view changes), so `version` no longer says what it holds.
    version_stale: [bool; 5],
}

impl Envoy {
    fn connect(mode: Mode, manual: u8, first: &World) -> Self {
        let mut envoy = Envoy {
            mode,
            state: StreamState::new(mode),
            target: build(first),
            manual: [
                false,
                manual & 1 != 0,
                false,
                manual & 2 != 0,
                manual & 4 != 0,
            ],
            transit: VecDeque::new(),
            received: Default::default(),
            held: Default::default(),
            version: Default::default(),
            names: Default::default(),
            ghost: [false; 5],
            nonce: Default::default(),
            answered: Default::default(),
            last_sent: Default::default(),
            nonces: BTreeSet::new(),
            nacked: Default::default(),
            added: BTreeMap::new(),
            warm: BTreeSet::new(),
            unconfirmed: BTreeSet::new(),
            version_stale: [false; 5],
        };
        envoy.subscribe(CDS, BTreeSet::new());
        envoy.subscribe(LDS, BTreeSet::new());
        envoy
    }

    fn step(&mut self, op: Op) {
        trace(|| format!("op {op:?}"));
        match op {
            Op::Receive { reject } => self.receive(reject),
            Op::ReceiveAll { reject } => self.receive_all(reject),
            Op::Answer(kind) => self.answer(kind.get()),
            Op::AnswerAll => self.answer_all(),
            Op::Converge => {
                for _ in 0..8 {
                    if self.transit.is_empty() && self.received.iter().all(Option::is_none) {
                        break;
                    }
                    self.receive_all(0);
                    self.answer_all();
                }
            }
            Op::StaleNonce(kind, n) => self.stale(kind.get(), &format!("stale-{n}")),
            Op::Repeat(kind) => {
                let kind = kind.get();
                let nonce = self.answered[idx(kind)].clone();
                if !nonce.is_empty() {
                    self.stale(kind, &nonce);
                }
            }
            Op::Subscribe(kind, bits, ghost) => {
                let kind = kind.get();
                match kind {
                    // Delta leaves a wildcard by unsubscribing `*`, and what
                    // Envoy then keeps is not pinned down: CDS and LDS stay
                    // wildcard there, as Envoy's ADS bootstrap asks.
                    CDS | LDS if self.mode == Mode::Delta => {}
                    CDS | LDS => {
                        let pool: &[&str] = if kind == CDS {
                            &ALL_CLUSTERS
                        } else {
                            &["http", "https"]
                        };
                        let mut names: BTreeSet<String> = (0..pool.len())
                            .filter(|i| bits & (1 << i) != 0)
                            .map(|i| pool[i].to_owned())
                            .collect();
                        if ghost && !names.is_empty() {
                            names.insert(GHOST.to_owned());
                        }
                        self.subscribe(kind, names);
                    }
                    _ => {
                        self.ghost[idx(kind)] = ghost;
                        self.follow(kind);
                    }
                }
            }
            Op::Follow(kind) => self.follow(kind.get()),
            Op::Publish(world) => {
                // As the pipeline publishes: sharing the previous snapshot's
                // resources, and carrying what changed since it.
                self.target = build(&world).share_with(&self.target);
                self.server_plan();
            }
            Op::Reconnect => self.reconnect(),
        }
    }

    fn answer_all(&mut self) {
        for kind in ResourceType::ALL {
            self.answer(kind);
        }
    }

    fn receive_all(&mut self, reject: u8) {
        while let Some(kind) = self.transit.front().map(|s| s.planned.kind) {
            self.receive(reject & (1 << idx(kind)) != 0);
        }
    }

    fn wants(&self, kind: ResourceType, name: &str) -> bool {
        match &self.names[idx(kind)] {
            None => false,
            Some(names) if kind.is_wildcard() && names.is_empty() => true,
            Some(names) => names.contains(name),
        }
    }

    /// What Envoy's clusters (EDS) or listeners (RDS, SDS) name.
    fn named(&self, kind: ResourceType) -> BTreeSet<String> {
        let mut names: BTreeSet<String> = match kind {
            EDS => self.held[idx(CDS)]
                .values()
                .filter_map(|c| c.references().endpoints.as_deref().map(str::to_owned))
                .collect(),
            RDS => self.held[idx(LDS)]
                .values()
                .flat_map(|l| l.references().routes.clone())
                .collect(),
            SDS => self.held[idx(LDS)]
                .values()
                .flat_map(|l| l.references().secrets.clone())
                .collect(),
            _ => return BTreeSet::new(),
        };
        if self.ghost[idx(kind)] {
            names.insert(GHOST.to_owned());
        }
        names
    }

    /// Asks for what Envoy's clusters or listeners name, if that changed.
    fn follow(&mut self, kind: ResourceType) {
        if !matches!(kind, EDS | RDS | SDS) {
            return;
        }
        let names = self.named(kind);
        let current = &self.names[idx(kind)];
        let unchanged = current.as_ref().map_or(names.is_empty(), |c| *c == names);
        if !unchanged {
            self.subscribe(kind, names);
        }
    }

    /// After applying `kind`: follow what changed, unless the type is manual.
    fn follow_after(&mut self, kind: ResourceType) {
        let followers: &[ResourceType] = match kind {
            CDS => &[EDS],
            LDS => &[RDS, SDS],
            _ => &[],
        };
        for &f in followers {
            if !self.manual[idx(f)] {
                self.follow(f);
            }
        }
    }

    // --- requests: each is applied, then the server plans ---

    fn sotw(&mut self, kind: ResourceType, nonce: &str, error: Option<String>) -> Outcome {
        let i = idx(kind);
        let names: Vec<String> = self.names[i].iter().flatten().cloned().collect();
        let version = self.version[i].clone();
        trace(|| format!("  request {kind:?} #{nonce} {names:?}"));
        let outcome = self
            .state
            .on_sotw_request(kind, &version, nonce, &names, error);
        self.server_plan();
        outcome
    }

    fn delta(
        &mut self,
        kind: ResourceType,
        nonce: &str,
        (add, drop): (&[String], &[String]),
        initial: &HashMap<String, String>,
        error: Option<String>,
    ) -> Outcome {
        trace(|| format!("  request {kind:?} #{nonce} +{add:?} -{drop:?} {initial:?}"));
        let outcome = self
            .state
            .on_delta_request(kind, nonce, add, drop, initial, error);
        self.server_plan();
        outcome
    }

    /// A subscription request: in SotW it also answers the response of that
    /// type Envoy received, if any (one request stream per type).
    fn subscribe(&mut self, kind: ResourceType, names: BTreeSet<String>) {
        let i = idx(kind);
        let old = self.names[i].replace(names.clone()).unwrap_or_default();
        // Envoy drops what it no longer asks for.
        let unwanted: Vec<String> = self.held[i]
            .keys()
            .filter(|n| !self.wants(kind, n))
            .cloned()
            .collect();
        for name in unwanted {
            self.version_stale[i] = true;
            self.held[i].remove(&name);
            if kind == CDS {
                self.warm.remove(&name);
            }
        }
        let outcome = match self.mode {
            Mode::Sotw => {
                if self.received[i].is_some() {
                    self.answer(kind);
                    return;
                }
                let nonce = self.nonce[i].clone();
                self.sotw(kind, &nonce, None)
            }
            Mode::Delta => {
                let add: Vec<String> = names.difference(&old).cloned().collect();
                let drop: Vec<String> = old.difference(&names).cloned().collect();
                self.delta(kind, "", (&add, &drop), &HashMap::new(), None)
            }
        };
        // A response on the way makes a SotW request stale (ignored; the ACK of
        // that response will carry the names).
        let on_the_way = self.transit.iter().any(|s| s.planned.kind == kind);
        let stale = matches!(outcome, Outcome::Stale) && self.mode == Mode::Sotw;
        assert!(
            matches!(outcome, Outcome::Subscribed | Outcome::Released { .. })
                || (stale && (on_the_way || self.last_sent[i] != self.nonce[i])),
            "{kind:?}: a subscription change answered {outcome:?}"
        );
    }

    /// A request whose nonce is not a response Envoy holds unanswered.
    fn stale(&mut self, kind: ResourceType, nonce: &str) {
        let i = idx(kind);
        if self.names[i].is_none() || self.received[i].is_some() {
            return; // a first request would subscribe; a received one, answer
        }
        let outcome = match self.mode {
            Mode::Sotw => self.sotw(kind, nonce, None),
            Mode::Delta => self.delta(kind, nonce, (&[], &[]), &HashMap::new(), None),
        };
        let outstanding = self.transit.iter().any(|s| s.planned.kind == kind);
        if self.last_sent[i] == nonce && !outstanding {
            let repeat = matches!(outcome, Outcome::Subscribed);
            assert!(repeat, "{kind:?} {nonce}: a repeat answered {outcome:?}");
        } else if self.last_sent[i] != nonce {
            let stale = matches!(outcome, Outcome::Stale);
            assert!(stale, "{kind:?} {nonce}: {outcome:?}");
        }
    }

    /// The server's turn: plan, send, report.
    fn server_plan(&mut self) {
        let planned = self.state.plan(&self.target);
        for outcome in self.state.take_resumed() {
            match outcome {
                Outcome::Resumed { kind, .. } => {
                    self.unconfirmed.remove(&idx(kind));
                }
                other => panic!("take_resumed gave {other:?}"),
            }
        }
        let mut last: Option<usize> = None;
        for p in &planned {
            let i = idx(p.kind);
            assert!(last.is_none_or(|l| l < i), "out of order: {planned:?}");
            last = Some(i);
            let on_the_way = self.transit.iter().any(|s| s.planned.kind == p.kind);
            assert!(
                !on_the_way && self.received[i].is_none(),
                "{:?}: a second response in flight",
                p.kind
            );
            assert!(
                self.nonces.insert(p.nonce.clone()),
                "nonce {} reused",
                p.nonce
            );
            assert!(
                !self.nacked[i].contains(&p.version),
                "{:?}: version {} was NACKed and is sent again",
                p.kind,
                p.version
            );
            self.check_content(p);
            self.last_sent[i] = p.nonce.clone();
        }
        for p in &planned {
            let (kind, nonce) = (p.kind, &p.nonce);
            let (sent, removed) = (names(&p.resources), &p.removed);
            trace(|| format!("  sent {kind:?} #{nonce} {sent:?} removed {removed:?}"));
        }
        let snapshot = self.target.version().to_owned();
        self.transit.extend(planned.into_iter().map(|planned| Sent {
            planned,
            snapshot: snapshot.clone(),
        }));
        self.check_in_sync();
    }

    /// Envoy receives the next response: takes it or rejects it, then asks
    /// for what it names.
    fn receive(&mut self, rejected: bool) {
        let Some(sent) = self.transit.pop_front() else {
            return;
        };
        let p = &sent.planned;
        trace(|| format!("  received {:?} #{} rejected: {rejected}", p.kind, p.nonce));
        self.check_make_before_break(p);
        let i = idx(p.kind);
        let feeds = if rejected { Vec::new() } else { self.apply(p) };
        self.nonce[i] = p.nonce.clone();
        let kind = p.kind;
        self.received[i] = Some(Received {
            sent,
            rejected,
            feeds,
        });
        if !rejected {
            self.follow_after(kind);
        }
    }

    /// Delta: no name both sent and removed; no name twice; only subscribed names.
    fn check_content(&self, p: &Planned) {
        let sub = self.state.subscription(p.kind);
        let mut seen = BTreeSet::new();
        for r in &p.resources {
            assert!(
                seen.insert(r.name()),
                "{:?}: {} sent twice",
                p.kind,
                r.name()
            );
            assert!(
                sub.wants(r.name()),
                "{:?}: {} not subscribed",
                p.kind,
                r.name()
            );
            assert_eq!(r.kind(), p.kind);
        }
        match self.mode {
            Mode::Sotw => assert!(p.removed.is_empty(), "SotW removes nothing"),
            Mode::Delta => {
                let removed: BTreeSet<&str> = p.removed.iter().map(String::as_str).collect();
                assert_eq!(
                    removed.len(),
                    p.removed.len(),
                    "{:?}: removed twice",
                    p.kind
                );
                for name in &seen {
                    assert!(
                        !removed.contains(name),
                        "{:?}: {name} sent and removed",
                        p.kind
                    );
                }
            }
        }
    }

    /// Names of its type Envoy holds that `p` makes it drop.
    fn dropped(&self, p: &Planned) -> Vec<String> {
        let held = &self.held[idx(p.kind)];
        match self.mode {
            Mode::Sotw => {
                let sent: BTreeSet<&str> = p.resources.iter().map(|r| r.name()).collect();
                held.keys()
                    .filter(|n| !sent.contains(n.as_str()))
                    .cloned()
                    .collect()
            }
            Mode::Delta => p
                .removed
                .iter()
                .filter(|n| held.contains_key(*n))
                .cloned()
                .collect(),
        }
    }

    /// Invariant 3, from what Envoy holds when it receives `p`.
    fn check_make_before_break(&self, p: &Planned) {
        let unknown =
            |kinds: &[ResourceType]| kinds.iter().any(|k| self.unconfirmed.contains(&idx(*k)));
        // Adds: what a new or changed route table or listener names is held
        // and warm (a SotW resend of what Envoy holds changes nothing).
        if matches!(p.kind, RDS | LDS) {
            let held = &self.held[idx(p.kind)];
            let changed = p.resources.iter().filter(|r| {
                held.get(r.name())
                    .is_none_or(|h| h.version() != r.version())
            });
            for r in changed {
                for c in &r.references().clusters {
                    if !self.wants(CDS, c) {
                        continue; // Envoy chose not to have it
                    }
                    assert!(
                        self.held[idx(CDS)].contains_key(c) && self.warm.contains(c),
                        "{:?} {} names cluster {c} before Envoy has it warm (held: {:?}, warm: {:?})",
                        p.kind,
                        r.name(),
                        self.held[idx(CDS)].keys().collect::<Vec<_>>(),
                        self.warm
                    );
                }
            }
        }
        // Removals: nothing Envoy holds still names it.
        let dropped = self.dropped(p);
        if dropped.is_empty() {
            return;
        }
        match p.kind {
            CDS if !unknown(&[CDS, LDS, RDS]) => {
                // Route tables count where a listener names them (Envoy asks for
                // them only then; a manual subscription may keep others).
                let routed = self.named(RDS);
                for c in dropped.iter().filter(|c| self.wants(CDS, c)) {
                    for kind in [LDS, RDS] {
                        let held = self.held[idx(kind)].values();
                        let used = held.filter(|r| kind == LDS || routed.contains(r.name()));
                        for r in used {
                            assert!(
                                !r.references().clusters.contains(c),
                                "CDS drops {c} while {kind:?} {} still names it",
                                r.name()
                            );
                        }
                    }
                }
            }
            EDS if !unknown(&[CDS, EDS]) => {
                let named = self.named(EDS);
                for n in dropped.iter().filter(|n| self.wants(EDS, n)) {
                    assert!(
                        !named.contains(n),
                        "EDS drops {n} while a held cluster names it"
                    );
                }
            }
            RDS | SDS if !unknown(&[LDS, p.kind]) => {
                let named = self.named(p.kind);
                for n in dropped.iter().filter(|n| self.wants(p.kind, n)) {
                    assert!(
                        *n == GHOST || !named.contains(n),
                        "{:?} drops {n} while a held listener names it",
                        p.kind
                    );
                }
            }
            _ => {}
        }
    }

    /// Envoy takes `p`; returns (EDS) the clusters it feeds.
    fn apply(&mut self, p: &Planned) -> Vec<(String, u64)> {
        let i = idx(p.kind);
        let before: BTreeSet<String> = self.held[i].keys().cloned().collect();
        let mut next = if self.mode == Mode::Sotw {
            Held::new()
        } else {
            self.held[i].clone()
        };
        for name in &p.removed {
            next.remove(name);
        }
        for r in &p.resources {
            next.insert(r.name().to_owned(), Arc::clone(r));
        }
        let kind = p.kind;
        next.retain(|n, _| self.wants(kind, n));
        self.held[i] = next;
        self.version[i] = p.version.clone();
        self.version_stale[i] = false;
        match kind {
            CDS => {
                for (name, cluster) in &self.held[i] {
                    if !before.contains(name) {
                        *self.added.entry(name.clone()).or_default() += 1;
                        // A static cluster has its endpoints inline.
                        if cluster.references().endpoints.is_none() {
                            self.warm.insert(name.clone());
                        } else {
                            self.warm.remove(name);
                        }
                    }
                }
                for name in &before {
                    if !self.held[i].contains_key(name) {
                        self.warm.remove(name);
                    }
                }
                Vec::new()
            }
            EDS => {
                let sent: BTreeSet<&str> = p.resources.iter().map(|r| r.name()).collect();
                self.held[idx(CDS)]
                    .values()
                    .filter(|c| {
                        c.references()
                            .endpoints
                            .as_deref()
                            .is_some_and(|e| sent.contains(e))
                    })
                    .map(|c| {
                        (
                            c.name().to_owned(),
                            self.added.get(c.name()).copied().unwrap_or(0),
                        )
                    })
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    /// Clusters an ACKed EDS response fed, still held since it was received.
    fn warm_from(&mut self, feeds: Vec<(String, u64)>) {
        for (cluster, generation) in feeds {
            let held = self.held[idx(CDS)].contains_key(&cluster);
            if held && self.added.get(&cluster) == Some(&generation) {
                self.warm.insert(cluster);
            }
        }
    }

    /// Envoy's ACK or NACK of the response of `kind` it received.
    fn answer(&mut self, kind: ResourceType) {
        let i = idx(kind);
        let Some(received) = self.received[i].take() else {
            return;
        };
        let nonce = received.sent.planned.nonce.clone();
        let error = received.rejected.then(|| format!("rejected {nonce}"));
        self.answered[i] = nonce.clone();
        // The server plans once this is settled.
        let outcome = match self.mode {
            Mode::Sotw => {
                let names: Vec<String> = self.names[i].iter().flatten().cloned().collect();
                let version = self.version[i].clone();
                self.state
                    .on_sotw_request(kind, &version, &nonce, &names, error.clone())
            }
            Mode::Delta => {
                let none = HashMap::new();
                self.state
                    .on_delta_request(kind, &nonce, &[], &[], &none, error.clone())
            }
        };
        trace(|| {
            format!("  answered {kind:?} #{nonce}: {outcome:?}")
                .chars()
                .take(160)
                .collect()
        });
        let planned = &received.sent.planned;
        match outcome {
            Outcome::Ack {
                kind: k,
                version,
                snapshot,
                ..
            } => {
                assert!(!received.rejected, "{kind:?}: a NACK taken as {k:?} ACK");
                assert_eq!((k, &version), (kind, &planned.version));
                assert_eq!(snapshot, received.sent.snapshot);
                self.unconfirmed.remove(&i);
                self.warm_from(received.feeds);
            }
            Outcome::Nack {
                kind: k,
                version,
                error: e,
                snapshot,
            } => {
                assert!(received.rejected, "{kind:?}: an ACK taken as {k:?} NACK");
                assert_eq!((k, &version), (kind, &planned.version));
                assert_eq!(Some(e), error);
                assert_eq!(snapshot, received.sent.snapshot);
                let nacked = &mut self.nacked[i];
                if !nacked.contains(&version) {
                    nacked.push_back(version);
                    if nacked.len() > REMEMBERED {
                        nacked.pop_front();
                    }
                }
            }
            other => panic!("{kind:?}: the answer to {nonce} gave {other:?}"),
        }
        self.server_plan();
    }

    /// The same Envoy on a new stream: what was on the way is lost; what it
    /// received it holds (and claims, as good as its ACK); it claims what it
    /// holds, one request per type, each answered by the server's plan.
    fn reconnect(&mut self) {
        self.state = StreamState::new(self.mode);
        self.transit.clear();
        let eds = self.received[idx(EDS)].take().filter(|r| !r.rejected);
        if let Some(eds) = eds {
            self.warm_from(eds.feeds);
        }
        self.received = Default::default();
        self.nonce = Default::default();
        self.answered = Default::default();
        self.last_sent = Default::default();
        self.nonces.clear();
        self.nacked = Default::default();
        self.unconfirmed.clear();
        for kind in ResourceType::ALL {
            let i = idx(kind);
            let Some(names) = &self.names[i] else {
                continue;
            };
            let names: Vec<String> = names.iter().cloned().collect();
            if self.mode == Mode::Sotw && (!self.version[i].is_empty() || !self.held[i].is_empty())
            {
                self.unconfirmed.insert(i);
            }
            let outcome = match self.mode {
                Mode::Sotw => {
                    // A real Envoy would claim `version` still; the stream
                    // would take it for the view it was (left out, see above).
                    if self.version_stale[i] {
                        self.version[i].clear();
                    }
                    self.sotw(kind, "", None)
                }
                Mode::Delta => {
                    let initial: HashMap<String, String> = self.held[i]
                        .iter()
                        .map(|(n, r)| (n.clone(), r.version().to_owned()))
                        .collect();
                    self.delta(kind, "", (&names, &[]), &initial, None)
                }
            };
            assert!(
                matches!(outcome, Outcome::Subscribed),
                "{kind:?}: {outcome:?}"
            );
        }
    }

    /// The stream's subscriptions are Envoy's (none of its requests was
    /// ignored as stale).
    fn subscriptions_agree(&self) -> bool {
        ResourceType::ALL.into_iter().all(|kind| {
            let sub = self.state.subscription(kind);
            match &self.names[idx(kind)] {
                None => !sub.is_wildcard() && sub.names().is_empty(),
                Some(names) if kind.is_wildcard() && names.is_empty() => {
                    sub.is_wildcard() && sub.names().is_empty()
                }
                Some(names) => {
                    !sub.is_wildcard()
                        && sub
                            .names()
                            .iter()
                            .map(|n| &**n)
                            .eq(names.iter().map(String::as_str))
                }
            }
        })
    }

    /// What the server reports after a plan, checked against what Envoy holds.
    fn check_in_sync(&mut self) {
        let in_sync = self.state.in_sync(&self.target);
        match self.state.take_in_sync(&self.target) {
            Some(version) => {
                assert!(in_sync);
                assert_eq!(version, self.target.version());
            }
            None => {
                if let Some((kind, error)) = self.state.take_known_rejection(&self.target) {
                    assert!(!self.nacked[idx(kind)].is_empty(), "{kind:?}: never NACKed");
                    assert!(error.starts_with("rejected "), "{error}");
                }
            }
        }
        if !in_sync || !self.subscriptions_agree() || !self.unconfirmed.is_empty() {
            return;
        }
        assert!(
            self.transit.is_empty() && self.received.iter().all(Option::is_none),
            "in sync with a response in flight"
        );
        for kind in ResourceType::ALL {
            let i = idx(kind);
            let want: Vec<(&str, &str)> = self
                .target
                .resources(kind)
                .iter()
                .filter(|(n, _)| self.wants(kind, n))
                .map(|(n, r)| (n.as_str(), r.version()))
                .collect();
            // A name Envoy asked for by name that the snapshot lacks keeps what
            // Envoy holds (clusters excepted: old ones leave once unnamed).
            let wildcard = self.names[i]
                .as_ref()
                .is_some_and(|n| kind.is_wildcard() && n.is_empty());
            let keeps = kind != CDS && !wildcard;
            let held: Vec<(&str, &str)> = self.held[i]
                .iter()
                .filter(|(n, _)| !keeps || self.target.get(kind, n).is_some())
                .map(|(n, r)| (n.as_str(), r.version()))
                .collect();
            assert_eq!(
                held, want,
                "{kind:?}: in sync, but Envoy holds something else"
            );
        }
        let planned = self.state.plan(&self.target);
        assert!(planned.is_empty(), "in sync, yet planned {planned:?}");
    }
}

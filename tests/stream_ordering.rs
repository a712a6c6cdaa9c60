//! Invariants 3, 5 and 6 at the level of one stream: the make-before-break
//! `StreamState` driven by a scripted fake Envoy (`fake_envoy`), in SotW and delta.
//! No Envoy, no tokio, no network: every interleaving is chosen by the test.
//!
//! The fake Envoy checks, throughout: every cluster an accepted route table names
//! is held and warm; the server never has two responses of one type unanswered,
//! never re-sends a version Envoy NACKed, and (delta) never calls a resource of its
//! current snapshot removed. `converge` then checks Envoy holds exactly the target.
//!
//! Random walks: `STREAM_ORDERING_SEEDS=N` (default 40) and
//! `STREAM_ORDERING_FIRST_SEED=F` pick the seeds; a failure prints its seed and the
//! last events of the stream.

mod fake_envoy;
#[allow(dead_code)]
#[path = "support/resources.rs"]
mod resources;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::config::listener::v3::Listener;
use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use interlock::snapshot::{ResourceType, Snapshot, SnapshotBuilder};
use interlock::xds::{Mode, Outcome, Planned, StreamState};

use fake_envoy::{Event, FakeEnvoy, Harness, OutcomeKind, Request, Verdict, CDS, EDS, LDS, RDS};
use resources::{duration, eds_cluster, endpoints, http_listener, route_table};

// === Snapshot specs ===

/// A small config described by value, so tests can derive variants and build
/// snapshots from scratch or by editing the previous one.
#[derive(Clone, Debug, Default, PartialEq)]
struct Spec {
    /// listener → (port, route table)
    listeners: BTreeMap<String, (u16, String)>,
    /// route table → virtual hosts (domain, prefix, cluster)
    routes: BTreeMap<String, Vec<(String, String, String)>>,
    /// cluster → (connect timeout in seconds, number of endpoints)
    clusters: BTreeMap<String, (u64, u8)>,
}

impl Spec {
    fn listener(mut self, name: &str, port: u16, route: &str) -> Self {
        self.listeners
            .insert(name.to_owned(), (port, route.to_owned()));
        self
    }

    /// A route table of `(domain, cluster)` virtual hosts, prefix `/`.
    fn route(mut self, name: &str, hosts: &[(&str, &str)]) -> Self {
        let hosts = hosts
            .iter()
            .map(|(d, c)| (d.to_string(), "/".to_owned(), c.to_string()))
            .collect();
        self.routes.insert(name.to_owned(), hosts);
        self
    }

    /// An EDS cluster with one endpoint and a 1 s connect timeout.
    fn cluster(self, name: &str) -> Self {
        self.cluster_with(name, 1, 1)
    }

    fn cluster_with(mut self, name: &str, timeout_secs: u64, endpoints: u8) -> Self {
        self.clusters
            .insert(name.to_owned(), (timeout_secs, endpoints));
        self
    }

    fn without_cluster(mut self, name: &str) -> Self {
        self.clusters.remove(name);
        self
    }

    fn listener_msgs(&self) -> Vec<Listener> {
        self.listeners
            .iter()
            .map(|(name, (port, route))| http_listener(name, *port, route))
            .collect()
    }

    fn route_msgs(&self) -> Vec<RouteConfiguration> {
        self.routes
            .iter()
            .map(|(name, hosts)| route_table(name, hosts))
            .collect()
    }

    fn cluster_msgs(&self) -> Vec<Cluster> {
        self.clusters
            .iter()
            .map(|(name, (timeout, _))| Cluster {
                connect_timeout: Some(duration(Duration::from_secs(*timeout))),
                ..eds_cluster(name)
            })
            .collect()
    }

    fn endpoint_msgs(&self) -> Vec<ClusterLoadAssignment> {
        self.clusters
            .iter()
            .map(|(name, (_, count))| {
                let addrs: Vec<SocketAddr> = (1..=*count)
                    .map(|i| SocketAddr::from((Ipv4Addr::new(127, 0, 0, i), 8080)))
                    .collect();
                endpoints(name, &addrs)
            })
            .collect()
    }

    /// A snapshot built from scratch (no resource shared with any earlier one).
    fn build(&self) -> Snapshot {
        let mut b = Snapshot::builder();
        for l in self.listener_msgs() {
            b = b.listener(l);
        }
        for r in self.route_msgs() {
            b = b.route(r);
        }
        for c in self.cluster_msgs() {
            b = b.cluster(c);
        }
        for e in self.endpoint_msgs() {
            b = b.endpoints(e);
        }
        b.build().expect("test spec is consistent")
    }

    /// The same content as [`Spec::build`], made with `prev.edit()` so unchanged
    /// resources are shared with `prev` (as an incremental rebuild does).
    fn edit_from(&self, before: &Spec, prev: &Snapshot) -> Snapshot {
        let mut b = prev.edit();
        b = edit_list(
            b,
            LDS,
            &before.listener_msgs(),
            &self.listener_msgs(),
            |l| &l.name,
            SnapshotBuilder::listener,
        );
        b = edit_list(
            b,
            RDS,
            &before.route_msgs(),
            &self.route_msgs(),
            |r| &r.name,
            SnapshotBuilder::route,
        );
        b = edit_list(
            b,
            CDS,
            &before.cluster_msgs(),
            &self.cluster_msgs(),
            |c| &c.name,
            SnapshotBuilder::cluster,
        );
        b = edit_list(
            b,
            EDS,
            &before.endpoint_msgs(),
            &self.endpoint_msgs(),
            |e| &e.cluster_name,
            SnapshotBuilder::endpoints,
        );
        let snap = b.build().expect("test spec is consistent");
        assert_eq!(snap.version(), self.build().version(), "edit == rebuild");
        snap
    }
}

fn edit_list<M: PartialEq + Clone>(
    mut b: SnapshotBuilder,
    kind: ResourceType,
    old: &[M],
    new: &[M],
    name: impl Fn(&M) -> &String,
    add: impl Fn(SnapshotBuilder, M) -> SnapshotBuilder,
) -> SnapshotBuilder {
    for o in old {
        if !new.iter().any(|n| name(n) == name(o)) {
            b = b.remove(kind, name(o));
        }
    }
    for n in new {
        if !old.contains(n) {
            b = add(b, n.clone());
        }
    }
    b
}

fn version_of(s: &Snapshot, kind: ResourceType, name: &str) -> String {
    s.get(kind, name)
        .unwrap_or_else(|| panic!("{kind} {name} in snapshot"))
        .version()
        .to_owned()
}

fn kinds(planned: &[Planned]) -> Vec<ResourceType> {
    planned.iter().map(|p| p.kind).collect()
}

/// listener `http` → route table `main` → `alpha`.
fn base() -> Spec {
    Spec::default()
        .listener("http", 10080, "main")
        .route("main", &[("a.example", "alpha")])
        .cluster("alpha")
}

/// Runs a test body once per ADS flavour, as `name::sotw` and `name::delta`, each
/// with its own attributes (a known bug may affect only one flavour).
macro_rules! per_mode {
    ($name:ident, sotw: [$(#[$s:meta])*], delta: [$(#[$d:meta])*]) => {
        mod $name {
            #[test]
            $(#[$s])*
            fn sotw() {
                super::$name(interlock::xds::Mode::Sotw)
            }
            #[test]
            $(#[$d])*
            fn delta() {
                super::$name(interlock::xds::Mode::Delta)
            }
        }
    };
}

macro_rules! in_both_modes {
    ($($name:ident),* $(,)?) => {$(
        per_mode!($name, sotw: [], delta: []);
    )*};
}

in_both_modes!(
    adds_go_cds_then_eds_then_lds_then_rds,
    route_to_new_cluster_waits_for_that_clusters_endpoints_ack,
    snapshot_arriving_between_cds_and_its_ack_is_not_lost,
    removal_drops_routes_before_clusters,
    nacked_listeners_are_never_resent,
    nacked_clusters_are_never_resent,
    stale_nonce_is_ignored,
    eds_is_resent_when_cluster_changes_even_if_endpoints_unchanged,
    reconnect_with_current_versions_sends_nothing,
    reconnect_with_one_stale_resource_sends_only_that,
    one_response_per_type_in_flight,
    random_walks_over_fixed_names_without_nacks_keep_routes_on_warm_clusters,
);

// Bugs found in `StreamState` by the random walks, one deterministic test each (all
// fixed). One limitation remains ignored: a SotW Envoy reconnecting to a snapshot
// that changed while it was away claims only a version hash, so the clusters its
// old route tables name cannot be known (delta claims per-resource versions).
//   BUG-1: a route is sent to a cluster an unanswered CDS response removes (503 NC).
//   BUG-2: delta answers a held-back resource of the snapshot as removed.
//   BUG-3: after a reconnect, CDS drops clusters Envoy's route tables still name.
//   BUG-5: a NACKed EDS response settles the CLAs it owed (cluster never warms).
//   BUG-6: SotW misses an unsubscribe + resubscribe between two responses.
//   BUG-7: SotW re-sends a NACKed EDS view when a cluster is owed endpoints.
//   BUG-8: only the last NACKed version per type is remembered.
per_mode!(
    new_route_table_is_not_answered_missing_while_its_clusters_warm,
    sotw: [],
    delta: []
);
per_mode!(
    reconnect_does_not_answer_a_held_back_route_table_as_removed,
    sotw: [],
    delta: []
);
per_mode!(
    route_is_not_sent_to_a_cluster_an_unanswered_cds_removes,
    sotw: [],
    delta: []
);
per_mode!(
    reconnect_to_a_changed_snapshot_keeps_routed_clusters_until_routes_move,
    sotw: [#[ignore = "limitation: a SotW reconnect claims only a version hash; content unknown unless it matches the current snapshot"]],
    delta: []
);
per_mode!(
    changed_cluster_gets_endpoints_after_its_eds_response_was_nacked,
    sotw: [],
    delta: []
);
per_mode!(
    route_table_dropped_and_resubscribed_between_responses_is_resent,
    sotw: [],
    delta: []
);
per_mode!(
    nacked_endpoints_are_not_resent_for_a_changed_cluster,
    sotw: [],
    delta: []
);
per_mode!(
    every_nacked_version_stays_rejected,
    sotw: [],
    delta: []
);
per_mode!(
    random_walks_keep_routes_on_warm_clusters_and_converge,
    sotw: [],
    delta: []
);
per_mode!(
    random_walks_with_reconnects_keep_routes_on_warm_clusters,
    sotw: [#[ignore = "limitation: a SotW reconnect claims only a version hash; content unknown unless it matches the current snapshot"]],
    delta: []
);

// === 1. Adds ===

fn adds_go_cds_then_eds_then_lds_then_rds(mode: Mode) {
    let spec = Spec::default()
        .listener("http", 10080, "main")
        .route("main", &[("a.example", "alpha"), ("b.example", "beta")])
        .cluster("alpha")
        .cluster("beta");
    for ack_first in [false, true] {
        let mut h = Harness::new(mode, spec.build());
        h.envoy.ack_first = ack_first;
        h.converge();
        h.envoy.assert_converged(&h.target);

        let sent = h.envoy.sent();
        let mut first_seen = Vec::new();
        for (_, s) in &sent {
            if !first_seen.contains(&s.kind) {
                first_seen.push(s.kind);
            }
        }
        assert_eq!(first_seen, [CDS, EDS, LDS, RDS], "{}", h.envoy.transcript());

        let (rds_at, _) = *sent
            .iter()
            .find(|(_, s)| s.kind == RDS && s.carries("main"))
            .expect("main was sent");
        let (lds_at, _) = *sent.iter().find(|(_, s)| s.kind == LDS).expect("LDS sent");
        for cluster in ["alpha", "beta"] {
            let eds_acked = sent
                .iter()
                .filter(|(_, s)| s.kind == EDS && s.carries(cluster))
                .filter_map(|(_, s)| h.envoy.ack_applied_at(&s.nonce))
                .min()
                .unwrap_or_else(|| panic!("EDS for {cluster} ACKed"));
            assert!(
                eds_acked < lds_at && eds_acked < rds_at,
                "{mode:?}: LDS/RDS sent before {cluster}'s endpoints were ACKed:\n{}",
                h.envoy.transcript()
            );
        }
    }
}

// === 2. A route to a new cluster ===

fn route_to_new_cluster_waits_for_that_clusters_endpoints_ack(mode: Mode) {
    let mut h = Harness::converged(mode, base().build());
    let next = base()
        .cluster("gamma")
        .route("main", &[("a.example", "alpha"), ("g.example", "gamma")]);
    let first = h.publish(next.build());
    assert_eq!(kinds(&first), [CDS], "only CDS may go first");
    let start = h.envoy.trace.len();
    h.converge();
    h.envoy.assert_converged(&h.target);

    let main_v = version_of(&h.target, RDS, "main");
    let sent = h.envoy.sent();
    let (rds_at, _) = *sent
        .iter()
        .find(|(i, s)| *i >= start && s.kind == RDS && s.carries_version("main", &main_v))
        .expect("new main sent");
    let (cds_at, cds) = *sent
        .iter()
        .find(|(_, s)| s.kind == CDS && s.carries("gamma"))
        .expect("gamma sent");
    let (eds_at, eds) = *sent
        .iter()
        .find(|(_, s)| s.kind == EDS && s.carries("gamma"))
        .expect("gamma's endpoints sent");
    let cds_ack = h.envoy.ack_applied_at(&cds.nonce).expect("CDS ACKed");
    let eds_ack = h.envoy.ack_applied_at(&eds.nonce).expect("EDS ACKed");
    let t = h.envoy.transcript();
    // EDS may go before the CDS ACK (Envoy 1.40 holds that ACK until the new
    // clusters warm), but only after the CDS, once Envoy asked for gamma.
    assert!(cds_at < eds_at && cds_at < cds_ack, "{mode:?}\n{t}");
    assert!(
        eds_ack < rds_at,
        "{mode:?}: route to gamma sent before gamma's EDS ACK\n{t}"
    );
    // No other RDS went out in between (the old table is what Envoy keeps).
    assert_eq!(
        sent.iter()
            .filter(|(i, s)| *i >= start && s.kind == RDS)
            .count(),
        1,
        "{t}"
    );
}

// === 3. Latest wins, nothing lost ===

fn snapshot_arriving_between_cds_and_its_ack_is_not_lost(mode: Mode) {
    let t1 = base()
        .cluster("a")
        .route("main", &[("a.example", "alpha"), ("new-a.example", "a")]);
    let t2 = t1.clone().cluster("b").route(
        "main",
        &[
            ("a.example", "alpha"),
            ("new-a.example", "a"),
            ("new-b.example", "b"),
        ],
    );
    // Envoy already processed the CDS (its ACK is on the wire) / has not seen it yet.
    for envoy_saw_cds in [true, false] {
        let mut h = Harness::converged(mode, base().build());
        let planned = h.publish(t1.build());
        assert_eq!(kinds(&planned), [CDS]);
        let t1_main = version_of(&h.target, RDS, "main");
        if envoy_saw_cds {
            assert_eq!(h.deliver(Verdict::Accept), Some(CDS));
        }
        let planned = h.publish(t2.build());
        assert!(
            planned.is_empty(),
            "{mode:?}: planned {:?} with CDS unanswered",
            kinds(&planned)
        );
        let t2_at = h.envoy.trace.len();
        h.converge();
        h.envoy.assert_converged(&h.target);

        let t2_main = version_of(&h.target, RDS, "main");
        let t = h.envoy.transcript();
        let rds = h.envoy.sent_of(RDS);
        assert!(
            rds.iter()
                .all(|(_, s)| !s.carries_version("main", &t1_main)),
            "{mode:?}: target 1's route table was sent although target 2 was current\n{t}"
        );
        let after: Vec<_> = rds.iter().filter(|(i, _)| *i >= t2_at).collect();
        assert_eq!(after.len(), 1, "{mode:?}: one RDS for target 2\n{t}");
        assert!(after[0].1.carries_version("main", &t2_main), "{t}");
        // Target 1's clusters were not re-sent separately: one more CDS, with both.
        let cds_after: Vec<_> = h
            .envoy
            .sent_of(CDS)
            .into_iter()
            .filter(|(i, _)| *i >= t2_at)
            .collect();
        assert_eq!(cds_after.len(), 1, "{t}");
        if mode == Mode::Sotw {
            assert!(cds_after[0].1.carries("a") && cds_after[0].1.carries("b"));
        }
    }
}

// === 4. Removals ===

fn removal_drops_routes_before_clusters(mode: Mode) {
    let both = Spec::default()
        .listener("http", 10080, "main")
        .route("main", &[("a.example", "a"), ("b.example", "b")])
        .cluster("a")
        .cluster("b");
    let only_a = both
        .clone()
        .without_cluster("b")
        .route("main", &[("a.example", "a")]);
    for ack_first in [false, true] {
        let mut h = Harness::new(mode, both.build());
        h.envoy.ack_first = ack_first;
        h.converge();
        let start = h.envoy.trace.len();
        let first = h.publish(only_a.build());
        assert_eq!(kinds(&first), [RDS], "{mode:?}: the route goes first");
        h.converge();
        h.envoy.assert_converged(&h.target);

        let t = h.envoy.transcript();
        let main_v = version_of(&h.target, RDS, "main");
        let sent: Vec<_> = h
            .envoy
            .sent()
            .into_iter()
            .filter(|(i, _)| *i >= start)
            .collect();
        let (rds_at, rds) = *sent
            .iter()
            .find(|(_, s)| s.kind == RDS && s.carries_version("main", &main_v))
            .expect("new main sent");
        let rds_ack = h.envoy.ack_applied_at(&rds.nonce).expect("RDS ACKed");
        let drops_b = |s: &fake_envoy::SentSummary| match mode {
            Mode::Sotw => !s.carries("b"),
            Mode::Delta => s.removed.iter().any(|n| n == "b"),
        };
        let (cds_at, _) = *sent
            .iter()
            .find(|(_, s)| s.kind == CDS && drops_b(s))
            .expect("b leaves CDS");
        assert!(rds_at < rds_ack && rds_ack < cds_at, "{mode:?}\n{t}");
        for (_, s) in sent.iter().filter(|(i, s)| *i < rds_ack && s.kind == CDS) {
            assert!(!drops_b(s), "{mode:?}: CDS dropped b before RDS ACK\n{t}");
            if mode == Mode::Sotw {
                assert!(s.carries("b"), "{t}");
            }
        }
    }
}

// === 5. NACK is final for that version ===

const NACK_ERROR: &str = "goo.gle/debug/xds-nack\nError adding/updating listener(s) alt: \
                          cannot bind '127.0.0.1:10081': Address already in use\n{ name: \"alt\" }";

fn nacked_listeners_are_never_resent(mode: Mode) {
    let mut h = Harness::converged(mode, base().build());
    let before = h.envoy.held(LDS);
    let t2 = base().listener("alt", 10081, "main");
    let planned = h.publish(t2.build());
    assert_eq!(kinds(&planned), [LDS]);
    let rejected = planned[0].version.clone();
    let start = h.envoy.trace.len();

    assert_eq!(h.deliver(Verdict::Reject(NACK_ERROR.into())), Some(LDS));
    let (_, outcome, replanned) = h.answer().expect("NACK on the wire");
    match outcome {
        Outcome::Nack {
            kind,
            version,
            error,
            ..
        } => {
            assert_eq!(kind, LDS);
            assert_eq!(version, rejected);
            assert_eq!(error, NACK_ERROR, "the error is kept verbatim");
        }
        other => panic!("{mode:?}: expected Nack, got {other:?}"),
    }
    assert!(replanned.is_empty(), "{:?}", kinds(&replanned));
    // The same target, planned again and again, and rebuilt from scratch: no LDS.
    for _ in 0..3 {
        assert!(h.plan().is_empty());
    }
    assert!(h.publish(t2.build()).is_empty());
    h.converge();
    assert_eq!(
        h.envoy
            .sent_of(LDS)
            .iter()
            .filter(|(i, _)| *i >= start)
            .count(),
        0,
        "{mode:?}: NACKed listeners re-sent\n{}",
        h.envoy.transcript()
    );
    assert_eq!(h.envoy.held(LDS), before, "Envoy keeps what it had");

    // A newer snapshot goes out and is accepted.
    let t3 = base().listener("alt", 10082, "main");
    let planned = h.publish(t3.build());
    assert_eq!(kinds(&planned), [LDS]);
    h.converge();
    h.envoy.assert_converged(&h.target);
}

fn nacked_clusters_are_never_resent(mode: Mode) {
    let mut h = Harness::converged(mode, base().build());
    let before = h.envoy.held(CDS);
    let t2 = base().cluster_with("alpha", 2, 1);
    let planned = h.publish(t2.build());
    assert_eq!(kinds(&planned), [CDS]);
    let rejected = planned[0].version.clone();
    let start = h.envoy.trace.len();

    h.deliver(Verdict::Reject("cluster alpha: bad connect_timeout".into()));
    let (_, outcome, _) = h.answer().expect("NACK on the wire");
    assert!(
        matches!(&outcome, Outcome::Nack { kind: CDS, version, error, .. }
            if *version == rejected && error == "cluster alpha: bad connect_timeout"),
        "{mode:?}: {outcome:?}"
    );
    h.converge();
    for _ in 0..3 {
        h.plan();
    }
    h.publish(t2.build());
    h.converge();
    let t = h.envoy.transcript();
    assert_eq!(
        h.envoy
            .sent_of(CDS)
            .iter()
            .filter(|(i, _)| *i >= start)
            .count(),
        0,
        "{mode:?}: NACKed clusters re-sent\n{t}"
    );
    for kind in [LDS, RDS] {
        assert_eq!(
            h.envoy
                .sent_of(kind)
                .iter()
                .filter(|(i, _)| *i >= start)
                .count(),
            0,
            "{mode:?}: {kind} moved on past a NACKed CDS\n{t}"
        );
    }
    assert_eq!(h.envoy.held(CDS), before);

    h.publish(base().cluster_with("alpha", 3, 1).build());
    h.converge();
    h.envoy.assert_converged(&h.target);
}

/// Two listener changes are NACKed in turn; then the first comes back. It was
/// rejected on this stream, so it is not sent again (the fake Envoy fails on any
/// re-sent NACKed version); a newer one is.
fn every_nacked_version_stays_rejected(mode: Mode) {
    let mut h = Harness::converged(mode, base().build());
    let first = base().listener("alt", 10081, "main");
    for spec in [&first, &base().listener("alt", 10082, "main")] {
        let planned = h.publish(spec.build());
        assert_eq!(kinds(&planned), [LDS]);
        assert_eq!(h.deliver(Verdict::Reject("bind failed".into())), Some(LDS));
        h.converge();
    }
    h.publish(first.build());
    h.converge();
    h.publish(base().listener("alt", 10083, "main").build());
    h.converge();
    h.envoy.assert_converged(&h.target);
}

// === 6. Stale nonces ===

fn stale_nonce_is_ignored(mode: Mode) {
    let mut h = Harness::converged(mode, base().build());
    let old_nonce = h
        .envoy
        .sent_of(CDS)
        .last()
        .expect("CDS sent")
        .1
        .nonce
        .clone();
    let planned = h.publish(base().cluster_with("alpha", 2, 1).build());
    assert_eq!(kinds(&planned), [CDS]);
    let in_flight = planned[0].clone();
    assert_ne!(in_flight.nonce, old_nonce);

    // An ACK-looking request and a NACK-looking one, both with the old nonce.
    for error in [None, Some("late rejection".to_owned())] {
        let stale = match mode {
            Mode::Sotw => Request {
                kind: Some(CDS),
                version_info: in_flight.version.clone(),
                nonce: old_nonce.clone(),
                error,
                ..Request::default()
            },
            Mode::Delta => Request {
                kind: Some(CDS),
                nonce: old_nonce.clone(),
                error,
                ..Request::default()
            },
        };
        let outcome = stale.apply(mode, &mut h.state);
        assert!(matches!(outcome, Outcome::Stale), "{mode:?}: {outcome:?}");
    }
    // Still waiting for the real answer: a newer target plans nothing yet.
    let t3 = base().cluster_with("alpha", 3, 1);
    assert!(h.plan().is_empty());
    assert!(
        h.publish(t3.build()).is_empty(),
        "stale request counted as ACK"
    );

    assert_eq!(h.deliver(Verdict::Accept), Some(CDS));
    let mut acked = None;
    while let Some((req, outcome, _)) = h.answer() {
        if req.answers.as_deref() == Some(&in_flight.nonce) {
            acked = Some(outcome);
            break;
        }
    }
    match acked {
        Some(Outcome::Ack { kind, version, .. }) => {
            assert_eq!(kind, CDS);
            assert_eq!(version, in_flight.version);
        }
        other => panic!("{mode:?}: expected the real ACK, got {other:?}"),
    }
    h.converge();
    h.envoy.assert_converged(&h.target);
}

// === 7. A changed cluster is owed its endpoints ===

fn eds_is_resent_when_cluster_changes_even_if_endpoints_unchanged(mode: Mode) {
    let mut h = Harness::converged(mode, base().build());
    let cla_before = version_of(&h.target, EDS, "alpha");
    let planned = h.publish(base().cluster_with("alpha", 5, 1).build());
    assert_eq!(kinds(&planned), [CDS]);
    assert_eq!(version_of(&h.target, EDS, "alpha"), cla_before, "same CLA");
    let cds_nonce = planned[0].nonce.clone();
    h.converge();
    h.envoy.assert_converged(&h.target);

    let t = h.envoy.transcript();
    let cds_ack = h.envoy.ack_applied_at(&cds_nonce).expect("CDS ACKed");
    let eds = h
        .envoy
        .sent_of(EDS)
        .into_iter()
        .find(|(i, s)| *i > cds_ack && s.carries_version("alpha", &cla_before));
    assert!(
        eds.is_some(),
        "{mode:?}: no EDS for the changed cluster\n{t}"
    );
    assert!(h.envoy.cluster_warm("alpha"));
}

// === 8. Reconnects ===

fn two_cluster_spec() -> Spec {
    Spec::default()
        .listener("http", 10080, "main")
        .route("main", &[("a.example", "alpha"), ("b.example", "beta")])
        .cluster("alpha")
        .cluster("beta")
}

fn reconnect_with_current_versions_sends_nothing(mode: Mode) {
    let mut h = Harness::converged(mode, two_cluster_spec().build());
    h.envoy.reconnect();
    h.state = StreamState::new(mode);
    let start = h.envoy.trace.len();
    let planned = h.converge();
    assert!(
        planned.is_empty(),
        "{mode:?}: re-sent {:?} after a reconnect with current versions\n{}",
        kinds(&planned),
        h.envoy.transcript()[..]
            .lines()
            .skip(start)
            .collect::<Vec<_>>()
            .join("\n")
    );
    h.envoy.assert_converged(&h.target);

    // The reconnected stream still moves on to a newer snapshot.
    h.publish(two_cluster_spec().cluster_with("alpha", 1, 2).build());
    h.converge();
    h.envoy.assert_converged(&h.target);
}

fn reconnect_with_one_stale_resource_sends_only_that(mode: Mode) {
    // While the stream was down, alpha's endpoints / main's routes changed.
    let endpoints_changed = two_cluster_spec().cluster_with("alpha", 1, 2);
    let routes_changed =
        two_cluster_spec().route("main", &[("a.example", "alpha"), ("b2.example", "beta")]);
    for (changed, kind, name) in [
        (endpoints_changed, EDS, "alpha"),
        (routes_changed, RDS, "main"),
    ] {
        let mut h = Harness::converged(mode, two_cluster_spec().build());
        h.envoy.reconnect();
        h.state = StreamState::new(mode);
        h.target = changed.build().into();
        let planned = h.converge();
        let t = h.envoy.transcript();
        assert_eq!(kinds(&planned), [kind], "{mode:?}\n{t}");
        if mode == Mode::Delta {
            let carried: Vec<(&str, &str)> = planned[0]
                .resources
                .iter()
                .map(|r| (r.name(), r.version()))
                .collect();
            assert_eq!(
                carried,
                [(name, h.target.get(kind, name).unwrap().version())]
            );
            assert!(planned[0].removed.is_empty());
        }
        h.envoy.assert_converged(&h.target);
    }
}

/// While the stream was down, a host's route moved from cluster `old` to `new` and
/// `old` was deleted. The fresh stream must still make before it breaks: Envoy's
/// route table names `old` until the new table is ACKed, so `old` must not leave
/// CDS before that (the fake Envoy fails on a route to a missing cluster).
fn reconnect_to_a_changed_snapshot_keeps_routed_clusters_until_routes_move(mode: Mode) {
    let before = Spec::default()
        .listener("http", 10080, "main")
        .route("main", &[("a.example", "alpha"), ("m.example", "old")])
        .cluster("alpha")
        .cluster("old");
    let after = before
        .clone()
        .without_cluster("old")
        .cluster("new")
        .route("main", &[("a.example", "alpha"), ("m.example", "new")]);
    let mut h = Harness::converged(mode, before.build());
    h.envoy.reconnect();
    h.state = StreamState::new(mode);
    h.target = after.build().into();
    h.converge();
    h.envoy.assert_converged(&h.target);
}

/// While the stream was down, `main` moved to a new cluster. On the fresh stream the
/// new table is held back until that cluster is warm; the copy Envoy claims must
/// not be answered as removed meanwhile (the snapshot has `main`).
fn reconnect_does_not_answer_a_held_back_route_table_as_removed(mode: Mode) {
    let mut h = Harness::converged(mode, base().build());
    h.envoy.reconnect();
    h.state = StreamState::new(mode);
    h.target = base()
        .cluster("gamma")
        .route("main", &[("a.example", "gamma")])
        .build()
        .into();
    h.converge();
    h.envoy.assert_converged(&h.target);
}

// === 9. Delta: a name that does not exist ===

#[test]
fn delta_unknown_subscribed_name_is_answered_as_removed_once() {
    let mut h = Harness::converged(Mode::Delta, base().build());
    let start = h.envoy.trace.len();
    h.envoy.subscribe_extra(RDS, "ghost");
    h.converge();
    let answers = |h: &Harness| {
        h.envoy
            .sent_of(RDS)
            .iter()
            .filter(|(i, s)| *i >= start && s.removed.iter().any(|n| n == "ghost"))
            .count()
    };
    assert_eq!(answers(&h), 1, "{}", h.envoy.transcript());
    assert!(h.envoy.missing(RDS).contains("ghost"));

    // Later RDS changes do not repeat it.
    h.publish(
        base()
            .cluster("beta")
            .route("main", &[("a.example", "alpha"), ("b.example", "beta")])
            .build(),
    );
    h.converge();
    h.publish(base().build());
    h.converge();
    h.envoy.assert_converged(&h.target);
    assert_eq!(answers(&h), 1, "{}", h.envoy.transcript());
    assert!(h.envoy.sent_of(RDS).len() >= 3);
}

// === 10. One response per type in flight ===

fn one_response_per_type_in_flight(mode: Mode) {
    let mut h = Harness::converged(mode, base().build());
    let start = h.envoy.trace.len();
    let planned = h.publish(base().cluster_with("alpha", 2, 1).build());
    assert_eq!(kinds(&planned), [CDS]);
    // Unanswered CDS: a changed target plans no CDS (the fake Envoy would also panic).
    let again = h.publish(base().cluster_with("alpha", 3, 1).build());
    assert!(
        !kinds(&again).contains(&CDS),
        "{mode:?}: {:?}",
        kinds(&again)
    );
    assert!(h.plan().is_empty());
    // Envoy has processed it but the ACK has not arrived: still nothing.
    h.deliver(Verdict::Accept);
    assert!(h.plan().is_empty());
    h.converge();
    h.envoy.assert_converged(&h.target);
    let cds: Vec<_> = h
        .envoy
        .sent_of(CDS)
        .into_iter()
        .filter(|(i, _)| *i >= start)
        .collect();
    assert_eq!(
        cds.len(),
        2,
        "{mode:?}: latest wins\n{}",
        h.envoy.transcript()
    );
}

// === Held-back route tables are not "missing" ===

/// A listener subscribes to a new route table while the newest snapshot points that
/// table at a cluster still warming: the table must be held back (Envoy waits for
/// it), never answered as not existing. Envoy 1.40 ignores an RDS removal with an
/// error log ("Server sent a delta RDS update attempting to remove a resource"); a
/// client that honours it serves the listener with no routes (404 NR). The fake
/// fails on any delta `removed` name that the current snapshot has.
fn new_route_table_is_not_answered_missing_while_its_clusters_warm(mode: Mode) {
    let mut h = Harness::converged(mode, base().build());
    let t1 = base()
        .listener("admin", 10081, "side")
        .route("side", &[("s.example", "alpha")]);
    let planned = h.publish(t1.build());
    assert_eq!(kinds(&planned), [LDS]);
    // Before Envoy answers, the side table moves to a new cluster.
    let t2 = t1.clone().cluster("x").route("side", &[("s.example", "x")]);
    let planned = h.publish(t2.build());
    assert_eq!(kinds(&planned), [CDS]);
    h.converge();
    h.envoy.assert_converged(&h.target);
}

// === A cluster on its way out is not warm ===

/// A CDS response dropping cluster `c` is unanswered when a newer snapshot routes to
/// `c` again: the route must wait until `c` is back and warm, because Envoy applies
/// the removal first and the route would then point at nothing (503 NC).
fn route_is_not_sent_to_a_cluster_an_unanswered_cds_removes(mode: Mode) {
    let with_c = base().cluster("c");
    let mut h = Harness::converged(mode, with_c.build());
    // c is unused, so the next snapshot may drop it at once.
    let planned = h.publish(base().build());
    assert_eq!(kinds(&planned), [CDS]);
    // Before that CDS is answered, c is back and routed to.
    let back = with_c.route("main", &[("a.example", "alpha"), ("c.example", "c")]);
    let planned = h.publish(back.build());
    assert!(
        !kinds(&planned).contains(&RDS),
        "{mode:?}: route to c planned while the CDS removing c is in flight"
    );
    h.converge();
    h.envoy.assert_converged(&h.target);
}

// === A NACKed EDS response does not settle what it owed ===

/// A changed cluster warms only once a CLA arrives after the change. When the EDS
/// response carrying it is NACKed, the CLA is still owed: a later snapshot must send
/// it even if its endpoints went back to what Envoy already holds.
fn changed_cluster_gets_endpoints_after_its_eds_response_was_nacked(mode: Mode) {
    let mut h = Harness::converged(mode, base().build());
    let planned = h.publish(base().cluster_with("alpha", 2, 2).build());
    assert_eq!(kinds(&planned), [CDS]);
    h.converge_with(|p| match p.kind {
        EDS => Verdict::Reject("endpoints rejected".into()),
        _ => Verdict::Accept,
    });
    assert!(!h.envoy.cluster_warm("alpha"), "alpha waits for endpoints");
    // Endpoints roll back to what Envoy holds; the cluster keeps its new config.
    h.publish(base().cluster_with("alpha", 2, 1).build());
    h.converge();
    h.envoy.assert_converged(&h.target);
}

/// Envoy NACKs new endpoints; then the cluster changes while its endpoints stay the
/// rejected ones. The changed cluster is owed a CLA, but the rejected view must not
/// go out again (the fake Envoy fails on any re-sent NACKed version); a newer one does.
fn nacked_endpoints_are_not_resent_for_a_changed_cluster(mode: Mode) {
    let mut h = Harness::converged(mode, base().build());
    let planned = h.publish(base().cluster_with("alpha", 1, 2).build());
    assert_eq!(kinds(&planned), [EDS]);
    assert_eq!(
        h.deliver(Verdict::Reject("bad endpoints".into())),
        Some(EDS)
    );
    h.converge();
    h.publish(base().cluster_with("alpha", 2, 2).build());
    h.converge();
    h.publish(base().cluster_with("alpha", 2, 3).build());
    h.converge();
    h.envoy.assert_converged(&h.target);
}

// === SotW: a name dropped and asked again between two responses ===

/// Envoy drops its only listener (unsubscribing RDS `main`) and gets it back before
/// the server answered RDS in between: `main` must be sent again, since Envoy threw
/// its copy away when it unsubscribed.
fn route_table_dropped_and_resubscribed_between_responses_is_resent(mode: Mode) {
    let mut h = Harness::converged(mode, base().build());
    let planned = h.publish(Spec::default().cluster("alpha").build());
    assert_eq!(kinds(&planned), [LDS]);
    assert_eq!(h.deliver(Verdict::Accept), Some(LDS));
    let (unsubscribe, _, replanned) = h.answer().expect("RDS unsubscribe on the wire");
    assert_eq!(unsubscribe.kind(), RDS);
    assert!(replanned.is_empty());
    assert!(h.envoy.held(RDS).is_empty(), "Envoy dropped main");
    // The listener comes back before the LDS ACK reaches the server.
    assert!(h.publish(base().build()).is_empty());
    h.converge();
    h.envoy.assert_converged(&h.target);
}

// === 11. Random walks ===

/// xorshift64*: deterministic, no crate.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// What a random walk may do.
#[derive(Clone, Copy, Debug)]
struct Walk {
    /// Chance (in percent, per step) that Envoy rejects the next response.
    nack_percent: u64,
    /// Clusters may disappear and listeners may switch route tables; otherwise the
    /// pool's clusters and listeners are always present and only contents change.
    removals: bool,
    /// The stream breaks now and then (1 % per step); Envoy reconnects to a fresh
    /// stream with what it holds.
    reconnects: bool,
}

/// A random consistent config over a pool of 6 clusters, 2 listeners and 2 route
/// tables: clusters change config or endpoints (and come and go, with `removals`),
/// listeners switch route tables, virtual hosts move between clusters.
fn random_spec(rng: &mut Rng, removals: bool) -> Spec {
    let mut spec = Spec::default();
    let clusters: Vec<String> = (0..6)
        .filter(|_| !removals || rng.below(3) != 0)
        .map(|i| format!("c{i}"))
        .collect();
    for c in &clusters {
        spec = spec.cluster_with(c, 1 + rng.below(2), rng.below(3) as u8);
    }
    if !removals {
        spec = spec.listener("l0", 10000, "r0").listener("l1", 10001, "r1");
    } else {
        if rng.below(4) != 0 {
            spec = spec.listener("l0", 10000, "r0");
        }
        if rng.below(2) == 0 {
            let route = *rng.pick(&["r0", "r1"]);
            spec = spec.listener("l1", 10001, route);
        }
    }
    let used: BTreeSet<String> = spec.listeners.values().map(|(_, r)| r.clone()).collect();
    for route in used {
        let hosts = if clusters.is_empty() {
            Vec::new()
        } else {
            (0..rng.below(4))
                .map(|k| {
                    (
                        format!("h{k}.{route}.example"),
                        rng.pick(&["/", "/api"]).to_string(),
                        rng.pick(&clusters).clone(),
                    )
                })
                .collect()
        };
        spec.routes.insert(route, hosts);
    }
    spec
}

/// Adds resources no earlier snapshot had in any type, so no view of the final
/// target can equal a version Envoy NACKed during the walk.
fn with_fresh_marker(spec: Spec) -> Spec {
    spec.cluster("final")
        .listener("final", 10099, "final")
        .route("final", &[("final.example", "final")])
}

/// 200 random steps: publish a random snapshot, Envoy processes the next response (accepts, or now and then
/// rejects), the server applies the next request and plans. The fake Envoy checks
/// its invariant after every response; at the end, with changes stopped, the stream
/// must converge to the last target exactly.
fn random_walk(mode: Mode, seed: u64, walk: Walk) {
    let mut rng = Rng::new(seed);
    let mut spec = random_spec(&mut rng, walk.removals);
    let mut h = Harness::new(mode, spec.build());
    h.envoy.ack_first = rng.below(2) == 0;
    let mut nacks = 0;
    for _ in 0..200 {
        let roll = rng.below(100);
        if roll < 15 {
            let next = random_spec(&mut rng, walk.removals);
            // The three ways a snapshot is made: from scratch, by editing the
            // previous one, or from scratch sharing the previous one's resources.
            let snapshot = match rng.below(3) {
                0 => next.build(),
                1 => next.edit_from(&spec, &h.target),
                _ => next.build().share_with(&h.target),
            };
            spec = next;
            h.publish(snapshot);
        } else if roll < 50 {
            h.deliver(Verdict::Accept);
        } else if roll < 50 + walk.nack_percent {
            let error = format!("rejected at roll {roll}");
            if h.deliver(Verdict::Reject(error)).is_some() {
                nacks += 1;
            }
        } else if roll == 99 && walk.reconnects {
            h.envoy.reconnect();
            h.state = StreamState::new(mode);
        } else {
            h.answer();
        }
    }
    if nacks > 0 {
        // A NACKed view is never re-sent (invariant 6), so converge on a newer one.
        let last = with_fresh_marker(spec.clone());
        h.publish(last.edit_from(&spec, &h.target));
    }
    h.converge();
    h.envoy.assert_converged(&h.target);
}

/// Seeds F..=N (`STREAM_ORDERING_FIRST_SEED`, default 1; `STREAM_ORDERING_SEEDS`,
/// default 40); with `nacks`, odd seeds NACK now and then. A failure prints its seed.
fn random_walks(mode: Mode, nacks: bool, removals: bool, reconnects: bool) {
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(default)
    };
    for seed in env("STREAM_ORDERING_FIRST_SEED", 1)..=env("STREAM_ORDERING_SEEDS", 40) {
        let walk = Walk {
            nack_percent: if nacks && seed % 2 == 1 { 6 } else { 0 },
            removals,
            reconnects,
        };
        eprintln!("{mode:?} seed {seed} {walk:?}");
        random_walk(mode, seed, walk);
    }
}

/// The full walk: snapshots over the whole pool, NACKs on odd seeds.
fn random_walks_keep_routes_on_warm_clusters_and_converge(mode: Mode) {
    random_walks(mode, true, true, false);
}

/// A milder walk that stays clear of the bugs the full one finds: every name always
/// present (only contents change) and no NACKs.
fn random_walks_over_fixed_names_without_nacks_keep_routes_on_warm_clusters(mode: Mode) {
    random_walks(mode, false, false, false);
}

/// The full walk, plus broken streams and reconnects.
fn random_walks_with_reconnects_keep_routes_on_warm_clusters(mode: Mode) {
    random_walks(mode, true, true, true);
}

// === The fake itself ===

/// The fake Envoy opens like Envoy 1.40 and ACKs like it (guards the model, not
/// the server).
#[test]
fn fake_envoy_speaks_like_envoy() {
    let mut sotw = FakeEnvoy::new(Mode::Sotw);
    let mut state = StreamState::new(Mode::Sotw);
    let target = base().build();
    let (first, _) = sotw.send_next(&mut state).unwrap();
    assert_eq!(
        (first.kind(), first.names.len(), first.nonce.as_str()),
        (CDS, 0, "")
    );
    let planned = state.plan(&target);
    assert_eq!(kinds(&planned), [CDS]);
    let version = planned[0].version.clone();
    let nonce = planned[0].nonce.clone();
    sotw.receive(planned);
    sotw.deliver(Verdict::Accept);
    // Envoy 1.40 resumes EDS before it ACKs CDS; the EDS request names alpha.
    let _lds = sotw.send_next(&mut state).unwrap();
    let (eds, _) = sotw.send_next(&mut state).unwrap();
    assert_eq!(
        (eds.kind(), eds.names.clone()),
        (EDS, vec!["alpha".to_owned()])
    );
    let (ack, outcome) = sotw.send_next(&mut state).unwrap();
    assert_eq!((ack.version_info, ack.nonce), (version, nonce));
    assert!(matches!(outcome, Outcome::Ack { kind: CDS, .. }));

    let mut delta = FakeEnvoy::new(Mode::Delta);
    let mut dstate = StreamState::new(Mode::Delta);
    let (first, outcome) = delta.send_next(&mut dstate).unwrap();
    assert!(first.subscribe.is_empty() && first.nonce.is_empty());
    assert!(matches!(outcome, Outcome::Subscribed));
    let trace_has_applied = delta.trace.iter().any(|e| {
        matches!(
            e,
            Event::Applied {
                outcome: OutcomeKind::Subscribed,
                ..
            }
        )
    });
    assert!(trace_has_applied);
}

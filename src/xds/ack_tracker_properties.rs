//! Random walks over the [`AckTracker`]: streams opening and closing, pushes,
//! ACKs, resumes, NACKs, releases and secret scopes, with time passing,
//! checked after every step against a reference model of what the tracker
//! promises (events come only from open streams, as `xds::stream` sends them):
//! - a node is listed while it has an open stream, and after its last stream
//!   closed until it is forgotten; it is forgotten no sooner than the grace
//!   after that close, and at the latest by the first look (`nodes()`) once
//!   the grace and one sweep interval (a tenth of the grace, at most a second)
//!   have passed. The tracker reads `Instant::now()` itself, so time is not
//!   faked: each check brackets the calls with instants of its own, which makes
//!   both bounds hold however slowly the machine runs;
//! - forgetting a node emits exactly one `NodeForgotten` and takes its state
//!   and its metric series with it: a node that comes back starts afresh;
//! - per type, a node holds the version and the very resources (same `Arc`) of
//!   the last ACK or resume since it was (re)created, the last NACK only until
//!   an ACK follows, and counts its NACKs and pushes;
//! - an ACK carries a push→ACK latency when that node was pushed that type in
//!   its current life, a resume never does;
//! - the observer and the broadcast see every event, in the same order;
//! - `connected()` lists exactly the nodes with an open stream, and a node
//!   never seen is never reported.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use proptest::collection::{btree_set, vec};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestCaseError;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::TryRecvError;

use super::{AckTracker, Mode, XdsEvent, XdsObserver};
use crate::admin::Metrics;
use crate::snapshot::{PerType, ResourceMap, ResourceType};

const NODES: [&str; 4] = ["n0", "n1", "n2", "n3"];
/// An id no step ever uses.
const NEVER_SEEN: &str = "n9";
const VERSIONS: [&str; 3] = ["v0", "v1", "v2"];
const NAMESPACES: [&str; 3] = ["a", "b", "c"];

/// One step of a walk. `stream` picks an open stream (modulo how many are
/// open; a step needing one does nothing when none is), `pick` one of the
/// versions pushed to its node.
#[derive(Clone, Debug)]
enum Op {
    Open {
        node: usize,
        mode: Mode,
    },
    Close {
        stream: usize,
    },
    Push {
        stream: usize,
        kind: ResourceType,
        version: usize,
    },
    Ack {
        stream: usize,
        kind: ResourceType,
        pick: usize,
    },
    Resume {
        stream: usize,
        kind: ResourceType,
        version: usize,
    },
    Nack {
        stream: usize,
        kind: ResourceType,
        pick: usize,
    },
    Release {
        stream: usize,
        kind: ResourceType,
    },
    Scope {
        stream: usize,
        namespaces: Option<BTreeSet<usize>>,
    },
    Wait {
        ms: u64,
    },
}

fn op(max_wait_ms: u64) -> impl Strategy<Value = Op> {
    let stream = 0usize..8;
    let kind = select(ResourceType::ALL.to_vec());
    let mode = prop_oneof![Just(Mode::Sotw), Just(Mode::Delta)];
    prop_oneof![
        3 => (0..NODES.len(), mode).prop_map(|(node, mode)| Op::Open { node, mode }),
        2 => stream.clone().prop_map(|stream| Op::Close { stream }),
        4 => (stream.clone(), kind.clone(), 0..VERSIONS.len())
            .prop_map(|(stream, kind, version)| Op::Push { stream, kind, version }),
        4 => (stream.clone(), kind.clone(), 0usize..4)
            .prop_map(|(stream, kind, pick)| Op::Ack { stream, kind, pick }),
        1 => (stream.clone(), kind.clone(), 0..VERSIONS.len())
            .prop_map(|(stream, kind, version)| Op::Resume { stream, kind, version }),
        2 => (stream.clone(), kind.clone(), 0usize..4)
            .prop_map(|(stream, kind, pick)| Op::Nack { stream, kind, pick }),
        1 => (stream.clone(), kind).prop_map(|(stream, kind)| Op::Release { stream, kind }),
        1 => (
            stream,
            proptest::option::of(btree_set(0..NAMESPACES.len(), 0..=2)),
        )
            .prop_map(|(stream, namespaces)| Op::Scope { stream, namespaces }),
        1 => (0..=max_wait_ms).prop_map(|ms| Op::Wait { ms }),
    ]
}

/// One type's expected state on one node.
#[derive(Clone, Debug, Default)]
struct TypeModel {
    /// Versions pushed since the node was (re)created.
    pushed: Vec<&'static str>,
    acked_version: Option<&'static str>,
    /// What the last ACK, resume or release handed over (`None`: nothing yet).
    acked: Option<Arc<ResourceMap>>,
    last_nack: Option<(&'static str, String)>,
    nacks: u64,
}

/// One node's expected state.
#[derive(Debug, Default)]
struct NodeModel {
    streams: usize,
    /// Instants just before and just after its last stream closed.
    departed: Option<(Instant, Instant)>,
    scope: Option<Arc<BTreeSet<String>>>,
    types: PerType<TypeModel>,
    /// It has push→ACK latency series in the metrics.
    series: bool,
}

/// Sees every event: keeps it, and feeds the metrics as `serve` does.
struct Recorder {
    events: Mutex<Vec<XdsEvent>>,
    metrics: Metrics,
}

impl XdsObserver for Recorder {
    fn observe(&self, event: &XdsEvent) {
        lock(&self.events).push(event.clone());
        self.metrics.observe(event);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn fail(message: String) -> TestCaseError {
    TestCaseError::fail(message)
}

struct Walk {
    tracker: AckTracker,
    grace: Duration,
    recorder: Arc<Recorder>,
    broadcast: broadcast::Receiver<XdsEvent>,
    nodes: BTreeMap<&'static str, NodeModel>,
    /// Open streams, (node, mode), oldest first.
    streams: Vec<(usize, Mode)>,
}

impl Walk {
    fn new(grace: Duration) -> Self {
        let tracker = AckTracker::new().with_departure_grace(grace);
        let recorder = Arc::new(Recorder {
            events: Mutex::default(),
            metrics: Metrics::new(),
        });
        tracker.observe(recorder.clone());
        let broadcast = tracker.subscribe();
        Walk {
            tracker,
            grace,
            recorder,
            broadcast,
            nodes: BTreeMap::new(),
            streams: Vec::new(),
        }
    }

    /// The open stream `stream` picks, if any: its node id.
    fn stream(&self, stream: usize) -> Option<&'static str> {
        if self.streams.is_empty() {
            return None;
        }
        Some(NODES[self.streams[stream % self.streams.len()].0])
    }

    fn model(&mut self, id: &str) -> Result<&mut NodeModel, TestCaseError> {
        self.nodes
            .get_mut(id)
            .ok_or_else(|| fail(format!("{id} has an open stream but no model")))
    }

    fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        self.apply(op)?;
        self.check()
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match *op {
            Op::Open { node, mode } => {
                let id = NODES[node];
                self.tracker.stream_opened(id, mode);
                // Its sweep runs before the stream counts: a node forgotten
                // there is judged as it was before this step.
                self.settle(
                    &[XdsEvent::StreamOpened {
                        node: id.to_owned(),
                        mode,
                    }],
                    Instant::now(),
                )?;
                let model = self.nodes.entry(id).or_default();
                model.streams += 1;
                model.departed = None;
                self.streams.push((node, mode));
            }
            Op::Close { stream } => {
                if self.streams.is_empty() {
                    return Ok(());
                }
                let (node, mode) = self.streams.remove(stream % self.streams.len());
                let id = NODES[node];
                let before = Instant::now();
                self.tracker.stream_closed(id, mode);
                let after = Instant::now();
                let model = self.model(id)?;
                model.streams -= 1;
                if model.streams == 0 {
                    model.departed = Some((before, after));
                }
                self.settle(
                    &[XdsEvent::StreamClosed {
                        node: id.to_owned(),
                        mode,
                    }],
                    after,
                )?;
            }
            Op::Push {
                stream,
                kind,
                version,
            } => {
                let Some(id) = self.stream(stream) else {
                    return Ok(());
                };
                let version = VERSIONS[version];
                self.tracker.sent(id, kind, version);
                self.model(id)?.types[kind].pushed.push(version);
                self.settle(
                    &[XdsEvent::Pushed {
                        node: id.to_owned(),
                        kind,
                        version: version.to_owned(),
                    }],
                    Instant::now(),
                )?;
            }
            Op::Ack { stream, kind, pick } => {
                let Some(id) = self.stream(stream) else {
                    return Ok(());
                };
                let model = self.model(id)?;
                let pushed = &model.types[kind].pushed;
                if pushed.is_empty() {
                    // Envoy ACKs only what it was sent.
                    return Ok(());
                }
                let version = pushed[pick % pushed.len()];
                let acked = Arc::new(ResourceMap::new());
                self.tracker
                    .acked(id, kind, version.to_owned(), Arc::clone(&acked), true);
                self.hold(id, kind, version, acked, true)?;
            }
            Op::Resume {
                stream,
                kind,
                version,
            } => {
                let Some(id) = self.stream(stream) else {
                    return Ok(());
                };
                let version = VERSIONS[version];
                let acked = Arc::new(ResourceMap::new());
                self.tracker
                    .resumed(id, kind, version.to_owned(), Arc::clone(&acked));
                self.hold(id, kind, version, acked, false)?;
            }
            Op::Nack { stream, kind, pick } => {
                let Some(id) = self.stream(stream) else {
                    return Ok(());
                };
                let model = self.model(id)?;
                let pushed = &model.types[kind].pushed;
                if pushed.is_empty() {
                    return Ok(());
                }
                let version = pushed[pick % pushed.len()];
                let error = format!("{id} rejects {kind} {version}\nsecond line");
                self.tracker
                    .nacked(id, kind, version.to_owned(), error.clone());
                let status = &mut self.model(id)?.types[kind];
                status.nacks += 1;
                status.last_nack = Some((version, error.clone()));
                self.settle(
                    &[XdsEvent::Nacked {
                        node: id.to_owned(),
                        kind,
                        version: version.to_owned(),
                        error,
                    }],
                    Instant::now(),
                )?;
            }
            Op::Release { stream, kind } => {
                let Some(id) = self.stream(stream) else {
                    return Ok(());
                };
                let acked = Arc::new(ResourceMap::new());
                self.tracker.released(id, kind, Arc::clone(&acked));
                self.model(id)?.types[kind].acked = Some(acked);
                self.settle(&[], Instant::now())?;
            }
            Op::Scope {
                stream,
                ref namespaces,
            } => {
                let Some(id) = self.stream(stream) else {
                    return Ok(());
                };
                let scope = namespaces
                    .as_ref()
                    .map(|set| Arc::new(set.iter().map(|i| NAMESPACES[*i].to_owned()).collect()));
                self.tracker.secret_scope(id, scope.clone());
                self.model(id)?.scope = scope;
                self.settle(&[], Instant::now())?;
            }
            Op::Wait { ms } => std::thread::sleep(Duration::from_millis(ms)),
        }
        Ok(())
    }

    /// An ACK (`pushed`) or a resume of `version` handing over `acked`.
    fn hold(
        &mut self,
        id: &'static str,
        kind: ResourceType,
        version: &'static str,
        acked: Arc<ResourceMap>,
        pushed: bool,
    ) -> Result<(), TestCaseError> {
        let model = self.model(id)?;
        let latency = pushed && !model.types[kind].pushed.is_empty();
        let status = &mut model.types[kind];
        status.acked_version = Some(version);
        status.acked = Some(acked);
        status.last_nack = None;
        model.series |= latency;
        self.settle(
            &[XdsEvent::Acked {
                node: id.to_owned(),
                kind,
                version: version.to_owned(),
                latency: latency.then_some(Duration::ZERO),
            }],
            Instant::now(),
        )
    }

    /// Takes the events the last call emitted: the observer's and the
    /// broadcast's must be the same; besides `NodeForgotten`s (each checked
    /// against the model as of `now`, and applied to it) they must be
    /// `expected` (latencies compared by presence).
    fn settle(&mut self, expected: &[XdsEvent], now: Instant) -> Result<(), TestCaseError> {
        let observed = std::mem::take(&mut *lock(&self.recorder.events));
        let mut broadcast = Vec::new();
        loop {
            match self.broadcast.try_recv() {
                Ok(event) => broadcast.push(event),
                Err(TryRecvError::Empty) => break,
                Err(e) => return Err(fail(format!("broadcast: {e}"))),
            }
        }
        prop_assert_eq!(
            &broadcast,
            &observed,
            "the broadcast and the observer differ"
        );
        let mut others = Vec::new();
        for event in observed {
            match event {
                XdsEvent::NodeForgotten { node } => self.forgotten(&node, now)?,
                XdsEvent::Acked {
                    node,
                    kind,
                    version,
                    latency,
                } => others.push(XdsEvent::Acked {
                    node,
                    kind,
                    version,
                    latency: latency.map(|_| Duration::ZERO),
                }),
                other => others.push(other),
            }
        }
        prop_assert_eq!(others.as_slice(), expected);
        Ok(())
    }

    fn forgotten(&mut self, id: &str, now: Instant) -> Result<(), TestCaseError> {
        let Some(model) = self.nodes.get(id) else {
            return Err(fail(format!(
                "{id} forgotten while not tracked (twice, or never seen)"
            )));
        };
        prop_assert_eq!(model.streams, 0, "{} forgotten with an open stream", id);
        let Some((closed, _)) = model.departed else {
            return Err(fail(format!("{id} forgotten without having departed")));
        };
        let gone = now.saturating_duration_since(closed);
        prop_assert!(
            gone >= self.grace,
            "{} forgotten at most {:?} after it left, within the {:?} grace",
            id,
            gone,
            self.grace
        );
        self.nodes.remove(id);
        Ok(())
    }

    /// Looks as the admin API does, and compares with the model.
    fn check(&mut self) -> Result<(), TestCaseError> {
        let before = Instant::now();
        let listed = self.tracker.nodes();
        let after = Instant::now();
        self.settle(&[], after)?;
        let listed_ids: Vec<&str> = listed.keys().map(String::as_str).collect();
        let expected_ids: Vec<&str> = self.nodes.keys().copied().collect();
        prop_assert_eq!(listed_ids, expected_ids, "listed nodes");

        let sweep_interval = (self.grace / 10).min(Duration::from_secs(1));
        for (id, model) in &self.nodes {
            if let Some((_, closed)) = model.departed {
                let gone = before.saturating_duration_since(closed);
                prop_assert!(
                    gone < self.grace + sweep_interval,
                    "{} still listed {:?} after it left (grace {:?})",
                    id,
                    gone,
                    self.grace
                );
            }
        }

        let connected: Vec<String> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.streams > 0)
            .map(|(id, _)| (*id).to_owned())
            .collect();
        prop_assert_eq!(self.tracker.connected(), connected);
        prop_assert!(self.tracker.node(NEVER_SEEN).is_none());
        for id in NODES {
            prop_assert_eq!(
                self.tracker.node(id).is_some(),
                self.nodes.contains_key(id),
                "node({})",
                id
            );
        }

        for (id, model) in &self.nodes {
            let status = &listed[*id];
            prop_assert_eq!(status.streams, model.streams, "{} streams", id);
            match (status.departed_at, model.departed) {
                (None, None) => {}
                (Some(at), Some((before, after))) => {
                    prop_assert!(before <= at && at <= after, "{} departed_at", id);
                }
                (at, _) => {
                    return Err(fail(format!(
                        "{id} departed_at {at:?} with {} streams",
                        model.streams
                    )))
                }
            }
            prop_assert_eq!(&status.secret_namespaces, &model.scope, "{} scope", id);
            for kind in ResourceType::ALL {
                let got = &status.types[kind];
                let want = &model.types[kind];
                prop_assert_eq!(
                    got.acked_version.as_deref(),
                    want.acked_version,
                    "{} {} acked version",
                    id,
                    kind
                );
                match &want.acked {
                    Some(acked) => prop_assert!(
                        Arc::ptr_eq(&got.acked, acked),
                        "{} {} holds another map than the last handed over",
                        id,
                        kind
                    ),
                    None => prop_assert!(got.acked.is_empty(), "{} {} holds something", id, kind),
                }
                prop_assert_eq!(
                    got.last_nack
                        .as_ref()
                        .map(|n| (n.rejected_version.as_str(), n.error.as_str())),
                    want.last_nack.as_ref().map(|(v, e)| (*v, e.as_str())),
                    "{} {} last NACK",
                    id,
                    kind
                );
                prop_assert_eq!(got.nacks, want.nacks, "{} {} NACKs", id, kind);
                prop_assert_eq!(
                    got.responses_sent,
                    want.pushed.len() as u64,
                    "{} {} pushes",
                    id,
                    kind
                );
                prop_assert_eq!(got.last_pushed_at.is_some(), !want.pushed.is_empty());
                prop_assert_eq!(got.last_acked_at.is_some(), want.acked_version.is_some());
            }
        }

        let metrics = self
            .recorder
            .metrics
            .encode()
            .map_err(|e| fail(format!("metrics: {e}")))?;
        for id in NODES.into_iter().chain([NEVER_SEEN]) {
            prop_assert_eq!(
                metrics.contains(&format!("node=\"{id}\"")),
                self.nodes.get(id).is_some_and(|n| n.series),
                "metric series of {}",
                id
            );
        }
        Ok(())
    }

    /// Closes every stream, waits out the grace (when it is short) and checks
    /// nothing of any node is left.
    fn leave(&mut self) -> Result<(), TestCaseError> {
        while !self.streams.is_empty() {
            self.step(&Op::Close { stream: 0 })?;
        }
        if self.grace > Duration::from_secs(1) {
            return Ok(());
        }
        let sweep_interval = self.grace / 10;
        std::thread::sleep(self.grace + sweep_interval + Duration::from_millis(1));
        self.check()?;
        prop_assert!(self.nodes.is_empty(), "left: {:?}", self.nodes.keys());
        Ok(())
    }
}

fn walk(grace: Duration, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut walk = Walk::new(grace);
    walk.check()?;
    for op in ops {
        walk.step(op)?;
    }
    walk.leave()
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// A short grace and real sleeps: nodes leave and come back on both
    /// sides of it.
    #[test]
    fn a_departed_node_is_forgotten_after_the_grace_not_before_and_by_the_next_look_after_a_sweep_interval(
        (grace, ops) in (1u64..=10).prop_flat_map(|ms| {
            (Just(Duration::from_millis(ms)), vec(op(2 * ms), 1..50))
        })
    ) {
        walk(grace, &ops)?;
    }

    #[test]
    fn with_no_grace_a_node_is_forgotten_as_its_last_stream_closes(ops in vec(op(0), 1..50)) {
        walk(Duration::ZERO, &ops)?;
    }

    /// Nothing is forgotten: a node that reconnects finds what it acked.
    #[test]
    fn within_the_grace_a_returning_node_keeps_its_state_and_the_tracker_records_each_ack_and_nack(
        ops in vec(op(0), 1..50)
    ) {
        walk(Duration::from_secs(3600), &ops)?;
    }
}

//! One stream of everything operators watch: snapshots published, what each
//! Envoy was pushed, ACKed and NACKed, and Ingresses becoming programmed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tokio::sync::broadcast;

use crate::pipeline::StatusHandle;
use crate::snapshot::SnapshotStore;
use crate::world::ObjectKey;
use crate::xds::{AckTracker, XdsEvent};

use super::programmed::{ingress_states, IngressState, NodeList};

/// How far a slow subscriber may fall behind before it misses events.
const EVENT_BUFFER: usize = 4096;

/// The longest gap a refresh imposes before the next one while events trickle
/// in. With 1,000 Envoys ACKing over a second or two, refreshing after every
/// few ACKs took a quarter of the server's CPU from the streams; a refresh that
/// took `d` now waits `8d` (at most this, at least `d`) while events keep
/// coming: the hub takes a ninth of a core, and a set-up with a few Envoys,
/// whose refreshes take microseconds, sees its events at once.
const REFRESH_GAP: Duration = Duration::from_millis(25);

/// More xDS events than this folded into one refresh is a storm (hundreds of
/// Envoys connecting or taking a change at once).
const STORM_EVENTS: usize = 64;

/// The longest gap in a storm. A refresh that took `d` then waits `32d`: the
/// hub takes a thirty-third of a core instead of a ninth (in a 1,000-Envoy
/// connect storm the ninth was a tenth of the server's CPU), and an Ingress
/// that needs every one of those Envoys is reported at most this much later.
const STORM_REFRESH_GAP: Duration = Duration::from_millis(100);

/// How long to wait after a refresh that took `took` and folded `events`
/// xDS events.
fn refresh_gap(took: Duration, events: usize) -> Duration {
    let (factor, cap) = match events > STORM_EVENTS {
        true => (32, STORM_REFRESH_GAP),
        false => (8, REFRESH_GAP),
    };
    (took * factor).min(cap).max(took)
}

/// An event of the admin API's `WatchEvents`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminEvent {
    /// A snapshot became current.
    SnapshotPublished {
        /// Its content version.
        version: String,
        /// Number of publishes so far.
        publishes: u64,
        /// The objects whose changes it carries.
        changed: Vec<String>,
    },
    /// Something happened on an Envoy's stream.
    Xds(XdsEvent),
    /// An Ingress is now programmed on every connected node.
    IngressProgrammed {
        /// The Ingress.
        ingress: ObjectKey,
        /// The snapshot version it is programmed at.
        version: String,
        /// The nodes it is programmed on: the state's own list, shared (a copy
        /// per Ingress was 1,000 node ids × 1,000 Ingresses per refresh).
        nodes: NodeList,
    },
    /// A node rejected config an Ingress needs.
    IngressRejected {
        /// The Ingress.
        ingress: ObjectKey,
        /// The node that rejected it.
        node: String,
        /// Envoy's error, verbatim.
        error: String,
    },
}

/// Every served Ingress's state.
type IngressStates = BTreeMap<ObjectKey, IngressState>;

/// Fan-out of [`AdminEvent`]s plus the latest per-Ingress state. Cheap to clone.
#[derive(Clone)]
pub struct EventHub {
    events: broadcast::Sender<AdminEvent>,
    ingresses: Arc<ArcSwap<BTreeMap<ObjectKey, IngressState>>>,
}

impl EventHub {
    /// Every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<AdminEvent> {
        self.events.subscribe()
    }

    /// The latest state of every served Ingress.
    pub fn ingresses(&self) -> Arc<BTreeMap<ObjectKey, IngressState>> {
        self.ingresses.load_full()
    }

    /// Starts the task that merges the store, the tracker and the pipeline
    /// status into events; it ends when the store and tracker are dropped.
    pub fn spawn(store: SnapshotStore, tracker: AckTracker, pipeline: StatusHandle) -> EventHub {
        let hub = EventHub {
            events: broadcast::channel(EVENT_BUFFER).0,
            ingresses: Arc::default(),
        };
        let task = hub.clone();
        tokio::spawn(async move { task.run(store, tracker, pipeline).await });
        hub
    }

    async fn run(self, store: SnapshotStore, tracker: AckTracker, pipeline: StatusHandle) {
        let mut published = store.subscribe();
        let mut xds = tracker.subscribe();
        // Ingress states cost O(Ingresses x node groups): with a thousand Envoys
        // ACKing a change, recomputing them per ACK would take a core from the
        // streams. After a refresh that took `d`, the next one waits
        // `refresh_gap(d, events)` (events queue meanwhile and are folded into
        // it), so the hub uses at most about half a core, a ninth while
        // refreshes are cheap and a thirty-third in a storm; after a quiet
        // spell an event is folded in at once.
        let mut not_before = Instant::now();
        loop {
            let mut snapshot_changed = false;
            let mut xds_events = Vec::new();
            tokio::select! {
                changed = published.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    snapshot_changed = true;
                }
                event = xds.recv() => match event {
                    Ok(event) => xds_events.push(event),
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            }
            tokio::time::sleep_until(not_before.into()).await;
            // A publish that raced an xDS event is announced before any Ingress
            // event it causes (the pipeline sets its status before publishing).
            if published.has_changed().unwrap_or(false) {
                published.borrow_and_update();
                snapshot_changed = true;
            }
            // Everything queued is folded into this round, and the states are
            // computed after it (so they reflect every ACK announced) and stored
            // before any event goes out (so whoever an event wakes reads states
            // at least as new as the event).
            while let Ok(event) = xds.try_recv() {
                xds_events.push(event);
            }
            let started = Instant::now();
            let (before, states) = self.refresh(&store, &tracker, &pipeline);
            not_before = Instant::now() + refresh_gap(started.elapsed(), xds_events.len());
            if snapshot_changed {
                if let Some(snapshot) = store.current() {
                    let status = pipeline.get();
                    self.emit(AdminEvent::SnapshotPublished {
                        version: snapshot.version().to_owned(),
                        publishes: status.publishes,
                        changed: status.changed.to_vec(),
                    });
                }
            }
            for event in xds_events {
                self.emit(AdminEvent::Xds(event));
            }
            self.emit_transitions(&before, &states);
        }
    }

    /// Recomputes and stores Ingress states; returns the previous and new ones.
    fn refresh(
        &self,
        store: &SnapshotStore,
        tracker: &AckTracker,
        pipeline: &StatusHandle,
    ) -> (Arc<IngressStates>, Arc<IngressStates>) {
        let snapshot = store.current();
        let status = pipeline.get();
        // Shared, not copied: this runs as ACKs arrive, 1,000 nodes at a time.
        let nodes = tracker.shared_nodes();
        let states = Arc::new(ingress_states(
            &status,
            snapshot.as_deref(),
            nodes.iter().map(|(id, node)| (id, &**node)),
        ));
        let before = self.ingresses.swap(Arc::clone(&states));
        (before, states)
    }

    /// Announces Ingresses that became programmed or were rejected.
    fn emit_transitions(&self, before: &IngressStates, states: &IngressStates) {
        for (key, state) in states.iter() {
            let old = before.get(key);
            let newly_programmed =
                state.programmed && old.is_none_or(|o| !o.programmed || o.version != state.version);
            if newly_programmed {
                self.emit(AdminEvent::IngressProgrammed {
                    ingress: key.clone(),
                    version: state.version.clone().unwrap_or_default(),
                    nodes: Arc::clone(&state.programmed_on),
                });
            }
            if let Some((node, error)) = &state.rejected {
                let already = old
                    .and_then(|o| o.rejected.as_ref())
                    .is_some_and(|r| r.1 == *error);
                if !already {
                    self.emit(AdminEvent::IngressRejected {
                        ingress: key.clone(),
                        node: node.clone(),
                        error: error.clone(),
                    });
                }
            }
        }
    }

    fn emit(&self, event: AdminEvent) {
        let _ = self.events.send(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_storm_of_events_spaces_refreshes_wider_than_a_trickle() {
        let ms = Duration::from_millis;
        let us = Duration::from_micros;
        // Cheap refreshes of a small set-up: events go out at once.
        assert_eq!(refresh_gap(us(20), 3), us(160));
        // A trickle: 8x the refresh, capped at 25 ms, never below the refresh.
        assert_eq!(refresh_gap(ms(2), 3), ms(16));
        assert_eq!(refresh_gap(ms(10), 3), ms(25));
        assert_eq!(refresh_gap(ms(40), 3), ms(40));
        // A storm: 32x, capped at 100 ms.
        assert_eq!(refresh_gap(ms(2), STORM_EVENTS + 1), ms(64));
        assert_eq!(refresh_gap(ms(10), STORM_EVENTS + 1), ms(100));
        assert_eq!(refresh_gap(ms(2), STORM_EVENTS), ms(16));
    }
}

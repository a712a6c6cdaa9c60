//! Interlock's side of each probe, from its admin API (the way `interlock
//! wait` reads it): the publish that carried the probe (`SnapshotPublished`
//! naming it), each Envoy holding it (an ACK after which `GetIngresses` shows
//! the probe programmed on that node), and programmed on every Envoy
//! (`IngressProgrammed`).

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{sleep_until, Instant};
use tonic::Streaming;

use crate::admin::client::{classify, AdminClient, AdminClientError};
use crate::admin::grpc::pb;

use super::record::{Log, Recorder};

/// Re-read the per-node state no more often than this while ACKs arrive.
const STATE_POLL: Duration = Duration::from_millis(20);
/// What the pipeline reports when a whole kind was re-listed.
const RELISTED: &str = "every Ingress (re-listed)";

/// Why the event stream ended before the run did.
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    /// The admin API broke off (Interlock stopped?).
    #[error("lost Interlock's admin API: {0}")]
    Lost(String),
    /// The server is not Interlock's.
    #[error(transparent)]
    Client(#[from] AdminClientError),
}

/// A subscription, opened before the first probe is written so that no event
/// about it can be missed.
pub struct EventFeed {
    client: AdminClient,
    events: Streaming<pb::Event>,
}

// === impl EventFeed ===

impl EventFeed {
    /// Subscribes to events about `ingresses` ("namespace/name").
    pub async fn subscribe(
        mut client: AdminClient,
        ingresses: Vec<String>,
    ) -> Result<EventFeed, EventsError> {
        let request = pb::WatchEventsRequest { ingresses };
        let events = match client.watch_events(request).await {
            Ok(response) => response.into_inner(),
            Err(status) => return Err(EventsError::Lost(classify(status)?.0)),
        };
        Ok(EventFeed { client, events })
    }

    /// Records events into `recorder` until `stop` turns true (Ok) or the
    /// stream breaks (Err).
    pub async fn run(
        mut self,
        recorder: Recorder,
        mut stop: watch::Receiver<bool>,
    ) -> Result<(), EventsError> {
        let mut acks = AckTimes::default();
        let mut next_poll: Option<Instant> = None;
        loop {
            let poll_at = next_poll.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                _ = stop.changed() => return Ok(()),
                message = self.events.message() => match message {
                    Ok(Some(event)) => {
                        if on_event(&recorder, &mut acks, event) && next_poll.is_none() {
                            next_poll = Some(Instant::now() + STATE_POLL);
                        }
                    }
                    Ok(None) => return Err(EventsError::Lost("the event stream ended".into())),
                    Err(status) => return Err(EventsError::Lost(classify(status)?.0)),
                },
                () = sleep_until(poll_at) => {
                    next_poll = None;
                    let names = pending(&recorder.lock());
                    if names.is_empty() {
                        continue;
                    }
                    let state = self
                        .client
                        .get_ingresses(pb::GetIngressesRequest { names })
                        .await;
                    match state {
                        Ok(state) => on_state(&recorder, &acks, state.into_inner()),
                        Err(status) => return Err(EventsError::Lost(classify(status)?.0)),
                    }
                }
            }
        }
    }
}

/// When the latest ACK of each node arrived (ms since the run's start).
#[derive(Default)]
struct AckTimes(HashMap<String, f64>);

/// Takes in one event; true when a node ACKed (per-node state is worth re-reading).
fn on_event(recorder: &Recorder, acks: &mut AckTimes, event: pb::Event) -> bool {
    use pb::event::Event;
    let now = recorder.now_ms();
    let mut log = recorder.lock();
    match event.event {
        Some(Event::SnapshotPublished(p)) => {
            let gap = log
                .publishes
                .is_some_and(|(_, last)| p.publishes > last + 1);
            log.publishes = Some(match log.publishes {
                Some((first, last)) => (first, last.max(p.publishes)),
                None => (p.publishes, p.publishes),
            });
            // Publishes the event hub folded together lose their lists of
            // changes: every probe written before is then carried (an upper bound).
            let everything = gap || p.changed.iter().any(|c| c == RELISTED);
            for probe in log.probes.iter_mut() {
                let named = || {
                    p.changed
                        .iter()
                        .any(|c| c.strip_prefix("Ingress ") == Some(&probe.ingress))
                };
                if probe.written_ms.is_some()
                    && probe.published_ms.is_none()
                    && (everything || named())
                {
                    probe.published_ms = Some(now);
                }
            }
            false
        }
        Some(Event::NodeAcked(a)) => {
            acks.0.insert(a.node, now);
            true
        }
        Some(Event::IngressProgrammed(p)) => {
            if let Some(&i) = log.index.get(&p.ingress) {
                let probe = &mut log.probes[i];
                probe.programmed_ms.get_or_insert(now);
                probe.published_ms.get_or_insert(now);
                for node in p.nodes {
                    let at = acks.0.get(&node).copied().unwrap_or(now);
                    probe.acked_ms.entry(node).or_insert(at);
                }
            }
            false
        }
        _ => false,
    }
}

/// Probes written but not yet programmed.
fn pending(log: &Log) -> Vec<String> {
    log.probes
        .iter()
        .filter(|p| p.written_ms.is_some() && p.programmed_ms.is_none())
        .map(|p| p.ingress.clone())
        .collect()
}

/// Takes in a `GetIngresses` answer: a node newly holding a probe held it
/// from its latest ACK.
fn on_state(recorder: &Recorder, acks: &AckTimes, state: pb::GetIngressesResponse) {
    let now = recorder.now_ms();
    let mut log = recorder.lock();
    for ingress in state.ingresses {
        let Some(&i) = log.index.get(&ingress.name) else {
            continue;
        };
        let probe = &mut log.probes[i];
        for node in ingress.programmed_on {
            let at = acks.0.get(&node).copied().unwrap_or(now);
            probe.acked_ms.entry(node).or_insert(at);
        }
    }
}

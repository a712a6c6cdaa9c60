//! NACK containment (invariant 6): when an Envoy rejects a snapshot, find the
//! objects that caused it and publish the next snapshot without them, so every
//! other change goes through.
//!
//! - The suspects are the objects changed since the last publish that Envoy
//!   held completely ([`history`]); with one suspect it is quarantined at once.
//! - With several, a bisection ([`bisection`]) publishes the last accepted
//!   state plus part of them and halves, O(log n) publishes for one bad object
//!   among n. Suspects the error names are tried first. Objects that change
//!   while it runs are held at the version they had and tried after it.
//! - A rejected object is quarantined ([`quarantine`]): an edited one is served
//!   at its last accepted version, a new one is left out, until it or what it
//!   refers to changes.
//!
//! Pure apart from the clock for timeouts: the pipeline feeds it verdicts and
//! publishes, and builds from [`Containment::overlay`].

mod bisection;
mod history;
mod nodes;
mod quarantine;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use tracing::{info, warn};

use crate::snapshot::Verdict;
use crate::world::{Kind, ObjectKey, ObjectRef, Stored, World};

use bisection::{Bisection, Step};
use history::{Before, History};
use nodes::Nodes;
use quarantine::{affected_ingresses, sanitize_error, Quarantine};

pub use quarantine::{QuarantinedObject, Rejection};

/// Objects served at another version than the world's (`None`: left out).
pub type Overlay = BTreeMap<ObjectRef, Option<Stored>>;

/// How long a trial waits for every connected Envoy before the search is
/// abandoned (everything is served as written; a rejection starts anew).
const TRIAL_TIMEOUT: Duration = Duration::from_secs(10);

/// What the pipeline must do after telling containment something.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[must_use]
pub enum Decision {
    /// Nothing.
    Wait,
    /// The overlay changed: build and publish now, without debouncing.
    Republish,
}

/// A search for the objects behind a rejection.
#[derive(Debug)]
struct Search {
    bisection: Bisection,
    /// The version each undecided suspect falls back to while held back.
    fallbacks: Overlay,
    /// The latest rejection of a trial (what quarantined objects report).
    rejection: Rejection,
    /// The publish carrying the current trial, once it is out.
    trial_seq: Option<u64>,
    deadline: Instant,
    started: Instant,
}

/// The containment state of one pipeline.
#[derive(Debug, Default)]
pub struct Containment {
    history: History,
    nodes: Nodes,
    quarantine: Quarantine,
    search: Option<Search>,
}

impl Containment {
    /// What to serve instead of the world's version, object by object.
    pub fn overlay(&self) -> Overlay {
        let mut overlay: Overlay = self
            .quarantine
            .fallbacks()
            .map(|(o, v)| (o.clone(), v.clone()))
            .collect();
        if let Some(search) = &self.search {
            for object in search.bisection.held() {
                if let Some(fallback) = search.fallbacks.get(object) {
                    overlay.insert(object.clone(), fallback.clone());
                }
            }
        }
        overlay
    }

    /// True while a search is running.
    pub fn searching(&self) -> bool {
        self.search.is_some()
    }

    /// Every quarantined object, with the Ingresses of `world` it affects.
    pub fn report(&self, world: &World) -> Vec<QuarantinedObject> {
        self.quarantine.report(world)
    }

    /// Ingresses of `world` that are, or refer to, an object a running search
    /// has not decided on yet: what Envoy holds of them may be a trial, so
    /// they do not count as programmed until it ends.
    pub fn undecided_ingresses(&self, world: &World) -> BTreeSet<ObjectKey> {
        let Some(search) = &self.search else {
            return BTreeSet::new();
        };
        affected_ingresses(world, |o| search.fallbacks.contains_key(o))
            .into_keys()
            .collect()
    }

    /// `object` is about to change; `served` is the version served now. While a
    /// search runs, it is held at that version and tried after the search.
    /// True when the overlay changed.
    pub fn before_change(&mut self, object: &ObjectRef, served: Option<Stored>) -> bool {
        let Some(search) = &mut self.search else {
            return false;
        };
        if self.quarantine.contains(object) {
            return false;
        }
        search.bisection.remove(object);
        search.fallbacks.entry(object.clone()).or_insert(served);
        search.bisection.add_untried(vec![object.clone()]);
        true
    }

    /// Releases quarantined objects that (or whose references) changed in
    /// `world`, to be tried again (after the search, if one runs); true when
    /// any was released.
    pub fn release_changed(&mut self, world: &World) -> bool {
        if self.quarantine.len() == 0 {
            return false;
        }
        let released = self.quarantine.release_changed(world);
        for (object, fallback) in &released {
            info!(%object, "changed: no longer quarantined, trying it again");
            if let Some(search) = &mut self.search {
                search.bisection.remove(object);
                search.fallbacks.insert(object.clone(), fallback.clone());
                search.bisection.add_untried(vec![object.clone()]);
            }
        }
        !released.is_empty()
    }

    /// A snapshot of `version` was published, changing `before`'s objects.
    pub fn published(&mut self, version: String, before: Before, world: &World) -> Decision {
        let seq = self.history.published(version, before);
        self.carried_by(seq, world)
    }

    /// The trial's build equals the snapshot already published: that one carries it.
    pub fn unchanged(&mut self, world: &World) -> Decision {
        let seq = self.history.latest();
        self.carried_by(seq, world)
    }

    fn carried_by(&mut self, seq: u64, world: &World) -> Decision {
        match &mut self.search {
            Some(search) if search.trial_seq.is_none() => {
                search.trial_seq = Some(seq);
                self.evaluate(world)
            }
            _ => Decision::Wait,
        }
    }

    /// When the running trial times out.
    pub fn deadline(&self) -> Option<Instant> {
        self.search.as_ref().map(|s| s.deadline)
    }

    /// The trial timed out: abandons the search.
    pub fn on_deadline(&mut self, now: Instant) -> Decision {
        match &self.search {
            Some(search) if now >= search.deadline => {
                warn!(
                    trials = search.bisection.trials(),
                    "no verdict from every Envoy in time: abandoning the search, serving every change as written"
                );
                self.search = None;
                Decision::Republish
            }
            _ => Decision::Wait,
        }
    }

    /// Takes in what an Envoy made of a snapshot.
    pub fn on_verdict(&mut self, verdict: Verdict, world: &World) -> Decision {
        match verdict {
            Verdict::Connected { node } => {
                self.nodes.connected(&node);
                Decision::Wait
            }
            Verdict::Disconnected { node } => {
                self.nodes.disconnected(&node);
                self.evaluate(world)
            }
            Verdict::InSync { node, snapshot } => {
                if let Some(seq) = self.history.seq_of(&snapshot) {
                    self.nodes.in_sync(&node, seq);
                    if let Some(oldest) = self.nodes.oldest_in_sync() {
                        self.history.forget_through(oldest);
                    }
                }
                self.evaluate(world)
            }
            Verdict::Rejected {
                node,
                snapshot,
                kind,
                error,
            } => {
                let seq = self
                    .history
                    .seq_of(&snapshot)
                    .unwrap_or(self.history.latest());
                self.nodes.rejected(&node, seq);
                let rejection = Rejection {
                    node,
                    kind,
                    error: sanitize_error(&error),
                };
                match &mut self.search {
                    Some(search) => {
                        if search.trial_seq.is_some_and(|t| seq >= t) {
                            search.rejection = rejection;
                        }
                        self.evaluate(world)
                    }
                    None => self.start(rejection, &error, world),
                }
            }
        }
    }

    /// Starts a search for what `rejection` rejected.
    fn start(&mut self, rejection: Rejection, error: &str, world: &World) -> Decision {
        let base = self.nodes.in_sync_at(&rejection.node);
        let changed = base.and_then(|b| self.history.changed_since(b));
        let known_base = changed.is_some();
        let mut suspects = changed.unwrap_or_else(|| everything(world));
        suspects.retain(|o, fallback| !self.quarantine.contains(o) && world.get(o) != *fallback);
        if suspects.is_empty() {
            warn!(node = %rejection.node, kind = %rejection.kind, error = %rejection.error,
                  "Envoy rejected config that no change since its last accepted snapshot explains");
            return Decision::Wait;
        }
        let named = named_in(error, suspects.keys());
        info!(node = %rejection.node, kind = %rejection.kind, suspects = suspects.len(),
              named = named.len(), known_base, "Envoy rejected a snapshot: looking for the objects behind it");
        let now = Instant::now();
        self.search = Some(Search {
            bisection: Bisection::new(suspects.keys().cloned().collect(), named),
            fallbacks: suspects,
            rejection,
            trial_seq: None,
            deadline: now + TRIAL_TIMEOUT,
            started: now,
        });
        self.step(world, |b| b.next())
    }

    /// Decides the running trial if every connected node has answered.
    fn evaluate(&mut self, world: &World) -> Decision {
        let Some(seq) = self.search.as_ref().and_then(|s| s.trial_seq) else {
            return Decision::Wait;
        };
        match self.nodes.verdict_on(seq) {
            Some(true) => {
                if let Some(search) = &mut self.search {
                    for object in search.bisection.included() {
                        search.fallbacks.remove(object);
                    }
                }
                self.step(world, Bisection::accepted)
            }
            Some(false) => self.step(world, Bisection::rejected),
            None => Decision::Wait,
        }
    }

    fn step(&mut self, world: &World, advance: impl FnOnce(&mut Bisection) -> Step) -> Decision {
        let Some(search) = &mut self.search else {
            return Decision::Wait;
        };
        match advance(&mut search.bisection) {
            Step::Try => {
                search.trial_seq = None;
                search.deadline = Instant::now() + TRIAL_TIMEOUT;
                Decision::Republish
            }
            Step::Done(found) => {
                let Some(mut search) = self.search.take() else {
                    return Decision::Wait;
                };
                for object in found {
                    let fallback = search.fallbacks.remove(&object).flatten();
                    warn!(%object, node = %search.rejection.node, kind = %search.rejection.kind,
                          error = %search.rejection.error, serves_previous = fallback.is_some(),
                          "Envoy rejects this object: quarantined until it changes");
                    self.quarantine
                        .hold(object, fallback, search.rejection.clone(), world);
                }
                info!(
                    trials = search.bisection.trials(),
                    took_ms = search.started.elapsed().as_secs_f64() * 1e3,
                    quarantined = self.quarantine.len(),
                    "rejection contained"
                );
                Decision::Republish
            }
        }
    }
}

/// Every object Envoy config depends on, as if none existed before: the
/// suspects when an Envoy's last accepted snapshot is unknown.
fn everything(world: &World) -> Before {
    [Kind::Ingress, Kind::Service, Kind::Secret]
        .into_iter()
        .flat_map(|kind| world.refs(kind))
        .map(|o| (o, None))
        .collect()
}

/// Suspects whose resource names appear quoted in Envoy's error: route names
/// are `"namespace/ingress"`, cluster names `"namespace/service:port"`, secret
/// names `"namespace/secret"`.
fn named_in<'a>(error: &str, suspects: impl Iterator<Item = &'a ObjectRef>) -> BTreeSet<ObjectRef> {
    suspects
        .filter(|o| {
            let marker = match o.kind {
                Kind::Ingress | Kind::Secret => format!("\"{}\"", o.key.qualified()),
                Kind::Service => format!("\"{}:", o.key.qualified()),
                Kind::IngressClass | Kind::EndpointSlice => return false,
            };
            error.contains(&marker)
        })
        .cloned()
        .collect()
}

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

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::snapshot::{version_of, PerType, Resource, ResourceMap, ResourceType, Snapshot};

use super::subscription::Subscription;

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
}

/// What a request meant, for the ack tracker.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// Envoy accepted the in-flight response.
    Ack {
        kind: ResourceType,
        version: String,
        acked: Arc<ResourceMap>,
    },
    /// Envoy rejected the in-flight response; that version is never re-sent.
    Nack {
        kind: ResourceType,
        version: String,
        error: String,
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
    /// EDS only: clusters Envoy held when this was sent, warm once it is ACKed.
    warms: Vec<String>,
    /// EDS only: clusters of the processed-but-unACKed CDS response `warming_cds`
    /// this answered; warm once both are ACKed (or while that CDS is in flight).
    warming: Vec<String>,
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

#[derive(Clone, Debug)]
struct RouteGate {
    route: Arc<Resource>,
    warm_generation: u64,
    cds_in_flight: Option<String>,
    open: bool,
}

#[derive(Clone, Debug)]
struct ViewCache {
    source: Arc<ResourceMap>,
    generation: u64,
    /// Set only when the view fell back to ACKed resources (names the snapshot lacks).
    acked: Option<Arc<ResourceMap>>,
    view: Arc<ResourceMap>,
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
    nacked: BTreeSet<String>,
    /// SotW: the explicit names the last response answered.
    sent_generation: Option<u64>,
    /// Delta: subscribed names already answered as not existing.
    answered_missing: BTreeSet<String>,
    /// The last unconditional view and what it was cut from (snapshot map,
    /// subscription generation, ACKed map; held, so pointers stay unique): every
    /// request re-plans, and most see the same inputs.
    view_cache: RefCell<Option<ViewCache>>,
}

/// Everything one stream knows about its Envoy. Holds only subscriptions, what
/// was sent and ACKed, and nonces: the config itself is shared with the snapshot.
#[derive(Debug)]
pub struct StreamState {
    mode: Mode,
    types: PerType<TypeState>,
    /// Clusters Envoy has with endpoints: safe to route to.
    warm: BTreeSet<String>,
    /// Bumped whenever `warm` may have changed (keys the route gate memo).
    warm_generation: u64,
    /// Per route table: whether its clusters were all warm and kept by the CDS
    /// in flight, for (that table, warm generation, CDS nonce in flight).
    route_gate: RefCell<BTreeMap<String, RouteGate>>,
    /// ClusterLoadAssignments Envoy needs because their cluster was (re)sent.
    owed: BTreeSet<String>,
    /// Reconnect claims resolved since [`StreamState::take_resumed`] last ran:
    /// what Envoy holds without being sent anything, to record like ACKs.
    resumed: Vec<Outcome>,
    /// Owed CLAs carried by the EDS response in flight: settled by its ACK, owed
    /// again if it is NACKed.
    owed_in_flight: BTreeSet<String>,
    /// Snapshot version whose clusters are all ACKed and warm.
    clusters_ready_for: Option<String>,
    nonces: u64,
}

impl StreamState {
    /// A fresh stream.
    pub fn new(mode: Mode) -> Self {
        StreamState {
            mode,
            types: PerType::default(),
            warm: BTreeSet::new(),
            warm_generation: 0,
            route_gate: RefCell::new(BTreeMap::new()),
            owed: BTreeSet::new(),
            resumed: Vec::new(),
            owed_in_flight: BTreeSet::new(),
            clusters_ready_for: None,
            nonces: 0,
        }
    }

    /// Applies a SotW `DiscoveryRequest`.
    pub fn on_sotw_request(
        &mut self,
        kind: ResourceType,
        version_info: &str,
        nonce: &str,
        names: &[String],
        error: Option<String>,
    ) -> Outcome {
        let ts = &mut self.types[kind];
        if !nonce.is_empty() && ts.last_nonce.as_deref() != Some(nonce) {
            return Outcome::Stale;
        }
        let first = !ts.requested;
        ts.requested = true;
        let changed = ts.subscription.set_sotw(kind, names);
        let released = changed && ts.acked.keys().any(|n| !ts.subscription.wants(n));
        if released {
            let sub = ts.subscription.clone();
            Arc::make_mut(&mut ts.acked).retain(|n, _| sub.wants(n));
            ts.sent_generation = None;
        }
        if nonce.is_empty() {
            if first && !version_info.is_empty() {
                ts.acked_version = Some(version_info.to_owned());
                ts.claim_pending = true;
            }
            return self.subscribed(kind, released);
        }
        match self.on_response_answered(kind, nonce, error) {
            Outcome::Subscribed => self.subscribed(kind, released),
            outcome => outcome,
        }
    }

    /// `Subscribed`, or `Released` when the request dropped held resources.
    fn subscribed(&self, kind: ResourceType, released: bool) -> Outcome {
        if released {
            Outcome::Released {
                kind,
                acked: Arc::clone(&self.types[kind].acked),
            }
        } else {
            Outcome::Subscribed
        }
    }

    /// Applies a `DeltaDiscoveryRequest`. Subscription changes apply whatever the
    /// nonce; only the ACK/NACK part is ignored when the nonce is stale.
    pub fn on_delta_request(
        &mut self,
        kind: ResourceType,
        nonce: &str,
        subscribe: &[String],
        unsubscribe: &[String],
        initial_versions: &HashMap<String, String>,
        error: Option<String>,
    ) -> Outcome {
        let ts = &mut self.types[kind];
        let first = !ts.requested;
        ts.requested = true;
        ts.subscription
            .apply_delta(kind, first, subscribe, unsubscribe);
        if first && !initial_versions.is_empty() {
            ts.unknown = initial_versions
                .iter()
                .filter(|(name, _)| ts.subscription.wants(name))
                .map(|(n, v)| (n.clone(), v.clone()))
                .collect();
            ts.claim_pending = true;
            ts.answered = true;
        }
        for name in subscribe {
            ts.answered_missing.remove(name);
        }
        let dropped: Vec<&String> = unsubscribe
            .iter()
            .filter(|n| !ts.subscription.wants(n))
            .collect();
        let released = dropped.iter().any(|n| ts.acked.contains_key(*n));
        if released {
            let acked = Arc::make_mut(&mut ts.acked);
            for name in &dropped {
                acked.remove(*name);
            }
        }
        for name in dropped {
            ts.answered_missing.remove(name);
            ts.unknown.remove(name);
        }
        if nonce.is_empty() || ts.last_nonce.as_deref() != Some(nonce) {
            let stale = !nonce.is_empty();
            return match self.subscribed(kind, released) {
                Outcome::Subscribed if stale => Outcome::Stale,
                outcome => outcome,
            };
        }
        match self.on_response_answered(kind, nonce, error) {
            Outcome::Subscribed => self.subscribed(kind, released),
            outcome => outcome,
        }
    }

    fn on_response_answered(
        &mut self,
        kind: ResourceType,
        nonce: &str,
        error: Option<String>,
    ) -> Outcome {
        let ts = &mut self.types[kind];
        let Some(flight) = ts.in_flight.take_if(|f| f.nonce == nonce) else {
            // A repeat of an answered nonce: only its names mattered.
            return Outcome::Subscribed;
        };
        if kind == ResourceType::Endpoints {
            let settled = std::mem::take(&mut self.owed_in_flight);
            if error.is_some() {
                self.owed.extend(settled);
            }
        }
        let ts = &mut self.types[kind];
        if let Some(error) = error {
            ts.nacked.insert(flight.version.clone());
            if kind == ResourceType::Cluster {
                // Clusters warmed from the rejected response never made it.
                let held = Arc::clone(&ts.acked);
                self.warm.retain(|c| held.contains_key(c));
                self.warm_generation += 1;
            }
            return Outcome::Nack {
                kind,
                version: flight.version,
                error,
            };
        }
        ts.unknown
            .retain(|n, _| !flight.view.contains_key(n) && !flight.removed.contains(n));
        ts.acked_version = Some(flight.version.clone());
        ts.acked_nonce = Some(flight.nonce.clone());
        let previous = Arc::clone(&ts.acked);
        ts.acked = if ts.subscription.is_wildcard()
            || ts.subscription.generation() == flight.generation
            || flight.view.keys().all(|n| ts.subscription.wants(n))
        {
            flight.view
        } else {
            let wanted = flight
                .view
                .iter()
                .filter(|(n, _)| ts.subscription.wants(n))
                .map(|(n, r)| (n.clone(), Arc::clone(r)));
            Arc::new(wanted.collect())
        };
        let acked = Arc::clone(&ts.acked);
        if matches!(kind, ResourceType::Cluster | ResourceType::Endpoints) {
            self.warm_generation += 1;
        }
        match kind {
            ResourceType::Cluster => {
                // Clusters Envoy no longer has are no longer warm (`warm` ⊆ ACKed CDS).
                if !Arc::ptr_eq(&previous, &acked) {
                    for gone in diff(&acked, &previous).1 {
                        self.warm.remove(&gone);
                    }
                }
                let static_clusters = acked
                    .values()
                    .filter(|c| c.references().endpoints.is_none());
                self.warm
                    .extend(static_clusters.map(|c| c.name().to_owned()));
            }
            ResourceType::Endpoints => {
                // Only clusters still held (`warm` stays within ACKed CDS), plus
                // those of the CDS response these endpoints answered, while it is in
                // flight (pruned if it is NACKed) or once it is ACKed.
                let cds = &self.types[ResourceType::Cluster];
                let held = |c: &String| cds.acked.contains_key(c);
                let mut warm: Vec<String> = flight.warms.into_iter().filter(held).collect();
                if let Some(nonce) = &flight.warming_cds {
                    let in_flight = cds.in_flight.as_ref().filter(|f| f.nonce == *nonce);
                    let answered = |c: &String| match in_flight {
                        Some(f) => f.view.contains_key(c),
                        None => cds.acked_nonce.as_ref() == Some(nonce) && held(c),
                    };
                    warm.extend(flight.warming.into_iter().filter(answered));
                }
                self.warm.extend(warm);
            }
            _ => {}
        }
        Outcome::Ack {
            kind,
            version: flight.version,
            acked,
        }
    }

    /// What reconnect claims the last [`StreamState::plan`] resolved
    /// ([`Outcome::Resumed`]):
    /// an Envoy that moved here from another replica holds that config (and is
    /// sent nothing for it), so it counts as programmed with it.
    pub fn take_resumed(&mut self) -> Vec<Outcome> {
        std::mem::take(&mut self.resumed)
    }

    /// The responses to send now to move Envoy towards `target`, in order.
    pub fn plan(&mut self, target: &Snapshot) -> Vec<Planned> {
        self.resolve_claims(target);
        if self.clusters_ready_for.as_deref() != Some(target.version())
            && self.clusters_ready(target)
        {
            // Stays true for this target: ACKs only move Envoy towards it.
            self.clusters_ready_for = Some(target.version().to_owned());
        }
        ResourceType::ALL
            .into_iter()
            .filter_map(|kind| self.plan_type(kind, target))
            .collect()
    }

    fn plan_type(&mut self, kind: ResourceType, target: &Snapshot) -> Option<Planned> {
        let ts = &self.types[kind];
        if !ts.requested || ts.in_flight.is_some() {
            return None;
        }
        let view = self.desired(kind, target)?;
        let version = view_version(&view, kind, target);
        let (resources, removed) = match self.mode {
            Mode::Sotw => (self.sotw_content(kind, &view, &version)?, Vec::new()),
            Mode::Delta => self.delta_content(kind, &view, &version, target)?,
        };
        let (warms, warming, warming_cds) = match kind {
            ResourceType::Cluster => {
                self.owe_endpoints(&resources);
                (Vec::new(), Vec::new(), None)
            }
            ResourceType::Endpoints => self.endpoints_sent(&resources),
            _ => (Vec::new(), Vec::new(), None),
        };
        let eds_generation = self.types[ResourceType::Endpoints]
            .subscription
            .generation();
        self.nonces += 1;
        let nonce = self.nonces.to_string();
        let ts = &mut self.types[kind];
        ts.last_nonce = Some(nonce.clone());
        ts.answered = true;
        ts.sent_generation = Some(ts.subscription.generation());
        if self.mode == Mode::Delta {
            let missing = removed.iter().filter(|n| !ts.acked.contains_key(*n));
            ts.answered_missing.extend(missing.cloned());
        }
        ts.in_flight = Some(InFlight {
            nonce: nonce.clone(),
            version: version.clone(),
            view,
            warms,
            warming,
            warming_cds,
            eds_generation,
            removed: removed.clone(),
            generation: ts.subscription.generation(),
        });
        Some(Planned {
            kind,
            nonce,
            version,
            resources,
            removed,
        })
    }

    /// SotW: the whole view, when it differs from what Envoy has (or was asked anew).
    fn sotw_content(
        &self,
        kind: ResourceType,
        view: &Arc<ResourceMap>,
        version: &str,
    ) -> Option<Vec<Arc<Resource>>> {
        let ts = &self.types[kind];
        let names_changed =
            !kind.is_wildcard() && ts.sent_generation != Some(ts.subscription.generation());
        let owed =
            kind == ResourceType::Endpoints && self.owed.iter().any(|n| view.contains_key(n));
        if ts.nacked.contains(version) {
            return None;
        }
        let same = ts.acked_version.as_deref() == Some(version);
        if !names_changed && !owed && same {
            return None;
        }
        Some(view.values().cloned().collect())
    }

    /// Delta: what changed against what Envoy holds, and what it must drop.
    fn delta_content(
        &self,
        kind: ResourceType,
        view: &Arc<ResourceMap>,
        version: &str,
        target: &Snapshot,
    ) -> Option<(Vec<Arc<Resource>>, Vec<String>)> {
        let ts = &self.types[kind];
        let first = !ts.answered;
        let owes =
            kind == ResourceType::Endpoints && self.owed.iter().any(|n| view.contains_key(n));
        if Arc::ptr_eq(view, &ts.acked) && ts.unknown.is_empty() && !first && !owes {
            return None;
        }
        if ts.nacked.contains(version) {
            return None;
        }
        let (mut changed, gone) = diff(view, &ts.acked);
        if kind == ResourceType::Endpoints {
            // Owed CLAs go out even when unchanged (their cluster was re-sent).
            let owed_unchanged = self
                .owed
                .iter()
                .filter_map(|n| view.get(n))
                // `changed` is sorted by name (it comes from sorted maps).
                .filter(|r| {
                    changed
                        .binary_search_by(|c| c.name().cmp(r.name()))
                        .is_err()
                })
                .cloned()
                .collect::<Vec<_>>();
            changed.extend(owed_unchanged);
        }
        // Claimed (unknown) resources are dropped only where that cannot break a
        // route: listeners any time, clusters once Envoy's routes are known; an
        // explicitly subscribed one leaves when Envoy unsubscribes.
        let drop_unknown = match kind {
            ResourceType::Listener => true,
            ResourceType::Cluster => self.routes_known(),
            _ => false,
        };
        let mut removed: BTreeSet<String> = gone.into_iter().collect();
        let unknown_gone = ts
            .unknown
            .keys()
            .filter(|n| drop_unknown && !view.contains_key(*n));
        removed.extend(unknown_gone.cloned());
        // A view only holds subscribed names, so names it lacks exist only if the
        // subscription is larger.
        let may_miss = ts.subscription.names().len() > view.len();
        let missing = ts.subscription.names().iter().filter(|n| {
            may_miss
                && !view.contains_key(*n)
                && target.get(kind, n).is_none()
                && !ts.unknown.contains_key(*n)
                && !ts.acked.contains_key(*n)
                && !ts.answered_missing.contains(*n)
        });
        removed.extend(missing.cloned());
        if changed.is_empty() && removed.is_empty() && !first {
            return None;
        }
        Some((changed, removed.into_iter().collect()))
    }

    /// What Envoy should hold of `kind` now, or `None` while ordering holds it back.
    fn desired(&self, kind: ResourceType, target: &Snapshot) -> Option<Arc<ResourceMap>> {
        match kind {
            ResourceType::Cluster => Some(self.desired_clusters(target)),
            ResourceType::Endpoints => {
                // CDS → EDS, but once Envoy has processed the CDS in flight (it asked
                // for new endpoints) answer at once: Envoy 1.40 holds that CDS ACK
                // until the new clusters are warm, i.e. until their CLAs arrive.
                let cds = &self.types[ResourceType::Cluster];
                let cds_busy = cds.in_flight.is_some() && self.warming_cds().is_none();
                (!cds_busy).then(|| self.subscribed_view(kind, target, true, |_| true))
            }
            ResourceType::Listener => self
                .clusters_ready(target)
                .then(|| self.subscribed_view(kind, target, true, |_| true)),
            ResourceType::Route => self.listeners_settled(target).then(|| {
                let acked = &self.types[kind].acked;
                // Every target cluster ACKed and warm: every target route may go.
                let all_warm = self.clusters_ready_for.as_deref() == Some(target.version());
                self.subscribed_view(kind, target, false, |route| {
                    all_warm
                        || acked
                            .get(route.name())
                            .is_some_and(|a| Arc::ptr_eq(a, route))
                        || self.route_gate_open(route)
                })
            }),
            ResourceType::Secret => Some(self.subscribed_view(kind, target, true, |_| true)),
        }
    }

    /// The CDS response in flight, if Envoy has already processed it.
    fn warming_cds(&self) -> Option<&InFlight> {
        let eds = self.types[ResourceType::Endpoints]
            .subscription
            .generation();
        self.types[ResourceType::Cluster]
            .in_flight
            .as_ref()
            .filter(|f| f.eds_generation != eds)
    }

    /// Every cluster `route` names is warm and not being removed by the CDS in
    /// flight. Memoised: each request re-plans, and a route table names thousands.
    fn route_gate_open(&self, route: &Arc<Resource>) -> bool {
        let cds_in_flight = self.types[ResourceType::Cluster].in_flight.as_ref();
        let nonce = cds_in_flight.map(|f| f.nonce.clone());
        if let Some(gate) = self.route_gate.borrow().get(route.name()) {
            if Arc::ptr_eq(&gate.route, route)
                && gate.warm_generation == self.warm_generation
                && gate.cds_in_flight == nonce
            {
                return gate.open;
            }
        }
        let refs = &route.references().clusters;
        // `warm` ⊆ ACKed clusters: fewer warm clusters than references means closed.
        let open = refs.len() <= self.warm.len()
            && refs.iter().all(|c| {
                self.warm.contains(c) && cds_in_flight.is_none_or(|f| f.view.contains_key(c))
            });
        self.route_gate.borrow_mut().insert(
            route.name().to_owned(),
            RouteGate {
                route: Arc::clone(route),
                warm_generation: self.warm_generation,
                cds_in_flight: nonce,
                open,
            },
        );
        open
    }

    /// The target's resources the stream subscribed to, where `allowed`; for a
    /// name the target lacks or may not send yet, whatever Envoy already holds.
    /// `cacheable` when `allowed` depends on nothing but the resource (the view is
    /// then a function of snapshot, subscription and ACKed map alone).
    fn subscribed_view(
        &self,
        kind: ResourceType,
        target: &Snapshot,
        cacheable: bool,
        allowed: impl Fn(&Arc<Resource>) -> bool,
    ) -> Arc<ResourceMap> {
        let ts = &self.types[kind];
        let source = target.resources(kind);
        let sub = &ts.subscription;
        if let Some(hit) = ts.view_cache.borrow().as_ref() {
            if cacheable
                && Arc::ptr_eq(&hit.source, source)
                && hit.generation == sub.generation()
                && hit.acked.as_ref().is_none_or(|a| Arc::ptr_eq(a, &ts.acked))
            {
                return Arc::clone(&hit.view);
            }
        }
        let remember = |view: &Arc<ResourceMap>, used_acked: bool| {
            if cacheable {
                *ts.view_cache.borrow_mut() = Some(ViewCache {
                    source: Arc::clone(source),
                    generation: sub.generation(),
                    acked: used_acked.then(|| Arc::clone(&ts.acked)),
                    view: Arc::clone(view),
                });
            }
        };
        let covers_exactly = sub.is_wildcard()
            || (sub.names().len() == source.len()
                && sub.names().iter().zip(source.keys()).all(|(a, b)| a == b));
        if covers_exactly && source.values().all(&allowed) {
            remember(source, false);
            return Arc::clone(source);
        }
        let used_acked = std::cell::Cell::new(false);
        let pick = |name: &String| {
            source
                .get(name)
                .filter(|r| allowed(r))
                .or_else(|| {
                    used_acked.set(true);
                    ts.acked.get(name)
                })
                .map(|r| (name.clone(), Arc::clone(r)))
        };
        let view: ResourceMap = if sub.is_wildcard() {
            source.keys().filter_map(pick).collect()
        } else {
            sub.names().iter().filter_map(pick).collect()
        };
        let view = Arc::new(view);
        remember(&view, used_acked.get());
        view
    }

    /// Target clusters plus old ones still named by what Envoy holds or is being sent.
    fn desired_clusters(&self, target: &Snapshot) -> Arc<ResourceMap> {
        let source = target.resources(ResourceType::Cluster);
        let held_clusters = &self.types[ResourceType::Cluster].acked;
        let mut pinned: ResourceMap = BTreeMap::new();
        // Only a held cluster the target lacks can need pinning; usually none.
        let stale_held =
            !Arc::ptr_eq(held_clusters, source) && !diff(source, held_clusters).1.is_empty();
        let kinds = if stale_held {
            &[ResourceType::Listener, ResourceType::Route][..]
        } else {
            &[]
        };
        for &kind in kinds {
            let ts = &self.types[kind];
            let views = std::iter::once(&ts.acked).chain(ts.in_flight.as_ref().map(|f| &f.view));
            for resource in views.flat_map(|v| v.values()) {
                if target
                    .get(kind, resource.name())
                    .is_some_and(|t| Arc::ptr_eq(t, resource))
                {
                    continue; // consistent with the target, so its clusters are in it
                }
                for cluster in &resource.references().clusters {
                    if source.contains_key(cluster) {
                        continue;
                    }
                    if let Some(old) = held_clusters.get(cluster) {
                        pinned.insert(cluster.clone(), Arc::clone(old));
                    }
                }
            }
        }
        if !self.routes_known() {
            // After a reconnect Envoy's routes are not known yet: keep what it holds.
            for (name, held) in held_clusters.iter() {
                if !source.contains_key(name) {
                    pinned.insert(name.clone(), Arc::clone(held));
                }
            }
        }
        let with_pins = if pinned.is_empty() {
            Arc::clone(source)
        } else {
            let mut all = ResourceMap::clone(source);
            all.extend(pinned);
            Arc::new(all)
        };
        let sub = &self.types[ResourceType::Cluster].subscription;
        if sub.is_wildcard() {
            with_pins
        } else {
            let wanted = with_pins.iter().filter(|(n, _)| sub.wants(n));
            Arc::new(wanted.map(|(n, r)| (n.clone(), Arc::clone(r))).collect())
        }
    }

    /// Every target cluster is ACKed at its target version and warm.
    fn clusters_ready(&self, target: &Snapshot) -> bool {
        if self.clusters_ready_for.as_deref() == Some(target.version()) {
            return true;
        }
        let clusters = target.resources(ResourceType::Cluster);
        let cds = &self.types[ResourceType::Cluster];
        if !cds.requested {
            return clusters.is_empty();
        }
        if cds.in_flight.is_some() {
            return false;
        }
        if Arc::ptr_eq(&cds.acked, clusters) {
            // `warm` only ever holds ACKed clusters, so counting suffices.
            return self.warm.len() == clusters.len();
        }
        if cds.acked.len() < clusters.len() || self.warm.len() < clusters.len() {
            return false;
        }
        clusters.values().all(|c| {
            cds.acked
                .get(c.name())
                .is_some_and(|a| a.version() == c.version())
                && self.warm.contains(c.name())
        })
    }

    /// Delta reconnect: what Envoy's listeners and route tables are is known (no
    /// claim unresolved), so clusters it claims can be dropped safely.
    fn routes_known(&self) -> bool {
        let lds = &self.types[ResourceType::Listener];
        let rds = &self.types[ResourceType::Route];
        lds.requested
            && !lds.claim_pending
            && lds.unknown.is_empty()
            && !rds.claim_pending
            && rds.unknown.is_empty()
            && (rds.requested || lds.acked.values().all(|l| l.references().routes.is_empty()))
    }

    /// LDS holds the target listeners and nothing is in flight.
    fn listeners_settled(&self, target: &Snapshot) -> bool {
        let lds = &self.types[ResourceType::Listener];
        if !lds.requested {
            return true;
        }
        if lds.in_flight.is_some() {
            return false;
        }
        let wanted = target.resources(ResourceType::Listener);
        Arc::ptr_eq(&lds.acked, wanted)
            || (lds.acked.len() == wanted.len()
                && wanted.values().all(|l| {
                    lds.acked
                        .get(l.name())
                        .is_some_and(|a| a.version() == l.version())
                }))
    }

    /// CDS is sending these clusters: new or changed ones are owed their endpoints.
    fn owe_endpoints(&mut self, sent: &[Arc<Resource>]) {
        let held = &self.types[ResourceType::Cluster].acked;
        for cluster in sent {
            let unchanged = held
                .get(cluster.name())
                .is_some_and(|h| h.version() == cluster.version());
            if let (false, Some(cla)) = (unchanged, &cluster.references().endpoints) {
                self.owed.insert(cla.clone());
            }
        }
    }

    /// EDS is sending these CLAs: they are no longer owed, and their clusters warm
    /// up when this response is ACKed.
    fn endpoints_sent(
        &mut self,
        sent: &[Arc<Resource>],
    ) -> (Vec<String>, Vec<String>, Option<String>) {
        let names: BTreeSet<&str> = sent.iter().map(|r| r.name()).collect();
        let sent_owed: Vec<String> = self
            .owed
            .iter()
            .filter(|n| names.contains(n.as_str()))
            .cloned()
            .collect();
        for n in sent_owed {
            self.owed.remove(&n);
            self.owed_in_flight.insert(n);
        }
        let warms = fed_clusters(&self.types[ResourceType::Cluster].acked, &names);
        let Some(cds) = self.warming_cds() else {
            return (warms, Vec::new(), None);
        };
        let warming = fed_clusters(&cds.view, &names)
            .into_iter()
            .filter(|c| !warms.contains(c))
            .collect();
        (warms, warming, Some(cds.nonce.clone()))
    }

    /// After a reconnect, turns what Envoy claims to hold into known state when it
    /// matches the target, so nothing unchanged is re-sent.
    fn resolve_claims(&mut self, target: &Snapshot) {
        let mut resolved = false;
        for kind in ResourceType::ALL {
            if !self.types[kind].claim_pending {
                continue;
            }
            let view = self.subscribed_view(kind, target, true, |_| true);
            let ts = &mut self.types[kind];
            ts.claim_pending = false;
            match self.mode {
                Mode::Sotw => {
                    let version = view_version(&view, kind, target);
                    if ts.acked_version.as_deref() == Some(version.as_str()) {
                        ts.acked = view;
                        ts.sent_generation = Some(ts.subscription.generation());
                        resolved = true;
                        self.resumed.push(Outcome::Resumed {
                            kind,
                            version,
                            acked: Arc::clone(&ts.acked),
                        });
                    }
                }
                Mode::Delta => {
                    let matching: Vec<String> = ts
                        .unknown
                        .iter()
                        .filter(|(n, v)| target.get(kind, n).is_some_and(|r| r.version() == *v))
                        .map(|(n, _)| n.clone())
                        .collect();
                    if !matching.is_empty() {
                        let acked = Arc::make_mut(&mut ts.acked);
                        for name in matching {
                            ts.unknown.remove(&name);
                            if let Some(r) = target.get(kind, &name) {
                                acked.insert(name, Arc::clone(r));
                            }
                        }
                        resolved = true;
                        self.resumed.push(Outcome::Resumed {
                            kind,
                            version: view_version(&ts.acked, kind, target),
                            acked: Arc::clone(&ts.acked),
                        });
                    }
                }
            }
        }
        if resolved {
            let endpoints = &self.types[ResourceType::Endpoints].acked;
            let warm = self.types[ResourceType::Cluster]
                .acked
                .values()
                .filter(|c| {
                    c.references()
                        .endpoints
                        .as_ref()
                        .is_none_or(|e| endpoints.contains_key(e))
                });
            self.warm.extend(warm.map(|c| c.name().to_owned()));
            self.warm_generation += 1;
        }
    }
}

/// Clusters of `clusters` whose ClusterLoadAssignment is among `names`.
fn fed_clusters(clusters: &ResourceMap, names: &BTreeSet<&str>) -> Vec<String> {
    let feeds = |c: &Resource, cla: &str| c.references().endpoints.as_deref() == Some(cla);
    // Usually a CLA is named after its cluster; scan only for those that are not.
    let mut fed = Vec::new();
    let mut unmatched = BTreeSet::new();
    for &cla in names {
        match clusters.get(cla) {
            Some(c) if feeds(c, cla) => fed.push(cla.to_owned()),
            _ => {
                unmatched.insert(cla);
            }
        }
    }
    if !unmatched.is_empty() {
        let others = clusters.values().filter(|c| {
            c.references()
                .endpoints
                .as_deref()
                .is_some_and(|e| e != c.name() && unmatched.contains(e))
        });
        fed.extend(others.map(|c| c.name().to_owned()));
    }
    fed
}

/// One pass over two sorted maps: resources of `view` that `held` lacks or holds
/// at another version, and names `held` has that `view` lacks.
fn diff(view: &ResourceMap, held: &ResourceMap) -> (Vec<Arc<Resource>>, Vec<String>) {
    use std::cmp::Ordering;
    let (mut changed, mut gone) = (Vec::new(), Vec::new());
    let mut wanted = view.iter().peekable();
    let mut had = held.iter().peekable();
    loop {
        match (wanted.peek(), had.peek()) {
            (Some((name, want)), Some((held_name, have))) => match name.cmp(held_name) {
                Ordering::Less => {
                    changed.push(Arc::clone(want));
                    wanted.next();
                }
                Ordering::Greater => {
                    gone.push((*held_name).clone());
                    had.next();
                }
                Ordering::Equal => {
                    if !Arc::ptr_eq(want, have) && want.version() != have.version() {
                        changed.push(Arc::clone(want));
                    }
                    wanted.next();
                    had.next();
                }
            },
            (Some((_, want)), None) => {
                changed.push(Arc::clone(want));
                wanted.next();
            }
            (None, Some((held_name, _))) => {
                gone.push((*held_name).clone());
                had.next();
            }
            (None, None) => return (changed, gone),
        }
    }
}

/// The version of a view: the snapshot's precomputed type version when the view is
/// the snapshot's whole set, otherwise hashed from the view.
fn view_version(view: &Arc<ResourceMap>, kind: ResourceType, target: &Snapshot) -> String {
    if Arc::ptr_eq(view, target.resources(kind)) {
        target.type_version(kind).to_owned()
    } else {
        version_of(view.values().map(|r| (r.name(), r.version())))
    }
}

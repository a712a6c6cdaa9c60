//! Test support for the stream state's unit tests: a scripted Envoy, `Client`,
//! that answers planned responses and, once it holds clusters or listeners, asks
//! for what they name; resources and snapshots to feed it are in `resources`.

use std::collections::{BTreeSet, HashMap};

use crate::snapshot::{PerType, References, ResourceMap, ResourceType, Snapshot};

use super::{Mode, Outcome, Planned, StreamState};

mod resources;

pub(super) use resources::*;

pub(super) const CDS: ResourceType = ResourceType::Cluster;
pub(super) const EDS: ResourceType = ResourceType::Endpoints;
pub(super) const LDS: ResourceType = ResourceType::Listener;
pub(super) const RDS: ResourceType = ResourceType::Route;
pub(super) const SDS: ResourceType = ResourceType::Secret;

pub(super) const MODES: [Mode; 2] = [Mode::Sotw, Mode::Delta];

/// Waits this long at most for a scripted exchange to settle.
const MAX_ROUNDS: usize = 32;

/// A scripted Envoy on one stream.
pub(super) struct Client {
    pub(super) state: StreamState,
    mode: Mode,
    /// What it accepted, per type.
    held: PerType<ResourceMap>,
    /// SotW: `version_info` of the last accepted response per type.
    version: PerType<String>,
    /// What it subscribed to, per type (`None`: not requested).
    names: PerType<Option<BTreeSet<String>>>,
    /// Nonce of the last response it answered, per type.
    nonce: PerType<String>,
    /// Types it does not subscribe to by itself (the test does, with `subscribe`).
    pub(super) manual: BTreeSet<ResourceType>,
}

impl Client {
    /// A fresh Envoy: asks for every cluster and listener.
    pub(super) fn connect(mode: Mode) -> Self {
        let mut client = Client {
            state: StreamState::new(mode),
            mode,
            held: PerType::default(),
            version: PerType::default(),
            names: PerType::default(),
            nonce: PerType::default(),
            manual: BTreeSet::new(),
        };
        client.subscribe(CDS, &[]);
        client.subscribe(LDS, &[]);
        client
    }

    /// The same Envoy on a new stream, claiming what it holds.
    pub(super) fn reconnect(&self) -> Self {
        let mut client = Client {
            state: StreamState::new(self.mode),
            mode: self.mode,
            held: self.held.clone(),
            version: self.version.clone(),
            names: self.names.clone(),
            nonce: PerType::default(),
            manual: self.manual.clone(),
        };
        for kind in ResourceType::ALL {
            let Some(names) = &self.names[kind] else {
                continue;
            };
            let names: Vec<String> = names.iter().cloned().collect();
            match self.mode {
                Mode::Sotw => {
                    let version = &self.version[kind];
                    client
                        .state
                        .on_sotw_request(kind, version, "", &names, None);
                }
                Mode::Delta => {
                    let held = self.held[kind].iter();
                    let initial: HashMap<String, String> = held
                        .map(|(n, r)| (n.clone(), r.version().to_owned()))
                        .collect();
                    let state = &mut client.state;
                    state.on_delta_request(kind, "", &names, &[], &initial, None);
                }
            }
        }
        client
    }

    /// Replaces what the client subscribes to of `kind` (empty: wildcard for
    /// CDS and LDS), as a request of its own.
    pub(super) fn subscribe(&mut self, kind: ResourceType, names: &[&str]) -> Outcome {
        let names: BTreeSet<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let old = self.names[kind].replace(names.clone()).unwrap_or_default();
        if !kind.is_wildcard() {
            // Envoy drops what it no longer subscribes to.
            self.held[kind].retain(|n, _| names.contains(n));
        }
        match self.mode {
            Mode::Sotw => {
                let list: Vec<String> = names.into_iter().collect();
                let (version, nonce) = (&self.version[kind], &self.nonce[kind]);
                self.state
                    .on_sotw_request(kind, version, nonce, &list, None)
            }
            Mode::Delta => {
                let add: Vec<String> = names.difference(&old).cloned().collect();
                let drop: Vec<String> = old.difference(&names).cloned().collect();
                let none = HashMap::new();
                self.state
                    .on_delta_request(kind, "", &add, &drop, &none, None)
            }
        }
    }

    /// Answers `planned`: an ACK, or a NACK carrying `error`. After accepting
    /// clusters or listeners, asks for the CLAs, route tables and secrets they name.
    pub(super) fn answer(&mut self, planned: &Planned, error: Option<&str>) -> Outcome {
        let kind = planned.kind;
        if error.is_none() {
            let held = &mut self.held[kind];
            if self.mode == Mode::Sotw {
                held.clear();
            }
            for name in &planned.removed {
                held.remove(name);
            }
            let sent = planned.resources.iter();
            held.extend(sent.map(|r| (r.name().to_owned(), r.clone())));
            self.version[kind] = planned.version.clone();
        }
        self.nonce[kind] = planned.nonce.clone();
        let error = error.map(str::to_owned);
        let outcome = match self.mode {
            Mode::Sotw => {
                let names: Vec<String> = self.names[kind].iter().flatten().cloned().collect();
                let version = &self.version[kind];
                self.state
                    .on_sotw_request(kind, version, &planned.nonce, &names, error)
            }
            Mode::Delta => {
                let none = HashMap::new();
                self.state
                    .on_delta_request(kind, &planned.nonce, &[], &[], &none, error)
            }
        };
        if matches!(outcome, Outcome::Ack { .. }) {
            self.follow(kind);
        }
        outcome
    }

    /// Subscribes to what the accepted clusters or listeners name.
    fn follow(&mut self, kind: ResourceType) {
        let named = |pick: &dyn Fn(&References) -> Vec<String>| {
            let held = self.held[kind].values();
            held.flat_map(|r| pick(r.references()))
                .collect::<BTreeSet<String>>()
        };
        let wanted = match kind {
            CDS => vec![(
                EDS,
                named(&|r| r.endpoints.iter().map(|n| n.to_string()).collect()),
            )],
            LDS => vec![
                (RDS, named(&|r| r.routes.clone())),
                (SDS, named(&|r| r.secrets.clone())),
            ],
            _ => Vec::new(),
        };
        for (kind, names) in wanted {
            let current = self.names[kind].clone();
            let unchanged = current.as_ref().map_or(names.is_empty(), |c| *c == names);
            if !unchanged && !self.manual.contains(&kind) {
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                self.subscribe(kind, &names);
            }
        }
    }

    /// Holds exactly `target`'s resources of every type (names and versions).
    pub(super) fn holds_exactly(&self, target: &Snapshot) -> bool {
        let entries = |map: &ResourceMap| -> Vec<(String, String)> {
            let entry = |(n, r): (&String, &std::sync::Arc<crate::snapshot::Resource>)| {
                (n.clone(), r.version().to_owned())
            };
            map.iter().map(entry).collect()
        };
        ResourceType::ALL
            .into_iter()
            .all(|kind| entries(&self.held[kind]) == entries(target.resources(kind)))
    }

    /// Plans towards `target`, accepts everything, until nothing is left to send.
    /// Returns every response sent.
    pub(super) fn converge(&mut self, target: &Snapshot) -> Vec<Planned> {
        self.converge_with(target, |_| None)
    }

    /// Like [`Client::converge`], answering each response with `verdict`'s error
    /// (a NACK) or an ACK when it gives none.
    pub(super) fn converge_with(
        &mut self,
        target: &Snapshot,
        verdict: impl Fn(&Planned) -> Option<String>,
    ) -> Vec<Planned> {
        let mut sent = Vec::new();
        for _ in 0..MAX_ROUNDS {
            let planned = self.state.plan(target);
            if planned.is_empty() {
                return sent;
            }
            for p in &planned {
                self.answer(p, verdict(p).as_deref());
            }
            sent.extend(planned);
        }
        panic!("no convergence in {MAX_ROUNDS} rounds");
    }
}

/// The types of planned responses, in order.
pub(super) fn kinds(planned: &[Planned]) -> Vec<ResourceType> {
    planned.iter().map(|p| p.kind).collect()
}

/// Whether any of `planned` carries `name` of `kind`.
pub(super) fn carries(planned: &[Planned], kind: ResourceType, name: &str) -> bool {
    let carry = |p: &Planned| p.kind == kind && p.resources.iter().any(|r| r.name() == name);
    planned.iter().any(carry)
}

/// A converged client for `mode` on `target`.
pub(super) fn converged(mode: Mode, target: &Snapshot) -> Client {
    let mut client = Client::connect(mode);
    client.converge(target);
    client
}

//! The status rule on random inputs: which Ingresses count as programmed
//! ([`ingress_states`]) against random snapshots, random ACKed versions on
//! random nodes (connected or not, with or without a secret scope) and random
//! containment outcomes, and what the leader makes of several replicas'
//! answers ([`programmed_everywhere`]). Each property is checked against a
//! reference written from the rule as documented:
//! - an Ingress is programmed iff at least one node is connected, every
//!   connected node has ACKed, at the current snapshot's version, every
//!   resource that carries it (route tables, clusters, the clusters' endpoints,
//!   and secrets in the node's scope), and containment neither quarantined it
//!   nor is still deciding on it;
//! - disconnected nodes count for nothing, either way;
//! - ACKing more never takes an Ingress back out of programmed;
//! - across replicas, an Ingress is programmed everywhere iff it is programmed
//!   on the union of every replica's Envoys, and nothing is while a replica
//!   with Envoys serves another snapshot version (or none has an Envoy).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::core::v3::{data_source::Specifier, DataSource};
use envoy_types::pb::envoy::config::endpoint::v3::{ClusterLoadAssignment, LocalityLbEndpoints};
use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{
    secret, Secret, TlsCertificate,
};
use proptest::collection::{btree_map, btree_set, vec};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestCaseError;

use super::{local_view, programmed_everywhere};
use crate::admin::http::{ingresses_view, IngressesView};
use crate::admin::{ingress_states, IngressState};
use crate::pipeline::containment::{QuarantinedObject, Rejection};
use crate::pipeline::PipelineStatus;
use crate::snapshot::{PerType, ResourceMap, ResourceType, Snapshot};
use crate::translate::{Diagnostic, IngressResources, Severity};
use crate::world::{Kind, ObjectKey, ObjectRef};
use crate::xds::{NodeStatus, TypeStatus};

const ROUTES: [&str; 2] = ["http", "https"];
const CLUSTERS: [&str; 3] = ["ns0/a:80", "ns0/b:80", "ns1/c:8080"];
/// Secrets are named `namespace/name`; one malformed name stays out of
/// every scope.
const SECRETS: [&str; 3] = ["ns0/tls", "ns1/tls", "bare"];
const NAMESPACES: [&str; 2] = ["ns0", "ns1"];
const INGRESSES: [(&str, &str); 4] = [("ns0", "a"), ("ns0", "b"), ("ns1", "c"), ("ns1", "d")];
/// Node ids; scenarios use the first [`CONNECTABLE`], the rest are for
/// nodes that have left.
const NODES: [&str; 6] = ["e0", "e1", "e2", "e3", "e4", "e5"];
const CONNECTABLE: usize = 4;

/// Every (type, name) an Ingress may need.
fn universe() -> Vec<(ResourceType, &'static str)> {
    let routes = ROUTES.iter().map(|n| (ResourceType::Route, *n));
    let clusters = CLUSTERS.iter().map(|n| (ResourceType::Cluster, *n));
    let endpoints = CLUSTERS.iter().map(|n| (ResourceType::Endpoints, *n));
    let secrets = SECRETS.iter().map(|n| (ResourceType::Secret, *n));
    routes
        .chain(clusters)
        .chain(endpoints)
        .chain(secrets)
        .collect()
}

/// A resource's content at `revision` (so its version differs by revision).
fn add(
    builder: crate::snapshot::SnapshotBuilder,
    kind: ResourceType,
    name: &str,
    revision: u32,
) -> crate::snapshot::SnapshotBuilder {
    let name = name.to_owned();
    match kind {
        ResourceType::Route => builder.route(RouteConfiguration {
            name,
            internal_only_headers: vec![format!("x-revision-{revision}")],
            ..RouteConfiguration::default()
        }),
        ResourceType::Cluster => builder.cluster(Cluster {
            name,
            alt_stat_name: format!("revision-{revision}"),
            ..Cluster::default()
        }),
        ResourceType::Endpoints => builder.endpoints(ClusterLoadAssignment {
            cluster_name: name,
            endpoints: vec![LocalityLbEndpoints {
                priority: revision,
                ..LocalityLbEndpoints::default()
            }],
            ..ClusterLoadAssignment::default()
        }),
        ResourceType::Secret => builder.secret(Secret {
            name,
            r#type: Some(secret::Type::TlsCertificate(TlsCertificate {
                certificate_chain: Some(DataSource {
                    specifier: Some(Specifier::InlineString(format!("revision-{revision}"))),
                    ..DataSource::default()
                }),
                ..TlsCertificate::default()
            })),
        }),
        ResourceType::Listener => builder,
    }
}

/// What a node holds of one resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Held {
    Nothing,
    /// The version the current snapshot carries (or, where it carries none,
    /// another one).
    Current,
    /// Another version.
    Stale,
}

#[derive(Clone, Debug)]
struct NodeSpec {
    streams: usize,
    /// Secret namespaces it may receive (`None`: all).
    scope: Option<BTreeSet<&'static str>>,
    /// Indexed like [`universe`].
    held: Vec<Held>,
}

#[derive(Clone, Debug)]
struct Quarantine {
    ingresses: Vec<usize>,
    node: usize,
    error: String,
}

/// What carries an Ingress: indexes into [`ROUTES`], [`CLUSTERS`], [`SECRETS`].
type Carried = (BTreeSet<usize>, BTreeSet<usize>, BTreeSet<usize>);

/// What the status rule reads: the pipeline's status, the snapshot, and the
/// nodes (split among replicas where there are several).
#[derive(Clone, Debug)]
struct Scenario {
    /// Revision of each resource of [`universe`] the snapshot carries
    /// (`None`: absent); no snapshot at all when `None`.
    snapshot: Option<Vec<Option<u32>>>,
    /// Served Ingresses (indexes into [`INGRESSES`]) and what carries each.
    served: BTreeMap<usize, Carried>,
    undecided: BTreeSet<usize>,
    quarantined: Vec<Quarantine>,
    diagnostics: Vec<(usize, String)>,
    nodes: BTreeMap<usize, NodeSpec>,
}

/// What a node holds of one resource: `weight_current` to one for each of
/// the other two.
fn held(weight_current: u32) -> impl Strategy<Value = Held> {
    prop_oneof![
        1 => Just(Held::Nothing),
        weight_current => Just(Held::Current),
        1 => Just(Held::Stale),
    ]
}

/// Nodes are mostly in sync (so that Ingresses are often programmed), some
/// are catching up.
fn node_spec() -> impl Strategy<Value = NodeSpec> {
    (
        prop_oneof![1 => Just(0usize), 4 => 1usize..=2],
        proptest::option::weighted(0.3, btree_set(select(NAMESPACES.to_vec()), 0..=2)),
        prop_oneof![2 => Just(60), 1 => Just(3)],
    )
        .prop_flat_map(|(streams, scope, weight_current)| {
            let held = vec(held(weight_current), universe().len());
            (Just(streams), Just(scope), held)
        })
        .prop_map(|(streams, scope, held)| NodeSpec {
            streams,
            scope,
            held,
        })
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let revision = prop_oneof![1 => Just(None), 20 => (0u32..2).prop_map(Some)];
    let snapshot = proptest::option::weighted(0.9, vec(revision, universe().len()));
    let carried = (
        btree_set(0..ROUTES.len(), 0..=2),
        btree_set(0..CLUSTERS.len(), 0..=2),
        btree_set(0..SECRETS.len(), 0..=1),
    );
    let served = btree_map(0..INGRESSES.len(), carried, 0..=INGRESSES.len());
    let undecided =
        prop_oneof![3 => Just(BTreeSet::new()), 1 => btree_set(0..INGRESSES.len(), 1..=2)];
    let quarantine = (
        btree_set(0..INGRESSES.len(), 1..=2),
        0..CONNECTABLE,
        "[a-z]{1,8}",
    )
        .prop_map(|(ingresses, node, error)| Quarantine {
            ingresses: ingresses.into_iter().collect(),
            node,
            error,
        });
    let quarantined = prop_oneof![3 => Just(Vec::new()), 1 => vec(quarantine, 1..=2)];
    let diagnostics = vec((0..INGRESSES.len(), "[a-z ]{1,12}"), 0..=2);
    let nodes = btree_map(0..CONNECTABLE, node_spec(), 0..=CONNECTABLE);
    (snapshot, served, undecided, quarantined, diagnostics, nodes).prop_map(
        |(snapshot, served, undecided, quarantined, diagnostics, nodes)| Scenario {
            snapshot,
            served,
            undecided,
            quarantined,
            diagnostics,
            nodes,
        },
    )
}

fn key(ingress: usize) -> ObjectKey {
    let (namespace, name) = INGRESSES[ingress];
    ObjectKey::new(namespace, name)
}

/// The snapshot of `revisions`, and one holding every resource at another
/// version (where stale ACKs come from).
fn snapshots(revisions: &[Option<u32>]) -> (Snapshot, Snapshot) {
    let mut current = Snapshot::builder();
    let mut stale = Snapshot::builder();
    for ((kind, name), revision) in universe().into_iter().zip(revisions) {
        if let Some(revision) = revision {
            current = add(current, kind, name, *revision);
        }
        stale = add(stale, kind, name, 9);
    }
    match (current.build(), stale.build()) {
        (Ok(current), Ok(stale)) => (current, stale),
        (current, stale) => panic!("test snapshots: {:?} {:?}", current.err(), stale.err()),
    }
}

impl Scenario {
    fn status(&self) -> PipelineStatus {
        let names = |set: &BTreeSet<usize>, names: &[&str]| {
            set.iter().map(|i| names[*i].to_owned()).collect()
        };
        let ingresses = self
            .served
            .iter()
            .map(|(i, (routes, clusters, secrets))| {
                let resources = IngressResources {
                    routes: names(routes, &ROUTES),
                    clusters: names(clusters, &CLUSTERS),
                    secrets: names(secrets, &SECRETS),
                };
                (key(*i), resources)
            })
            .collect();
        let quarantined = self
            .quarantined
            .iter()
            .map(|q| QuarantinedObject {
                object: ObjectRef {
                    kind: Kind::Ingress,
                    key: key(q.ingresses[0]),
                },
                rejection: Rejection {
                    node: NODES[q.node].to_owned(),
                    kind: ResourceType::Route,
                    error: q.error.clone(),
                },
                serves_previous: false,
                ingresses: q.ingresses.iter().map(|i| key(*i)).collect(),
                since: std::time::SystemTime::UNIX_EPOCH,
            })
            .collect();
        let diagnostics = self
            .diagnostics
            .iter()
            .map(|(i, message)| Diagnostic {
                object: ObjectRef {
                    kind: Kind::Ingress,
                    key: key(*i),
                },
                severity: Severity::Warning,
                message: message.clone(),
            })
            .collect();
        PipelineStatus {
            ingresses: Arc::new(ingresses),
            undecided: Arc::new(self.undecided.iter().map(|i| key(*i)).collect()),
            quarantined: Arc::new(quarantined),
            diagnostics: Arc::new(diagnostics),
            ..PipelineStatus::default()
        }
    }

    /// The tracker's view of `nodes`.
    fn node_statuses(
        nodes: &BTreeMap<usize, NodeSpec>,
        current: &Snapshot,
        stale: &Snapshot,
    ) -> BTreeMap<String, NodeStatus> {
        let universe = universe();
        nodes
            .iter()
            .map(|(i, spec)| {
                let mut maps: PerType<ResourceMap> = PerType::default();
                for ((kind, name), held) in universe.iter().zip(&spec.held) {
                    let resource = match held {
                        Held::Nothing => None,
                        Held::Current => {
                            current.get(*kind, name).or_else(|| stale.get(*kind, name))
                        }
                        Held::Stale => stale.get(*kind, name),
                    };
                    if let Some(resource) = resource {
                        maps[*kind].insert((*name).to_owned(), Arc::clone(resource));
                    }
                }
                let status = NodeStatus {
                    streams: spec.streams,
                    departed_at: None,
                    secret_namespaces: spec
                        .scope
                        .as_ref()
                        .map(|scope| Arc::new(scope.iter().map(|n| (*n).to_owned()).collect())),
                    types: PerType::from_fn(|kind| TypeStatus {
                        acked: Arc::new(maps[kind].clone()),
                        ..TypeStatus::default()
                    }),
                };
                (NODES[*i].to_owned(), status)
            })
            .collect()
    }
}

/// The rule, written from its documentation: does `node` hold everything
/// `ingress` needs at the current snapshot's version?
fn reference_has_all(scenario: &Scenario, spec: &NodeSpec, ingress: usize) -> bool {
    let Some(revisions) = &scenario.snapshot else {
        return false;
    };
    let Some((routes, clusters, secrets)) = scenario.served.get(&ingress) else {
        return false;
    };
    let universe = universe();
    let at = |kind: ResourceType, name: &str| {
        universe
            .iter()
            .position(|(k, n)| *k == kind && *n == name)
            .unwrap_or(usize::MAX)
    };
    // Present in the snapshot, and held at exactly its version.
    let current = |kind: ResourceType, name: &str| {
        let i = at(kind, name);
        revisions[i].is_some() && spec.held[i] == Held::Current
    };
    let in_scope = |secret: &str| match &spec.scope {
        None => true,
        Some(scope) => secret
            .split_once('/')
            .is_some_and(|(namespace, _)| scope.contains(namespace)),
    };
    routes
        .iter()
        .all(|r| current(ResourceType::Route, ROUTES[*r]))
        && clusters.iter().all(|c| {
            current(ResourceType::Cluster, CLUSTERS[*c])
                && current(ResourceType::Endpoints, CLUSTERS[*c])
        })
        && secrets
            .iter()
            .all(|s| !in_scope(SECRETS[*s]) || current(ResourceType::Secret, SECRETS[*s]))
}

fn reference_programmed(
    scenario: &Scenario,
    nodes: &BTreeMap<usize, NodeSpec>,
    ingress: usize,
) -> bool {
    let connected: Vec<&NodeSpec> = nodes.values().filter(|n| n.streams > 0).collect();
    let quarantined = scenario
        .quarantined
        .iter()
        .any(|q| q.ingresses.contains(&ingress));
    !connected.is_empty()
        && connected
            .iter()
            .all(|n| reference_has_all(scenario, n, ingress))
        && !quarantined
        && !scenario.undecided.contains(&ingress)
}

fn states_of(
    scenario: &Scenario,
    nodes: &BTreeMap<usize, NodeSpec>,
) -> BTreeMap<ObjectKey, IngressState> {
    match &scenario.snapshot {
        Some(revisions) => {
            let (current, stale) = snapshots(revisions);
            let statuses = Scenario::node_statuses(nodes, &current, &stale);
            ingress_states(&scenario.status(), Some(&current), &statuses)
        }
        None => {
            let (current, stale) = snapshots(&vec![None; universe().len()]);
            let statuses = Scenario::node_statuses(nodes, &current, &stale);
            ingress_states(&scenario.status(), None, &statuses)
        }
    }
}

fn programmed(states: &BTreeMap<ObjectKey, IngressState>) -> BTreeSet<ObjectKey> {
    states
        .iter()
        .filter(|(_, s)| s.programmed)
        .map(|(k, _)| k.clone())
        .collect()
}

fn version_of(revisions: Option<&Vec<Option<u32>>>) -> Option<String> {
    revisions.map(|r| snapshots(r).0.version().to_owned())
}

fn connected_ids(nodes: &BTreeMap<usize, NodeSpec>) -> Vec<String> {
    nodes
        .iter()
        .filter(|(_, n)| n.streams > 0)
        .map(|(i, _)| NODES[*i].to_owned())
        .collect()
}

fn check_programmed_iff_all_acked(scenario: &Scenario) -> Result<(), TestCaseError> {
    let states = states_of(scenario, &scenario.nodes);
    let version = version_of(scenario.snapshot.as_ref());
    let connected = connected_ids(&scenario.nodes);
    for ingress in scenario.served.keys() {
        let key = key(*ingress);
        let Some(state) = states.get(&key) else {
            return Err(TestCaseError::fail(format!("served {key} has no state")));
        };
        prop_assert_eq!(
            state.programmed,
            reference_programmed(scenario, &scenario.nodes, *ingress),
            "{} programmed",
            key
        );
        let on: Vec<String> = scenario
            .nodes
            .iter()
            .filter(|(_, n)| n.streams > 0 && reference_has_all(scenario, n, *ingress))
            .map(|(i, _)| NODES[*i].to_owned())
            .collect();
        prop_assert_eq!(&state.programmed_on[..], &on[..], "{} programmed_on", key);
        let pending: Vec<String> = connected
            .iter()
            .filter(|n| !on.contains(n))
            .cloned()
            .collect();
        prop_assert_eq!(&state.pending_on[..], &pending[..], "{} pending_on", key);
        prop_assert_eq!(&state.version, &version);
    }
    Ok(())
}

fn check_held_back_and_reported(scenario: &Scenario) -> Result<(), TestCaseError> {
    let states = states_of(scenario, &scenario.nodes);
    let mut reported: BTreeSet<ObjectKey> = scenario.served.keys().map(|i| key(*i)).collect();
    for q in &scenario.quarantined {
        reported.extend(q.ingresses.iter().map(|i| key(*i)));
    }
    prop_assert_eq!(states.keys().cloned().collect::<BTreeSet<_>>(), reported);
    for i in &scenario.undecided {
        if let Some(state) = states.get(&key(*i)) {
            prop_assert!(!state.programmed, "{} programmed while undecided", key(*i));
        }
    }
    let connected = connected_ids(&scenario.nodes);
    for (ingress, state) in &states {
        let first = scenario
            .quarantined
            .iter()
            .find(|q| q.ingresses.iter().any(|i| key(*i) == *ingress))
            .map(|q| (NODES[q.node].to_owned(), q.error.clone()));
        prop_assert_eq!(&state.rejected, &first, "{} rejected", ingress);
        prop_assert!(
            !(state.programmed && state.rejected.is_some()),
            "{} programmed and rejected",
            ingress
        );
        let served = scenario.served.keys().any(|i| key(*i) == *ingress);
        if !served {
            // Left out of the config: pending everywhere, never programmed.
            prop_assert!(!state.programmed, "{} programmed while left out", ingress);
            prop_assert_eq!(
                &state.pending_on[..],
                &connected[..],
                "{} left out",
                ingress
            );
        }
        let diagnostics: Vec<String> = scenario
            .diagnostics
            .iter()
            .filter(|(i, _)| key(*i) == *ingress)
            .map(|(_, m)| m.clone())
            .collect();
        prop_assert_eq!(&state.diagnostics, &diagnostics, "{} diagnostics", ingress);
    }
    Ok(())
}

fn check_disconnected_count_for_nothing(
    scenario: &Scenario,
    departed: BTreeMap<usize, NodeSpec>,
) -> Result<(), TestCaseError> {
    let states = states_of(scenario, &scenario.nodes);
    let connected_only: BTreeMap<usize, NodeSpec> = scenario
        .nodes
        .iter()
        .filter(|(_, n)| n.streams > 0)
        .map(|(i, n)| (*i, n.clone()))
        .collect();
    prop_assert_eq!(&states_of(scenario, &connected_only), &states);
    let mut more = scenario.nodes.clone();
    more.extend(departed.into_iter().map(|(i, mut n)| {
        n.streams = 0;
        (i, n)
    }));
    prop_assert_eq!(&states_of(scenario, &more), &states);
    Ok(())
}

fn check_acking_more_keeps_programmed(
    scenario: &Scenario,
    node: usize,
    resource: usize,
) -> Result<(), TestCaseError> {
    let before = programmed(&states_of(scenario, &scenario.nodes));
    let mut nodes = scenario.nodes.clone();
    if let Some(spec) = nodes.get_mut(&node) {
        spec.held[resource] = Held::Current;
    }
    let after = programmed(&states_of(scenario, &nodes));
    prop_assert!(
        before.is_subset(&after),
        "{:?} no longer programmed",
        before.difference(&after).collect::<Vec<_>>()
    );
    Ok(())
}

fn check_alone_everywhere_is_local(scenario: &Scenario) -> Result<(), TestCaseError> {
    let states = states_of(scenario, &scenario.nodes);
    let everywhere = programmed_everywhere(&local_view(&states), &[]);
    let local: BTreeSet<String> = programmed(&states)
        .iter()
        .map(ToString::to_string)
        .collect();
    prop_assert_eq!(everywhere, local);
    Ok(())
}

/// Replicas: 0 is the leader (where the check runs), the others its peers.
const REPLICAS: usize = 3;

fn check_everywhere_is_the_union(
    scenario: &Scenario,
    replica_of: &[usize],
    other_version: &[bool],
) -> Result<(), TestCaseError> {
    let replicas: Vec<BTreeMap<usize, NodeSpec>> = (0..REPLICAS)
        .map(|r| {
            scenario
                .nodes
                .iter()
                .filter(|(i, _)| replica_of[**i] == r)
                .map(|(i, n)| (*i, n.clone()))
                .collect()
        })
        .collect();
    // A replica at another version serves another snapshot.
    let scenario_of = |r: usize| {
        let mut s = scenario.clone();
        if r > 0 && other_version[r] {
            s.snapshot = Some(match &scenario.snapshot {
                Some(revisions) => revisions
                    .iter()
                    .map(|v| Some(v.map_or(0, |v| 1 - v)))
                    .collect(),
                None => vec![Some(0); universe().len()],
            });
        }
        s
    };
    let local_states = states_of(scenario, &replicas[0]);
    let mut peers: Vec<IngressesView> = Vec::new();
    for (r, nodes) in replicas.iter().enumerate().skip(1) {
        let s = scenario_of(r);
        let states = states_of(&s, nodes);
        let view = ingresses_view(
            &states,
            connected_ids(nodes),
            version_of(s.snapshot.as_ref()),
        );
        // As `/peer/ingresses` hands it over.
        let json = serde_json::to_string(&view).map_err(|e| TestCaseError::fail(e.to_string()))?;
        peers.push(serde_json::from_str(&json).map_err(|e| TestCaseError::fail(e.to_string()))?);
    }
    let got = programmed_everywhere(&local_view(&local_states), &peers);

    let local_version = version_of(scenario.snapshot.as_ref());
    let one_version = (0..REPLICAS)
        .filter(|r| replicas[*r].values().any(|n| n.streams > 0))
        .all(|r| version_of(scenario_of(r).snapshot.as_ref()) == local_version);
    let want: BTreeSet<String> = if one_version {
        programmed(&states_of(scenario, &scenario.nodes))
            .iter()
            .filter(|k| local_states.contains_key(*k))
            .map(ToString::to_string)
            .collect()
    } else {
        BTreeSet::new()
    };
    prop_assert_eq!(got, want);
    Ok(())
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn an_ingress_is_programmed_iff_every_connected_node_acked_all_it_needs_at_the_current_version(
        scenario in scenario()
    ) {
        check_programmed_iff_all_acked(&scenario)?;
    }

    #[test]
    fn an_ingress_in_quarantine_or_under_search_is_never_programmed_and_a_rejected_one_is_reported(
        scenario in scenario()
    ) {
        check_held_back_and_reported(&scenario)?;
    }

    #[test]
    fn disconnected_nodes_neither_program_an_ingress_nor_hold_it_back(
        scenario in scenario(),
        departed in btree_map(CONNECTABLE..NODES.len(), node_spec(), 0..=2),
    ) {
        check_disconnected_count_for_nothing(&scenario, departed)?;
    }

    #[test]
    fn acking_more_never_unprograms_an_ingress(
        scenario in scenario(),
        node in 0..CONNECTABLE,
        resource in 0..universe().len(),
    ) {
        check_acking_more_keeps_programmed(&scenario, node, resource)?;
    }

    #[test]
    fn with_no_peers_programmed_everywhere_is_what_this_replica_says(scenario in scenario()) {
        check_alone_everywhere_is_local(&scenario)?;
    }

    /// Each replica knows only its own Envoys; peers answer over JSON.
    #[test]
    fn programmed_everywhere_is_programmed_on_the_union_of_all_replicas_envoys_at_one_version(
        scenario in scenario(),
        replica_of in vec(0..REPLICAS, CONNECTABLE),
        other_version in vec(prop_oneof![4 => Just(false), 1 => Just(true)], REPLICAS),
    ) {
        check_everywhere_is_the_union(&scenario, &replica_of, &other_version)?;
    }
}

//! "Is this Ingress live on every gateway?": an Ingress is programmed when every
//! connected Envoy has ACKed, at the current snapshot's version, every resource
//! that carries it (its route tables, clusters and their endpoints, secrets).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::pipeline::PipelineStatus;
use crate::snapshot::{ResourceType, Snapshot};
use crate::translate::IngressResources;
use crate::world::{Kind, ObjectKey};
use crate::xds::NodeStatus;

/// Node ids, shared: Ingresses whose nodes answer alike share one list (a
/// thousand Ingresses on a thousand Envoys would otherwise copy a million ids
/// on every refresh).
pub type NodeList = Arc<[String]>;

/// Where one Ingress stands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IngressState {
    /// Programmed on every connected node (and at least one is connected).
    pub programmed: bool,
    /// Connected nodes that have everything it needs.
    pub programmed_on: NodeList,
    /// Connected nodes still missing something.
    pub pending_on: NodeList,
    /// Envoy rejected this Ingress, or an object it refers to, and it is
    /// quarantined: (node, Envoy's error).
    pub rejected: Option<(String, String)>,
    /// Its diagnostics from the latest translation.
    pub diagnostics: Vec<String>,
    /// The snapshot version this state refers to.
    pub version: Option<String>,
}

/// The resources (by type) an Ingress needs, by name.
fn needs(resources: &IngressResources) -> impl Iterator<Item = (ResourceType, &String)> {
    let routes = resources.routes.iter().map(|n| (ResourceType::Route, n));
    let clusters = resources
        .clusters
        .iter()
        .map(|n| (ResourceType::Cluster, n));
    // Translation names each ClusterLoadAssignment after its cluster.
    let endpoints = resources
        .clusters
        .iter()
        .map(|n| (ResourceType::Endpoints, n));
    let secrets = resources.secrets.iter().map(|n| (ResourceType::Secret, n));
    routes.chain(clusters).chain(endpoints).chain(secrets)
}

/// True when `node` holds every resource `resources` names at `snapshot`'s
/// version (Secrets only where the node may receive them).
fn has_all(node: &NodeStatus, snapshot: &Snapshot, resources: &IngressResources) -> bool {
    needs(resources).all(|(kind, name)| {
        // Holding the snapshot's own map of a type holds all of it (the usual
        // case once a node has caught up): no lookup per name.
        if Arc::ptr_eq(&node.types[kind].acked, snapshot.resources(kind)) {
            return true;
        }
        let out_of_scope = kind == ResourceType::Secret
            && node.secret_namespaces.as_ref().is_some_and(|namespaces| {
                name.split_once('/')
                    .is_none_or(|(namespace, _)| !namespaces.contains(namespace))
            });
        out_of_scope
            || snapshot
                .get(kind, name)
                .is_some_and(|r| node.has_acked(kind, name, r.version()))
    })
}

/// What makes two nodes' answers the same for every Ingress: the same ACKed
/// resources of every type and the same Secret scope.
type Holdings<'a> = (
    [Held<'a>; ResourceType::ALL.len()],
    Option<&'a BTreeSet<String>>,
);

/// One type's ACKed resources, identified without looking at them.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Held<'a> {
    /// Nothing (a type the node never asked for: every node's empty map is an
    /// allocation of its own, so by pointer no two nodes would ever group).
    Nothing,
    /// By content hash: a thousand SotW Envoys each ACKing a view cut for
    /// its own subscription (a new cluster's CLA not asked for yet) hold maps
    /// of their own with the same content, and must still form one group, or
    /// every refresh checks every Ingress on every node.
    Content(&'a str),
    /// By the map itself, when its content hash is not known.
    Map(usize),
}

/// Connected nodes grouped by [`Holdings`]: one node to ask per group, and each
/// connected node's group (in the order of `connected`). An Ingress is then
/// checked once per group instead of once per node.
fn same_holdings<'a>(connected: &[(&String, &'a NodeStatus)]) -> (Vec<&'a NodeStatus>, Vec<usize>) {
    let mut index: BTreeMap<Holdings<'a>, usize> = BTreeMap::new();
    let mut askers = Vec::new();
    let group_of = connected
        .iter()
        .map(|(_, node)| {
            let maps = ResourceType::ALL.map(|kind| {
                let held = &node.types[kind];
                match &held.content {
                    _ if held.acked.is_empty() => Held::Nothing,
                    Some(content) => Held::Content(content),
                    None => Held::Map(Arc::as_ptr(&held.acked) as usize),
                }
            });
            // By content: each stream's scope is an allocation of its own.
            let scope = node.secret_namespaces.as_deref();
            *index.entry((maps, scope)).or_insert_with(|| {
                askers.push(*node);
                askers.len() - 1
            })
        })
        .collect();
    (askers, group_of)
}

/// The connected nodes split by whether their group holds an Ingress
/// (`held[group]`): (programmed on, pending on), in the order of `connected`.
fn split_nodes(
    connected: &[(&String, &NodeStatus)],
    group_of: &[usize],
    held: &[bool],
) -> (NodeList, NodeList) {
    let (mut on, mut pending) = (Vec::new(), Vec::new());
    for ((id, _), group) in connected.iter().zip(group_of) {
        let list = if held[*group] { &mut on } else { &mut pending };
        list.push((*id).clone());
    }
    (on.into(), pending.into())
}

/// The state of every served Ingress against the connected nodes.
/// `nodes` come sorted by id (a `BTreeMap`'s order, or
/// [`AckTracker::shared_nodes`](crate::xds::AckTracker::shared_nodes)).
pub fn ingress_states<'a>(
    status: &PipelineStatus,
    snapshot: Option<&Snapshot>,
    nodes: impl IntoIterator<Item = (&'a String, &'a NodeStatus)>,
) -> BTreeMap<ObjectKey, IngressState> {
    let connected: Vec<(&String, &NodeStatus)> =
        nodes.into_iter().filter(|(_, n)| n.streams > 0).collect();
    let (askers, group_of) = same_holdings(&connected);
    let mut diagnostics: BTreeMap<&ObjectKey, Vec<String>> = BTreeMap::new();
    for d in status
        .diagnostics
        .iter()
        .filter(|d| d.object.kind == Kind::Ingress)
    {
        diagnostics
            .entry(&d.object.key)
            .or_default()
            .push(d.message.clone());
    }
    // Only what containment attributed counts as rejected: a NACK alone may
    // be about any object in the route table.
    let mut rejected: BTreeMap<&ObjectKey, (String, String)> = BTreeMap::new();
    for q in status.quarantined.iter() {
        for ingress in &q.ingresses {
            rejected
                .entry(ingress)
                .or_insert_with(|| (q.rejection.node.clone(), q.rejection.error.clone()));
        }
    }
    // Node lists by which groups hold an Ingress: usually one or two patterns.
    let mut lists: BTreeMap<Vec<bool>, (NodeList, NodeList)> = BTreeMap::new();
    let mut states = status
        .ingresses
        .iter()
        .map(|(key, resources)| {
            let mut state = IngressState {
                diagnostics: diagnostics.get(key).cloned().unwrap_or_default(),
                version: snapshot.map(|s| s.version().to_owned()),
                ..IngressState::default()
            };
            let has = |node: &NodeStatus| snapshot.is_some_and(|s| has_all(node, s, resources));
            let held: Vec<bool> = askers.iter().map(|node| has(node)).collect();
            (state.programmed_on, state.pending_on) = lists
                .entry(held)
                .or_insert_with_key(|held| split_nodes(&connected, &group_of, held))
                .clone();
            state.rejected = rejected.get(key).cloned();
            state.programmed = !connected.is_empty()
                && state.pending_on.is_empty()
                && state.rejected.is_none()
                && !status.undecided.contains(key);
            (key.clone(), state)
        })
        .collect::<BTreeMap<_, _>>();
    let all: NodeList = connected.iter().map(|(id, _)| (*id).clone()).collect();
    // A rejected new Ingress is left out of the config, so translation does not
    // list it: it is reported all the same.
    for (key, rejection) in rejected {
        states.entry(key.clone()).or_insert_with(|| IngressState {
            pending_on: all.clone(),
            rejected: Some(rejection),
            diagnostics: diagnostics.get(key).cloned().unwrap_or_default(),
            version: snapshot.map(|s| s.version().to_owned()),
            ..IngressState::default()
        });
    }
    states
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{References, Resource, ResourceMap};
    use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;

    fn node(shared: &Arc<ResourceMap>, kind: ResourceType, content: Option<&str>) -> NodeStatus {
        let mut node = NodeStatus {
            streams: 1,
            ..NodeStatus::default()
        };
        for other in ResourceType::ALL {
            node.types[other].acked = Arc::clone(shared);
        }
        // A map of its own, as a view cut for the node's subscription is.
        let cla = ClusterLoadAssignment {
            cluster_name: "ns/web:80".to_owned(),
            ..ClusterLoadAssignment::default()
        };
        let resource =
            Resource::encode(kind, cla.cluster_name.clone(), &cla, References::default());
        node.types[kind].acked = Arc::new(ResourceMap::from([(
            cla.cluster_name.clone(),
            Arc::new(resource),
        )]));
        node.types[kind].content = content.map(str::to_owned);
        node
    }

    #[test]
    fn nodes_holding_the_same_content_in_maps_of_their_own_are_asked_once() {
        let (eds, shared) = (ResourceType::Endpoints, Arc::default());
        let (a, b) = (
            node(&shared, eds, Some("v1")),
            node(&shared, eds, Some("v1")),
        );
        let (c, unknown) = (node(&shared, eds, Some("v2")), node(&shared, eds, None));
        let ids: Vec<String> = ["a", "b", "c", "d"].map(str::to_owned).into();
        let connected = [
            (&ids[0], &a),
            (&ids[1], &b),
            (&ids[2], &c),
            (&ids[3], &unknown),
        ];
        let (askers, group_of) = same_holdings(&connected);
        assert_eq!(askers.len(), 3);
        assert_eq!(group_of, [0, 0, 1, 2]);
    }

    #[test]
    fn nodes_that_never_asked_for_a_type_are_asked_once() {
        // Every type empty, each in a map of its own (as a fresh node's are).
        let (a, b) = (NodeStatus::default(), NodeStatus::default());
        let ids: Vec<String> = ["a", "b"].map(str::to_owned).into();
        let (askers, group_of) = same_holdings(&[(&ids[0], &a), (&ids[1], &b)]);
        assert_eq!((askers.len(), group_of), (1, vec![0, 0]));
    }
}

//! The immutable, versioned, consistent set of resources Envoy is served.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::config::listener::v3::Listener;
use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::Secret;

use super::consistency::{dangling, duplicate_domains, Inconsistency, InconsistentSnapshot};
use super::lineage::{Lineage, TypeChanges};
use super::references::References;
use super::resource::Resource;
use super::resource_type::{PerType, ResourceType};
use super::route_splice::encode_route;
use super::version::version_of;
use crate::fan_out;

/// Resources of one type, by name (sorted, so iteration and versions are deterministic).
pub type ResourceMap = BTreeMap<String, Arc<Resource>>;

/// A consistent, encoded configuration. It can only be made by
/// [`SnapshotBuilder::build`], so every `Snapshot` has passed the invariant-2 check.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    version: String,
    type_versions: PerType<String>,
    resources: PerType<Arc<ResourceMap>>,
    /// How this differs from the snapshot it was built from, if any.
    lineage: Option<Lineage>,
}

impl Snapshot {
    /// Starts an empty snapshot.
    pub fn builder() -> SnapshotBuilder {
        SnapshotBuilder::default()
    }

    /// Content hash of the whole snapshot.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Content hash of one type's full set (the SotW `version_info` for LDS/CDS).
    pub fn type_version(&self, kind: ResourceType) -> &str {
        &self.type_versions[kind]
    }

    /// All resources of one type.
    pub fn resources(&self, kind: ResourceType) -> &Arc<ResourceMap> {
        &self.resources[kind]
    }

    /// One resource by type and name.
    pub fn get(&self, kind: ResourceType, name: &str) -> Option<&Arc<Resource>> {
        self.resources[kind].get(name)
    }

    /// What changed in `kind` since `map`, when `map` is that type's map in the
    /// snapshot this one was built from (or this one's own: nothing changed).
    /// Streams holding the previous snapshot use it instead of comparing
    /// every resource.
    pub fn changes_since(
        &self,
        kind: ResourceType,
        map: &Arc<ResourceMap>,
    ) -> Option<Arc<TypeChanges>> {
        if Arc::ptr_eq(&self.resources[kind], map) {
            return Some(Arc::default());
        }
        self.lineage.as_ref()?.since(kind, map).cloned()
    }

    /// Reuses `previous`'s encoded resources wherever content is unchanged: whole
    /// type maps when a type is unchanged, single resources otherwise. Streams then
    /// see unchanged config as the very same `Arc`s (cheap comparisons), and the
    /// memory of consecutive snapshots is shared.
    pub fn share_with(mut self, previous: &Snapshot) -> Snapshot {
        for kind in ResourceType::ALL {
            if self.type_versions[kind] == previous.type_versions[kind] {
                self.resources[kind] = Arc::clone(&previous.resources[kind]);
                continue;
            }
            let map = Arc::make_mut(&mut self.resources[kind]);
            for (name, resource) in map.iter_mut() {
                if let Some(old) = previous.get(kind, name) {
                    if old.version() == resource.version() {
                        *resource = Arc::clone(old);
                    }
                }
            }
        }
        self.lineage = Some(Lineage::new(&previous.resources, &self.resources));
        self
    }

    /// Starts a builder holding this snapshot's resources, so a change encodes only
    /// the resources it adds or replaces (the rest are shared, not re-encoded).
    pub fn edit(&self) -> SnapshotBuilder {
        SnapshotBuilder {
            resources: self.resources.clone(),
            base_versions: Some(self.type_versions.clone()),
            base: Some(self.resources.clone()),
            ..SnapshotBuilder::default()
        }
    }
}

/// Collects typed Envoy messages and turns them into a [`Snapshot`].
///
/// Map-typed protobuf fields are encoded in hash order by prost, so resources with
/// more than one entry in a map field would not get deterministic versions; keep
/// such maps to a single entry.
#[derive(Default)]
pub struct SnapshotBuilder {
    /// Shared with the edited snapshot until a type is first written (copy on write).
    resources: PerType<Arc<ResourceMap>>,
    /// Type versions of the edited snapshot, reused for types left untouched.
    base_versions: Option<PerType<String>>,
    /// The edited snapshot's maps, for the built snapshot's [`Lineage`].
    base: Option<PerType<Arc<ResourceMap>>>,
    touched: PerType<bool>,
    removed_any: bool,
    added: PerType<BTreeSet<String>>,
    problems: Vec<Inconsistency>,
}

impl SnapshotBuilder {
    /// Adds a listener.
    pub fn listener(mut self, listener: Listener) -> Self {
        let refs = References::of_listener(&listener);
        self.push(
            ResourceType::Listener,
            listener.name.clone(),
            &listener,
            refs,
        );
        self
    }

    /// Adds a route configuration, its virtual hosts encoded across the cores.
    pub fn route(mut self, route: RouteConfiguration) -> Self {
        self.problems.extend(duplicate_domains(&route));
        let name = route.name.clone();
        let (value, clusters) = encode_route(route);
        self.encoded_route(name, value, clusters)
    }

    /// Adds a cluster.
    pub fn cluster(mut self, cluster: Cluster) -> Self {
        self.insert(cluster_resource(&cluster));
        self
    }

    /// Adds a ClusterLoadAssignment (named by its `cluster_name`).
    pub fn endpoints(mut self, endpoints: ClusterLoadAssignment) -> Self {
        self.insert(assignment_resource(&endpoints));
        self
    }

    /// Adds clusters, encoded across the cores (a full build's 50,000 take
    /// a while on one).
    pub fn clusters(self, clusters: Vec<Cluster>) -> Self {
        self.clusters_from(clusters, |cluster| cluster)
    }

    /// Adds the cluster `render` makes of each of `items`, rendered and
    /// encoded across the cores, so that only one Envoy `Cluster` (a large
    /// struct) per core is alive at a time.
    pub fn clusters_from<T: Send>(
        mut self,
        items: Vec<T>,
        render: impl Fn(T) -> Cluster + Sync,
    ) -> Self {
        let encoded = fan_out::map(items, |item| cluster_resource(&render(item)));
        for resource in encoded {
            self.insert(resource);
        }
        self
    }

    /// Adds ClusterLoadAssignments, encoded across the cores.
    pub fn load_assignments(mut self, assignments: Vec<ClusterLoadAssignment>) -> Self {
        let encoded = fan_out::map(assignments, |endpoints| assignment_resource(&endpoints));
        for resource in encoded {
            self.insert(resource);
        }
        self
    }

    /// Adds a TLS secret.
    pub fn secret(mut self, secret: Secret) -> Self {
        let name = secret.name.clone();
        self.push(ResourceType::Secret, name, &secret, References::default());
        self
    }

    /// Adds a route configuration already encoded: `value` must be the exact
    /// encoding of a table whose virtual hosts have unique domains and whose
    /// routes forward only to `clusters` (the caller built it that way; the
    /// dangling-reference check still runs on `clusters`).
    pub fn encoded_route(mut self, name: String, value: Vec<u8>, clusters: Vec<String>) -> Self {
        let kind = ResourceType::Route;
        let refs = References::of_clusters(clusters);
        let type_url = kind.type_url().to_owned();
        self.insert(Resource::from_value(kind, name, type_url, value, refs));
        self
    }

    fn push<M: prost::Message + prost::Name>(
        &mut self,
        kind: ResourceType,
        name: String,
        message: &M,
        refs: References,
    ) {
        self.insert(Resource::encode(kind, name, message, refs));
    }

    /// Adds an encoded resource. A new builder finds a duplicate name in its
    /// own map; an edit, where a name may replace the edited snapshot's, keeps
    /// the names it added (its consistency check looks only at those).
    fn insert(&mut self, resource: Resource) {
        let kind = resource.kind();
        let name = resource.name().to_owned();
        let editing = self.base.is_some();
        let duplicate = editing && !self.added[kind].insert(name.clone());
        self.touched[kind] = true;
        let map = Arc::make_mut(&mut self.resources[kind]);
        let resource = Arc::new(resource);
        let problem = match map.entry(name) {
            Entry::Vacant(slot) => {
                let name = duplicate.then(|| slot.key().clone());
                slot.insert(resource);
                name
            }
            Entry::Occupied(mut slot) => {
                slot.insert(resource);
                (duplicate || !editing).then(|| slot.key().clone())
            }
        };
        if let Some(name) = problem {
            self.problems
                .push(Inconsistency::DuplicateName { kind, name });
        }
    }

    /// Removes a resource (when editing a previous snapshot).
    pub fn remove(mut self, kind: ResourceType, name: &str) -> Self {
        if self.resources[kind].contains_key(name) {
            Arc::make_mut(&mut self.resources[kind]).remove(name);
            self.touched[kind] = true;
            self.removed_any = true;
        }
        self
    }

    /// Checks invariant 2 and seals the snapshot. An edit that only adds or
    /// replaces resources checks just those, and rehashes just the touched types,
    /// so a small change to a large snapshot costs little.
    pub fn build(self) -> Result<Snapshot, InconsistentSnapshot> {
        let resources = self.resources;
        let mut problems = self.problems;
        let only_added = (self.base_versions.is_some() && !self.removed_any).then_some(&self.added);
        problems.extend(dangling(&resources, only_added));
        if !problems.is_empty() {
            problems.sort();
            problems.dedup();
            return Err(InconsistentSnapshot { problems });
        }
        let base = self.base_versions;
        let touched = self.touched;
        let type_versions = PerType::from_fn(|kind| match &base {
            Some(base) if !touched[kind] => base[kind].clone(),
            _ => version_of(resources[kind].values().map(|r| (r.name(), r.version()))),
        });
        let version = version_of(
            ResourceType::ALL
                .iter()
                .map(|k| (k.short_name(), type_versions[*k].as_str())),
        );
        let lineage = self.base.map(|base| Lineage::new(&base, &resources));
        Ok(Snapshot {
            version,
            type_versions,
            resources,
            lineage,
        })
    }
}

/// A cluster, encoded, with what it references.
fn cluster_resource(cluster: &Cluster) -> Resource {
    let refs = References::of_cluster(cluster);
    Resource::encode(ResourceType::Cluster, cluster.name.clone(), cluster, refs)
}

/// A ClusterLoadAssignment, encoded under its `cluster_name`.
fn assignment_resource(endpoints: &ClusterLoadAssignment) -> Resource {
    let name = endpoints.cluster_name.clone();
    Resource::encode(
        ResourceType::Endpoints,
        name,
        endpoints,
        References::default(),
    )
}

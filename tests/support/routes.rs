//! A numbered set of routes for end-to-end tests: route `i` sends host
//! `svc-i.test` to cluster `c-i`, whose one endpoint is upstream `u-i`, all behind
//! one HTTP listener with one RDS table. Plus a prober of every route the Envoy
//! has ACKed.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

use super::ports::free_port;
use super::prober::Prober;
use super::resources::{eds_cluster, endpoints, http_listener, route_table};
use super::upstream::Upstream;
use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use interlock::snapshot::{Resource, ResourceType, Snapshot, SnapshotStore};
use interlock::xds::AckTracker;
use prost::Message;

/// The listener's name and its RDS table's name.
pub const LISTENER: &str = "http";
pub const ROUTE_TABLE: &str = "http-routes";

/// Upstreams and a listener port for up to `n` routes.
pub struct Routes {
    pub listener_port: u16,
    pub upstreams: Vec<Upstream>,
}

impl Routes {
    /// Starts `n` upstreams named `u-0` … and picks a free listener port.
    pub async fn start(n: usize) -> Routes {
        let mut upstreams = Vec::with_capacity(n);
        for i in 0..n {
            upstreams.push(Upstream::start(&upstream_name(i)).await);
        }
        Routes {
            listener_port: free_port(),
            upstreams,
        }
    }

    /// Where Envoy's listener answers.
    pub fn listener_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.listener_port))
    }

    /// A snapshot serving exactly routes `ids`.
    pub fn snapshot(&self, ids: impl IntoIterator<Item = usize>) -> Snapshot {
        let ids: BTreeSet<usize> = ids.into_iter().collect();
        let hosts: Vec<(String, String, String)> = ids
            .iter()
            .map(|&i| (host(i), "/".to_owned(), cluster(i)))
            .collect();
        let mut builder = Snapshot::builder()
            .listener(http_listener(LISTENER, self.listener_port, ROUTE_TABLE))
            .route(route_table(ROUTE_TABLE, &hosts));
        for &i in &ids {
            builder = builder
                .cluster(eds_cluster(&cluster(i)))
                .endpoints(endpoints(&cluster(i), &[self.upstreams[i].addr]));
        }
        builder
            .build()
            .unwrap_or_else(|e| panic!("test snapshot is inconsistent: {e}"))
    }
}

/// Host of route `i`.
pub fn host(i: usize) -> String {
    format!("svc-{i}.test")
}

/// Cluster of route `i`.
pub fn cluster(i: usize) -> String {
    format!("c-{i}")
}

/// Upstream name of route `i` (what it answers with).
pub fn upstream_name(i: usize) -> String {
    format!("u-{i}")
}

/// Route ids in the RDS table `node` has ACKed.
pub fn acked_routes(tracker: &AckTracker, node: &str) -> BTreeSet<usize> {
    let Some(status) = tracker.node(node) else {
        return BTreeSet::new();
    };
    route_ids(status.types[ResourceType::Route].acked.get(ROUTE_TABLE))
}

/// Route ids in the newest published snapshot.
pub fn published_routes(store: &SnapshotStore) -> BTreeSet<usize> {
    let Some(snapshot) = store.current() else {
        return BTreeSet::new();
    };
    route_ids(snapshot.get(ResourceType::Route, ROUTE_TABLE))
}

/// The route table `name` that `node` has ACKed, decoded.
pub fn acked_route_table(
    tracker: &AckTracker,
    node: &str,
    name: &str,
) -> Option<RouteConfiguration> {
    let status = tracker.node(node)?;
    status.types[ResourceType::Route]
        .acked
        .get(name)
        .map(decode_route_table)
}

/// A route table resource, decoded.
pub fn decode_route_table(table: &Arc<Resource>) -> RouteConfiguration {
    RouteConfiguration::decode(table.value())
        .unwrap_or_else(|e| panic!("route table does not decode: {e}"))
}

fn route_ids(table: Option<&Arc<Resource>>) -> BTreeSet<usize> {
    let Some(table) = table else {
        return BTreeSet::new();
    };
    decode_route_table(table)
        .virtual_hosts
        .iter()
        .filter_map(|vh| {
            vh.name
                .strip_prefix("svc-")?
                .strip_suffix(".test")?
                .parse()
                .ok()
        })
        .collect()
}

/// A prober for `node`'s ACKed numbered routes. The one excuse: a 404 for a route
/// whose removal has already been published (it may go any moment).
pub fn route_prober(
    addr: SocketAddr,
    store: SnapshotStore,
    tracker: AckTracker,
    node: String,
) -> Prober {
    let live = move || {
        acked_routes(&tracker, &node)
            .into_iter()
            .map(|i| (host(i), upstream_name(i)))
            .collect()
    };
    let excused = move |h: &str, status: u16| {
        let id = h.strip_prefix("svc-").and_then(|r| r.strip_suffix(".test"));
        let id: Option<usize> = id.and_then(|i| i.parse().ok());
        status == 404 && id.is_some_and(|i| !published_routes(&store).contains(&i))
    };
    Prober::start(addr, live, excused)
}

/// Every route in `ids` answers 200 from its own upstream through Envoy.
pub async fn assert_serves(routes: &Routes, ids: impl IntoIterator<Item = usize>) {
    for i in ids {
        let r = super::http::get(routes.listener_addr(), &host(i), "/")
            .await
            .unwrap_or_else(|e| panic!("route {i}: {e}"));
        assert_eq!(
            (r.status, r.body.as_str()),
            (200, upstream_name(i).as_str()),
            "route {i}"
        );
    }
}

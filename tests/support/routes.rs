//! A numbered set of routes for end-to-end tests: route `i` sends host
//! `svc-i.test` to cluster `c-i`, whose one endpoint is upstream `u-i`, all behind
//! one HTTP listener with one RDS table. Plus a prober that checks every route
//! the Envoy has ACKed.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use interlock::snapshot::{Resource, ResourceType, Snapshot, SnapshotStore};
use interlock::xds::AckTracker;
use prost::Message;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::http::HttpClient;
use super::ports::free_port;
use super::resources::{eds_cluster, endpoints, http_listener, route_table};
use super::upstream::Upstream;

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

fn route_ids(table: Option<&Arc<Resource>>) -> BTreeSet<usize> {
    let Some(table) = table else {
        return BTreeSet::new();
    };
    let table = RouteConfiguration::decode(table.body().value.as_slice())
        .unwrap_or_else(|e| panic!("route table does not decode: {e}"));
    table
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

/// Probes every ACKed route continuously; any answer other than 200 from the right
/// upstream is a violation. The set of ACKed routes is read before each request,
/// so an ACK always precedes the request it licenses. The one excuse: a 404 for a
/// route whose removal has already been published (it may go any moment).
pub struct Prober {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    report: Arc<Mutex<ProbeReport>>,
}

/// What a prober saw.
#[derive(Debug, Default, Clone)]
pub struct ProbeReport {
    pub requests: u64,
    pub violations: Vec<String>,
}

impl Prober {
    /// Starts probing `addr` for `node`'s ACKed routes.
    pub fn start(
        addr: SocketAddr,
        store: SnapshotStore,
        tracker: AckTracker,
        node: String,
    ) -> Prober {
        let (stop, mut stopped) = watch::channel(false);
        let report = Arc::new(Mutex::new(ProbeReport::default()));
        let shared = Arc::clone(&report);
        let task = tokio::spawn(async move {
            let mut client = HttpClient::new(addr);
            while !*stopped.borrow() {
                let live = acked_routes(&tracker, &node);
                for i in live {
                    let outcome = client.get(&host(i), "/").await;
                    let mut report = shared.lock().expect("probe report");
                    report.requests += 1;
                    match outcome {
                        Ok(r) if r.status == 200 && r.body == upstream_name(i) => {}
                        Ok(r) if r.status == 404 && !published_routes(&store).contains(&i) => {}
                        Ok(r) => report.violations.push(format!(
                            "route {i}: status {} body {:?} flags {:?}",
                            r.status,
                            r.body,
                            r.header("x-envoy-response-flags")
                        )),
                        Err(e) => report.violations.push(format!("route {i}: {e}")),
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(2)) => {}
                    _ = stopped.changed() => {}
                }
            }
        });
        Prober { stop, task, report }
    }

    /// Stops probing and returns what was seen.
    pub async fn finish(self) -> ProbeReport {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        let report = self.report.lock().expect("probe report").clone();
        report
    }
}

//! The fan-out bench's Envoy-like clients (`interlock bench fanout`, reused by
//! `interlock bench push`) subscribe and ACK as Envoy 1.40 does (issue 12): a
//! real Envoy and an Envoy-like client of the same ADS flavour follow one
//! control plane; once both are done, the server has recorded for each, type by
//! type, the same ACKed resources at the same versions, through a snapshot
//! that adds routes and one that removes some (unsubscribing EDS and RDS
//! names). The client also reports its config complete, and a probe host held
//! once its route, cluster and endpoints are.

mod support;

use std::collections::BTreeSet;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use interlock::bench::envoy_like::{ClientEvent, EnvoyLike, Flavor, Probe, Seen};
use interlock::snapshot::{ResourceType, SnapshotStore};
use interlock::xds::AckTracker;
use support::routes::{acked_routes, host, Routes};
use support::{wait_for, ControlPlane, Envoy, EnvoyOptions};
use tokio::sync::{mpsc, watch};
use tonic::transport::Endpoint;

const CONVERGE: Duration = Duration::from_secs(30);

/// The types both follow (no TLS here, so no SDS).
const KINDS: [ResourceType; 4] = [
    ResourceType::Cluster,
    ResourceType::Endpoints,
    ResourceType::Listener,
    ResourceType::Route,
];

/// Per type, the ACKed version and resource names the server recorded for `node`.
fn held(tracker: &AckTracker, node: &str) -> Vec<(Option<String>, BTreeSet<String>)> {
    let Some(status) = tracker.node(node) else {
        return Vec::new();
    };
    KINDS
        .iter()
        .map(|&kind| {
            let t = &status.types[kind];
            (t.acked_version.clone(), t.acked.keys().cloned().collect())
        })
        .collect()
}

/// Waits until `like` holds what `envoy` holds, and `envoy` holds routes `ids`.
async fn both_hold(cp: &ControlPlane, envoy: &str, like: &str, ids: &[usize]) {
    let ids: BTreeSet<usize> = ids.iter().copied().collect();
    wait_for(CONVERGE, "the Envoy to ACK the routes", || async {
        acked_routes(&cp.tracker, envoy) == ids
    })
    .await;
    let what = format!("the Envoy-like client to hold what the Envoy holds ({ids:?})");
    wait_for(CONVERGE, &what, || async {
        let (a, b) = (held(&cp.tracker, envoy), held(&cp.tracker, like));
        !a.is_empty() && a == b
    })
    .await;
}

/// Waits for an event the client reports.
async fn seen(events: &mut mpsc::UnboundedReceiver<ClientEvent>, want: Seen) {
    let found = tokio::time::timeout(CONVERGE, async {
        while let Some(event) = events.recv().await {
            match event.seen {
                Seen::Failed(why) => panic!("the Envoy-like client failed: {why}"),
                seen if seen == want => return true,
                _ => {}
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "the client to report {want:?}");
}

async fn subscribes_and_acks_as_envoy_does(flavor: Flavor) {
    let routes = Routes::start(3).await;
    let store = SnapshotStore::new();
    store.publish(routes.snapshot([0, 1]));
    let cp = ControlPlane::start_on(0, store);
    let envoy = Envoy::start(EnvoyOptions::new(cp.port, flavor == Flavor::Delta)).await;
    let envoy_node = envoy.options().node_id.clone();

    let (events_tx, mut events) = mpsc::unbounded_channel();
    let (probe_tx, probe) = watch::channel(None);
    let like_node = format!("envoy-like-{}", flavor.name());
    let client = EnvoyLike {
        index: 0,
        node_id: like_node.clone(),
        flavor,
        events: events_tx,
        probe,
        received: Arc::new(AtomicU64::new(0)),
    };
    let endpoint = Endpoint::from_shared(format!("http://127.0.0.1:{}", cp.port)).expect("uri");
    let running = tokio::spawn(client.run(endpoint));

    seen(&mut events, Seen::Complete).await;
    both_hold(&cp, &envoy_node, &like_node, &[0, 1]).await;

    // A route added: the client follows CDS into EDS and the new route table,
    // and holds the probe once its route, cluster and endpoints are there.
    probe_tx.send_replace(Some(Probe {
        id: 1,
        host: host(2),
    }));
    assert!(cp.store.publish(routes.snapshot([0, 1, 2])));
    seen(&mut events, Seen::Holds(1)).await;
    both_hold(&cp, &envoy_node, &like_node, &[0, 1, 2]).await;

    // Routes removed: both drop the same clusters and CLAs.
    assert!(cp.store.publish(routes.snapshot([2])));
    both_hold(&cp, &envoy_node, &like_node, &[2]).await;
    running.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sotw_envoy_like_client_subscribes_and_acks_as_envoy_does() {
    subscribes_and_acks_as_envoy_does(Flavor::Sotw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delta_envoy_like_client_subscribes_and_acks_as_envoy_does() {
    subscribes_and_acks_as_envoy_does(Flavor::Delta).await;
}

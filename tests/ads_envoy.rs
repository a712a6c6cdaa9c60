//! The ADS server against a real Envoy 1.40, in SotW and in delta mode: requests
//! reach the right upstream, batches of new routes never answer 404/503 once ACKed,
//! removals never strand a route, NACKed config is not re-sent, and restarts on
//! either side neither break traffic nor re-send unchanged config.
//!
//! Envoy runs with `--concurrency 1`, so "ACKed ⇒ served" holds exactly (DESIGN.md):
//! the prober reads the ACKed route set before each request and allows no grace.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use envoy_types::pb::envoy::config::route::v3::{route_match, RouteMatch};
use envoy_types::pb::envoy::r#type::matcher::v3::RegexMatcher;
use interlock::snapshot::{ResourceType, Snapshot};
use interlock::xds::AckTracker;
use support::resources::{prefix_route, route_table};
use support::routes::{
    acked_routes, assert_serves, host, route_prober, upstream_name, Routes, ROUTE_TABLE,
};
use support::{get, wait_for, ControlPlane, Envoy, EnvoyOptions};

const CONVERGE: Duration = Duration::from_secs(30);

/// Runs an async test body once per ADS flavour.
macro_rules! in_both_modes {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sotw() {
                super::$name(false).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn delta() {
                super::$name(true).await
            }
        }
    )*};
}

in_both_modes!(
    published_snapshot_routes_request_to_its_upstream,
    fifty_back_to_back_snapshots_never_serve_404_or_503_on_acked_routes,
    removing_half_the_routes_never_breaks_the_rest,
    nacked_snapshot_is_not_resent_and_next_one_is_accepted,
    server_restart_resends_nothing_and_traffic_never_fails,
    restarted_envoy_gets_complete_config_before_serving,
    nothing_is_sent_before_the_first_snapshot,
);

async fn wait_acked(tracker: &AckTracker, node: &str, want: &BTreeSet<usize>) {
    wait_for(
        CONVERGE,
        &format!("{node} to ACK routes {want:?}"),
        || async { acked_routes(tracker, node) == *want },
    )
    .await;
}

/// A control plane serving routes `live` (of `n`) and an Envoy that has ACKed them.
struct Serving {
    cp: ControlPlane,
    routes: Routes,
    envoy: Envoy,
    node: String,
}

async fn serving(n: usize, live: impl IntoIterator<Item = usize>, delta: bool) -> Serving {
    let cp = ControlPlane::start();
    let routes = Routes::start(n).await;
    let live: BTreeSet<usize> = live.into_iter().collect();
    assert!(cp.store.publish(routes.snapshot(live.iter().copied())));
    let envoy = Envoy::start(EnvoyOptions::new(cp.port, delta)).await;
    let node = envoy.options().node_id.clone();
    wait_acked(&cp.tracker, &node, &live).await;
    Serving {
        cp,
        routes,
        envoy,
        node,
    }
}

async fn published_snapshot_routes_request_to_its_upstream(delta: bool) {
    let Serving {
        cp: _cp,
        routes,
        envoy,
        ..
    } = serving(2, [0, 1], delta).await;
    for i in [0, 1] {
        let r = get(routes.listener_addr(), &host(i), "/")
            .await
            .expect("request");
        assert_eq!(r.status, 200, "{}", envoy.log());
        assert_eq!(r.body, upstream_name(i));
        assert_eq!(r.header("x-upstream"), Some(upstream_name(i).as_str()));
    }
    let unknown = get(routes.listener_addr(), "nobody.test", "/")
        .await
        .expect("request");
    assert_eq!(unknown.status, 404, "a host with no route is Envoy's 404");
}

async fn fifty_back_to_back_snapshots_never_serve_404_or_503_on_acked_routes(delta: bool) {
    let cp = ControlPlane::start();
    let routes = Routes::start(50).await;
    cp.store.publish(routes.snapshot([]));
    let envoy = Envoy::start(EnvoyOptions::new(cp.port, delta)).await;
    let node = envoy.options().node_id.clone();
    wait_for(CONVERGE, "the empty route table to be ACKed", || async {
        cp.tracker
            .node(&node)
            .is_some_and(|n| n.types[ResourceType::Route].acked.contains_key(ROUTE_TABLE))
    })
    .await;

    let prober = route_prober(
        routes.listener_addr(),
        cp.store.clone(),
        cp.tracker.clone(),
        node.clone(),
    );
    let mut previous: Option<Snapshot> = None;
    for k in 0..50 {
        let next = routes.snapshot(0..=k);
        if let Some(prev) = &previous {
            assert_ne!(prev.version(), next.version());
        }
        assert!(cp.store.publish(routes.snapshot(0..=k)));
        previous = Some(next);
    }
    wait_acked(&cp.tracker, &node, &(0..50).collect()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let report = prober.finish().await;
    assert!(
        report.violations.is_empty(),
        "{:#?}\n{}",
        report.violations,
        envoy.log()
    );
    assert!(
        report.requests > 50,
        "the prober must have probed: {report:?}"
    );
    assert_serves(&routes, 0..50).await;
}

async fn removing_half_the_routes_never_breaks_the_rest(delta: bool) {
    let Serving {
        cp,
        routes,
        envoy,
        node,
    } = serving(40, 0..40, delta).await;

    // Removed routes are probed until the ACK of the table without them: up to
    // then they must still answer from their upstream (their cluster stays).
    let prober = route_prober(
        routes.listener_addr(),
        cp.store.clone(),
        cp.tracker.clone(),
        node.clone(),
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let kept: BTreeSet<usize> = (0..40).filter(|i| i % 2 == 0).collect();
    cp.store.publish(routes.snapshot(kept.iter().copied()));
    wait_acked(&cp.tracker, &node, &kept).await;
    wait_for(CONVERGE, "the removed clusters to leave CDS", || async {
        cp.tracker
            .node(&node)
            .is_some_and(|n| n.types[ResourceType::Cluster].acked.len() == kept.len())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let report = prober.finish().await;
    assert!(
        report.violations.is_empty(),
        "{:#?}\n{}",
        report.violations,
        envoy.log()
    );
    assert_serves(&routes, kept.iter().copied()).await;
    for i in (0..40).filter(|i| i % 2 == 1) {
        let r = get(routes.listener_addr(), &host(i), "/")
            .await
            .expect("request");
        assert_eq!(r.status, 404, "removed route {i} must be gone");
    }
    let no_cluster = envoy.stat("http.http.no_cluster").await.unwrap_or(0);
    assert_eq!(no_cluster, 0, "Envoy routed to a cluster it did not have");
}

/// `routes` plus a virtual host whose regex Envoy rejects.
fn with_bad_regex(routes: &Routes, ids: impl IntoIterator<Item = usize>) -> Snapshot {
    let good = routes.snapshot(ids);
    let table = good
        .get(ResourceType::Route, ROUTE_TABLE)
        .expect("route table");
    let mut decoded: envoy_types::pb::envoy::config::route::v3::RouteConfiguration =
        prost::Message::decode(table.value()).expect("decode");
    let mut bad = route_table(
        ROUTE_TABLE,
        &[("bad.test".into(), "/".into(), "c-0".into())],
    );
    let mut route = prefix_route("/", "c-0");
    route.r#match = Some(RouteMatch {
        path_specifier: Some(route_match::PathSpecifier::SafeRegex(RegexMatcher {
            regex: "(unclosed".into(),
            ..RegexMatcher::default()
        })),
        ..RouteMatch::default()
    });
    bad.virtual_hosts[0].routes = vec![route];
    decoded.virtual_hosts.extend(bad.virtual_hosts);
    good.edit()
        .route(decoded)
        .build()
        .expect("consistent, but Envoy rejects it")
}

async fn nacked_snapshot_is_not_resent_and_next_one_is_accepted(delta: bool) {
    let Serving {
        cp,
        routes,
        envoy: _envoy,
        node,
    } = serving(3, [0], delta).await;

    cp.store.publish(with_bad_regex(&routes, [0, 1]));
    wait_for(CONVERGE, "Envoy to NACK the route table", || async {
        cp.tracker
            .node(&node)
            .is_some_and(|n| n.types[ResourceType::Route].last_nack.is_some())
    })
    .await;
    let status = cp.tracker.node(&node).expect("node");
    let nack = status.types[ResourceType::Route]
        .last_nack
        .clone()
        .expect("nack");
    assert!(
        nack.error.contains("unclosed") || !nack.error.is_empty(),
        "{nack:?}"
    );
    let sent = status.types[ResourceType::Route].responses_sent;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let later = cp.tracker.node(&node).expect("node");
    assert_eq!(
        later.types[ResourceType::Route].responses_sent,
        sent,
        "NACKed RDS was re-sent"
    );
    assert_eq!(later.types[ResourceType::Route].nacks, 1);
    assert_eq!(acked_routes(&cp.tracker, &node), BTreeSet::from([0]));
    assert_serves(&routes, [0]).await;

    cp.store.publish(routes.snapshot([0, 1, 2]));
    wait_acked(&cp.tracker, &node, &BTreeSet::from([0, 1, 2])).await;
    assert!(
        cp.tracker.node(&node).expect("node").types[ResourceType::Route]
            .last_nack
            .is_none()
    );
    assert_serves(&routes, [0, 1, 2]).await;
}

async fn server_restart_resends_nothing_and_traffic_never_fails(delta: bool) {
    let Serving {
        mut cp,
        routes,
        envoy,
        node,
    } = serving(10, 0..10, delta).await;
    let prober = route_prober(
        routes.listener_addr(),
        cp.store.clone(),
        cp.tracker.clone(),
        node.clone(),
    );

    let port = cp.port;
    cp.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // A new process: new store, snapshot rebuilt from the same content.
    let fresh = interlock::snapshot::SnapshotStore::new();
    fresh.publish(routes.snapshot(0..10));
    let cp2 = ControlPlane::start_on(port, fresh);
    wait_for(CONVERGE, "Envoy to reconnect", || async {
        cp2.tracker.node(&node).is_some_and(|n| n.streams > 0)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let status = cp2.tracker.node(&node).expect("node");
    for kind in ResourceType::ALL {
        assert_eq!(
            status.types[kind].responses_sent, 0,
            "{kind} re-sent after reconnect"
        );
    }
    let report = prober.finish().await;
    assert!(
        report.violations.is_empty(),
        "{:#?}\n{}",
        report.violations,
        envoy.log()
    );
    assert!(report.requests > 10);

    // The new stream is live: a change goes through.
    cp2.store.publish(routes.snapshot(0..5));
    wait_acked(&cp2.tracker, &node, &(0..5).collect()).await;
}

async fn restarted_envoy_gets_complete_config_before_serving(delta: bool) {
    let Serving {
        cp: _cp,
        routes,
        mut envoy,
        ..
    } = serving(10, 0..10, delta).await;
    envoy.restart().await;
    // The listener binds only once its routes are in, so the first answer (and
    // every one after it) comes from the upstream.
    let addr = routes.listener_addr();
    let deadline = tokio::time::Instant::now() + CONVERGE;
    let first = loop {
        if let Ok(r) = get(addr, &host(9), "/").await {
            break r;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "listener never came up: {}",
            envoy.log()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(
        (first.status, first.body.as_str()),
        (200, "u-9"),
        "{}",
        envoy.log()
    );
    assert_serves(&routes, 0..10).await;
}

async fn nothing_is_sent_before_the_first_snapshot(delta: bool) {
    let cp = ControlPlane::start();
    let routes = Routes::start(1).await;
    let envoy = Envoy::start(EnvoyOptions::new(cp.port, delta)).await;
    let node = envoy.options().node_id.clone();
    wait_for(CONVERGE, "Envoy to connect", || async {
        cp.tracker.node(&node).is_some_and(|n| n.streams > 0)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let status = cp.tracker.node(&node).expect("node");
    for kind in ResourceType::ALL {
        assert_eq!(
            status.types[kind].responses_sent, 0,
            "{kind} sent before the first snapshot"
        );
    }
    assert!(
        get(routes.listener_addr(), &host(0), "/").await.is_err(),
        "no listener yet"
    );

    cp.store.publish(routes.snapshot([0]));
    wait_acked(&cp.tracker, &node, &BTreeSet::from([0])).await;
    assert_serves(&routes, [0]).await;
}

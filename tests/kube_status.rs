//! Ingress status, leader election and graceful shutdown of `interlock serve`
//! replicas against a fake API server, with real Envoys in front.

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::fake_kube::INGRESS;
use support::kube_cluster::KubeCluster;
use support::kube_objects::{ingress, lb_addresses, peer_slice, without_status};
use support::prober::Prober;
use support::tcp_forwarder::TcpForwarder;
use support::{get, wait_for, Envoy, EnvoyOptions, InterlockProcess};

const STARTUP: Duration = Duration::from_secs(30);
/// A bound, not a target: generous so a loaded machine (CI runs the suites in
/// parallel, each with its own Envoys) never turns slowness into a failure.
const CONVERGE: Duration = Duration::from_secs(60);
const LEASE: &str = "interlock-leader";

fn ip(address: &str) -> Value {
    json!([{ "ip": address }])
}

fn status_of(cluster: &KubeCluster, name: &str) -> Value {
    let object = cluster
        .api
        .get(&INGRESS, Some("default"), name)
        .unwrap_or_else(|| panic!("Ingress {name} exists"));
    lb_addresses(&object)
}

async fn wait_status_is(cluster: &KubeCluster, name: &str, want: &Value, log: &InterlockProcess) {
    let started = Instant::now();
    while status_of(cluster, name) != *want {
        assert!(
            started.elapsed() < CONVERGE,
            "status of {name} is {}, not {want}; log of {}:\n{}",
            status_of(cluster, name),
            log.identity,
            log.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// PATCH requests the API server received for Ingress `name`.
fn patches(cluster: &KubeCluster, name: &str) -> Vec<String> {
    cluster
        .api
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH" && r.path.contains(&format!("/ingresses/{name}")))
        .map(|r| r.path.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_is_written_only_once_envoy_acked_the_routes() {
    let (cluster, _web) = KubeCluster::with_web().await;
    cluster.route("app", "app.example", "web");
    let mut foreign = ingress("default", "foreign", "nginx", "foreign.example", "web");
    foreign["status"] = json!({ "loadBalancer": { "ingress": [{ "ip": "198.51.100.9" }] } });
    let foreign = cluster.api.apply(foreign);
    let unclassed = cluster.api.apply(json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": { "namespace": "default", "name": "unclassed" },
        "spec": { "rules": [{ "host": "unclassed.example" }] },
    }));
    let before = cluster
        .api
        .get(&INGRESS, Some("default"), "app")
        .expect("app");
    let mut interlock = cluster.replica(
        "a",
        &["--status-address", "203.0.113.10", "--drain-timeout", "2s"],
    );
    interlock.wait_ready(STARTUP).await;
    // Leading, but no Envoy has ACKed anything: nothing is programmed.
    let holder = || cluster.api.lease_holder("default", LEASE);
    wait_for(CONVERGE, "replica a to lead", || async {
        holder().as_deref() == Some("a")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        status_of(&cluster, "app"),
        Value::Null,
        "status before any Envoy ACKed"
    );

    let envoy = Envoy::start(EnvoyOptions::new(interlock.xds_port, false)).await;
    let started = Instant::now();
    loop {
        if status_of(&cluster, "app") != Value::Null {
            break;
        }
        assert!(
            started.elapsed() < CONVERGE,
            "no status; log:\n{}",
            interlock.log()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The address is a promise: the route already serves through Envoy.
    let r = get(interlock.http(), "app.example", "/")
        .await
        .expect("answer");
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "web"),
        "status written before Envoy served the route"
    );
    assert_eq!(status_of(&cluster, "app"), ip("203.0.113.10"));

    // Nothing else of the object changed, nor any other Ingress.
    let after = cluster
        .api
        .get(&INGRESS, Some("default"), "app")
        .expect("app");
    assert_eq!(without_status(&after), without_status(&before));
    assert_eq!(
        cluster.api.get(&INGRESS, Some("default"), "foreign"),
        Some(foreign)
    );
    assert_eq!(
        cluster.api.get(&INGRESS, Some("default"), "unclassed"),
        Some(unclassed)
    );
    for path in patches(&cluster, "app") {
        assert!(
            path.ends_with("/status"),
            "only the status subresource is patched: {path}"
        );
    }
    assert!(cluster
        .api
        .requests()
        .iter()
        .filter(|r| r.path.contains("/ingresses/"))
        .all(|r| r.method != "PUT" && r.method != "POST" && r.method != "DELETE"));

    // Later snapshots re-program it; an unchanged address is not written again.
    cluster.route("second", "second.example", "web");
    wait_status_is(&cluster, "second", &ip("203.0.113.10"), &interlock).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        patches(&cluster, "app").len(),
        1,
        "no-op writes are skipped"
    );

    // A write refused with 409 Conflict is retried.
    cluster.api.fail_next_writes(2);
    cluster.route("third", "third.example", "web");
    wait_status_is(&cluster, "third", &ip("203.0.113.10"), &interlock).await;
    let refused = cluster
        .api
        .requests()
        .iter()
        .filter(|r| r.status == 409)
        .count();
    assert!(refused >= 2, "{refused} writes refused");

    // Someone else overwrites it: the leader puts it back.
    let mut tampered = cluster
        .api
        .get(&INGRESS, Some("default"), "app")
        .expect("app");
    tampered["status"] = json!({ "loadBalancer": { "ingress": [{ "ip": "192.0.2.66" }] } });
    cluster.api.apply(tampered);
    wait_status_is(&cluster, "app", &ip("203.0.113.10"), &interlock).await;

    // Shutting down leaves status in place and releases the Lease.
    interlock.terminate();
    assert!(
        interlock.wait_exit(CONVERGE).await,
        "clean exit; log:\n{}",
        interlock.log()
    );
    assert_eq!(status_of(&cluster, "app"), ip("203.0.113.10"));
    assert_eq!(status_of(&cluster, "second"), ip("203.0.113.10"));
    assert_eq!(holder(), None, "the Lease is released on shutdown");
    drop(envoy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_serve_identical_versions_and_only_the_leader_writes() {
    let (cluster, _web) = KubeCluster::with_web().await;
    cluster.route("first", "first.example", "web");
    // Each replica would write its own address: the status tells who wrote.
    let listeners = (support::free_port(), support::free_port());
    let mut a = cluster.replica_of("a", listeners, &["--status-address", "203.0.113.1"]);
    let mut b = cluster.replica_of("b", listeners, &["--status-address", "203.0.113.2"]);
    let _envoy_a = Envoy::start(EnvoyOptions::new(a.xds_port, false)).await;
    let _envoy_b = Envoy::start(EnvoyOptions::new(b.xds_port, true)).await;
    a.wait_ready(STARTUP).await;
    b.wait_ready(STARTUP).await;
    let holder = || cluster.api.lease_holder("default", LEASE);
    wait_for(CONVERGE, "a leader", || async { holder().is_some() }).await;
    let leader = holder().expect("leader");
    let (leader_address, follower_address) = if leader == "a" {
        ("203.0.113.1", "203.0.113.2")
    } else {
        ("203.0.113.2", "203.0.113.1")
    };
    wait_status_is(&cluster, "first", &ip(leader_address), &a).await;
    assert_eq!(a.ready_version().await, b.ready_version().await);

    cluster.route("second", "second.example", "web");
    wait_status_is(&cluster, "second", &ip(leader_address), &a).await;
    for replica in [&a, &b] {
        wait_for(CONVERGE, "second to serve on both replicas", || async {
            get(replica.http(), "second.example", "/")
                .await
                .is_ok_and(|r| r.status == 200)
        })
        .await;
    }
    assert_eq!(
        a.ready_version().await,
        b.ready_version().await,
        "identical versions"
    );
    // Only the leader writes: the follower's address never appears.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(status_of(&cluster, "first"), ip(leader_address));
    assert_eq!(status_of(&cluster, "second"), ip(leader_address));

    // The leader dies without releasing: the other takes over once the lease
    // (3 s) runs out, and writes its address from then on.
    let (dead, survivor) = if leader == "a" {
        (&mut a, &b)
    } else {
        (&mut b, &a)
    };
    dead.kill().await;
    let killed = Instant::now();
    wait_for(Duration::from_secs(15), "the survivor to lead", || async {
        holder().as_deref() == Some(survivor.identity.as_str())
    })
    .await;
    let handover = killed.elapsed();
    assert!(
        handover >= Duration::from_secs(2),
        "took over a live lease after {handover:?}"
    );
    cluster.route("third", "third.example", "web");
    wait_status_is(&cluster, "third", &ip(follower_address), survivor).await;
    wait_status_is(&cluster, "first", &ip(follower_address), survivor).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_streams_before_exiting() {
    let (cluster, _web) = KubeCluster::with_web().await;
    cluster.route("app", "app.example", "web");
    let (mut interlock, envoy) = cluster
        .serving(
            "a",
            &["--status-address", "203.0.113.10", "--drain-timeout", "3s"],
        )
        .await;
    wait_status_is(&cluster, "app", &ip("203.0.113.10"), &interlock).await;
    let streams = |body: &str| -> u64 {
        let nodes: Value = serde_json::from_str(body).expect("nodes JSON");
        nodes["nodes"].as_array().map_or(0, |n| {
            n.iter().map(|n| n["streams"].as_u64().unwrap_or(0)).sum()
        })
    };

    interlock.terminate();
    let terminated = Instant::now();
    wait_for(
        Duration::from_secs(2),
        "readiness to turn false",
        || async { interlock.readyz().await == Some(503) },
    )
    .await;
    // Still draining: the connected Envoy keeps its stream and serves.
    let nodes = interlock
        .admin_get("/debug/nodes")
        .await
        .expect("admin answers");
    assert_eq!(streams(&nodes.body), 1, "{}", nodes.body);
    let r = get(interlock.http(), "app.example", "/")
        .await
        .expect("answer");
    assert_eq!(r.status, 200);
    // New connections are refused (the listener closes as draining starts).
    let xds = std::net::SocketAddr::from(([127, 0, 0, 1], interlock.xds_port));
    wait_for(
        Duration::from_secs(2),
        "the xDS listener to close",
        || async { tokio::net::TcpStream::connect(xds).await.is_err() },
    )
    .await;
    wait_for(CONVERGE, "the Lease to be released", || async {
        cluster.api.lease_holder("default", LEASE).is_none()
    })
    .await;

    assert!(
        interlock.wait_exit(CONVERGE).await,
        "clean exit; log:\n{}",
        interlock.log()
    );
    let drained = terminated.elapsed();
    assert!(
        drained >= Duration::from_secs(3),
        "streams cut before the drain timeout: {drained:?}"
    );
    assert_eq!(
        status_of(&cluster, "app"),
        ip("203.0.113.10"),
        "status is never cleared"
    );
    assert!(
        interlock.log().contains("drain timeout"),
        "{}",
        interlock.log()
    );
    drop(envoy);
}

/// A rolling upgrade: the Service stops sending new connections to replica a
/// (not ready), a drains and exits, its Envoys reconnect to b — and b, holding
/// the identical snapshot, has nothing new to send them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envoys_move_to_another_replica_without_new_config_or_failures() {
    let (cluster, _web) = KubeCluster::with_web().await;
    for i in 0..5 {
        cluster.route(&format!("app-{i}"), &format!("app-{i}.example"), "web");
    }
    let listeners = (support::free_port(), support::free_port());
    let mut a = cluster.replica_of("a", listeners, &["--drain-timeout", "2s"]);
    let b = cluster.replica_of("b", listeners, &[]);
    let xds = |r: &InterlockProcess| std::net::SocketAddr::from(([127, 0, 0, 1], r.xds_port));
    let service = TcpForwarder::start(xds(&a)).await;
    let sotw = Envoy::start(EnvoyOptions::new(service.port, false)).await;
    let delta = Envoy::start(EnvoyOptions::new(service.port, true)).await;
    a.wait_ready(STARTUP).await;
    b.wait_ready(STARTUP).await;
    let http = a.http();
    for i in 0..5 {
        wait_for(CONVERGE, "routes to serve", || async {
            get(http, &format!("app-{i}.example"), "/")
                .await
                .is_ok_and(|r| r.status == 200)
        })
        .await;
    }
    let live: Vec<(String, String)> = (0..5)
        .map(|i| (format!("app-{i}.example"), "web".to_owned()))
        .collect();
    let prober = Prober::start(http, move || live.clone(), |_, _| false);

    service.switch(xds(&b));
    a.terminate();
    assert!(a.wait_exit(CONVERGE).await, "a exits; log:\n{}", a.log());
    for envoy in [&sotw, &delta] {
        let node = envoy.options().node_id.clone();
        let started = Instant::now();
        loop {
            let nodes = b
                .admin_get("/debug/nodes")
                .await
                .map(|r| r.body)
                .unwrap_or_default();
            let view: Value = serde_json::from_str(&nodes).unwrap_or_default();
            let in_sync = view["nodes"].as_array().is_some_and(|ns| {
                ns.iter().any(|n| {
                    n["id"] == node.as_str()
                        && n["connected"] == true
                        && n["types"]
                            .as_object()
                            .is_some_and(|t| t.values().all(|t| t["in_sync"] == true))
                })
            });
            if in_sync {
                break;
            }
            assert!(
                started.elapsed() < CONVERGE,
                "{node} not in sync at b: {nodes}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let nodes = b.admin_get("/debug/nodes").await.expect("nodes");
    let nodes: Value = serde_json::from_str(&nodes.body).expect("nodes JSON");
    for node in nodes["nodes"].as_array().expect("nodes") {
        for (kind, view) in node["types"].as_object().expect("types") {
            assert_eq!(
                view["responses_sent"], 0,
                "{} got {kind} again from b: {nodes}",
                node["id"]
            );
        }
    }
    // What they hold from a counts at b: every Ingress is programmed there.
    let ingresses = b.admin_get("/debug/ingresses").await.expect("ingresses");
    let ingresses: Value = serde_json::from_str(&ingresses.body).expect("JSON");
    assert_eq!(ingresses["programmed"], 5, "{ingresses}");
    let report = prober.finish().await;
    assert!(report.requests > 50, "prober barely ran: {report:?}");
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_service_address_becomes_the_ingress_address_and_follows_it() {
    let (cluster, _web) = KubeCluster::with_web().await;
    cluster.route("app", "app.example", "web");
    let gateway = |lb: Value| {
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": { "namespace": "gw", "name": "envoy" },
            "spec": { "type": "LoadBalancer", "ports": [{ "port": 80, "targetPort": 10080 }] },
            "status": { "loadBalancer": { "ingress": lb } },
        })
    };
    // Not provisioned yet: no address to write.
    cluster.api.apply(gateway(json!([])));
    let (interlock, _envoy) = cluster
        .serving("a", &["--publish-service", "gw/envoy"])
        .await;
    wait_for(CONVERGE, "app to be served", || async {
        get(interlock.http(), "app.example", "/")
            .await
            .is_ok_and(|r| r.status == 200)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(status_of(&cluster, "app"), Value::Null);

    cluster.api.apply(gateway(
        json!([{ "hostname": "lb.example.net", "ports": [{ "port": 80, "protocol": "TCP" }] }]),
    ));
    wait_status_is(
        &cluster,
        "app",
        &json!([{ "hostname": "lb.example.net" }]),
        &interlock,
    )
    .await;
    cluster
        .api
        .apply(gateway(json!([{ "ip": "203.0.113.50" }])));
    wait_status_is(&cluster, "app", &ip("203.0.113.50"), &interlock).await;
}

/// Replicas `a` (started first, so it leads) and `b` of one gateway, each
/// writing its own address (the status tells who wrote), with the leader asking
/// its peers through the EndpointSlices of Service `interlock`.
async fn peered_replicas(cluster: &KubeCluster) -> (InterlockProcess, InterlockProcess) {
    let listeners = (support::free_port(), support::free_port());
    let peer_flags = ["--peer-service", "default/interlock"];
    let a = cluster.replica_of(
        "a",
        listeners,
        &[&peer_flags[..], &["--status-address", "203.0.113.1"]].concat(),
    );
    wait_for(CONVERGE, "a to lead", || async {
        cluster.api.lease_holder("default", LEASE).as_deref() == Some("a")
    })
    .await;
    let b = cluster.replica_of(
        "b",
        listeners,
        &[&peer_flags[..], &["--status-address", "203.0.113.2"]].concat(),
    );
    for replica in [&a, &b] {
        cluster.api.apply(peer_slice(
            "default",
            "interlock",
            &replica.identity,
            replica.admin,
        ));
    }
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_without_envoys_writes_once_its_peers_envoys_have_the_ingress() {
    let (cluster, _web) = KubeCluster::with_web().await;
    cluster.route("app", "app.example", "web");
    let (a, b) = peered_replicas(&cluster).await;
    // The only Envoy is connected to the follower.
    let _envoy = Envoy::start(EnvoyOptions::new(b.xds_port, false)).await;
    a.wait_ready(STARTUP).await;
    b.wait_ready(STARTUP).await;
    wait_status_is(&cluster, "app", &ip("203.0.113.1"), &a).await;
    let r = get(b.http(), "app.example", "/").await.expect("answer");
    assert_eq!(r.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_waits_for_the_envoys_of_every_replica() {
    let (cluster, _web) = KubeCluster::with_web().await;
    cluster.route("first", "first.example", "web");
    let (a, b) = peered_replicas(&cluster).await;
    let _envoy_a = Envoy::start(EnvoyOptions::new(a.xds_port, false)).await;
    let envoy_b = Envoy::start(EnvoyOptions::new(b.xds_port, true)).await;
    wait_status_is(&cluster, "first", &ip("203.0.113.1"), &a).await;

    // b's Envoy stalls (connected, answering nothing): a's own Envoy takes the
    // new Ingress, but it is not programmed everywhere.
    envoy_b.freeze(true);
    cluster.route("second", "second.example", "web");
    let programmed_at_a = || async {
        a.admin_get("/debug/ingresses").await.is_some_and(|r| {
            let view: Value = serde_json::from_str(&r.body).unwrap_or_default();
            view["ingresses"].as_array().is_some_and(|list| {
                list.iter()
                    .any(|i| i["ingress"] == "default/second" && i["programmed"] == true)
            })
        })
    };
    wait_for(
        CONVERGE,
        "second to be programmed on a's Envoy",
        programmed_at_a,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        status_of(&cluster, "second"),
        Value::Null,
        "written while b's Envoy does not have it"
    );
    envoy_b.freeze(false);
    wait_status_is(&cluster, "second", &ip("203.0.113.1"), &a).await;
}

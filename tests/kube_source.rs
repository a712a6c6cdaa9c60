//! Interlock's Kubernetes mode end to end: `interlock serve` (a separate
//! process) watching a fake API server that speaks the real list/watch
//! protocol, with a real Envoy in front.

mod support;

use std::time::Duration;

use serde_json::json;
use support::fake_kube::{ENDPOINT_SLICE, INGRESS, INGRESS_CLASS, SECRET, SERVICE};
use support::kube_cluster::KubeCluster;
use support::kube_objects::{base64, endpoint_slice, ingress, service, tls_secret};
use support::prober::Prober;
use support::tls::{certificate, https_get};
use support::{get, wait_for, Envoy, EnvoyOptions, Upstream};

const STARTUP: Duration = Duration::from_secs(30);
/// A bound, not a target: generous so a loaded machine (CI runs the suites in
/// parallel, each with its own Envoys) never turns slowness into a failure.
const CONVERGE: Duration = Duration::from_secs(60);

fn host(i: usize) -> String {
    format!("app-{i}.example")
}

/// Waits until `host` answers `status` through the replica's Envoy.
async fn wait_status(addr: std::net::SocketAddr, host: &str, status: u16) {
    let what = format!("{host} to answer {status}");
    wait_for(CONVERGE, &what, || async {
        get(addr, host, "/").await.is_ok_and(|r| r.status == status)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_gate_holds_xds_until_every_initial_list_completes() {
    let (cluster, _web) = KubeCluster::with_web().await;
    for i in 0..20 {
        cluster.route(&format!("app-{i}"), &host(i), "web");
    }
    cluster.api.pause_lists(&ENDPOINT_SLICE);
    let interlock = cluster.replica("a", &[]);
    let envoy = Envoy::start(EnvoyOptions::new(interlock.xds_port, false)).await;
    let connected = || async {
        interlock
            .admin_get("/debug/nodes")
            .await
            .is_some_and(|r| r.body.contains(&envoy.options().node_id))
    };
    wait_for(STARTUP, "Envoy to connect to Interlock", connected).await;
    cluster.api.wait_for_watches(&INGRESS, 1, STARTUP).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let readyz = interlock.admin_get("/readyz").await.expect("admin answers");
    assert_eq!(readyz.status, 503, "{}", readyz.body);
    assert!(
        readyz.body.contains("kube/EndpointSlice"),
        "{}",
        readyz.body
    );
    for stat in [
        "cluster_manager.cds.update_success",
        "listener_manager.lds.update_success",
    ] {
        assert_eq!(
            envoy.stat(stat).await.unwrap_or(0),
            0,
            "{stat}: Envoy got config before every list completed"
        );
    }

    cluster.api.resume_lists(&ENDPOINT_SLICE);
    interlock.wait_ready(CONVERGE).await;
    for i in 0..20 {
        wait_status(interlock.http(), &host(i), 200).await;
    }
    // One snapshot, complete: Envoy took exactly one CDS and one LDS update.
    assert_eq!(
        envoy.stat("cluster_manager.cds.update_success").await,
        Some(1)
    );
    assert_eq!(
        envoy.stat("listener_manager.lds.update_success").await,
        Some(1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relist_after_410_gone_never_fails_a_request() {
    let (cluster, _web) = KubeCluster::with_web().await;
    for i in 0..10 {
        cluster.route(&format!("app-{i}"), &host(i), "web");
    }
    let (interlock, _envoy) = cluster.serving("a", &[]).await;
    for i in 0..10 {
        wait_status(interlock.http(), &host(i), 200).await;
    }
    let live: Vec<(String, String)> = (0..10).map(|i| (host(i), "web".to_owned())).collect();
    let prober = Prober::start(interlock.http(), move || live.clone(), |_, _| false);
    let lists_before = list_requests(&cluster);
    for round in 0..3 {
        for kind in [&INGRESS, &INGRESS_CLASS, &SERVICE, &ENDPOINT_SLICE, &SECRET] {
            cluster.api.wait_for_watches(kind, 1, CONVERGE).await;
        }
        assert!(cluster.api.expire_watches() >= 5, "every watcher expired");
        // A change made while the watchers are re-listing arrives with the re-list.
        cluster.route(
            &format!("late-{round}"),
            &format!("late-{round}.example"),
            "web",
        );
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    cluster.api.drop_connections();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for round in 0..3 {
        wait_status(interlock.http(), &format!("late-{round}.example"), 200).await;
    }
    let report = prober.finish().await;
    assert!(report.requests > 100, "prober barely ran: {report:?}");
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    assert!(
        list_requests(&cluster) >= lists_before + 15,
        "the watchers re-listed each time"
    );
}

fn list_requests(cluster: &KubeCluster) -> usize {
    cluster
        .api
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && !r.is_watch() && r.path.ends_with('s'))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_scaled_to_zero_answers_503_then_recovers() {
    let (cluster, web) = KubeCluster::with_web().await;
    cluster.route("app", "app.example", "web");
    let (interlock, _envoy) = cluster.serving("a", &[]).await;
    wait_status(interlock.http(), "app.example", 200).await;

    cluster.api.apply(endpoint_slice("default", "web", &[]));
    wait_status(interlock.http(), "app.example", 503).await;
    for _ in 0..5 {
        let r = get(interlock.http(), "app.example", "/")
            .await
            .expect("Envoy answers at once, no hang");
        assert_eq!(r.status, 503, "{r:?}");
    }
    assert_eq!(interlock.readyz().await, Some(200));

    cluster
        .api
        .apply(endpoint_slice("default", "web", &[web.addr]));
    wait_status(interlock.http(), "app.example", 200).await;
    let r = get(interlock.http(), "app.example", "/")
        .await
        .expect("200");
    assert_eq!(r.body, "web");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_ingresses_from_the_api_are_diagnosed_and_the_rest_serves() {
    let cluster = KubeCluster::start().await;
    let web = Upstream::start("web").await;
    let fallback = Upstream::start("fallback").await;
    cluster.backend("web", &web);
    cluster.backend("fallback", &fallback);
    cluster.route("good", "good.example", "web");
    let mut resource = ingress("default", "resource", "interlock", "res.example", "web");
    resource["spec"]["rules"][0]["http"]["paths"][0]["backend"] = json!({
        "resource": { "apiGroup": "k8s.example.com", "kind": "StorageBucket", "name": "assets" }
    });
    cluster.api.apply(resource);
    cluster.api.apply(json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": { "namespace": "default", "name": "default-only" },
        "spec": {
            "ingressClassName": "interlock",
            "defaultBackend": { "service": { "name": "fallback", "port": { "number": 80 } } },
        },
    }));
    cluster.api.apply(json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": { "namespace": "default", "name": "no-http" },
        "spec": { "ingressClassName": "interlock", "rules": [{ "host": "nohttp.example" }] },
    }));
    let (interlock, _envoy) = cluster.serving("a", &[]).await;

    wait_status(interlock.http(), "good.example", 200).await;
    let r = get(interlock.http(), "elsewhere.example", "/")
        .await
        .expect("answer");
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "fallback"),
        "defaultBackend serves the rest"
    );
    let views = interlock
        .admin_get("/debug/ingresses")
        .await
        .expect("debug view");
    let views: serde_json::Value = serde_json::from_str(&views.body).expect("JSON");
    let diagnostics = |name: &str| -> String {
        views["ingresses"]
            .as_array()
            .expect("ingresses")
            .iter()
            .find(|v| v["ingress"] == format!("default/{name}"))
            .map(|v| v["diagnostics"].to_string())
            .unwrap_or_else(|| panic!("default/{name} not listed: {views}"))
    };
    assert!(
        diagnostics("resource").contains("resource backend"),
        "{views}"
    );
    // The resource-backed path is skipped (its host has no other path), so the
    // request falls through to the defaultBackend; it never reaches `web`.
    let r = get(interlock.http(), "res.example", "/")
        .await
        .expect("answer");
    assert_eq!((r.status, r.body.as_str()), (200, "fallback"), "{r:?}");
    assert_eq!(interlock.readyz().await, Some(200), "{}", interlock.log());
    assert!(!interlock.log().contains("panicked"), "{}", interlock.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_flag_watches_only_that_namespace() {
    let cluster = KubeCluster::start().await;
    let web = Upstream::start("web").await;
    for ns in ["team-a", "team-b"] {
        cluster.api.apply(service(ns, "web"));
        cluster.api.apply(endpoint_slice(ns, "web", &[web.addr]));
        let host = format!("{ns}.example");
        cluster
            .api
            .apply(ingress(ns, "app", "interlock", &host, "web"));
    }
    let (interlock, _envoy) = cluster.serving("a", &["--namespace", "team-a"]).await;
    wait_status(interlock.http(), "team-a.example", 200).await;
    let r = get(interlock.http(), "team-b.example", "/")
        .await
        .expect("answer");
    assert_eq!(
        r.status, 404,
        "an Ingress outside --namespace is served: {r:?}"
    );
    for request in cluster.api.requests() {
        let cluster_scoped =
            request.path.ends_with("/ingressclasses") || request.path.contains("/leases");
        assert!(
            cluster_scoped || request.path.contains("/namespaces/team-a/"),
            "request outside the namespace: {} {}",
            request.method,
            request.path
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_secrets_from_the_api_serve_https_and_only_tls_secrets_are_watched() {
    let (cluster, _web) = KubeCluster::with_web().await;
    let (cert, key) = certificate("secure.example");
    cluster
        .api
        .apply(tls_secret("default", "secure-tls", &cert, &key));
    cluster.api.apply(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": { "namespace": "default", "name": "db-password" },
        "type": "Opaque",
        "data": { "password": base64(b"hunter2") },
    }));
    let mut secure = ingress("default", "secure", "interlock", "secure.example", "web");
    secure["spec"]["tls"] = json!([{ "hosts": ["secure.example"], "secretName": "secure-tls" }]);
    cluster.api.apply(secure);
    let (interlock, _envoy) = cluster.serving("a", &[]).await;
    assert_https_serves(interlock.https_port, "secure.example").await;
    let secret_requests: Vec<_> = cluster
        .api
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/secrets"))
        .collect();
    assert!(!secret_requests.is_empty());
    for r in secret_requests {
        // The watch, or a fetch by name of a Secret an Ingress names: never
        // the Opaque one nothing names.
        let selector = r.query_param("fieldSelector").unwrap_or_default();
        let by_name = selector
            .strip_prefix("metadata.name=")
            .is_some_and(|name| name == "secure-tls");
        assert!(selector == "type=kubernetes.io/tls" || by_name, "{r:?}");
    }
    let log = interlock.log();
    assert!(
        !log.contains("hunter2") && !log.contains("PRIVATE KEY"),
        "secret content logged"
    );
}

/// The data of a TLS Secret no Ingress names is not kept; when an Ingress
/// names it later, Interlock lists it again by name and serves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_named_later_is_fetched_again_and_served() {
    let (cluster, _web) = KubeCluster::with_web().await;
    let (cert, key) = certificate("later.example");
    cluster
        .api
        .apply(tls_secret("default", "later-tls", &cert, &key));
    let (interlock, _envoy) = cluster.serving("a", &[]).await;
    let fetches = || {
        cluster
            .api
            .requests()
            .into_iter()
            .filter(|r| {
                r.path.ends_with("/secrets")
                    && r.query_param("fieldSelector")
                        .is_some_and(|f| f == "metadata.name=later-tls")
            })
            .count()
    };
    assert_eq!(fetches(), 0, "nothing names it yet");
    let mut later = ingress("default", "later", "interlock", "later.example", "web");
    later["spec"]["tls"] = json!([{ "hosts": ["later.example"], "secretName": "later-tls" }]);
    cluster.api.apply(later);
    assert_https_serves(interlock.https_port, "later.example").await;
    assert_eq!(fetches(), 1, "fetched once, by name");
}

/// A Secret an annotation names (here basic auth's, Opaque as usual) is
/// watched by name whatever its type, so its users, its deletion and its
/// return reach the route; the Secret list stays `type=kubernetes.io/tls`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opaque_secrets_named_by_annotations_are_watched_by_name() {
    let (cluster, _web) = KubeCluster::with_web().await;
    let users = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": { "namespace": "default", "name": "users" },
        "type": "Opaque",
        // "password" hashed with SHA-1, as htpasswd -s writes it.
        "data": { "auth": base64(b"alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n") },
    });
    cluster.api.apply(users.clone());
    cluster.api.apply(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": { "namespace": "default", "name": "sh.helm.release.v1.app.v1" },
        "type": "helm.sh/release.v1",
        "data": { "release": base64(b"a large blob") },
    }));
    let mut auth = ingress("default", "auth", "interlock", "auth.example", "web");
    auth["metadata"]["annotations"] = json!({
        "nginx.ingress.kubernetes.io/auth-type": "basic",
        "nginx.ingress.kubernetes.io/auth-secret": "users",
    });
    cluster.api.apply(auth);
    let (interlock, _envoy) = cluster.serving("a", &[]).await;

    // 401 (a challenge), not 503: the Secret arrived and has a user.
    wait_status(interlock.http(), "auth.example", 401).await;
    cluster.api.delete(&SECRET, Some("default"), "users");
    wait_status(interlock.http(), "auth.example", 503).await;
    cluster.api.apply(users);
    wait_status(interlock.http(), "auth.example", 401).await;

    let secret_requests: Vec<_> = cluster
        .api
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/secrets"))
        .collect();
    assert!(
        secret_requests.iter().any(|r| r.is_watch()
            && r.path == "/api/v1/namespaces/default/secrets"
            && r.query_param("fieldSelector") == Some("metadata.name=users")),
        "{secret_requests:?}"
    );
    for r in &secret_requests {
        let selector = r.query_param("fieldSelector").unwrap_or_default();
        assert!(
            selector == "type=kubernetes.io/tls" || selector == "metadata.name=users",
            "{r:?}"
        );
    }
}

/// `host` answers `web` over HTTPS (SNI) on `port` within [`CONVERGE`].
async fn assert_https_serves(port: u16, host: &'static str) {
    let mut last = Err(String::new());
    let started = std::time::Instant::now();
    while started.elapsed() < CONVERGE {
        last = tokio::task::spawn_blocking(move || https_get(port, host))
            .await
            .expect("curl task");
        if matches!(&last, Ok((200, body)) if body == "web") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{host} over HTTPS: {last:?}");
}

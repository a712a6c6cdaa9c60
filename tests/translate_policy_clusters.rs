//! Clusters that route policies add (an `auth-url` service, `default-backend`
//! aggregates, the `custom-http-errors` backend and its virtual host): the
//! translation sends each one the routes name, the snapshot
//! records the references so make-before-break and the consistency check see
//! them, and annotating an Ingress never changes a listener.

#[path = "translate_support.rs"]
mod support;

use envoy_types::pb::envoy::config::cluster::v3::cluster::{ClusterDiscoveryType, DiscoveryType};
use interlock::snapshot::{ResourceType, Snapshot};
use interlock::translate::Translation;
use interlock::world::Object;
use serde_json::{json, Value};
use support::*;

const NS: &str = "default";
const AUTH_CLUSTER: &str = "external-auth|https://auth.example.com:443";
const AGGREGATE: &str = "default/web:80|default-backend=default/errors:8080";

fn annotated(name: &str, host: &str, svc: &str, annotations: &[(&str, &str)]) -> Object {
    let annotations: serde_json::Map<String, Value> = annotations
        .iter()
        .map(|(k, v)| (format!("nginx.ingress.kubernetes.io/{k}"), json!(v)))
        .collect();
    ingress_raw(
        json!({"namespace": NS, "name": name, "creationTimestamp": timestamp(0),
               "annotations": annotations}),
        json!({"ingressClassName": "interlock",
               "rules": [rule(Some(host), vec![path("Prefix", "/", backend(svc, 80))])]}),
    )
}

fn objects(annotations: &[(&str, &str)]) -> Vec<Object> {
    vec![
        annotated("app", "app.test", "web", annotations),
        annotated("other", "other.test", "web", &[]),
        service(NS, "web", &[(None, 80)]),
        slice(NS, "web", "a", None, 8080, &[("10.0.0.1", Some(true))]),
        service(NS, "errors", &[(None, 8080)]),
        slice(NS, "errors", "a", None, 8080, &[("10.0.0.2", Some(true))]),
    ]
}

fn annotated_world() -> Translation {
    run(objects(&[
        ("auth-url", "https://auth.example.com/oauth2/auth"),
        ("auth-signin", "https://login.example.com/start"),
        ("default-backend", "errors"),
        ("custom-http-errors", "404,503"),
    ]))
}

fn snapshot(t: &Translation) -> Result<Snapshot, interlock::snapshot::InconsistentSnapshot> {
    let mut builder = Snapshot::builder();
    for l in &t.listeners {
        builder = builder.listener(l.clone());
    }
    for r in &t.routes {
        builder = builder.route(r.clone());
    }
    for c in &t.clusters {
        builder = builder.cluster(c.clone());
    }
    for e in &t.endpoints {
        builder = builder.endpoints(e.clone());
    }
    builder.build()
}

#[test]
fn auth_and_default_backend_clusters_are_sent_and_referenced() {
    let t = annotated_world();
    assert!(t.diagnostics.is_empty(), "{:#?}", t.diagnostics);
    let names: Vec<&str> = t.clusters.iter().map(|c| c.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "clusters stay sorted by name");
    for name in [
        AUTH_CLUSTER,
        AGGREGATE,
        "default/errors:8080",
        "default/web:80",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    let auth = t
        .clusters
        .iter()
        .find(|c| c.name == AUTH_CLUSTER)
        .expect("auth cluster");
    assert_eq!(
        auth.cluster_discovery_type,
        Some(ClusterDiscoveryType::Type(DiscoveryType::StrictDns as i32))
    );
    assert!(auth.transport_socket.is_some(), "https means TLS");
    let app = t
        .ingresses
        .get(&interlock::world::ObjectKey::new(NS, "app"))
        .expect("app resources");
    assert!(app.clusters.contains(AUTH_CLUSTER) && app.clusters.contains(AGGREGATE));

    let snapshot = snapshot(&t).expect("consistent");
    let route = snapshot
        .get(ResourceType::Route, "http")
        .expect("http table");
    let refs = &route.references().clusters;
    assert!(refs.iter().any(|c| c == AUTH_CLUSTER), "{refs:?}");
    assert!(refs.iter().any(|c| c == AGGREGATE), "{refs:?}");
    let error_host = table(&t, "http")
        .virtual_hosts
        .iter()
        .find(|v| v.name == "custom-errors.interlock.invalid")
        .expect("the error pages' virtual host");
    assert_eq!(error_host.routes.len(), 1);
    let aggregate = snapshot
        .get(ResourceType::Cluster, AGGREGATE)
        .expect("aggregate");
    assert_eq!(
        aggregate.references().clusters,
        ["default/errors:8080", "default/web:80"]
    );
    assert_eq!(aggregate.references().endpoints, None);
}

#[test]
fn a_missing_policy_cluster_is_a_dangling_reference() {
    for missing in [AUTH_CLUSTER, "default/errors:8080"] {
        let mut t = annotated_world();
        t.clusters.retain(|c| c.name != missing);
        let err = snapshot(&t).expect_err("dangling");
        assert!(format!("{err:?}").contains(missing), "{missing}: {err:?}");
    }
}

#[test]
fn annotating_an_ingress_changes_no_listener() {
    let plain = run(objects(&[]));
    let annotated = annotated_world();
    assert_eq!(plain.listeners, annotated.listeners);
    assert!(!plain.clusters.iter().any(|c| c.name == AUTH_CLUSTER));
}

#[test]
fn envoy_accepts_auth_and_default_backend_clusters() {
    let t = run(objects(&[
        ("auth-url", "http://10.1.2.3:9000/verify"),
        ("auth-method", "GET"),
        ("auth-response-headers", "X-User,X-Email"),
        ("auth-request-redirect", "/100%-done"),
        ("auth-always-set-cookie", "true"),
        ("auth-signin", "https://$host/start?rd=$escaped_request_uri"),
        ("default-backend", "errors"),
        ("custom-http-errors", "401,503"),
    ]));
    if let Err(output) = envoy_validates(&t) {
        panic!("Envoy rejected the translation:\n{output}");
    }
    let https = run(vec![
        annotated(
            "app",
            "app.test",
            "web",
            &[("auth-url", "https://[::1]:8443/v?x=1")],
        ),
        service(NS, "web", &[(None, 80)]),
    ]);
    if let Err(output) = envoy_validates(&https) {
        panic!("Envoy rejected the translation:\n{output}");
    }
}

#[test]
fn worlds_with_policy_clusters_are_translated_in_full() {
    use interlock::translate::incremental::Translator;
    use interlock::translate::TranslateConfig;
    let plain_after = |annotations: &[(&str, &str)]| {
        let mut translator = Translator::new(TranslateConfig::default());
        translator.rebuild(&world(objects(annotations)));
        translator.plain()
    };
    assert!(plain_after(&[]), "no annotation: the incremental path");
    for annotations in [
        &[("auth-url", "http://auth.test/")][..],
        &[("default-backend", "errors")][..],
        &[("default-backend", "errors"), ("custom-http-errors", "503")][..],
    ] {
        assert!(!plain_after(annotations), "{annotations:?}");
    }
}

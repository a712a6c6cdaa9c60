//! What the translation gives for the cluster annotations: variant clusters
//! of one Service port, their assignments, the route's hash policy, and
//! configs Envoy accepts.

use envoy_types::pb::envoy::config::cluster::v3::cluster::LbPolicy;
use envoy_types::pb::envoy::config::route::v3::route_action::hash_policy::PolicySpecifier;
use interlock::translate::translate;
use serde_json::json;

use crate::fixtures::*;
use crate::support::*;

#[test]
fn settings_make_a_variant_cluster_and_defaults_keep_the_plain_one() {
    let mut objects = vec![
        annotated("plain", "plain.test", "web", 80, &[]),
        annotated(
            "http",
            "http.test",
            "web",
            80,
            &[("backend-protocol", "HTTP")],
        ),
        annotated(
            "h2c",
            "h2c.test",
            "web",
            80,
            &[("backend-protocol", "GRPC")],
        ),
        annotated(
            "h2c-too",
            "h2c-too.test",
            "web",
            80,
            &[("backend-protocol", "H2C")],
        ),
        annotated(
            "sticky",
            "sticky.test",
            "web",
            80,
            &[("affinity", "cookie"), ("proxy-connect-timeout", "2")],
        ),
    ];
    objects.extend(backed("web", &[9000, 9001]));
    let t = translate(&world(objects), &config(free_port()));
    let names: Vec<&str> = t.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.len(), 3, "plain, h2c and sticky: {names:?}");
    assert!(names.contains(&"default/web:80"), "{names:?}");
    // Default settings, written or not, keep the plain cluster.
    assert_eq!(cluster_of(route_action(&t, "plain.test")), "default/web:80");
    assert_eq!(cluster_of(route_action(&t, "http.test")), "default/web:80");
    // GRPC and H2C are the same settings: one variant.
    let h2c = cluster_of(route_action(&t, "h2c.test"));
    assert_eq!(h2c, cluster_of(route_action(&t, "h2c-too.test")));
    assert!(h2c.starts_with("default/web:80~"), "{h2c}");
    let sticky = cluster_of(route_action(&t, "sticky.test"));
    assert_ne!(sticky, h2c);
    // Each variant has its own assignment, with the Service's endpoints.
    for name in [&h2c, &sticky] {
        let cla = t
            .endpoints
            .iter()
            .find(|e| &e.cluster_name == name)
            .unwrap_or_else(|| panic!("no assignment for {name}"));
        assert_eq!(
            ports(cla),
            [
                ("127.0.0.1".to_owned(), 9000),
                ("127.0.0.1".to_owned(), 9001)
            ]
        );
    }
    let cluster = |name: &str| {
        t.clusters
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no cluster {name}"))
    };
    assert!(cluster(&h2c)
        .typed_extension_protocol_options
        .contains_key("envoy.extensions.upstreams.http.v3.HttpProtocolOptions"));
    assert!(cluster("default/web:80")
        .typed_extension_protocol_options
        .is_empty());
    assert_eq!(cluster(&sticky).lb_policy, LbPolicy::RingHash as i32);
    assert_eq!(
        cluster(&sticky).connect_timeout.as_ref().map(|d| d.seconds),
        Some(2)
    );
    // The route hashes on the generated cookie (session cookie, the path).
    let hash = &route_action(&t, "sticky.test").hash_policy;
    match hash.first().and_then(|h| h.policy_specifier.as_ref()) {
        Some(PolicySpecifier::Cookie(c)) => {
            assert_eq!((c.name.as_str(), c.path.as_str()), ("INGRESSCOOKIE", "/"));
            assert_eq!(c.ttl.as_ref().map(|t| t.seconds), Some(0));
        }
        other => panic!("cookie hash policy expected, got {other:?}"),
    }
    assert!(route_action(&t, "plain.test").hash_policy.is_empty());
}

#[test]
fn a_canary_backend_keeps_its_own_settings_in_the_weighted_split() {
    let mut objects = vec![
        annotated(
            "main",
            "c.test",
            "stable",
            80,
            &[("backend-protocol", "GRPC")],
        ),
        annotated(
            "canary",
            "c.test",
            "next",
            80,
            &[
                ("canary", "true"),
                ("canary-weight", "50"),
                ("backend-protocol", "GRPC"),
            ],
        ),
    ];
    objects.extend(backed("stable", &[9000]));
    objects.extend(backed("next", &[9001]));
    let t = translate(&world(objects), &config(free_port()));
    let action = route_action(&t, "c.test");
    let Some(
        envoy_types::pb::envoy::config::route::v3::route_action::ClusterSpecifier::WeightedClusters(
            split,
        ),
    ) = &action.cluster_specifier
    else {
        panic!("a weighted split expected: {action:?}");
    };
    let names: Vec<&str> = split.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names[0].starts_with("default/stable:80~"), "{names:?}");
    assert!(names[1].starts_with("default/next:80~"), "{names:?}");
    // Same settings, same suffix.
    assert_eq!(
        names[0].split_once('~').map(|p| p.1),
        names[1].split_once('~').map(|p| p.1)
    );
    if let Err(output) = envoy_validates(&t) {
        panic!("Envoy rejected the translation:\n{output}");
    }
}

#[test]
fn service_upstream_uses_the_cluster_ip_and_headless_falls_back_with_a_diagnostic() {
    let up = |name: &str, ip: Option<&str>| {
        let mut spec = json!({"ports": [{"port": 80}]});
        if let Some(ip) = ip {
            spec["clusterIP"] = json!(ip);
        }
        service_raw(json!({"metadata": {"namespace": NS, "name": name}, "spec": spec}))
    };
    let objects = vec![
        up("web", Some("10.0.0.7")),
        up("headless", Some("None")),
        slice(NS, "web", "a", None, 8080, &[("10.1.0.1", Some(true))]),
        slice(NS, "headless", "a", None, 8080, &[("10.1.0.2", Some(true))]),
        annotated("su", "su.test", "web", 80, &[("service-upstream", "true")]),
        annotated(
            "hl",
            "hl.test",
            "headless",
            80,
            &[("service-upstream", "true")],
        ),
    ];
    let t = translate(&world(objects), &config(free_port()));
    let su = cluster_of(route_action(&t, "su.test"));
    assert!(su.starts_with("default/web:80~"), "{su}");
    let cla = t
        .endpoints
        .iter()
        .find(|e| e.cluster_name == su)
        .unwrap_or_else(|| panic!("no assignment for {su}"));
    assert_eq!(ports(cla), [("10.0.0.7".to_owned(), 80)]);
    assert_eq!(
        cluster_of(route_action(&t, "hl.test")),
        "default/headless:80"
    );
    assert!(
        t.diagnostics
            .iter()
            .any(|d| d.message.contains("service-upstream") && d.message.contains("headless")),
        "{:?}",
        t.diagnostics
    );
    if let Err(output) = envoy_validates(&t) {
        panic!("Envoy rejected the translation:\n{output}");
    }
}

#[test]
fn envoy_accepts_every_cluster_annotation() {
    let mut objects = vec![
        secret(
            NS,
            "upstream-ca",
            "Opaque",
            &[
                ("ca.crt", TEST_CERT),
                ("tls.crt", TEST_CERT),
                ("tls.key", TEST_KEY),
            ],
        ),
        annotated(
            "grpcs",
            "grpcs.test",
            "web",
            80,
            &[
                ("backend-protocol", "GRPCS"),
                ("proxy-ssl-secret", "default/upstream-ca"),
                ("proxy-ssl-verify", "on"),
                ("proxy-ssl-verify-depth", "2"),
                ("proxy-ssl-name", "backend.internal"),
                ("proxy-ssl-server-name", "on"),
                ("proxy-ssl-protocols", "TLSv1.2 TLSv1.3"),
                (
                    "proxy-ssl-ciphers",
                    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384",
                ),
            ],
        ),
        annotated(
            "https",
            "https.test",
            "web",
            80,
            &[
                ("backend-protocol", "HTTPS"),
                ("proxy-ssl-secret", "upstream-ca"),
                ("proxy-ssl-server-name", "on"),
            ],
        ),
        annotated(
            "bare-https",
            "bare.test",
            "web",
            80,
            &[("backend-protocol", "HTTPS")],
        ),
        annotated(
            "ewma",
            "ewma.test",
            "web",
            80,
            &[("load-balance", "ewma"), ("proxy-connect-timeout", "3")],
        ),
        annotated(
            "sticky",
            "sticky.test",
            "web",
            80,
            &[
                ("affinity", "cookie"),
                ("session-cookie-name", "route"),
                ("session-cookie-path", "/app"),
                ("session-cookie-max-age", "3600"),
                ("session-cookie-samesite", "None"),
                ("session-cookie-secure", "true"),
                ("session-cookie-domain", "sticky.test"),
            ],
        ),
        annotated(
            "su",
            "su.test",
            "svc-ip",
            80,
            &[("service-upstream", "true")],
        ),
        service_raw(json!({"metadata": {"namespace": NS, "name": "svc-ip"},
                           "spec": {"clusterIP": "127.0.0.9", "ports": [{"port": 80}]}})),
    ];
    objects.extend(backed("web", &[9000]));
    let t = translate(&world(objects), &config(free_port()));
    assert!(
        t.clusters.len() >= 6,
        "{:?}",
        t.clusters.iter().map(|c| &c.name).collect::<Vec<_>>()
    );
    if let Err(output) = envoy_validates(&t) {
        panic!("Envoy rejected the translation:\n{output}");
    }
}

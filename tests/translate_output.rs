//! Translator tests for the output as a whole: clusters and endpoints, the
//! per-Ingress resource report, determinism (invariant 7), stable names
//! (invariant 10) and snapshot consistency (invariant 2).

#[path = "translate_support.rs"]
mod support;

use envoy_types::pb::envoy::config::cluster::v3::cluster::{ClusterDiscoveryType, DiscoveryType};
use envoy_types::pb::envoy::config::core::v3::{address, config_source::ConfigSourceSpecifier};
use envoy_types::pb::envoy::config::endpoint::v3::{
    lb_endpoint::HostIdentifier, ClusterLoadAssignment,
};
use interlock::snapshot::{ResourceType, Snapshot};
use interlock::translate::{Severity, Translation};
use interlock::world::{Object, ObjectKey};
use prost::Message;
use serde_json::json;
use support::*;

const NS: &str = "default";

/// `ip:port` of every endpoint of `cla`.
fn addrs(cla: &ClusterLoadAssignment) -> Vec<String> {
    cla.endpoints
        .iter()
        .flat_map(|l| &l.lb_endpoints)
        .map(|e| {
            let Some(HostIdentifier::Endpoint(ep)) = &e.host_identifier else {
                panic!("no endpoint");
            };
            let Some(address::Address::SocketAddress(sa)) =
                ep.address.as_ref().and_then(|a| a.address.clone())
            else {
                panic!("no socket address");
            };
            let Some(address_port) = sa.port_specifier else {
                panic!("no port");
            };
            let envoy_types::pb::envoy::config::core::v3::socket_address::PortSpecifier::PortValue(
                port,
            ) = address_port
            else {
                panic!("named port");
            };
            format!("{}:{port}", sa.address)
        })
        .collect()
}

fn cla<'t>(t: &'t Translation, name: &str) -> &'t ClusterLoadAssignment {
    t.endpoints
        .iter()
        .find(|c| c.cluster_name == name)
        .unwrap_or_else(|| panic!("no assignment for {name}"))
}

fn to(svc: &str, port: i32) -> Object {
    ingress(
        NS,
        &format!("to-{svc}-{port}"),
        0,
        json!({"rules": [rule(Some(&format!("{svc}-{port}.test")), vec![path("Prefix", "/", backend(svc, port))])]}),
    )
}

#[test]
fn clusters_are_eds_over_ads_named_after_the_service_port() {
    let t = run([to("web", 80), service(NS, "web", &[(Some("http"), 80)])]);
    assert_eq!(t.clusters.len(), 1);
    let c = &t.clusters[0];
    assert_eq!(c.name, "default/web:80");
    assert_eq!(
        c.cluster_discovery_type,
        Some(ClusterDiscoveryType::Type(DiscoveryType::Eds as i32))
    );
    let eds = c.eds_cluster_config.as_ref().expect("eds config");
    assert_eq!(
        eds.service_name, "",
        "the assignment is named after the cluster"
    );
    assert!(matches!(
        eds.eds_config
            .as_ref()
            .and_then(|s| s.config_source_specifier.as_ref()),
        Some(ConfigSourceSpecifier::Ads(_))
    ));
    assert_eq!(c.connect_timeout.map(|d| d.seconds), Some(5));
}

#[test]
fn zero_endpoints_still_get_an_empty_assignment() {
    let t = run([to("web", 80), service(NS, "web", &[(None, 80)])]);
    assert_eq!(t.endpoints.len(), 1);
    assert_eq!(t.endpoints[0].cluster_name, "default/web:80");
    assert!(t.endpoints[0].endpoints.is_empty());
}

#[test]
fn endpoints_come_from_ready_slice_endpoints_on_the_named_port() {
    let t = run([
        to("web", 80),
        to("web", 9090),
        service(NS, "web", &[(Some("http"), 80), (Some("metrics"), 9090)]),
        slice(
            NS,
            "web",
            "a",
            Some("http"),
            8080,
            &[
                ("10.0.0.3", Some(true)),
                ("10.0.0.1", None),
                ("10.0.0.2", Some(false)),
            ],
        ),
        // The same pod seen twice (slices overlap during updates) and another port.
        slice(
            NS,
            "web",
            "b",
            Some("http"),
            8080,
            &[("10.0.0.1", Some(true)), ("10.0.0.10", Some(true))],
        ),
        slice(
            NS,
            "web",
            "c",
            Some("metrics"),
            9100,
            &[("10.0.0.1", Some(true))],
        ),
        // Another Service's slice, and a slice in another namespace, are not ours.
        slice(
            NS,
            "api",
            "a",
            Some("http"),
            8080,
            &[("10.9.9.9", Some(true))],
        ),
        slice(
            "other",
            "web",
            "a",
            Some("http"),
            8080,
            &[("10.8.8.8", Some(true))],
        ),
    ]);
    assert_eq!(
        addrs(cla(&t, "default/web:80")),
        ["10.0.0.1:8080", "10.0.0.3:8080", "10.0.0.10:8080"]
    );
    assert_eq!(addrs(cla(&t, "default/web:9090")), ["10.0.0.1:9100"]);
}

#[test]
fn unnamed_service_ports_match_unnamed_slice_ports() {
    let t = run([
        to("web", 80),
        service(NS, "web", &[(None, 80)]),
        slice(NS, "web", "a", None, 8080, &[("10.0.0.1", Some(true))]),
        slice(
            NS,
            "web",
            "b",
            Some("http"),
            8081,
            &[("10.0.0.2", Some(true))],
        ),
    ]);
    assert_eq!(addrs(cla(&t, "default/web:80")), ["10.0.0.1:8080"]);
}

#[test]
fn ipv6_is_used_and_fqdn_or_garbage_is_skipped_with_a_warning() {
    let t = run([
        to("web", 80),
        service(NS, "web", &[(None, 80)]),
        slice_typed(
            NS,
            "web",
            "v6",
            "IPv6",
            None,
            8080,
            &[("fd00::2", Some(true)), ("fd00::1", Some(true))],
        ),
        slice_typed(
            NS,
            "web",
            "fqdn",
            "FQDN",
            None,
            8080,
            &[("pod.example.com", Some(true))],
        ),
        slice(
            NS,
            "web",
            "v4",
            None,
            8080,
            &[("not-an-ip", Some(true)), ("10.0.0.1", Some(true))],
        ),
    ]);
    assert_eq!(
        addrs(cla(&t, "default/web:80")),
        ["10.0.0.1:8080", "fd00::1:8080", "fd00::2:8080"]
    );
    let fqdn = t
        .diagnostics
        .iter()
        .find(|d| d.message.contains("FQDN"))
        .expect("FQDN diagnostic");
    assert_eq!(fqdn.severity, Severity::Warning);
    assert_eq!(fqdn.to_string(), "EndpointSlice default/web-fqdn: addressType \"FQDN\" is not supported (only IPv4 and IPv6); slice skipped");
    assert!(has_diagnostic(
        &t,
        &["EndpointSlice default/web-v4:", "\"not-an-ip\""]
    ));
}

#[test]
fn external_name_and_udp_ports_answer_503() {
    let t = run([
        to("ext", 80),
        to("dns", 53),
        service_raw(
            json!({"metadata": {"namespace": NS, "name": "ext"}, "spec": {"type": "ExternalName", "externalName": "example.com", "ports": [{"port": 80}]}}),
        ),
        service_raw(
            json!({"metadata": {"namespace": NS, "name": "dns"}, "spec": {"ports": [{"port": 53, "protocol": "UDP"}]}}),
        ),
    ]);
    assert_eq!(routes(&t, "ext-80.test"), ["prefix / -> 503"]);
    assert_eq!(routes(&t, "dns-53.test"), ["prefix / -> 503"]);
    assert!(t.clusters.is_empty());
    assert!(has_diagnostic(&t, &["ExternalName"]));
}

#[test]
fn ingress_resources_name_what_carries_each_ingress() {
    let t = run([
        ingress(
            NS,
            "site",
            0,
            json!({
                "tls": [{"hosts": ["site.test"], "secretName": "cert"}],
                "rules": [rule(Some("site.test"), vec![
                    path("Prefix", "/", backend("web", 80)),
                    path("Prefix", "/api", backend("api", 8080)),
                    path("Prefix", "/gone", backend("gone", 80)),
                ])],
            }),
        ),
        ingress(
            NS,
            "loser",
            5,
            json!({"rules": [rule(Some("site.test"), vec![path("Prefix", "/", backend("other", 80))])]}),
        ),
        ingress(
            NS,
            "foreign",
            0,
            json!({"ingressClassName": "nginx", "defaultBackend": backend("web", 80)}),
        ),
        service(NS, "web", &[(None, 80)]),
        service(NS, "api", &[(None, 8080)]),
        service(NS, "other", &[(None, 80)]),
        tls_secret(NS, "cert"),
    ]);
    let site = &t.ingresses[&ObjectKey::new(NS, "site")];
    assert_eq!(site.routes.iter().collect::<Vec<_>>(), ["http", "https"]);
    assert_eq!(
        site.clusters.iter().collect::<Vec<_>>(),
        ["default/api:8080", "default/web:80"]
    );
    assert_eq!(site.secrets.iter().collect::<Vec<_>>(), ["default/cert"]);
    let loser = &t.ingresses[&ObjectKey::new(NS, "loser")];
    assert!(loser.routes.is_empty() && loser.clusters.is_empty() && loser.secrets.is_empty());
    assert!(!t.ingresses.contains_key(&ObjectKey::new(NS, "foreign")));
    let names: Vec<&str> = t.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["default/api:8080", "default/web:80"],
        "the loser's Service gets no cluster"
    );
}

fn encoded(t: &Translation) -> Vec<Vec<u8>> {
    t.listeners
        .iter()
        .map(Message::encode_to_vec)
        .chain(t.routes.iter().map(Message::encode_to_vec))
        .chain(t.clusters.iter().map(Message::encode_to_vec))
        .chain(t.endpoints.iter().map(Message::encode_to_vec))
        .chain(t.secrets.iter().map(Message::encode_to_vec))
        .collect()
}

#[test]
fn translation_is_deterministic_byte_for_byte() {
    let objects = rich_world();
    let first = run(objects.clone());
    let second = run(objects.clone());
    assert_eq!(encoded(&first), encoded(&second));
    assert_eq!(first.diagnostics, second.diagnostics);
    assert_eq!(first.ingresses, second.ingresses);
    // The same objects arriving in another order (and re-applied) give the same bytes.
    let mut reversed = objects.clone();
    reversed.reverse();
    let mut twice = objects.clone();
    twice.extend(objects.iter().cloned());
    for other in [reversed, twice] {
        let t = run(other);
        assert_eq!(encoded(&first), encoded(&t));
        assert_eq!(first.diagnostics, t.diagnostics);
    }
    // And the snapshot versions agree.
    let v1 = snapshot(first).version().to_owned();
    let v2 = snapshot(second).version().to_owned();
    assert_eq!(v1, v2);
}

fn snapshot(t: Translation) -> Snapshot {
    let mut b = Snapshot::builder();
    for l in t.listeners {
        b = b.listener(l);
    }
    for r in t.routes {
        b = b.route(r);
    }
    for c in t.clusters {
        b = b.cluster(c);
    }
    for e in t.endpoints {
        b = b.endpoints(e);
    }
    for s in t.secrets {
        b = b.secret(s);
    }
    b.build().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn rich_world_builds_a_consistent_snapshot() {
    let t = run(rich_world());
    assert!(t.diagnostics.iter().any(|d| d.severity == Severity::Error));
    let listeners: Vec<&str> = t.listeners.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(listeners, ["http", "https"]);
    assert_eq!(
        vhost_names(&t),
        ["*.shop.test", "blog.test", "plain.test", "shop.test", "*"]
    );
    let s = snapshot(t);
    for kind in ResourceType::ALL {
        assert!(!s.resources(kind).is_empty(), "{kind} is empty");
    }
    assert!(s.get(ResourceType::Secret, "team/blog-cert").is_some());
    assert!(s.get(ResourceType::Endpoints, "default/api:9090").is_some());
}

#[test]
fn names_depend_only_on_what_they_describe() {
    let base = run(rich_world());
    let mut more = rich_world();
    more.push(ingress("zzz", "extra", 50, json!({"rules": [rule(Some("extra.test"), vec![path("Prefix", "/", backend("svc", 1234))])]})));
    more.push(service("zzz", "svc", &[(None, 1234)]));
    let grown = run(more);
    let names = |t: &Translation| {
        t.clusters
            .iter()
            .map(|c| c.name.clone())
            .collect::<Vec<_>>()
    };
    let old = names(&base);
    let new = names(&grown);
    assert!(
        old.iter().all(|n| new.contains(n)),
        "existing names survive unrelated additions"
    );
    assert!(new.contains(&"zzz/svc:1234".to_owned()));
    // Unchanged resources keep their bytes.
    for c in &base.clusters {
        let same = grown
            .clusters
            .iter()
            .find(|g| g.name == c.name)
            .expect("kept");
        assert_eq!(same.encode_to_vec(), c.encode_to_vec());
    }
    assert_eq!(base.listeners, grown.listeners);
}

#[test]
fn empty_world_is_a_consistent_snapshot_with_only_the_http_listener() {
    let t = run([]);
    assert_eq!(t.listeners.len(), 1);
    assert_eq!(vhost_names(&t), ["*"]);
    snapshot(t);
}

//! The incremental translator ([`Rebuilder`]'s `Incremental` path) must equal a
//! full translate + validate of the same world, byte for byte: every resource's
//! encoded bytes and version, the snapshot and type versions, the diagnostics
//! and the per-Ingress report. A seeded random walk of Ingress, Service,
//! Secret, EndpointSlice and IngressClass creates, edits and deletes (shared
//! hosts, conflicting paths, host-less rules, default backends, TLS hosts
//! claimed with different Secrets, missing Services and Secrets, other classes,
//! Ingresses without a timestamp) checks that after every build.

#[path = "translate_support.rs"]
mod support;

use std::collections::BTreeMap;

use interlock::pipeline::{BuildPath, Rebuilder};
use interlock::snapshot::{ResourceType, Snapshot};
use interlock::translate::{translate, TranslateConfig};
use interlock::validate::validate;
use interlock::world::{Kind, Object, ObjectKey, ObjectRef, World, WorldEvent};
use serde_json::{json, Value};
use support::{
    ingress_class, ingress_raw, path, rule, secret, service, service_raw, slice, timestamp,
    tls_secret, Rng,
};

const NS: &str = "default";
const CONTROLLER: &str = "interlock.dev/ingress-controller";

const HOSTS: [&str; 5] = ["a.test", "b.test", "c.test", "*.w.test", "d.test"];
const PATHS: [&str; 3] = ["/", "/api", "/api/v1"];
const SERVICES: [&str; 3] = ["web", "api", "ghost"];
const SECRETS: [&str; 3] = ["tls-a", "tls-b", "tls-gone"];
const INGRESSES: usize = 10;

fn random_backend(rng: &mut Rng) -> Value {
    let name = *rng.pick(&SERVICES);
    let port = match rng.below(4) {
        0 => json!({"name": "http"}),
        1 => json!({"number": 8080}),
        _ => json!({"number": 80}),
    };
    json!({"service": {"name": name, "port": port}})
}

fn random_rule(rng: &mut Rng) -> Value {
    let host = if rng.chance(8) {
        None
    } else {
        Some(*rng.pick(&HOSTS))
    };
    let paths = (0..1 + rng.below(2))
        .map(|_| {
            let path_type = *rng.pick(&["Prefix", "Prefix", "Exact"]);
            let at = *rng.pick(&PATHS);
            path(path_type, at, random_backend(rng))
        })
        .collect();
    rule(host, paths)
}

fn random_ingress(rng: &mut Rng, name: &str) -> Object {
    let mut spec = json!({
        "rules": (0..rng.below(3)).map(|_| random_rule(rng)).collect::<Vec<_>>(),
    });
    match rng.below(10) {
        0 => {}
        1 => spec["ingressClassName"] = json!("other"),
        _ => spec["ingressClassName"] = json!("interlock"),
    }
    if rng.chance(8) {
        spec["defaultBackend"] = random_backend(rng);
    }
    if rng.chance(30) {
        let hosts: Vec<&str> = (0..1 + rng.below(2)).map(|_| *rng.pick(&HOSTS)).collect();
        spec["tls"] = json!([{"hosts": hosts, "secretName": rng.pick(&SECRETS)}]);
    }
    let mut metadata = json!({"namespace": NS, "name": name});
    if !rng.chance(10) {
        metadata["creationTimestamp"] = json!(timestamp(rng.below(4) as u32));
    }
    if let Some(annotations) = random_annotations(rng) {
        metadata["annotations"] = annotations;
    }
    ingress_raw(metadata, spec)
}

/// ingress-nginx annotations now and then: ones rendered per route (a
/// timeout, a rewrite), ones the incremental translator leaves to the
/// reference one (a canary, an HTTPS redirect), and ones that give a Service
/// port a cluster variant of its own (protocol, affinity, balance, connect
/// timeout, the Service's cluster IP), which it renders itself.
fn random_annotations(rng: &mut Rng) -> Option<serde_json::Value> {
    const P: &str = "nginx.ingress.kubernetes.io";
    let annotations = match rng.below(16) {
        0 => json!({format!("{P}/proxy-read-timeout"): "7"}),
        1 => json!({format!("{P}/rewrite-target"): "/"}),
        2 => json!({format!("{P}/canary"): "true", format!("{P}/canary-weight"): "30"}),
        3 => json!({format!("{P}/force-ssl-redirect"): "true"}),
        4 => json!({format!("{P}/backend-protocol"): *rng.pick(&["GRPC", "H2C", "HTTP"])}),
        5 => json!({format!("{P}/affinity"): "cookie",
                    format!("{P}/session-cookie-max-age"): "60"}),
        6 => json!({format!("{P}/load-balance"): "ewma",
                    format!("{P}/proxy-connect-timeout"): *rng.pick(&["2", "3"])}),
        7 => json!({format!("{P}/service-upstream"): "true"}),
        _ => return None,
    };
    Some(annotations)
}

fn random_event(rng: &mut Rng, world: &World) -> WorldEvent {
    let delete = |kind: Kind, namespace: &str, name: &str| {
        WorldEvent::Delete(ObjectRef {
            kind,
            key: ObjectKey::new(namespace, name),
        })
    };
    match rng.below(100) {
        0..=54 => {
            let name = format!("ing-{}", rng.below(INGRESSES));
            let key = ObjectKey::new(NS, name.as_str());
            if world.ingresses.contains_key(&key) && rng.chance(20) {
                delete(Kind::Ingress, NS, &name)
            } else {
                WorldEvent::Upsert(random_ingress(rng, &name))
            }
        }
        55..=69 => {
            let name = *rng.pick(&SERVICES);
            match rng.below(5) {
                0 => delete(Kind::Service, NS, name),
                1 => WorldEvent::Upsert(service(NS, name, &[(Some("web"), 80)])),
                // A cluster IP (for service-upstream), which may change.
                2 if rng.chance(50) => WorldEvent::Upsert(service_raw(json!({
                    "metadata": {"namespace": NS, "name": name},
                    "spec": {"clusterIP": format!("10.96.0.{}", rng.below(2)),
                             "ports": [{"name": "http", "port": 80}, {"port": 8080}]},
                }))),
                2 => WorldEvent::Upsert(service(NS, name, &[(None, 8080)])),
                _ => WorldEvent::Upsert(service(
                    NS,
                    name,
                    &[(Some("http"), 80), (Some("alt"), 8080)],
                )),
            }
        }
        70..=79 => {
            let name = *rng.pick(&SECRETS);
            match rng.below(4) {
                0 => delete(Kind::Secret, NS, name),
                1 => WorldEvent::Upsert(secret(NS, name, "Opaque", &[("x", "y")])),
                _ => WorldEvent::Upsert(tls_secret(NS, name)),
            }
        }
        80..=94 => {
            let svc = *rng.pick(&SERVICES);
            let suffix = rng.below(2).to_string();
            if rng.chance(20) {
                return delete(Kind::EndpointSlice, NS, &format!("{svc}-{suffix}"));
            }
            let port_name = *rng.pick(&[Some("http"), Some("web"), None]);
            let endpoints: Vec<(String, Option<bool>)> = (0..rng.below(3))
                .map(|_| {
                    let ready = *rng.pick(&[Some(true), Some(false), None]);
                    (format!("10.0.0.{}", rng.below(4)), ready)
                })
                .collect();
            let endpoints: Vec<(&str, Option<bool>)> =
                endpoints.iter().map(|(a, r)| (a.as_str(), *r)).collect();
            WorldEvent::Upsert(slice(NS, svc, &suffix, port_name, 9000, &endpoints))
        }
        _ => match rng.below(3) {
            0 => WorldEvent::Upsert(ingress_class("interlock", CONTROLLER, rng.chance(50))),
            1 => WorldEvent::Upsert(ingress_class("interlock", "someone.else/ctrl", false)),
            _ => delete(Kind::IngressClass, "", "interlock"),
        },
    }
}

/// Every resource's bytes and what it references (which make-before-break
/// orders by), by type and name, plus the versions.
#[derive(Debug, PartialEq)]
struct Encoded {
    version: String,
    type_versions: Vec<String>,
    resources: BTreeMap<(String, String), (String, Vec<u8>, String)>,
}

fn encoded(snapshot: &Snapshot) -> Encoded {
    Encoded {
        version: snapshot.version().to_owned(),
        type_versions: ResourceType::ALL
            .iter()
            .map(|k| snapshot.type_version(*k).to_owned())
            .collect(),
        resources: ResourceType::ALL
            .iter()
            .flat_map(|k| snapshot.resources(*k).values())
            .map(|r| {
                let key = (r.kind().short_name().to_owned(), r.name().to_owned());
                let references = format!("{:?}", r.references());
                (
                    key,
                    (r.version().to_owned(), r.value().to_vec(), references),
                )
            })
            .collect(),
    }
}

/// A full translate + validate of `world`: encoded snapshot, diagnostics and
/// the per-Ingress report.
fn full(world: &World) -> (Encoded, Vec<String>, String) {
    let mut translation = translate(world, &TranslateConfig::default());
    let snapshot = validate(&mut translation, None)
        .unwrap_or_else(|e| panic!("the walk's worlds are consistent: {e}"));
    let diagnostics = translation
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect();
    (
        encoded(&snapshot),
        diagnostics,
        format!("{:?}", translation.ingresses),
    )
}

fn report(rebuilder: &Rebuilder) -> (Vec<String>, String) {
    let diagnostics = rebuilder
        .diagnostics()
        .iter()
        .map(ToString::to_string)
        .collect();
    (diagnostics, format!("{:?}", rebuilder.ingresses()))
}

fn start() -> Rebuilder {
    let mut rebuilder = Rebuilder::new(TranslateConfig::default());
    let mut objects = vec![
        ingress_class("interlock", CONTROLLER, false),
        service(NS, "web", &[(Some("http"), 80)]),
        service(NS, "api", &[(None, 8080)]),
        tls_secret(NS, "tls-a"),
        tls_secret(NS, "tls-b"),
    ];
    let mut rng = Rng(42);
    objects.extend((0..INGRESSES).map(|i| random_ingress(&mut rng, &format!("ing-{i}"))));
    for object in objects {
        rebuilder.apply(WorldEvent::Upsert(object));
    }
    assert_eq!(rebuilder.build().path, BuildPath::Full);
    rebuilder
}

#[test]
fn incremental_builds_equal_full_rebuilds_byte_for_byte() {
    let mut paths: BTreeMap<String, usize> = BTreeMap::new();
    for seed in 1..=60u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let mut rebuilder = start();
        for step in 0..80 {
            for _ in 0..1 + rng.below(3) {
                let event = random_event(&mut rng, rebuilder.world());
                rebuilder.apply(event);
            }
            let build = rebuilder.build();
            *paths.entry(format!("{:?}", build.path)).or_default() += 1;
            let incremental = build.path == BuildPath::Incremental;
            let built = build
                .snapshot
                .unwrap_or_else(|e| panic!("seed {seed} step {step}: inconsistent: {e}"));
            let (expected, diagnostics, ingresses) = full(rebuilder.world());
            let got = encoded(&built);
            if incremental && got.resources.keys().any(|(_, name)| name.contains('~')) {
                *paths
                    .entry("Incremental with cluster variants".to_owned())
                    .or_default() += 1;
            }
            if got != expected {
                let differ: Vec<_> = expected
                    .resources
                    .iter()
                    .filter(|(k, v)| got.resources.get(*k) != Some(*v))
                    .map(|(k, _)| k)
                    .chain(
                        got.resources
                            .keys()
                            .filter(|k| !expected.resources.contains_key(*k)),
                    )
                    .collect();
                let refs = |e: &Encoded, k: &(String, String)| {
                    e.resources.get(k).map(|(_, _, refs)| refs.clone())
                };
                let first = differ.first().map(|k| (refs(&expected, k), refs(&got, k)));
                panic!(
                    "seed {seed} step {step}: snapshot differs from a full rebuild in {differ:?}; references (full, incremental): {first:?}"
                );
            }
            assert_eq!(
                report(&rebuilder),
                (diagnostics, ingresses),
                "seed {seed} step {step}: report differs from a full rebuild"
            );
        }
    }
    for path in [
        "Incremental",
        "Full",
        "Unchanged",
        "Incremental with cluster variants",
    ] {
        assert!(
            paths.get(path).is_some_and(|n| *n > 10),
            "the walk exercised the {path} path: {paths:?}"
        );
    }
}

#[test]
fn an_ingress_change_edits_only_its_host_and_clusters() {
    let mut rebuilder = Rebuilder::new(TranslateConfig::default());
    let to = |name: &str, host: &str, svc: &str| {
        ingress_raw(
            json!({"namespace": NS, "name": name, "creationTimestamp": timestamp(1)}),
            json!({"ingressClassName": "interlock", "rules": [rule(Some(host), vec![
                path("Prefix", "/", json!({"service": {"name": svc, "port": {"number": 80}}}))
            ])]}),
        )
    };
    for object in [
        ingress_class("interlock", CONTROLLER, false),
        service(NS, "one", &[(None, 80)]),
        service(NS, "two", &[(None, 80)]),
        to("a", "a.test", "one"),
        to("b", "b.test", "one"),
    ] {
        rebuilder.apply(WorldEvent::Upsert(object));
    }
    let before = rebuilder.build().snapshot.unwrap_or_else(|e| panic!("{e}"));
    rebuilder.apply(WorldEvent::Upsert(to("b", "b.test", "two")));
    let build = rebuilder.build();
    assert_eq!(build.path, BuildPath::Incremental);
    let after = build.snapshot.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(encoded(&after), full(rebuilder.world()).0);
    let kept =
        |kind: ResourceType, name: &str| match (before.get(kind, name), after.get(kind, name)) {
            (Some(a), Some(b)) => std::sync::Arc::ptr_eq(a, b),
            _ => false,
        };
    assert!(
        kept(ResourceType::Cluster, "default/one:80"),
        "untouched cluster shared"
    );
    assert!(kept(ResourceType::Listener, "http"));
    assert!(after.get(ResourceType::Cluster, "default/two:80").is_some());
}

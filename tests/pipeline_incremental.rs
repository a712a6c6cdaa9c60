//! The pipeline's endpoints-only builds ([`Rebuilder`]) must equal a full
//! translate + validate of the same world: same snapshot version, same
//! diagnostics, same per-Ingress report. A seeded random walk of EndpointSlice
//! changes (endpoints added and removed, readiness flipped, slices deleted,
//! created and relabelled, ports renamed, bad addresses and address types) checks
//! that after every build, and that such builds never fall back to a full one.

#[path = "translate_support.rs"]
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use std::time::Duration;

use interlock::debounce::DebounceConfig;
use interlock::pipeline::{Build, BuildPath, Pipeline, PipelineConfig, Rebuilder};
use interlock::snapshot::{ResourceType, Snapshot, SnapshotStore};
use interlock::translate::{translate, TranslateConfig};
use interlock::validate::validate;
use interlock::world::{Kind, Object, ObjectKey, ObjectRef, World, WorldEvent};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::json;
use support::{backend, ingress, ingress_class, ingress_raw, path, rule, service, Rng};
use tokio::sync::mpsc;

const NS: &str = "default";
const OTHER_NS: &str = "other";

/// Services the walk's slices may belong to: `(namespace, name)`. `orphan` backs
/// no route and `ghost` does not exist (its route answers 503), so neither has a
/// cluster; `""` is a slice without the label.
const SERVICES: [(&str, &str); 7] = [
    (NS, "web"),
    (NS, "api"),
    (NS, "dual"),
    (NS, "orphan"),
    (NS, "ghost"),
    (NS, ""),
    (OTHER_NS, "web"),
];

/// Slice port names the walk uses (`None`: unnamed).
const PORT_NAMES: [Option<&str>; 5] = [Some("http"), Some("https"), Some("admin"), None, Some("")];

/// The fixed part of the world: Ingresses and Services (never changed by the walk).
fn base_objects() -> Vec<Object> {
    let to = |ns: &str, name: &str, host: &str, paths: Vec<serde_json::Value>| {
        ingress(ns, name, 0, json!({"rules": [rule(Some(host), paths)]}))
    };
    let by_name = |svc: &str, port: &str| json!({"service": {"name": svc, "port": {"name": port}}});
    vec![
        ingress_class("interlock", "interlock.dev/ingress-controller", false),
        service(NS, "web", &[(Some("http"), 80), (Some("admin"), 9090)]),
        service(NS, "api", &[(None, 8080)]),
        service(NS, "dual", &[(Some("http"), 80), (Some("https"), 443)]),
        service(NS, "orphan", &[(Some("http"), 80)]),
        service(OTHER_NS, "web", &[(Some("http"), 80)]),
        to(
            NS,
            "web",
            "web.test",
            vec![
                path("Prefix", "/", backend("web", 80)),
                path("Prefix", "/admin", by_name("web", "admin")),
            ],
        ),
        to(
            NS,
            "api",
            "api.test",
            vec![path("Prefix", "/", backend("api", 8080))],
        ),
        // Same cluster by number and by name, and both ports of `dual`.
        to(
            NS,
            "dual",
            "dual.test",
            vec![
                path("Prefix", "/", backend("dual", 80)),
                path("Prefix", "/by-name", by_name("dual", "http")),
                path("Prefix", "/tls", backend("dual", 443)),
            ],
        ),
        to(
            NS,
            "ghost",
            "ghost.test",
            vec![path("Prefix", "/", backend("ghost", 80))],
        ),
        to(
            OTHER_NS,
            "web",
            "other.test",
            vec![path("Prefix", "/", backend("web", 80))],
        ),
        // Cluster variants of `web`:80 (own settings, own assignment): slice
        // changes must reach them as they reach the plain cluster.
        ingress_raw(
            json!({"namespace": NS, "name": "web-grpc", "annotations": {
                "nginx.ingress.kubernetes.io/backend-protocol": "GRPC",
            }}),
            json!({"ingressClassName": "interlock",
                   "rules": [rule(Some("grpc.test"), vec![path("Prefix", "/", backend("web", 80))])]}),
        ),
        ingress_raw(
            json!({"namespace": NS, "name": "web-sticky", "annotations": {
                "nginx.ingress.kubernetes.io/affinity": "cookie",
            }}),
            json!({"ingressClassName": "interlock",
                   "rules": [rule(Some("sticky.test"), vec![path("Prefix", "/", backend("web", 80))])]}),
        ),
    ]
}

/// A random EndpointSlice `name` in `namespace`.
fn random_slice(rng: &mut Rng, namespace: &str, name: &str) -> EndpointSlice {
    let candidates: Vec<&str> = SERVICES
        .iter()
        .filter(|(ns, _)| *ns == namespace)
        .map(|(_, svc)| *svc)
        .collect();
    let service = *rng.pick(&candidates);
    let labels = (!service.is_empty())
        .then(|| BTreeMap::from([("kubernetes.io/service-name".to_owned(), service.to_owned())]));
    let address_type = match rng.below(20) {
        0 => "FQDN",
        1 | 2 => "IPv6",
        _ => "IPv4",
    };
    let ports = (0..rng.below(3))
        .map(|_| EndpointPort {
            name: rng.pick(&PORT_NAMES).map(str::to_owned),
            port: Some(*rng.pick(&[8080, 8443, 9000, 0])),
            protocol: Some("TCP".to_owned()),
            ..EndpointPort::default()
        })
        .collect();
    let endpoints = (0..rng.below(4))
        .map(|_| random_endpoint(rng, address_type))
        .collect();
    EndpointSlice {
        metadata: ObjectMeta {
            namespace: Some(namespace.to_owned()),
            name: Some(name.to_owned()),
            labels,
            ..ObjectMeta::default()
        },
        address_type: address_type.to_owned(),
        endpoints,
        ports: Some(ports),
    }
}

/// An endpoint from a small address pool (so slices overlap), sometimes invalid,
/// with readiness true, false or absent.
fn random_endpoint(rng: &mut Rng, address_type: &str) -> Endpoint {
    let n = rng.below(6);
    let address = match (rng.below(15), address_type) {
        (0, _) => "not-an-ip".to_owned(),
        (_, "IPv6") => format!("fd00::{n}"),
        (_, "FQDN") => format!("host-{n}.example"),
        _ => format!("10.0.0.{n}"),
    };
    Endpoint {
        addresses: vec![address],
        conditions: Some(EndpointConditions {
            ready: *rng.pick(&[Some(true), Some(true), Some(false), None]),
            ..EndpointConditions::default()
        })
        .filter(|_| rng.chance(80)),
        ..Endpoint::default()
    }
}

/// A small edit of an existing slice: add, remove or flip one endpoint.
fn edited(rng: &mut Rng, slice: &EndpointSlice) -> EndpointSlice {
    let mut slice = slice.clone();
    let len = slice.endpoints.len();
    match rng.below(3) {
        0 => {
            let endpoint = random_endpoint(rng, &slice.address_type.clone());
            slice.endpoints.push(endpoint);
        }
        1 if len > 0 => {
            slice.endpoints.remove(rng.below(len));
        }
        _ if len > 0 => {
            let endpoint = &mut slice.endpoints[rng.below(len)];
            let conditions = endpoint.conditions.get_or_insert_with(Default::default);
            conditions.ready = Some(!conditions.ready.unwrap_or(true));
        }
        _ => {}
    }
    slice
}

/// One random EndpointSlice event against `world`.
fn random_event(rng: &mut Rng, world: &World) -> WorldEvent {
    let namespace = *rng.pick(&[NS, NS, NS, OTHER_NS]);
    let name = format!("slice-{}", rng.below(8));
    let key = ObjectKey::new(namespace, name.as_str());
    let existing = world.endpoint_slices.get(&key);
    match (rng.below(10), existing) {
        (0..=3, Some(slice)) => WorldEvent::Upsert(Object::EndpointSlice(edited(rng, slice))),
        (4, Some(slice)) => WorldEvent::Upsert(Object::EndpointSlice(EndpointSlice::clone(slice))),
        (5 | 6, _) => WorldEvent::Delete(ObjectRef {
            kind: Kind::EndpointSlice,
            key,
        }),
        _ => WorldEvent::Upsert(Object::EndpointSlice(random_slice(rng, namespace, &name))),
    }
}

/// What a full rebuild of `world` gives: the snapshot, diagnostics and report.
fn full(world: &World) -> (Snapshot, Rebuilt) {
    let mut translation = translate(world, &TranslateConfig::default());
    let snapshot = validate(&mut translation, None)
        .unwrap_or_else(|e| panic!("the test world must be consistent: {e}"));
    let diagnostics: Vec<String> = translation
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect();
    (
        snapshot,
        Rebuilt {
            diagnostics,
            ingresses: format!("{:?}", translation.ingresses),
        },
    )
}

#[derive(Debug, PartialEq)]
struct Rebuilt {
    diagnostics: Vec<String>,
    ingresses: String,
}

fn rebuilt(rebuilder: &Rebuilder) -> Rebuilt {
    Rebuilt {
        diagnostics: rebuilder
            .diagnostics()
            .iter()
            .map(ToString::to_string)
            .collect(),
        ingresses: format!("{:?}", rebuilder.ingresses()),
    }
}

/// The diagnostics about EndpointSlices (the fixed world also reports Ingress
/// `ghost`, whose Service is missing).
fn slice_diagnostics(rebuilder: &Rebuilder) -> Vec<String> {
    rebuilt(rebuilder)
        .diagnostics
        .into_iter()
        .filter(|d| d.starts_with("EndpointSlice"))
        .collect()
}

fn loaded() -> Rebuilder {
    let mut rebuilder = Rebuilder::new(TranslateConfig::default());
    for object in base_objects() {
        assert!(rebuilder.apply(WorldEvent::Upsert(object)));
    }
    let build = rebuilder.build();
    assert_eq!(build.path, BuildPath::Full, "the first build is full");
    rebuilder
}

fn snapshot(build: Build) -> Arc<Snapshot> {
    build
        .snapshot
        .unwrap_or_else(|e| panic!("the build must be consistent: {e}"))
}

#[test]
fn endpoints_only_builds_equal_full_rebuilds() {
    for seed in 1..=40u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let mut rebuilder = loaded();
        assert_eq!(
            rebuilder.build().path,
            BuildPath::Unchanged,
            "nothing changed"
        );
        let mut paths = BTreeMap::new();
        for step in 0..60 {
            let mut changed = false;
            for _ in 0..1 + rng.below(3) {
                let event = random_event(&mut rng, rebuilder.world());
                changed |= rebuilder.apply(event);
            }
            let build = rebuilder.build();
            *paths.entry(format!("{:?}", build.path)).or_insert(0) += 1;
            assert_ne!(build.path, BuildPath::Full, "seed {seed} step {step}");
            if !changed {
                assert_eq!(build.path, BuildPath::Unchanged, "seed {seed} step {step}");
            }
            let built = snapshot(build);
            let variants = built
                .resources(ResourceType::Cluster)
                .keys()
                .filter(|n| n.starts_with("default/web:80~"))
                .count();
            assert_eq!(variants, 2, "seed {seed} step {step}: web:80's variants");
            let (expected, report) = full(rebuilder.world());
            assert_eq!(
                built.version(),
                expected.version(),
                "seed {seed} step {step}: endpoints-only build differs from a full rebuild"
            );
            for kind in ResourceType::ALL {
                assert_eq!(built.type_version(kind), expected.type_version(kind));
            }
            assert_eq!(rebuilt(&rebuilder), report, "seed {seed} step {step}");
        }
        assert!(
            paths.contains_key("EndpointsOnly"),
            "seed {seed}: the walk exercised the endpoints-only path: {paths:?}"
        );
    }
}

#[test]
fn diagnostics_of_slices_are_replaced_and_dropped() {
    let mut rebuilder = loaded();
    let bad = |address: &str| {
        let mut rng = Rng(7);
        let mut slice = random_slice(&mut rng, NS, "web-bad");
        slice.metadata.labels = Some(BTreeMap::from([(
            "kubernetes.io/service-name".to_owned(),
            "web".to_owned(),
        )]));
        slice.address_type = "IPv4".to_owned();
        slice.ports = Some(vec![EndpointPort {
            name: Some("http".to_owned()),
            port: Some(8080),
            ..EndpointPort::default()
        }]);
        slice.endpoints = vec![Endpoint {
            addresses: vec![address.to_owned()],
            ..Endpoint::default()
        }];
        WorldEvent::Upsert(Object::EndpointSlice(slice))
    };
    assert!(rebuilder.apply(bad("nope")));
    let build = rebuilder.build();
    assert_eq!(build.path, BuildPath::EndpointsOnly);
    let diagnostics = slice_diagnostics(&rebuilder);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert!(diagnostics[0].contains("EndpointSlice default/web-bad"));
    assert_eq!(rebuilt(&rebuilder), full(rebuilder.world()).1);

    assert!(rebuilder.apply(bad("10.1.1.1")));
    assert_eq!(rebuilder.build().path, BuildPath::EndpointsOnly);
    assert!(
        slice_diagnostics(&rebuilder).is_empty(),
        "fixed slice: no diagnostic"
    );

    assert!(rebuilder.apply(bad("still-bad")));
    rebuilder.build();
    assert!(rebuilder.apply(WorldEvent::Delete(ObjectRef {
        kind: Kind::EndpointSlice,
        key: ObjectKey::new(NS, "web-bad"),
    })));
    assert_eq!(rebuilder.build().path, BuildPath::EndpointsOnly);
    assert!(
        slice_diagnostics(&rebuilder).is_empty(),
        "deleted slice: no diagnostic"
    );
}

#[test]
fn a_slice_of_a_service_without_clusters_publishes_nothing_new() {
    let mut rebuilder = loaded();
    let before = snapshot(rebuilder.build());
    let mut rng = Rng(3);
    let mut slice = random_slice(&mut rng, NS, "orphan-1");
    slice.metadata.labels = Some(BTreeMap::from([(
        "kubernetes.io/service-name".to_owned(),
        "orphan".to_owned(),
    )]));
    assert!(rebuilder.apply(WorldEvent::Upsert(Object::EndpointSlice(slice))));
    let build = rebuilder.build();
    assert_eq!(build.path, BuildPath::Unchanged);
    let after = snapshot(build);
    assert!(Arc::ptr_eq(&before, &after), "the very same snapshot");
    assert_eq!(after.version(), full(rebuilder.world()).0.version());
}

#[test]
fn class_changes_and_relists_fall_back_to_a_full_build() {
    let mut rebuilder = loaded();
    let mut rng = Rng(11);
    let slice = |rng: &mut Rng, name: &str| {
        let mut s = random_slice(rng, NS, name);
        s.metadata.labels = Some(BTreeMap::from([(
            "kubernetes.io/service-name".to_owned(),
            "web".to_owned(),
        )]));
        Object::EndpointSlice(s)
    };
    // A slice change together with a Service change: incremental.
    rebuilder.apply(WorldEvent::Upsert(slice(&mut rng, "web-1")));
    assert!(rebuilder.apply(WorldEvent::Upsert(service(
        NS,
        "web",
        &[(Some("http"), 80)]
    ))));
    let build = rebuilder.build();
    assert_eq!(build.path, BuildPath::Incremental);
    assert_eq!(
        snapshot(build).version(),
        full(rebuilder.world()).0.version()
    );
    // An IngressClass change decides which Ingresses are ours: full.
    assert!(rebuilder.apply(WorldEvent::Upsert(ingress_class(
        "other",
        "interlock.dev/ingress-controller",
        true
    ))));
    let build = rebuilder.build();
    assert_eq!(build.path, BuildPath::Full);
    assert_eq!(
        snapshot(build).version(),
        full(rebuilder.world()).0.version()
    );
    // Then slices alone are incremental again, against the new clusters.
    assert!(rebuilder.apply(WorldEvent::Upsert(slice(&mut rng, "web-2"))));
    let build = rebuilder.build();
    assert_ne!(build.path, BuildPath::Full);
    assert_eq!(
        snapshot(build).version(),
        full(rebuilder.world()).0.version()
    );
    // A re-list of slices: which changed is unknown, so full.
    let relist = WorldEvent::Replace {
        kind: Kind::EndpointSlice,
        objects: vec![slice(&mut rng, "web-3")],
    };
    assert!(rebuilder.apply(relist));
    let build = rebuilder.build();
    assert_eq!(build.path, BuildPath::Full);
    assert_eq!(
        snapshot(build).version(),
        full(rebuilder.world()).0.version()
    );
    assert_eq!(rebuilt(&rebuilder), full(rebuilder.world()).1);
}

/// Waits until the pipeline's status reports what a full rebuild of `world`
/// gives: its snapshot version and its diagnostics (a change may alter only the
/// diagnostics, so the version alone cannot tell that it was handled).
async fn converges(status: &interlock::pipeline::StatusHandle, world: &World) -> String {
    let (expected, report) = full(world);
    let mut seen = None;
    for _ in 0..1_000 {
        let current = status.get();
        let diagnostics: Vec<String> = current
            .diagnostics
            .iter()
            .map(ToString::to_string)
            .collect();
        if current.version.as_deref() == Some(expected.version())
            && diagnostics == report.diagnostics
        {
            assert!(current.last_error.is_none(), "{:?}", current.last_error);
            return expected.version().to_owned();
        }
        seen = Some((current.version.clone(), diagnostics));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!(
        "the pipeline never reached {} / {:?}; last seen {seen:?}",
        expected.version(),
        report.diagnostics
    );
}

#[tokio::test]
async fn the_pipeline_publishes_slice_changes_as_a_full_rebuild_would() {
    let store = SnapshotStore::new();
    let config = PipelineConfig {
        translate: TranslateConfig::default(),
        debounce: DebounceConfig {
            quiet: Duration::from_millis(2),
            max_delay: Duration::from_millis(20),
        },
        secret_refetch: None,
    };
    let pipeline = Pipeline::new(config, store.clone(), ["test"]);
    let status = pipeline.status();
    let (events, received) = mpsc::channel(64);
    let running = tokio::spawn(pipeline.run(received));
    let send = |event: WorldEvent| {
        let events = events.clone();
        async move {
            events
                .send(event)
                .await
                .unwrap_or_else(|e| panic!("pipeline stopped: {e}"))
        }
    };

    // The mirror is what the pipeline's world must hold.
    let mut mirror = World::new();
    for object in base_objects() {
        mirror.apply(WorldEvent::Upsert(object.clone()));
        send(WorldEvent::Upsert(object)).await;
    }
    send(WorldEvent::Synced {
        source: "test".to_owned(),
    })
    .await;
    converges(&status, &mirror).await;

    let mut rng = Rng(0x5eed);
    for _ in 0..40 {
        for _ in 0..1 + rng.below(3) {
            let event = random_event(&mut rng, &mirror);
            mirror.apply(event.clone());
            send(event).await;
        }
        let version = converges(&status, &mirror).await;
        // The status may be set just before the store publishes.
        let mut tries = 0;
        while store.current().is_none_or(|s| s.version() != version) {
            tries += 1;
            assert!(tries < 1_000, "the store never published {version}");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    drop(events);
    running
        .await
        .unwrap_or_else(|e| panic!("pipeline panicked: {e}"));
}

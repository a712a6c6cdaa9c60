//! NACK containment in the pipeline, against a scripted Envoy: it rejects every
//! snapshot whose route table carries a path starting with `/bad` (RDS), or
//! that has a cluster of Service `app/broken` (CDS), and holds every other one
//! completely. Fast and deterministic, so the rules are pinned without a real
//! Envoy (tests/nack_containment.rs runs them against one; no Ingress input
//! makes Envoy 1.40 reject a cluster Interlock generates, so CDS is here).

use std::collections::BTreeSet;
use std::time::Duration;

use envoy_types::pb::envoy::config::route::v3::route_match::PathSpecifier;
use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use interlock::pipeline::{Pipeline, PipelineConfig, StatusHandle};
use interlock::snapshot::{ResourceType, Snapshot, SnapshotStore, Verdict};
use interlock::world::{Object, WorldEvent};
use prost::Message;
use serde_json::json;
use tokio::sync::mpsc;

const NODE: &str = "scripted";

fn ingress(name: &str, host: &str, path: &str, service: &str) -> WorldEvent {
    let value = json!({
        "metadata": {"name": name, "namespace": "app", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"ingressClassName": "interlock", "rules": [{"host": host, "http": {"paths": [
            {"path": path, "pathType": "Prefix",
             "backend": {"service": {"name": service, "port": {"number": 80}}}}]}}]}
    });
    WorldEvent::Upsert(Object::Ingress(
        serde_json::from_value(value).expect("ingress"),
    ))
}

fn service(name: &str) -> WorldEvent {
    let value = json!({"metadata": {"name": name, "namespace": "app"},
                       "spec": {"ports": [{"port": 80}]}});
    WorldEvent::Upsert(Object::Service(
        serde_json::from_value(value).expect("service"),
    ))
}

/// (host, path) of every route in the `http` table.
fn routes(snapshot: &Snapshot) -> BTreeSet<(String, String)> {
    let Some(table) = snapshot.get(ResourceType::Route, "http") else {
        return BTreeSet::new();
    };
    let table = RouteConfiguration::decode(table.value()).expect("route table");
    let mut out = BTreeSet::new();
    for vh in table.virtual_hosts {
        for route in vh.routes {
            let path = match route.r#match.and_then(|m| m.path_specifier) {
                Some(PathSpecifier::Prefix(p) | PathSpecifier::Path(p)) => p,
                Some(PathSpecifier::PathSeparatedPrefix(p)) => p,
                _ => String::new(),
            };
            for domain in &vh.domains {
                out.insert((domain.clone(), path.clone()));
            }
        }
    }
    out
}

/// What the scripted Envoy rejects in `snapshot`, if anything.
fn rejects(snapshot: &Snapshot) -> Option<(ResourceType, &'static str)> {
    if routes(snapshot).iter().any(|(_, p)| p.starts_with("/bad")) {
        return Some((ResourceType::Route, "regex rejected"));
    }
    snapshot
        .get(ResourceType::Cluster, "app/broken:80")
        .map(|_| (ResourceType::Cluster, "app/broken:80: cluster rejected"))
}

/// Plays an Envoy that rejects what [`rejects`] says, until the store is dropped.
fn scripted_envoy(store: SnapshotStore) {
    store.report(Verdict::Connected { node: NODE.into() });
    let mut published = store.subscribe();
    tokio::spawn(async move {
        loop {
            if let Some(snapshot) = store.current() {
                let snapshot_version = snapshot.version().to_owned();
                store.report(if let Some((kind, error)) = rejects(&snapshot) {
                    Verdict::Rejected {
                        node: NODE.into(),
                        snapshot: snapshot_version,
                        kind,
                        error: error.into(),
                    }
                } else {
                    Verdict::InSync {
                        node: NODE.into(),
                        snapshot: snapshot_version,
                    }
                });
            }
            if published.changed().await.is_err() {
                return;
            }
        }
    });
}

struct Harness {
    events: mpsc::Sender<WorldEvent>,
    store: SnapshotStore,
    status: StatusHandle,
}

async fn harness() -> Harness {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "interlock=info".into()))
        .try_init();
    let store = SnapshotStore::new();
    let pipeline = Pipeline::new(PipelineConfig::default(), store.clone(), ["test"]);
    let status = pipeline.status();
    let (events, received) = mpsc::channel(1024);
    tokio::spawn(pipeline.run(received));
    let h = Harness {
        events,
        store,
        status,
    };
    h.send(service("web")).await;
    h.send(service("other")).await;
    h.send(ingress("seed", "seed.test", "/", "web")).await;
    h.send(WorldEvent::Synced {
        source: "test".into(),
    })
    .await;
    h.settle(|r| r.contains(&("seed.test".into(), "/".into())))
        .await;
    scripted_envoy(h.store.clone());
    h
}

impl Harness {
    async fn send(&self, event: WorldEvent) {
        self.events.send(event).await.expect("pipeline");
    }

    /// Waits until no search runs and the served routes satisfy `done`.
    async fn settle(&self, done: impl Fn(&BTreeSet<(String, String)>) -> bool) {
        for _ in 0..1000 {
            let searching = self.status.get().searching;
            if let Some(s) = self.store.current() {
                if !searching && done(&routes(&s)) {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let served = self.store.current().map(|s| routes(&s));
        panic!("never settled; serving {served:?}");
    }

    fn quarantined(&self) -> Vec<String> {
        let status = self.status.get();
        status
            .quarantined
            .iter()
            .map(|q| format!("{}:{}", q.object, q.serves_previous))
            .collect()
    }
}

fn has(routes: &BTreeSet<(String, String)>, host: &str, path: &str) -> bool {
    routes.contains(&(host.to_owned(), path.to_owned()))
}

#[tokio::test]
async fn a_rejected_new_ingress_is_left_out_and_the_rest_is_served() {
    let h = harness().await;
    for i in 0..20 {
        let path = if i == 11 { "/bad" } else { "/" };
        h.send(ingress(
            &format!("i{i:02}"),
            &format!("h{i:02}.test"),
            path,
            "web",
        ))
        .await;
    }
    h.settle(|r| {
        (0..20)
            .filter(|i| *i != 11)
            .all(|i| has(r, &format!("h{i:02}.test"), "/"))
    })
    .await;
    assert_eq!(h.quarantined(), ["Ingress app/i11:false"]);
    let served = routes(&h.store.current().expect("snapshot"));
    assert!(!served.iter().any(|(host, _)| host == "h11.test"));
    let diagnostics = h.status.get().diagnostics.clone();
    assert!(
        diagnostics
            .iter()
            .any(|d| d.object.key.name == "i11" && d.message.contains("regex rejected")),
        "{diagnostics:?}"
    );

    // Changed again (still bad): tried once more, quarantined again; fixed: served.
    h.send(ingress("i11", "h11.test", "/bad-again", "web"))
        .await;
    h.settle(|_| true).await;
    assert_eq!(h.quarantined(), ["Ingress app/i11:false"]);
    h.send(ingress("i11", "h11.test", "/", "web")).await;
    h.settle(|r| has(r, "h11.test", "/")).await;
    assert!(h.quarantined().is_empty());
}

#[tokio::test]
async fn a_rejected_edit_keeps_its_last_accepted_version() {
    let h = harness().await;
    h.send(ingress("e", "e.test", "/v1", "web")).await;
    h.settle(|r| has(r, "e.test", "/v1")).await;
    h.send(ingress("e", "e.test", "/bad", "other")).await;
    h.send(ingress("f", "f.test", "/", "web")).await;
    h.settle(|r| has(r, "f.test", "/") && has(r, "e.test", "/v1"))
        .await;
    assert_eq!(h.quarantined(), ["Ingress app/e:true"]);
    // What it refers to changes: tried again, still rejected.
    h.send(WorldEvent::Delete(interlock::world::ObjectRef {
        kind: interlock::world::Kind::Service,
        key: interlock::world::ObjectKey::new("app", "other"),
    }))
    .await;
    h.settle(|r| has(r, "e.test", "/v1")).await;
    assert_eq!(h.quarantined(), ["Ingress app/e:true"]);
}

#[tokio::test]
async fn bisection_isolates_every_rejected_object_of_a_batch() {
    let h = harness().await;
    let before = h.status.get().publishes;
    // Queued before the pipeline wakes: one batch, one snapshot.
    for i in 0..64 {
        let path = if i == 5 || i == 50 { "/bad" } else { "/" };
        h.send(ingress(
            &format!("b{i:02}"),
            &format!("b{i:02}.test"),
            path,
            "web",
        ))
        .await;
    }
    h.settle(|r| {
        (0..64)
            .filter(|i| *i != 5 && *i != 50)
            .all(|i| has(r, &format!("b{i:02}.test"), "/"))
    })
    .await;
    let mut q = h.quarantined();
    q.sort();
    assert_eq!(q, ["Ingress app/b05:false", "Ingress app/b50:false"]);
    let publishes = h.status.get().publishes - before;
    assert!(publishes <= 20, "{publishes} publishes");
}

#[tokio::test]
async fn a_rejected_cluster_quarantines_its_service_and_the_ingress_shows_it() {
    let h = harness().await;
    h.send(service("broken")).await;
    h.send(ingress("x", "x.test", "/", "broken")).await;
    h.send(ingress("y", "y.test", "/", "web")).await;
    h.settle(|r| has(r, "y.test", "/") && has(r, "x.test", "/"))
        .await;
    assert_eq!(h.quarantined(), ["Service app/broken:false"]);
    let status = h.status.get();
    let q = &status.quarantined[0];
    assert_eq!(q.rejection.kind, ResourceType::Cluster);
    assert_eq!(q.ingresses, [interlock::world::ObjectKey::new("app", "x")]);
    let snapshot = h.store.current().expect("snapshot");
    assert!(snapshot
        .get(ResourceType::Cluster, "app/broken:80")
        .is_none());
}

//! The central promise under churn, end to end with a real Envoy and the file
//! source: 200 Ingresses created, updated and deleted in bursts while a prober
//! requests every host continuously. No Ingress answers 404 between the moment
//! it is reported programmed and the moment its deletion is written; no route
//! with endpoints answers 503; afterwards Envoy holds exactly the last snapshot.
//! The annotated variant puts ingress-nginx annotations on every Ingress
//! (values changing with each generation), which must change nothing of that.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use interlock::admin::{AdminEvent, EventHub};
use interlock::snapshot::ResourceType;
use interlock::world::ObjectKey;
use support::gateway::{ingress_yaml, service_yaml, FileGateway, PathSpec};
use support::prober::Prober;
use support::{dump_section, wait_for, Upstream};

const INGRESSES: usize = 200;
const SERVICES: usize = 20;
const BURST: usize = 50;
const CONVERGE: Duration = Duration::from_secs(90);

fn host(i: usize) -> String {
    format!("churn-{i}.test")
}

/// Ingress `i` in generation `g`, with annotations whose values move with `g`
/// when `annotated`.
fn ingress(i: usize, g: usize, annotated: bool) -> String {
    let yaml = plain_ingress(i, g);
    if !annotated {
        return yaml;
    }
    let annotations = format!(
        "metadata: {{annotations: {{\
         nginx.ingress.kubernetes.io/enable-cors: \"true\", \
         nginx.ingress.kubernetes.io/cors-max-age: \"{max_age}\", \
         nginx.ingress.kubernetes.io/proxy-body-size: \"{body}m\", \
         nginx.ingress.kubernetes.io/proxy-read-timeout: \"{timeout}\", \
         nginx.ingress.kubernetes.io/proxy-next-upstream-tries: \"2\", \
         nginx.ingress.kubernetes.io/x-forwarded-prefix: /g{g}, \
         nginx.ingress.kubernetes.io/limit-rps: \"100000\"}}, ",
        max_age = 600 + g,
        body = 1 + g,
        timeout = 30 + g,
    );
    yaml.replacen("metadata: {", &annotations, 1)
}

/// Ingress `i` in generation `g`: the backend and the paths move with `g`.
fn plain_ingress(i: usize, g: usize) -> String {
    let service = format!("s-{}", (i + g) % SERVICES);
    let extra = format!("/v{g}");
    ingress_yaml(
        "churn",
        &format!("ing-{i}"),
        &host(i),
        &[
            PathSpec {
                path: "/",
                path_type: "Prefix",
                service: &service,
            },
            PathSpec {
                path: &extra,
                path_type: "Prefix",
                service: &service,
            },
        ],
    )
}

/// Which Ingresses may be probed, and which are being deleted.
#[derive(Default)]
struct Expectations {
    /// Programmed at least once (per WatchEvents) and not deleted.
    live: BTreeSet<usize>,
    /// Deletion written (or about to be): a 404 is expected from now on.
    deleted: BTreeSet<usize>,
}

fn index(key: &ObjectKey) -> Option<usize> {
    key.name.strip_prefix("ing-")?.parse().ok()
}

async fn churn(delta: bool, annotated: bool) {
    let mut upstreams = Vec::new();
    for k in 0..SERVICES {
        upstreams.push(Upstream::start(&format!("u-{k}")).await);
    }
    let services: Vec<String> = upstreams
        .iter()
        .enumerate()
        .map(|(k, u)| service_yaml("churn", &format!("s-{k}"), Some(u.addr)))
        .collect();
    let gw = FileGateway::start(delta, &[("services.yaml", services.join("---\n"))]).await;
    let hub = EventHub::spawn(
        gw.plane.store.clone(),
        gw.plane.tracker.clone(),
        gw.status.clone(),
    );
    let expectations = Arc::new(Mutex::new(Expectations::default()));
    let programmed_events = Arc::new(Mutex::new(BTreeMap::<usize, u64>::new()));

    // WatchEvents' programmed reports open an Ingress to the prober.
    let mut events = hub.subscribe();
    let (exp, counts) = (Arc::clone(&expectations), Arc::clone(&programmed_events));
    tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            if let AdminEvent::IngressProgrammed { ingress, .. } = event {
                if let Some(i) = index(&ingress) {
                    let mut exp = exp.lock().expect("expectations");
                    if !exp.deleted.contains(&i) {
                        exp.live.insert(i);
                    }
                    *counts.lock().expect("counts").entry(i).or_default() += 1;
                }
            }
        }
    });

    let live = {
        let exp = Arc::clone(&expectations);
        move || {
            let exp = exp.lock().expect("expectations");
            // Any of the services' upstreams is a right answer (updates move backends).
            exp.live
                .iter()
                .map(|&i| (host(i), None))
                .collect::<Vec<_>>()
        }
    };
    let excused = {
        let exp = Arc::clone(&expectations);
        move |h: &str, status: u16| {
            let i: Option<usize> = h
                .strip_prefix("churn-")
                .and_then(|r| r.strip_suffix(".test"))
                .and_then(|n| n.parse().ok());
            let exp = exp.lock().expect("expectations");
            status == 404 && i.is_some_and(|i| exp.deleted.contains(&i))
        }
    };
    let prober = Prober::start_matching(gw.http(), live, excused, |body: &str| {
        body.starts_with("u-")
    });

    let all_programmed = |want: usize| {
        let hub = hub.clone();
        move || {
            let hub = hub.clone();
            async move {
                let states = hub.ingresses();
                states.values().filter(|s| s.programmed).count() == want && states.len() == want
            }
        }
    };

    // Create in bursts.
    for burst in (0..INGRESSES).step_by(BURST) {
        for i in burst..burst + BURST {
            std::fs::write(gw.path(&format!("ing-{i}.yaml")), ingress(i, 0, annotated))
                .expect("write");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_for(
        CONVERGE,
        "all Ingresses programmed",
        all_programmed(INGRESSES),
    )
    .await;

    // Update in bursts: backends and paths change.
    for burst in (0..INGRESSES).step_by(BURST) {
        for i in burst..burst + BURST {
            std::fs::write(gw.path(&format!("ing-{i}.yaml")), ingress(i, 1, annotated))
                .expect("write");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The writes are in once every host answers from its new backend on its new path.
    let http = gw.http();
    wait_for(CONVERGE, "every update served", || async move {
        for i in 0..INGRESSES {
            let want = format!("u-{}", (i + 1) % SERVICES);
            match support::get(http, &host(i), "/v1/x").await {
                Ok(r) if r.status == 200 && r.body == want => {}
                _ => return false,
            }
        }
        true
    })
    .await;
    let store = gw.plane.store.clone();
    wait_for(CONVERGE, "updated Ingresses programmed", || {
        let hub = hub.clone();
        let store = store.clone();
        async move {
            let states = hub.ingresses();
            let version = store.current().map(|s| s.version().to_owned());
            states.len() == INGRESSES
                && states
                    .values()
                    .all(|s| s.programmed && s.version == version)
        }
    })
    .await;

    // Delete in bursts; the deletion is recorded before it is written.
    for burst in (0..INGRESSES).step_by(BURST) {
        {
            let mut exp = expectations.lock().expect("expectations");
            for i in burst..burst + BURST {
                exp.deleted.insert(i);
                exp.live.remove(&i);
            }
        }
        for i in burst..burst + BURST {
            std::fs::remove_file(gw.path(&format!("ing-{i}.yaml"))).expect("delete");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_for(CONVERGE, "every Ingress gone", || async {
        !gw.acked_domains().iter().any(|d| d.starts_with("churn-"))
    })
    .await;
    let report = prober.finish().await;
    assert!(report.violations.is_empty(), "{:#?}", report.violations);
    assert!(report.requests > INGRESSES as u64, "{report:?}");
    let reported = programmed_events.lock().expect("counts").len();
    assert_eq!(reported, INGRESSES, "every Ingress was reported programmed");

    // Envoy holds exactly the last snapshot.
    let snapshot = gw.plane.store.current().expect("snapshot");
    let dump = gw.envoy.config_dump().await;
    let clusters: BTreeSet<String> = dump_section(&dump, "ClustersConfigDump")
        .and_then(|c| c["dynamic_active_clusters"].as_array())
        .map(|a| {
            a.iter()
                .filter_map(|c| c["cluster"]["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let want: BTreeSet<String> = snapshot
        .resources(ResourceType::Cluster)
        .keys()
        .cloned()
        .collect();
    assert_eq!(clusters, want, "Envoy's clusters are the snapshot's");
    let routes = dump_section(&dump, "v3.RoutesConfigDump").expect("routes dump");
    let domains: BTreeSet<String> = routes["dynamic_route_configs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["route_config"]["name"] == "http")
        .flat_map(|r| {
            r["route_config"]["virtual_hosts"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .flat_map(|vh| vh["domains"].as_array().cloned().unwrap_or_default())
        .filter_map(|d| d.as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        domains,
        gw.acked_domains(),
        "Envoy's route table is the ACKed one: {routes}"
    );
    let status = gw.plane.tracker.node(gw.node()).expect("node");
    for kind in ResourceType::ALL {
        let acked: BTreeMap<&String, &str> = status.types[kind]
            .acked
            .iter()
            .map(|(n, r)| (n, r.version()))
            .collect();
        let current: BTreeMap<&String, &str> = snapshot
            .resources(kind)
            .iter()
            .map(|(n, r)| (n, r.version()))
            .collect();
        assert_eq!(acked, current, "{kind}: ACKed equals the last snapshot");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_of_200_ingresses_never_404s_once_programmed_sotw() {
    churn(false, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_of_200_annotated_ingresses_never_404s_once_programmed_sotw() {
    churn(false, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_of_200_ingresses_never_404s_once_programmed_delta() {
    churn(true, false).await;
}

#[test]
fn annotated_churn_ingresses_carry_every_annotation() {
    use interlock::sources::file::parse_manifests;
    use interlock::translate::{translate, TranslateConfig};
    use interlock::world::World;
    let mut world = World::new();
    for object in parse_manifests(&ingress(0, 1, true)).expect("valid YAML") {
        world.upsert(object);
    }
    let t = translate(&world, &TranslateConfig::default());
    let annotation_problems: Vec<_> = t
        .diagnostics
        .iter()
        .filter(|d| d.message.contains("annotation"))
        .collect();
    assert!(annotation_problems.is_empty(), "{annotation_problems:#?}");
    let route = t
        .routes
        .iter()
        .flat_map(|r| &r.virtual_hosts)
        .find(|v| v.name == host(0))
        .and_then(|v| v.routes.first())
        .expect("a route for the host");
    let mut filters: Vec<&str> = route
        .typed_per_filter_config
        .keys()
        .map(String::as_str)
        .collect();
    filters.sort_unstable();
    assert_eq!(
        filters,
        [
            "envoy.filters.http.buffer",
            "envoy.filters.http.cors",
            "envoy.filters.http.local_ratelimit"
        ]
    );
}

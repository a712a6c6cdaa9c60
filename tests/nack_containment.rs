//! Invariant 6 against a real Envoy 1.40: config Envoy rejects is contained.
//! One rejected Ingress never blocks the others, a rejected edit keeps the
//! previous routes, several bad objects in a batch are isolated by bisection,
//! and rejections of listeners and secrets are contained the same way.
//!
//! Interlock validates regexes with RE2 under Envoy's default program-size
//! limit (100), so nothing it generates is rejected by a default Envoy. These
//! tests run a stricter Envoy instead (RE2 program size limit 10 through its
//! runtime), the situation of a fleet whose Envoys disagree: a regex path
//! Interlock accepts is rejected by that Envoy, for real. Envoy runs with
//! `--concurrency 1`, so "ACKed ⇒ served" is exact for the prober.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use interlock::pipeline::containment::QuarantinedObject;
use interlock::snapshot::ResourceType;
use support::gateway::{
    acked_domains_of, ingress_yaml, service_yaml, simple_ingress, tls_ingress_with_secret,
    weak_rsa_pem, FileGateway, GatewayOptions, PathSpec,
};
use support::prober::Prober;
use support::{get, wait_for, Upstream};

/// RE2 program size this test Envoy allows (Envoy's default is 100).
const STRICT_PROGRAM_SIZE: u32 = 10;

/// A regex path within Envoy's default limit but over the strict one.
const REJECTED_REGEX: &str = "/bad/(alpha|beta|gamma)/[0-9]+";

/// How long containment may take in these tests (generous: CI is loaded).
const CONTAIN: Duration = Duration::from_secs(60);

macro_rules! both_modes {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sotw() { super::$name(false).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn delta() { super::$name(true).await }
        }
    )*};
}

both_modes!(
    one_rejected_ingress_in_a_batch_never_blocks_the_rest,
    a_rejected_edit_keeps_the_previous_routes,
    two_rejected_ingresses_among_64_are_both_isolated_by_bisection,
    a_rejected_secret_is_contained,
    a_rejected_listener_is_contained,
);

/// A gateway whose Envoy rejects regexes over [`STRICT_PROGRAM_SIZE`], serving
/// Service `app/web` (answering `web`).
async fn strict_gateway(delta: bool, up: &Upstream) -> FileGateway {
    let options = GatewayOptions {
        max_regex_program_size: Some(STRICT_PROGRAM_SIZE),
        ..GatewayOptions::new(delta)
    };
    let files = [
        ("svc.yaml", service_yaml("app", "web", Some(up.addr))),
        (
            "seed.yaml",
            simple_ingress("app", "seed", "seed.test", "web"),
        ),
    ];
    let gw = FileGateway::start_opts(&files, options).await;
    gw.wait_host("seed.test").await;
    gw
}

/// An Ingress for `host` whose second path is a regex the strict Envoy rejects.
fn rejected_ingress(name: &str, host: &str) -> String {
    ingress_yaml(
        "app",
        name,
        host,
        &[
            PathSpec {
                path: "/",
                path_type: "Prefix",
                service: "web",
            },
            PathSpec {
                path: REJECTED_REGEX,
                path_type: "ImplementationSpecific",
                service: "web",
            },
        ],
    )
}

/// Probes every host the Envoy has ACKed: each must answer 200 from `web`.
fn probe_acked(gw: &FileGateway) -> Prober {
    let tracker = gw.plane.tracker.clone();
    let node = gw.node().to_owned();
    Prober::start(
        gw.http(),
        move || {
            acked_domains_of(&tracker, &node)
                .into_iter()
                .filter(|host| host.ends_with(".test"))
                .map(|host| (host, "web".to_owned()))
                .collect()
        },
        |_, _| false,
    )
}

fn quarantined(gw: &FileGateway) -> Vec<QuarantinedObject> {
    gw.status.get().quarantined.to_vec()
}

async fn wait_quarantined(gw: &FileGateway, what: &str, names: &[&str]) {
    wait_for(CONTAIN, what, || async {
        let held: BTreeSet<String> = quarantined(gw)
            .iter()
            .map(|q| q.object.key.to_string())
            .collect();
        names.iter().all(|n| held.contains(*n)) && !gw.status.get().searching
    })
    .await;
}

async fn wait_hosts(gw: &FileGateway, hosts: &[String]) {
    wait_for(CONTAIN, "every good host to be ACKed", || async {
        let acked = gw.acked_domains();
        hosts.iter().all(|h| acked.contains(h))
    })
    .await;
}

async fn one_rejected_ingress_in_a_batch_never_blocks_the_rest(delta: bool) {
    let up = Upstream::start("web").await;
    let gw = strict_gateway(delta, &up).await;
    let prober = probe_acked(&gw);
    let host = |i: usize| format!("h{i:03}.test");
    for i in 0..100 {
        let yaml = if i == 50 {
            rejected_ingress(&format!("i{i:03}"), &host(i))
        } else {
            simple_ingress("app", &format!("i{i:03}"), &host(i), "web")
        };
        gw.write(&format!("i{i:03}.yaml"), &yaml);
    }
    let good: Vec<String> = (0..100).filter(|i| *i != 50).map(host).collect();
    wait_hosts(&gw, &good).await;
    wait_quarantined(&gw, "the bad Ingress to be quarantined", &["app/i050"]).await;
    let q = quarantined(&gw);
    assert_eq!(q.len(), 1, "only the bad Ingress is quarantined: {q:?}");
    assert_eq!(q[0].rejection.kind, ResourceType::Route);
    assert!(
        q[0].rejection.error.contains("program size"),
        "Envoy's error is reported: {:?}",
        q[0].rejection.error
    );
    assert!(!q[0].serves_previous, "a new Ingress is left out");
    assert!(!gw.acked_domains().contains(&host(50)));
    let diagnostics = gw.status.get().diagnostics.clone();
    assert!(
        diagnostics
            .iter()
            .any(|d| d.object.key.to_string() == "app/i050"
                && d.message.contains("rejected by Envoy")),
        "{diagnostics:?}"
    );

    // Later changes flow as usual.
    let later: Vec<String> = (100..120).map(host).collect();
    for i in 100..120 {
        gw.write(
            &format!("i{i:03}.yaml"),
            &simple_ingress("app", &format!("i{i:03}"), &host(i), "web"),
        );
    }
    wait_hosts(&gw, &later).await;

    // Fixed, it is served.
    gw.write(
        "i050.yaml",
        &simple_ingress("app", "i050", &host(50), "web"),
    );
    wait_hosts(&gw, &[host(50)]).await;
    wait_for(CONTAIN, "the quarantine to empty", || async {
        quarantined(&gw).is_empty()
    })
    .await;
    let report = prober.finish().await;
    assert!(report.requests > 0);
    assert!(
        report.violations.is_empty(),
        "{} violations, e.g. {:?}",
        report.violations.len(),
        &report.violations[..report.violations.len().min(5)]
    );
}

async fn a_rejected_edit_keeps_the_previous_routes(delta: bool) {
    let up = Upstream::start("web").await;
    let other = Upstream::start("other").await;
    let gw = strict_gateway(delta, &up).await;
    gw.write(
        "other.yaml",
        &service_yaml("app", "other", Some(other.addr)),
    );
    gw.write("e.yaml", &simple_ingress("app", "e", "e.test", "web"));
    gw.wait_host("e.test").await;
    let prober = probe_acked(&gw);

    // Edited to another backend plus a path Envoy rejects: the edit is held
    // back whole, and the Ingress keeps answering from its old backend.
    let edited = rejected_ingress("e", "e.test").replace("name: web", "name: other");
    gw.write("e.yaml", &edited);
    wait_quarantined(&gw, "the edit to be quarantined", &["app/e"]).await;
    let q = quarantined(&gw);
    assert!(q[0].serves_previous, "{q:?}");
    for _ in 0..20 {
        let r = get(gw.http(), "e.test", "/").await.expect("request");
        assert_eq!((r.status, r.body.as_str()), (200, "web"));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let report = prober.finish().await;
    assert!(report.violations.is_empty(), "{:?}", report.violations);

    // Its fix is served.
    gw.write("e.yaml", &simple_ingress("app", "e", "e.test", "other"));
    wait_for(CONTAIN, "the fix to be served", || async {
        get(gw.http(), "e.test", "/")
            .await
            .is_ok_and(|r| r.status == 200 && r.body == "other")
    })
    .await;
    assert!(quarantined(&gw).is_empty());
}

async fn two_rejected_ingresses_among_64_are_both_isolated_by_bisection(delta: bool) {
    let up = Upstream::start("web").await;
    let gw = strict_gateway(delta, &up).await;
    let host = |i: usize| format!("b{i:02}.test");
    let bad = [13, 42];
    // One file: the whole batch lands in one snapshot.
    let batch: Vec<String> = (0..64)
        .map(|i| {
            let name = format!("b{i:02}");
            if bad.contains(&i) {
                rejected_ingress(&name, &host(i))
            } else {
                simple_ingress("app", &name, &host(i), "web")
            }
        })
        .collect();
    let before = gw.status.get().publishes;
    gw.write("batch.yaml", &batch.join("---\n"));
    let good: Vec<String> = (0..64).filter(|i| !bad.contains(i)).map(host).collect();
    wait_hosts(&gw, &good).await;
    wait_quarantined(
        &gw,
        "both bad Ingresses to be quarantined",
        &["app/b13", "app/b42"],
    )
    .await;
    assert_eq!(quarantined(&gw).len(), 2, "{:?}", quarantined(&gw));
    let publishes = gw.status.get().publishes - before;
    println!("bisection: 2 rejected among 64 isolated in {publishes} publishes");
    // One for the batch, at most 2·log2(64)+2 trials, one without both.
    assert!(publishes <= 16, "{publishes} publishes");
}

async fn a_rejected_secret_is_contained(delta: bool) {
    let up = Upstream::start("web").await;
    let gw = strict_gateway(delta, &up).await;
    let prober = probe_acked(&gw);
    let (cert, key) = weak_rsa_pem();
    let bad = tls_ingress_with_secret("app", "bad", "bad.test", "web", (&cert, &key));
    gw.write("bad.yaml", &bad);
    wait_quarantined(&gw, "the Secret to be quarantined", &["app/bad-tls"]).await;
    let q = quarantined(&gw);
    assert_eq!(q.len(), 1, "{q:?}");
    assert_eq!(q[0].object.kind, interlock::world::Kind::Secret);
    assert_eq!(
        q[0].ingresses,
        vec![interlock::world::ObjectKey::new("app", "bad")]
    );
    everything_else_goes_on(&gw, prober).await;
}

async fn a_rejected_listener_is_contained(delta: bool) {
    let up = Upstream::start("web").await;
    let gw = strict_gateway(delta, &up).await;
    // Something else holds the HTTPS port (without SO_REUSEPORT): the HTTPS
    // listener a TLS Ingress brings cannot bind, and Envoy rejects it.
    let squatter = std::net::TcpListener::bind(("127.0.0.1", gw.https_port)).expect("bind");
    let prober = probe_acked(&gw);
    let (cert, key) = support::tls::certificate("tls.test");
    let tls = tls_ingress_with_secret("app", "tls", "tls.test", "web", (&cert, &key));
    gw.write("tls.yaml", &tls);
    wait_for(
        CONTAIN,
        "the listener rejection to be contained",
        || async {
            let q = quarantined(&gw);
            q.len() == 1
                && q[0].rejection.kind == ResourceType::Listener
                && !gw.status.get().searching
        },
    )
    .await;
    everything_else_goes_on(&gw, prober).await;
    drop(squatter);
}

/// A later Ingress is served, and no ACKed host ever failed.
async fn everything_else_goes_on(gw: &FileGateway, prober: Prober) {
    gw.write(
        "next.yaml",
        &simple_ingress("app", "next", "next.test", "web"),
    );
    gw.wait_host("next.test").await;
    let report = prober.finish().await;
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

/// Two replicas fed the same files, each with its own strict Envoy (one SotW,
/// one delta), contain the same rejection on their own and end at the same
/// snapshot version: translation is a function of the inputs plus the
/// quarantine, and each replica's Envoy rejects the same object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_end_with_identical_versions_quarantine_included() {
    let up = Upstream::start("web").await;
    let listeners = (support::free_port(), support::free_port());
    let options = |delta| GatewayOptions {
        listeners: Some(listeners),
        max_regex_program_size: Some(STRICT_PROGRAM_SIZE),
        ..GatewayOptions::new(delta)
    };
    let files = [("svc.yaml", service_yaml("app", "web", Some(up.addr)))];
    let a = FileGateway::start_opts(&files, options(false)).await;
    let b = FileGateway::start_opts(&files, options(true)).await;
    let host = |i: usize| format!("r{i:02}.test");
    for i in 0..30 {
        let name = format!("r{i:02}");
        let yaml = if i == 7 {
            rejected_ingress(&name, &host(i))
        } else {
            simple_ingress("app", &name, &host(i), "web")
        };
        for gw in [&a, &b] {
            gw.write(&format!("{name}.yaml"), &yaml);
        }
    }
    let good: Vec<String> = (0..30).filter(|i| *i != 7).map(host).collect();
    for gw in [&a, &b] {
        wait_hosts(gw, &good).await;
        wait_quarantined(gw, "the bad Ingress to be quarantined", &["app/r07"]).await;
    }
    let version = |gw: &FileGateway| gw.plane.store.current().map(|s| s.version().to_owned());
    wait_for(
        CONTAIN,
        "both replicas to publish the same version",
        || async { version(&a).is_some() && version(&a) == version(&b) },
    )
    .await;
    assert_eq!(quarantined(&a).len(), 1);
    assert_eq!(quarantined(&b).len(), 1);
}

/// Envoys that disagree: a strict one and a default one on the same
/// Interlock. What the strict one rejects is quarantined for both (the config
/// stays one config), and everything else reaches both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_any_envoy_rejects_is_quarantined_for_all() {
    let up = Upstream::start("web").await;
    let gw = strict_gateway(false, &up).await;
    let lenient = support::Envoy::start(support::EnvoyOptions::new(gw.plane.port, true)).await;
    let lenient_node = lenient.options().node_id.clone();
    let host = |i: usize| format!("d{i:02}.test");
    for i in 0..20 {
        let name = format!("d{i:02}");
        let yaml = if i == 3 {
            rejected_ingress(&name, &host(i))
        } else {
            simple_ingress("app", &name, &host(i), "web")
        };
        gw.write(&format!("{name}.yaml"), &yaml);
    }
    let good: Vec<String> = (0..20).filter(|i| *i != 3).map(host).collect();
    wait_hosts(&gw, &good).await;
    wait_quarantined(
        &gw,
        "the Ingress one Envoy rejects to be quarantined",
        &["app/d03"],
    )
    .await;
    wait_for(
        CONTAIN,
        "the lenient Envoy to hold the same config",
        || async {
            let acked = acked_domains_of(&gw.plane.tracker, &lenient_node);
            good.iter().all(|h| acked.contains(h)) && !acked.contains(&host(3))
        },
    )
    .await;
    let q = quarantined(&gw);
    assert_eq!(q.len(), 1, "{q:?}");
    assert_eq!(q[0].rejection.node, gw.node());
}

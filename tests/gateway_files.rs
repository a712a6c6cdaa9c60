//! Interlock on a directory of YAML with a real Envoy in front: the Ingress
//! semantics of DESIGN.md as a client sees them, HTTPS with SNI, bad input next to
//! good Ingresses, and a half-written file that must not drop its routes.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use support::gateway::{
    ingress_yaml, service_yaml, simple_ingress, tls_secret_yaml, FileGateway, PathSpec,
};
use support::tls::{certificate, https_get};
use support::{get, wait_for, Upstream};

const CONVERGE: Duration = Duration::from_secs(30);

/// Upstreams named after the services they back.
async fn upstreams(names: &[&str]) -> Vec<Upstream> {
    let mut all = Vec::new();
    for name in names {
        all.push(Upstream::start(name).await);
    }
    all
}

fn services(ns: &str, ups: &[Upstream]) -> String {
    ups.iter()
        .map(|u| service_yaml(ns, &u.name, Some(u.addr)))
        .collect::<Vec<_>>()
        .join("---\n")
}

/// Status and body of a GET through the gateway.
async fn answer(addr: SocketAddr, host: &str, path: &str) -> (u16, String) {
    let r = get(addr, host, path)
        .await
        .unwrap_or_else(|e| panic!("GET {host}{path}: {e}"));
    (r.status, r.body)
}

async fn expect(gw: &FileGateway, host: &str, path: &str, status: u16, body: &str) {
    let got = answer(gw.http(), host, path).await;
    assert_eq!(
        got,
        (status, body.to_owned()),
        "GET {host}{path}\n{}",
        gw.envoy.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingress_semantics_hold_through_envoy() {
    let ups = upstreams(&[
        "exact", "prefix", "deeper", "slash", "wild", "fallback", "hostless",
    ])
    .await;
    let routing = [
        ingress_yaml(
            "app",
            "paths",
            "paths.test",
            &[
                PathSpec { path: "/foo", path_type: "Exact", service: "exact" },
                PathSpec { path: "/foo", path_type: "Prefix", service: "prefix" },
                PathSpec { path: "/foo/bar", path_type: "Prefix", service: "deeper" },
                PathSpec { path: "/slash/", path_type: "Prefix", service: "slash" },
            ],
        ),
        simple_ingress("app", "wildcard", "*.wild.test", "wild"),
        ingress_yaml(
            "app",
            "hostless",
            "",
            &[PathSpec { path: "/everywhere", path_type: "Prefix", service: "hostless" }],
        ),
        // Another class's Ingress: Interlock must not serve it.
        simple_ingress("app", "foreign", "foreign.test", "exact").replace(
            "ingressClassName: interlock",
            "ingressClassName: someone-else",
        ),
        // Only a defaultBackend: the catch-all for every host and path.
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: default, namespace: app}\n\
         spec:\n  ingressClassName: interlock\n  defaultBackend: {service: {name: fallback, port: {name: http}}}\n"
            .to_owned(),
    ]
    .join("---\n");
    let gw = FileGateway::start(
        false,
        &[
            ("services.yaml", services("app", &ups)),
            ("routing.yaml", routing),
        ],
    )
    .await;
    gw.wait_host("paths.test").await;

    // Exact vs Prefix: a tie on /foo goes to Exact; /foo/ is not Exact's.
    expect(&gw, "paths.test", "/foo", 200, "exact").await;
    expect(&gw, "paths.test", "/foo/", 200, "prefix").await;
    expect(&gw, "paths.test", "/foo/baz", 200, "prefix").await;
    // Longest path first.
    expect(&gw, "paths.test", "/foo/bar/x", 200, "deeper").await;
    // Element-wise: /foobar is not under /foo.
    expect(&gw, "paths.test", "/foobar", 200, "fallback").await;
    // A trailing slash on the rule is ignored.
    expect(&gw, "paths.test", "/slash", 200, "slash").await;
    expect(&gw, "paths.test", "/slash/x", 200, "slash").await;
    // Host header with a port still matches.
    expect(
        &gw,
        &format!("paths.test:{}", gw.http_port),
        "/foo",
        200,
        "exact",
    )
    .await;
    // Host-less rules apply to every host.
    expect(&gw, "paths.test", "/everywhere", 200, "hostless").await;
    expect(&gw, "anything.test", "/everywhere", 200, "hostless").await;
    // One-label wildcard.
    expect(&gw, "bar.wild.test", "/", 200, "wild").await;
    expect(&gw, "baz.bar.wild.test", "/", 200, "fallback").await;
    expect(&gw, "wild.test", "/", 200, "fallback").await;
    expect(&gw, "baz.bar.wild.test", "/everywhere", 200, "hostless").await;
    // defaultBackend for unmatched hosts; a foreign class gets nothing.
    expect(&gw, "nobody.test", "/", 200, "fallback").await;
    expect(&gw, "foreign.test", "/", 200, "fallback").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_reported_and_good_ingresses_keep_answering() {
    let ups = upstreams(&["good", "other"]).await;
    let bad = [
        // resource backend
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: resource, namespace: app}\n\
         spec:\n  ingressClassName: interlock\n  rules:\n  - host: resource.test\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n\
         \x20       backend: {resource: {apiGroup: k8s.example.com, kind: StorageBucket, name: assets}}\n"
            .to_owned(),
        // a rule without http, and an empty spec
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: nohttp, namespace: app}\n\
         spec:\n  ingressClassName: interlock\n  rules:\n  - host: nohttp.test\n"
            .to_owned(),
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: empty, namespace: app}\n\
         spec: {ingressClassName: interlock}\n"
            .to_owned(),
        // a Service that does not exist, a port name the Service lacks, no endpoints
        simple_ingress("app", "missing-svc", "missing.test", "nope"),
        simple_ingress("app", "bad-port", "badport.test", "good").replace("name: http}", "name: grpc}"),
        service_yaml("app", "empty", None),
        simple_ingress("app", "no-endpoints", "noendpoints.test", "empty"),
        // a conflicting identical host+path: the older (here: by name) wins
        simple_ingress("app", "z-late", "good.test", "other"),
        // an invalid regex, an IP host, an invalid host
        ingress_yaml(
            "app",
            "regex",
            "regex.test",
            &[
                PathSpec { path: "/ok", path_type: "Prefix", service: "good" },
                PathSpec { path: "/(unclosed", path_type: "ImplementationSpecific", service: "good" },
            ],
        ),
        simple_ingress("app", "ip-host", "10.0.0.1", "good"),
        simple_ingress("app", "bad-host", "-bad-.test", "good"),
    ]
    .join("---\n");
    let good = simple_ingress("app", "a-good", "good.test", "good");
    let gw = FileGateway::start(
        true,
        &[
            ("services.yaml", services("app", &ups)),
            ("good.yaml", good),
            ("bad.yaml", bad),
        ],
    )
    .await;
    gw.wait_host("good.test").await;

    expect(&gw, "good.test", "/", 200, "good").await;
    expect(&gw, "regex.test", "/ok", 200, "good").await;
    for host in ["missing.test", "badport.test", "noendpoints.test"] {
        let (status, _) = answer(gw.http(), host, "/").await;
        assert_eq!(status, 503, "{host} keeps its route and answers 503");
    }
    for host in ["resource.test", "nohttp.test", "10.0.0.1"] {
        let (status, _) = answer(gw.http(), host, "/").await;
        assert_eq!(status, 404, "{host} has nothing servable");
    }

    let status = gw.status.get();
    let diagnostics: Vec<String> = status.diagnostics.iter().map(ToString::to_string).collect();
    let text = diagnostics.join("\n");
    for (object, hint) in [
        ("app/resource", "resource"),
        ("app/missing-svc", "nope"),
        ("app/bad-port", "grpc"),
        ("app/z-late", "app/a-good"),
        ("app/regex", "unclosed"),
        ("app/ip-host", "10.0.0.1"),
        ("app/bad-host", "-bad-"),
    ] {
        assert!(
            diagnostics
                .iter()
                .any(|d| d.contains(object) && d.contains(hint)),
            "no diagnostic for {object} mentioning {hint:?} in:\n{text}\nfile errors: {:?}",
            gw.files.errors()
        );
    }
    assert!(status.last_error.is_none(), "{:?}", status.last_error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_written_file_keeps_its_routes() {
    let ups = upstreams(&["kept"]).await;
    let ingress = simple_ingress("app", "kept", "kept.test", "kept");
    let gw = FileGateway::start(
        false,
        &[
            ("services.yaml", services("app", &ups)),
            ("ingress.yaml", ingress.clone()),
        ],
    )
    .await;
    gw.wait_host("kept.test").await;
    expect(&gw, "kept.test", "/", 200, "kept").await;

    // An editor's save caught half-way: the file holds a truncated document
    // (cut inside `metadata: {name: kept, ...}`, so it does not parse).
    let cut = ingress.find("kept, namespace").expect("metadata") + 2;
    std::fs::write(gw.path("ingress.yaml"), &ingress[..cut]).expect("write");
    wait_for(CONVERGE, "the parse error to be reported", || async {
        !gw.files.errors().is_empty()
    })
    .await;
    let refreshed = gw.status.get().publishes;
    tokio::time::sleep(Duration::from_millis(500)).await;
    expect(&gw, "kept.test", "/", 200, "kept").await;
    assert!(gw.acked_domains().contains("kept.test"));
    assert_eq!(
        gw.status.get().publishes,
        refreshed,
        "nothing changed, nothing published"
    );

    // Deleting the file does remove its routes.
    gw.remove("ingress.yaml");
    wait_for(CONVERGE, "kept.test to be removed", || async {
        !gw.acked_domains().contains("kept.test")
    })
    .await;
    let (status, _) = answer(gw.http(), "kept.test", "/").await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_is_served_by_sni_and_a_bad_secret_only_loses_its_own_https() {
    let ups = upstreams(&["secure", "broken"]).await;
    let (cert, key) = certificate("secure.test");
    let mut tls = simple_ingress("app", "secure", "secure.test", "secure");
    tls += "  tls:\n  - hosts: [secure.test]\n    secretName: secure-tls\n";
    let mut garbled = simple_ingress("app", "broken", "broken.test", "broken");
    garbled += "  tls:\n  - hosts: [broken.test]\n    secretName: broken-tls\n";
    let secrets = [
        tls_secret_yaml("app", "secure-tls", &cert, &key),
        tls_secret_yaml(
            "app",
            "broken-tls",
            "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
            &key,
        ),
    ]
    .join("---\n");
    let gw = FileGateway::start(
        true,
        &[
            ("services.yaml", services("app", &ups)),
            ("secrets.yaml", secrets),
            ("ingress.yaml", [tls, garbled].join("---\n")),
        ],
    )
    .await;
    gw.wait_host("secure.test").await;
    let port = gw.https_port;
    let mut last = Err(String::new());
    for _ in 0..200 {
        last = https_get(port, "secure.test");
        if last.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(last, Ok((200, "secure".to_owned())), "{}", gw.envoy.log());
    assert!(
        https_get(port, "broken.test").is_err(),
        "no certificate, no TLS for broken.test"
    );
    // HTTP is unaffected for both.
    expect(&gw, "secure.test", "/", 200, "secure").await;
    expect(&gw, "broken.test", "/", 200, "broken").await;
    let diagnostics: Vec<String> = gw
        .status
        .get()
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        diagnostics.iter().any(|d| d.contains("broken-tls")),
        "the garbled secret is reported: {diagnostics:?}"
    );
    assert!(
        !diagnostics.iter().any(|d| d.contains("BEGIN")),
        "secret content never leaks"
    );
}

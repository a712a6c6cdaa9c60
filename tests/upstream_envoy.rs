//! The ingress-nginx annotations that change the cluster (`backend-protocol`,
//! `affinity`, `service-upstream`, `load-balance`, `proxy-connect-timeout`,
//! `proxy-ssl-*`): what the translation gives (cluster variants of one
//! Service port, their assignments and the route's hash policy), and end to
//! end through a real Envoy 1.40 (static bootstrap, `--concurrency 1`, see
//! `translate_support.rs`) in front of in-test upstreams: a gRPC call over
//! h2c, a verified HTTPS backend, cookie affinity sticking to one of two pods,
//! and `service-upstream` reaching the cluster IP. A missing Envoy is
//! installed, never skipped; nothing asserts on timing.

#[path = "translate_support.rs"]
mod support;

#[path = "upstream_envoy/fixtures.rs"]
mod fixtures;
#[path = "upstream_envoy/servers.rs"]
mod servers;
#[path = "upstream_envoy/translation.rs"]
mod translation;

use std::time::Duration;

use serde_json::json;

use fixtures::*;
use servers::*;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grpc_backend_works_over_h2c_only_with_backend_protocol_grpc() {
    let upstream = grpc_upstream().await;
    let mut objects = vec![
        annotated(
            "grpc",
            "grpc.test",
            "greeter",
            80,
            &[("backend-protocol", "GRPC")],
        ),
        annotated("plain", "plain.test", "greeter", 80, &[]),
    ];
    objects.extend(backed("greeter", &[upstream]));
    let (gw, _t) = tokio::task::spawn_blocking(move || Gateway::start(objects))
        .await
        .expect("gateway");
    let (status, message) = grpc_call(gw.port, "grpc.test", b"ping").await;
    assert_eq!(
        (status.as_deref(), message.as_slice()),
        (Some("0"), b"pong:ping".as_slice()),
        "{}",
        gw.log()
    );
    // The same Service without the annotation: Envoy speaks HTTP/1.1 to an
    // h2c-only server, and the call fails.
    let (status, message) = grpc_call(gw.port, "plain.test", b"ping").await;
    assert_ne!(status.as_deref(), Some("0"), "{message:?}");
    assert!(message.is_empty() || message != b"pong:ping", "{message:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_backends_verify_with_the_proxy_ssl_secret_and_send_its_name_as_sni() {
    let now = std::time::SystemTime::now();
    let (from, to) = (
        now - Duration::from_secs(3600),
        now + Duration::from_secs(86400),
    );
    let ca = interlock::certs::Issuer::new_ca(from, to).expect("CA");
    let other_ca = interlock::certs::Issuer::new_ca(from, to).expect("other CA");
    let server = ca
        .issue_server(&["backend.internal".to_owned()], &[], from, to)
        .expect("server certificate");
    let upstream = tls_upstream(&server.cert_pem, &server.key_pem).await;
    let verified = |name: &str, secret: &str, ssl_name: &str| {
        annotated(
            name,
            &format!("{name}.test"),
            "secure",
            80,
            &[
                ("backend-protocol", "HTTPS"),
                ("proxy-ssl-secret", secret),
                ("proxy-ssl-verify", "on"),
                ("proxy-ssl-name", ssl_name),
                ("proxy-ssl-server-name", "on"),
            ],
        )
    };
    let mut objects = vec![
        secret(NS, "good-ca", "Opaque", &[("ca.crt", ca.cert_pem())]),
        secret(NS, "other-ca", "Opaque", &[("ca.crt", other_ca.cert_pem())]),
        verified("verified", "good-ca", "backend.internal"),
        verified("wrong-ca", "other-ca", "backend.internal"),
        verified("wrong-name", "good-ca", "elsewhere.internal"),
        annotated(
            "unverified",
            "unverified.test",
            "secure",
            80,
            &[("backend-protocol", "HTTPS")],
        ),
        annotated("plain", "plain.test", "secure", 80, &[]),
    ];
    objects.extend(backed("secure", &[upstream]));
    let (gw, _t) = tokio::task::spawn_blocking(move || Gateway::start(objects))
        .await
        .expect("gateway");
    let port = gw.port;
    let ask = |host: &'static str| {
        tokio::task::spawn_blocking(move || {
            let (head, body) = get(port, host, &[]);
            let status = head.split(' ').nth(1).unwrap_or_default().to_owned();
            (status, body)
        })
    };
    let (status, body) = ask("verified.test").await.expect("request");
    assert_eq!(status, "200", "{body}\n{}", gw.log());
    assert!(body.contains("upstream=tls sni=backend.internal"), "{body}");
    // Without proxy-ssl-secret: TLS, no SNI, no verification (nginx's defaults).
    let (status, body) = ask("unverified.test").await.expect("request");
    assert_eq!(status, "200", "{body}");
    assert!(body.contains("upstream=tls sni=none"), "{body}");
    // A CA that did not sign it, or a name it does not carry: refused.
    for host in ["wrong-ca.test", "wrong-name.test"] {
        let (status, body) = ask(host).await.expect("request");
        assert_eq!(status, "503", "{host}: {body}");
    }
    // Plain HTTP to a TLS port never reaches the handler.
    let (_, body) = ask("plain.test").await.expect("request");
    assert!(!body.contains("upstream=tls"), "{body}");
}

#[test]
fn cookie_affinity_sets_a_cookie_and_sticks_to_one_pod() {
    let one = echo("one");
    let two = echo("two");
    let mut objects = vec![
        annotated(
            "sticky",
            "sticky.test",
            "pods",
            80,
            &[("affinity", "cookie")],
        ),
        annotated("spread", "spread.test", "pods", 80, &[]),
    ];
    objects.extend(backed("pods", &[one, two]));
    let (gw, _) = Gateway::start(objects);
    let which = |body: &str| {
        body.lines()
            .find_map(|l| l.strip_prefix("upstream="))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("not from an upstream: {body:?}\n{}", gw.log()))
    };
    // Each request without the cookie (a new connection each) gets a cookie
    // of its own, and both pods are reached.
    let mut seen = std::collections::BTreeSet::new();
    let mut cookie = None;
    for _ in 0..40 {
        let (head, body) = get(gw.port, "sticky.test", &[]);
        let set = header(&head, "set-cookie")
            .unwrap_or_else(|| panic!("no cookie set: {head}"))
            .to_owned();
        assert!(set.starts_with("INGRESSCOOKIE="), "{set}");
        assert!(set.contains("Path=/") && set.contains("HttpOnly"), "{set}");
        assert!(
            !set.contains("Max-Age"),
            "a session cookie by default: {set}"
        );
        seen.insert(which(&body));
        cookie.get_or_insert_with(|| set.split(';').next().unwrap_or_default().trim().to_owned());
    }
    assert_eq!(
        seen.len(),
        2,
        "both pods are reached without a cookie: {seen:?}"
    );
    // With the cookie, every request reaches the same pod, and no new cookie is set.
    let cookie = cookie.unwrap_or_default();
    let mut stuck = std::collections::BTreeSet::new();
    for _ in 0..30 {
        let (head, body) = get(gw.port, "sticky.test", &[&format!("Cookie: {cookie}")]);
        assert_eq!(header(&head, "set-cookie"), None, "{head}");
        stuck.insert(which(&body));
    }
    assert_eq!(stuck.len(), 1, "one pod for one cookie: {stuck:?}");
    // Without affinity the same Service sets no cookie.
    let (head, _) = get(gw.port, "spread.test", &[]);
    assert_eq!(header(&head, "set-cookie"), None, "{head}");
}

#[test]
fn service_upstream_reaches_the_cluster_ip_instead_of_the_pods() {
    let pod = echo("pod");
    let cluster_ip = echo("cluster-ip");
    let objects = vec![
        service_raw(json!({"metadata": {"namespace": NS, "name": "web"},
                           "spec": {"clusterIP": "127.0.0.1",
                                    "ports": [{"port": i32::from(cluster_ip)}]}})),
        slice(
            NS,
            "web",
            "a",
            None,
            i32::from(pod),
            &[("127.0.0.1", Some(true))],
        ),
        annotated(
            "su",
            "su.test",
            "web",
            i32::from(cluster_ip),
            &[("service-upstream", "true")],
        ),
        annotated("eps", "eps.test", "web", i32::from(cluster_ip), &[]),
    ];
    let (gw, _) = Gateway::start(objects);
    let (_, body) = get(gw.port, "su.test", &[]);
    assert!(body.contains("upstream=cluster-ip"), "{body}\n{}", gw.log());
    let (_, body) = get(gw.port, "eps.test", &[]);
    assert!(body.contains("upstream=pod"), "{body}\n{}", gw.log());
}

//! ingress-nginx annotations end to end: the translation of annotated
//! Ingresses runs in a real Envoy 1.40 (as a static bootstrap, see
//! `static_bootstrap` in `translate_support.rs`) in front of echo upstreams
//! that answer with what they received, one test per annotation group.
//! Envoy runs with `--concurrency 1`; a missing Envoy is installed (via
//! `envoy_binary`), never skipped. No test asserts on timing: the slow
//! upstream sleeps far longer than the annotated timeout.

#[path = "translate_support.rs"]
mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use interlock::translate::{translate, TranslateConfig, Translation};
use interlock::world::Object;
use serde_json::{json, Value};
use support::*;

const NS: &str = "default";
const PREFIX: &str = "nginx.ingress.kubernetes.io";

// === fixtures ===

/// An HTTP/1.1 upstream on 127.0.0.1 answering 200 with `upstream=<name>`,
/// the request line and the request headers, one per line. A path containing
/// `/slow` is answered only after 30 s.
struct Echo {
    port: u16,
}

impl Echo {
    fn start(name: &'static str) -> Echo {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind echo");
        let port = listener.local_addr().expect("echo addr").port();
        thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                thread::spawn(move || echo(conn, name));
            }
        });
        Echo { port }
    }
}

fn echo(mut conn: TcpStream, name: &str) {
    let Some((head, _body)) = read_message(&mut conn) else {
        return;
    };
    if head.lines().next().is_some_and(|l| l.contains("/slow")) {
        thread::sleep(Duration::from_secs(30));
    }
    let body = format!("upstream={name}\n{head}\n");
    let _ = write!(
        conn,
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// Reads one HTTP/1.1 message with a `content-length` body (or none): head
/// and body.
fn read_message(s: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).into_owned();
            let length = head
                .lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if raw.len() >= end + 4 + length {
                return Some((head, raw[end + 4..end + 4 + length].to_vec()));
            }
        }
        let n = s.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
    }
}

/// A response: status, head (lower-cased header names), body.
#[derive(Debug)]
struct Reply {
    status: u16,
    head: String,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }
}

/// Sends `method path` to `port` with `Host: host`, extra header lines and a body.
fn send(port: u16, method: &str, host: &str, path: &str, headers: &[&str], body: &[u8]) -> Reply {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to Envoy");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for h in headers {
        request.push_str(h);
        request.push_str("\r\n");
    }
    if !body.is_empty() {
        request.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    s.write_all(request.as_bytes()).expect("write request");
    // A refused body may be answered before it is all sent.
    let _ = s.write_all(body);
    let (head, body) = read_message(&mut s).expect("a response");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    Reply {
        status,
        head,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn get(port: u16, host: &str, path: &str, headers: &[&str]) -> Reply {
    send(port, "GET", host, path, headers, b"")
}

/// An Ingress `name` for `host` sending `path` (`path_type`) to `svc`:80.
fn annotated(
    name: &str,
    age: u32,
    host: &str,
    path_type: &str,
    path_value: &str,
    svc: &str,
    annotations: &[(&str, &str)],
) -> Object {
    let annotations: serde_json::Map<String, Value> = annotations
        .iter()
        .map(|(k, v)| (format!("{PREFIX}/{k}"), json!(v)))
        .collect();
    ingress_raw(
        json!({"namespace": NS, "name": name, "creationTimestamp": timestamp(age),
               "annotations": annotations}),
        json!({"ingressClassName": "interlock",
               "rules": [rule(Some(host), vec![path(path_type, path_value, backend(svc, 80))])]}),
    )
}

/// The Service `name` (port 80) with one ready endpoint, `upstream`.
fn backed(name: &str, upstream: &Echo) -> [Object; 2] {
    let port = i32::from(upstream.port);
    [
        service(NS, name, &[(None, 80)]),
        slice(NS, name, "a", None, port, &[("127.0.0.1", Some(true))]),
    ]
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A running Envoy serving a translation, killed on drop.
struct Gateway {
    port: u16,
    envoy: StaticGateway,
}

impl Gateway {
    /// Translates `objects` and starts Envoy on it; every translation
    /// diagnostic is returned too.
    fn start(objects: Vec<Object>) -> (Gateway, Translation) {
        let port = free_port();
        let config = TranslateConfig {
            listen_address: "127.0.0.1".into(),
            http_port: port,
            https_port: free_port(),
            ..TranslateConfig::default()
        };
        let t = translate(&world(objects), &config);
        let envoy = StaticGateway::start(&t, port);
        (Gateway { port, envoy }, t)
    }

    fn log(&self) -> String {
        self.envoy.log()
    }
}

// === tests ===

#[test]
fn rewrite_target_with_capture_groups_reaches_the_upstream_rewritten() {
    let up = Echo::start("web");
    let mut objects = vec![
        annotated(
            "rewrite",
            0,
            "rw.test",
            "ImplementationSpecific",
            "/something(/|$)(.*)",
            "web",
            &[
                ("rewrite-target", "/$2"),
                ("x-forwarded-prefix", "/something"),
            ],
        ),
        annotated(
            "vhost",
            0,
            "vh.test",
            "Prefix",
            "/",
            "web",
            &[("upstream-vhost", "internal.test")],
        ),
        annotated(
            "root",
            0,
            "root.test",
            "Prefix",
            "/",
            "web",
            &[("app-root", "/app")],
        ),
    ];
    objects.extend(backed("web", &up));
    let (gw, _) = Gateway::start(objects);
    let r = get(gw.port, "rw.test", "/something/new/x?q=1", &[]);
    assert_eq!(r.status, 200, "{r:?}\n{}", gw.log());
    assert!(r.body.contains("GET /new/x?q=1 HTTP/1.1"), "{}", r.body);
    assert!(
        r.body.contains("x-forwarded-prefix: /something"),
        "{}",
        r.body
    );
    let bare = get(gw.port, "rw.test", "/SOMETHING", &[]);
    assert!(
        bare.body.contains("GET / HTTP/1.1"),
        "nginx regexes ignore case: {}",
        bare.body
    );
    let vh = get(gw.port, "vh.test", "/", &[]);
    assert!(vh.body.contains("host: internal.test"), "{}", vh.body);
    let root = get(gw.port, "root.test", "/", &[]);
    assert_eq!(
        (root.status, root.header("location")),
        (302, Some("http://root.test/app"))
    );
    assert_eq!(get(gw.port, "root.test", "/other", &[]).status, 200);
}

#[test]
fn redirects_answer_with_their_codes() {
    let up = Echo::start("web");
    let mut objects = vec![
        annotated(
            "ssl",
            0,
            "ssl.test",
            "Prefix",
            "/",
            "web",
            &[("force-ssl-redirect", "true")],
        ),
        annotated(
            "moved",
            0,
            "moved.test",
            "Prefix",
            "/",
            "web",
            &[("permanent-redirect", "https://new.test/landing")],
        ),
        annotated(
            "www",
            0,
            "www.w.test",
            "Prefix",
            "/",
            "web",
            &[("from-to-www-redirect", "true")],
        ),
    ];
    objects.extend(backed("web", &up));
    let (gw, _) = Gateway::start(objects);
    let ssl = get(gw.port, "ssl.test", "/a?b=1", &[]);
    assert_eq!(ssl.status, 308, "{ssl:?}");
    assert_eq!(ssl.header("location"), Some("https://ssl.test/a?b=1"));
    let moved = get(gw.port, "moved.test", "/old?x=1", &[]);
    assert_eq!(
        (moved.status, moved.header("location")),
        (301, Some("https://new.test/landing"))
    );
    let www = get(gw.port, "w.test", "/p", &[]);
    assert_eq!(
        (www.status, www.header("location")),
        (308, Some("http://www.w.test/p"))
    );
    assert_eq!(get(gw.port, "www.w.test", "/p", &[]).status, 200);
}

#[test]
fn canary_weight_header_and_cookie_choose_the_backend() {
    let main = Echo::start("main");
    let canary = Echo::start("canary");
    let canary_ingress = |name: &str, host: &str, annotations: &[(&str, &str)]| {
        let mut all = vec![("canary", "true")];
        all.extend_from_slice(annotations);
        annotated(name, 1, host, "Prefix", "/", "canary", &all)
    };
    let mut objects = vec![
        annotated("zero", 0, "zero.test", "Prefix", "/", "main", &[]),
        canary_ingress("zero-canary", "zero.test", &[("canary-weight", "0")]),
        annotated("all", 0, "all.test", "Prefix", "/", "main", &[]),
        canary_ingress("all-canary", "all.test", &[("canary-weight", "100")]),
        annotated("choose", 0, "choose.test", "Prefix", "/", "main", &[]),
        canary_ingress(
            "choose-canary",
            "choose.test",
            &[
                ("canary-by-header", "X-Canary"),
                ("canary-by-cookie", "beta"),
                ("canary-weight", "100"),
            ],
        ),
    ];
    objects.extend(backed("main", &main));
    objects.extend(backed("canary", &canary));
    let (gw, t) = Gateway::start(objects);
    assert!(t.diagnostics.is_empty(), "{:#?}", t.diagnostics);
    let who = |host: &str, headers: &[&str]| {
        let r = get(gw.port, host, "/", headers);
        r.body.lines().next().unwrap_or_default().to_owned()
    };
    for _ in 0..20 {
        assert_eq!(who("zero.test", &[]), "upstream=main");
        assert_eq!(who("all.test", &[]), "upstream=canary");
    }
    assert_eq!(who("choose.test", &["X-Canary: always"]), "upstream=canary");
    assert_eq!(who("choose.test", &["X-Canary: never"]), "upstream=main");
    assert_eq!(
        who("choose.test", &["Cookie: a=1; beta=never"]),
        "upstream=main"
    );
    assert_eq!(
        who("choose.test", &["Cookie: beta=always"]),
        "upstream=canary"
    );
    assert_eq!(
        who("choose.test", &["X-Canary: never", "Cookie: beta=always"]),
        "upstream=main"
    );
}

#[test]
fn body_size_timeout_and_rate_limit_refuse_what_ingress_nginx_refuses() {
    let up = Echo::start("web");
    let mut objects = vec![
        annotated(
            "body",
            0,
            "body.test",
            "Prefix",
            "/",
            "web",
            &[("proxy-body-size", "1k")],
        ),
        annotated(
            "slow",
            0,
            "slow.test",
            "Prefix",
            "/",
            "web",
            &[("proxy-read-timeout", "1")],
        ),
        annotated(
            "limited",
            0,
            "rate.test",
            "Prefix",
            "/",
            "web",
            &[("limit-rps", "1"), ("limit-burst-multiplier", "1")],
        ),
    ];
    objects.extend(backed("web", &up));
    let (gw, _) = Gateway::start(objects);
    let small = send(gw.port, "POST", "body.test", "/", &[], &[b'x'; 1000]);
    assert_eq!(small.status, 200, "{small:?}");
    let large = send(gw.port, "POST", "body.test", "/", &[], &[b'x'; 4096]);
    assert_eq!(large.status, 413, "{large:?}");
    let slow = get(gw.port, "slow.test", "/slow", &[]);
    assert_eq!(slow.status, 504, "{slow:?}");
    let statuses: Vec<u16> = (0..10)
        .map(|_| get(gw.port, "rate.test", "/", &[]).status)
        .collect();
    assert_eq!(statuses[0], 200, "{statuses:?}");
    assert!(
        statuses.contains(&503),
        "a burst beyond the bucket is refused: {statuses:?}"
    );
}

#[test]
fn cors_preflight_is_answered_by_the_gateway_and_source_ranges_answer_403() {
    let up = Echo::start("web");
    let mut objects = vec![
        annotated(
            "cors",
            0,
            "cors.test",
            "Prefix",
            "/",
            "web",
            &[
                ("enable-cors", "true"),
                ("cors-allow-origin", "https://app.test"),
            ],
        ),
        annotated(
            "allow",
            0,
            "allow.test",
            "Prefix",
            "/",
            "web",
            &[("allowlist-source-range", "10.0.0.0/8")],
        ),
        annotated(
            "deny",
            0,
            "deny.test",
            "Prefix",
            "/",
            "web",
            &[("denylist-source-range", "127.0.0.0/8")],
        ),
        annotated(
            "local",
            0,
            "local.test",
            "Prefix",
            "/",
            "web",
            &[("whitelist-source-range", "127.0.0.1/32")],
        ),
    ];
    objects.extend(backed("web", &up));
    let (gw, _) = Gateway::start(objects);
    let preflight = send(
        gw.port,
        "OPTIONS",
        "cors.test",
        "/api",
        &[
            "Origin: https://app.test",
            "Access-Control-Request-Method: PUT",
        ],
        b"",
    );
    assert_eq!(preflight.status, 200, "{preflight:?}");
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("https://app.test")
    );
    assert!(preflight
        .header("access-control-allow-methods")
        .is_some_and(|m| m.contains("PUT")));
    assert!(
        !preflight.body.contains("upstream="),
        "the upstream saw the preflight"
    );
    let simple = get(gw.port, "cors.test", "/api", &["Origin: https://app.test"]);
    assert_eq!(
        simple.header("access-control-allow-origin"),
        Some("https://app.test")
    );
    assert_eq!(
        simple.header("access-control-allow-credentials"),
        Some("true")
    );
    let foreign = get(gw.port, "cors.test", "/api", &["Origin: https://evil.test"]);
    assert_eq!(foreign.header("access-control-allow-origin"), None);
    assert_eq!(get(gw.port, "allow.test", "/", &[]).status, 403);
    assert_eq!(get(gw.port, "deny.test", "/", &[]).status, 403);
    assert_eq!(get(gw.port, "local.test", "/", &[]).status, 200);
}

#[test]
fn basic_auth_answers_401_then_200() {
    let up = Echo::start("web");
    // "password" hashed with SHA-1, as htpasswd -s writes it.
    let users = "alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\nbob:$apr1$abc$def\n";
    let mut objects = vec![
        annotated(
            "auth",
            0,
            "auth.test",
            "Prefix",
            "/",
            "web",
            &[
                ("auth-type", "basic"),
                ("auth-secret", "users"),
                ("auth-realm", "Private"),
            ],
        ),
        annotated(
            "broken",
            0,
            "broken.test",
            "Prefix",
            "/",
            "web",
            &[("auth-type", "basic"), ("auth-secret", "missing")],
        ),
        secret(NS, "users", "Opaque", &[("auth", users)]),
    ];
    objects.extend(backed("web", &up));
    let (gw, _) = Gateway::start(objects);
    assert_eq!(get(gw.port, "auth.test", "/", &[]).status, 401);
    // base64("alice:wrong"), base64("alice:password")
    assert_eq!(
        get(
            gw.port,
            "auth.test",
            "/",
            &["Authorization: Basic YWxpY2U6d3Jvbmc="]
        )
        .status,
        401
    );
    let ok = get(
        gw.port,
        "auth.test",
        "/",
        &["Authorization: Basic YWxpY2U6cGFzc3dvcmQ="],
    );
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(
        get(gw.port, "broken.test", "/", &[]).status,
        503,
        "fails closed"
    );
}

/// An auth service on 127.0.0.1 recording every check request's head: 200 with
/// `X-Auth-User: alice` (and a header not listed to be copied) when the
/// request carries `Authorization: Bearer good`, else 401 with a challenge.
/// A path starting with `/upstream-401` is always answered 401 (used as an
/// upstream, it refuses on its own); a check for an original URL containing
/// `/auth-answers-418` is answered 418.
struct AuthService {
    port: u16,
    seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl AuthService {
    fn start() -> AuthService {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind auth");
        let port = listener.local_addr().expect("auth addr").port();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = std::sync::Arc::clone(&seen);
        thread::spawn(move || {
            for mut conn in listener.incoming().flatten() {
                let record = std::sync::Arc::clone(&record);
                thread::spawn(move || {
                    while let Some((head, _)) = read_message(&mut conn) {
                        let request_line = head.lines().next().unwrap_or_default();
                        let admitted = !request_line.contains(" /upstream-401")
                            && head
                                .lines()
                                .any(|l| l.eq_ignore_ascii_case("authorization: Bearer good"));
                        let teapot = head.contains("/auth-answers-418");
                        record.lock().expect("record").push(head);
                        let answer = if teapot {
                            "HTTP/1.1 418 I'm a teapot\r\ncontent-length: 0\r\n\r\n"
                        } else if admitted {
                            "HTTP/1.1 200 OK\r\nx-auth-user: alice\r\nx-not-copied: 1\r\n\
                             content-length: 0\r\n\r\n"
                        } else {
                            "HTTP/1.1 401 Unauthorized\r\nwww-authenticate: Bearer\r\n\
                             content-length: 6\r\n\r\ndenied"
                        };
                        if conn.write_all(answer.as_bytes()).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        AuthService { port, seen }
    }

    fn requests(&self) -> Vec<String> {
        self.seen.lock().expect("seen").clone()
    }
}

fn has_line(head: &str, line: &str) -> bool {
    head.lines().any(|l| l.eq_ignore_ascii_case(line))
}

#[test]
fn auth_url_propagates_401_and_copies_response_headers_to_the_upstream() {
    let up = Echo::start("web");
    let auth = AuthService::start();
    let url = format!("http://127.0.0.1:{}/verify?check=1", auth.port);
    let mut objects = vec![
        annotated(
            "secured",
            0,
            "secure.test",
            "Prefix",
            "/",
            "web",
            &[("auth-url", &url), ("auth-response-headers", "X-Auth-User")],
        ),
        annotated("open", 0, "open.test", "Prefix", "/", "web", &[]),
        annotated(
            "variable",
            0,
            "variable.test",
            "Prefix",
            "/",
            "web",
            &[("auth-url", "https://$host/oauth2/auth")],
        ),
    ];
    objects.extend(backed("web", &up));
    let (gw, _) = Gateway::start(objects);

    let denied = send(
        gw.port,
        "POST",
        "secure.test",
        "/app/page?x=1",
        &[],
        b"body",
    );
    assert_eq!(denied.status, 401, "{denied:?}\n{}", gw.log());
    assert_eq!(denied.header("www-authenticate"), Some("Bearer"));
    let checks = auth.requests();
    assert_eq!(checks.len(), 1, "{checks:#?}");
    let check = &checks[0];
    assert!(
        check.starts_with("POST /verify?check=1 HTTP/1.1"),
        "the URL's path, not the client's: {check}"
    );
    for line in [
        "x-original-url: http://secure.test/app/page?x=1",
        "x-original-method: POST",
        "x-sent-from: nginx-ingress-controller",
        "x-real-ip: 127.0.0.1",
        "x-forwarded-for: 127.0.0.1",
        "x-auth-request-redirect: /app/page?x=1",
        "content-length: 0",
    ] {
        assert!(has_line(check, line), "{line:?} missing from:\n{check}");
    }

    let admitted = get(
        gw.port,
        "secure.test",
        "/app",
        &["Authorization: Bearer good", "X-Auth-User: mallory"],
    );
    assert_eq!(admitted.status, 200, "{admitted:?}\n{}", gw.log());
    assert!(
        has_line(&admitted.body, "x-auth-user: alice"),
        "{}",
        admitted.body
    );
    assert!(
        !admitted.body.contains("mallory") && !admitted.body.contains("x-not-copied"),
        "only auth-response-headers are copied, over the client's: {}",
        admitted.body
    );

    let before = auth.requests().len();
    let open = get(gw.port, "open.test", "/", &[]);
    assert_eq!(open.status, 200, "another Ingress is not authenticated");
    assert_eq!(
        auth.requests().len(),
        before,
        "no check for another Ingress"
    );
    assert_eq!(
        get(gw.port, "variable.test", "/", &[]).status,
        503,
        "an auth-url with nginx variables fails closed"
    );
}

#[test]
fn default_backend_serves_while_the_service_has_no_endpoint() {
    let web = Echo::start("web");
    let errors = Echo::start("errors");
    let mut objects = vec![
        annotated(
            "empty",
            0,
            "empty.test",
            "Prefix",
            "/",
            "empty",
            &[("default-backend", "errors")],
        ),
        annotated(
            "healthy",
            0,
            "healthy.test",
            "Prefix",
            "/",
            "web",
            &[("default-backend", "errors")],
        ),
        annotated("plain", 0, "plain.test", "Prefix", "/", "empty", &[]),
        service(NS, "empty", &[(None, 80)]),
    ];
    objects.extend(backed("web", &web));
    objects.extend(backed("errors", &errors));
    let (gw, t) = Gateway::start(objects);
    assert!(t.diagnostics.is_empty(), "{:#?}", t.diagnostics);
    let who = |host: &str| {
        let r = get(gw.port, host, "/p", &[]);
        (
            r.status,
            r.body.lines().next().unwrap_or_default().to_owned(),
        )
    };
    assert_eq!(who("empty.test"), (200, "upstream=errors".to_owned()));
    assert_eq!(who("healthy.test"), (200, "upstream=web".to_owned()));
    assert_eq!(who("plain.test").0, 503, "no default backend, no endpoint");
}

#[test]
fn auth_signin_redirects_only_the_auth_services_401() {
    let auth = AuthService::start();
    let url = format!("http://127.0.0.1:{}/verify", auth.port);
    let objects = vec![
        annotated(
            "signin",
            0,
            "signin.test",
            "Prefix",
            "/",
            "refusing",
            &[
                ("auth-url", &url),
                ("auth-signin", "https://login.test/start"),
            ],
        ),
        annotated(
            "own-param",
            0,
            "param.test",
            "Prefix",
            "/",
            "refusing",
            &[
                ("auth-url", &url),
                (
                    "auth-signin",
                    "https://$host/oauth2/start?next=$escaped_request_uri",
                ),
                ("auth-signin-redirect-param", "next"),
            ],
        ),
        annotated(
            "unreachable",
            0,
            "unreachable.test",
            "Prefix",
            "/",
            "refusing",
            &[("auth-url", &format!("http://127.0.0.1:{}/", free_port()))],
        ),
        service(NS, "refusing", &[(None, 80)]),
        slice(
            NS,
            "refusing",
            "a",
            None,
            i32::from(auth.port),
            &[("127.0.0.1", Some(true))],
        ),
    ];
    let (gw, _) = Gateway::start(objects);
    let refused = get(gw.port, "signin.test", "/app?x=1", &[]);
    assert_eq!(refused.status, 302, "{refused:?}\n{}", gw.log());
    assert_eq!(
        refused.header("location"),
        Some("https://login.test/start?rd=http://signin.test/app?x=1")
    );
    let own = get(gw.port, "param.test", "/p", &[]);
    assert_eq!(
        (own.status, own.header("location")),
        (302, Some("https://param.test/oauth2/start?next=/p"))
    );
    let upstream = get(
        gw.port,
        "signin.test",
        "/upstream-401",
        &["Authorization: Bearer good"],
    );
    assert_eq!(
        (upstream.status, upstream.header("location")),
        (401, None),
        "the upstream's own 401 is not redirected"
    );
    assert_eq!(
        get(gw.port, "unreachable.test", "/", &[]).status,
        500,
        "an unreachable auth service answers 500, as ingress-nginx"
    );
    assert_eq!(
        get(gw.port, "signin.test", "/auth-answers-418", &[]).status,
        500,
        "an auth answer other than 200, 401 or 403 answers 500, as ingress-nginx"
    );
}

/// An upstream answering `/status/<code>` with that status and body
/// `upstream <code>`, anything else with 200.
fn status_upstream() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind status upstream");
    let port = listener.local_addr().expect("addr").port();
    thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            thread::spawn(move || {
                let Some((head, _)) = read_message(&mut conn) else {
                    return;
                };
                let path = head.split(' ').nth(1).unwrap_or_default().to_owned();
                let code: u16 = path
                    .strip_prefix("/status/")
                    .and_then(|c| c.split('?').next()?.parse().ok())
                    .unwrap_or(200);
                let body = format!("upstream {code}\n");
                let _ = write!(
                    conn,
                    "HTTP/1.1 {code} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    port
}

#[test]
fn custom_http_errors_are_answered_by_the_default_backend() {
    let errors = Echo::start("errors");
    let flaky = status_upstream();
    let mut objects = vec![
        annotated(
            "pages",
            0,
            "pages.test",
            "Prefix",
            "/",
            "flaky",
            &[
                ("custom-http-errors", "404, 503"),
                ("default-backend", "errors"),
            ],
        ),
        annotated("raw", 0, "raw.test", "Prefix", "/", "flaky", &[]),
        annotated(
            "no-default",
            0,
            "nodefault.test",
            "Prefix",
            "/",
            "flaky",
            &[("custom-http-errors", "404")],
        ),
        service(NS, "flaky", &[(None, 80)]),
        slice(
            NS,
            "flaky",
            "a",
            None,
            i32::from(flaky),
            &[("127.0.0.1", Some(true))],
        ),
    ];
    objects.extend(backed("errors", &errors));
    let (gw, t) = Gateway::start(objects);
    assert!(
        has_diagnostic(&t, &["no-default", "custom-http-errors", "default-backend"]),
        "{:#?}",
        t.diagnostics
    );
    let page = get(
        gw.port,
        "pages.test",
        "/status/503?q=1",
        &["Accept: text/html"],
    );
    assert_eq!(
        page.status,
        200,
        "the error backend's status: {page:?}\n{}",
        gw.log()
    );
    assert!(page.body.starts_with("upstream=errors"), "{}", page.body);
    for line in [
        "x-code: 503",
        "x-format: text/html",
        "x-original-uri: /status/503?q=1",
        "x-namespace: default",
        "x-ingress-name: pages",
        "x-service-name: flaky",
        "x-service-port: 80",
    ] {
        assert!(
            has_line(&page.body, line),
            "{line:?} missing:\n{}",
            page.body
        );
    }
    assert!(page.body.contains("x-request-id: "), "{}", page.body);
    let not_found = get(gw.port, "pages.test", "/status/404", &[]);
    assert!(
        has_line(&not_found.body, "x-code: 404"),
        "{}",
        not_found.body
    );
    let unlisted = get(gw.port, "pages.test", "/status/500", &[]);
    assert_eq!(
        (unlisted.status, unlisted.body.as_str()),
        (500, "upstream 500\n")
    );
    assert_eq!(get(gw.port, "pages.test", "/fine", &[]).status, 200);
    let raw = get(gw.port, "raw.test", "/status/503", &[]);
    assert_eq!(
        (raw.status, raw.body.as_str()),
        (503, "upstream 503\n"),
        "another Ingress keeps its upstream's answer"
    );
    assert_eq!(
        get(gw.port, "nodefault.test", "/status/404", &[]).status,
        404
    );
}

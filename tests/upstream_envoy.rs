//! The ingress-nginx annotations that change the cluster (`backend-protocol`,
//! `affinity`, `service-upstream`, `load-balance`, `proxy-connect-timeout`,
//! `proxy-ssl-*`): what the translation gives (cluster variants of one
//! Service port, their assignments and the route's hash policy), and end to
//! end through a real Envoy 1.40 (static bootstrap, `--concurrency 1`, see
//! `translate_support.rs`) in front of in-test upstreams: a gRPC call over
//! h2c, and cookie affinity sticking to one of two pods. A missing Envoy is
//! installed, never skipped; nothing asserts on timing.

#[path = "translate_support.rs"]
mod support;

use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Child;
use std::thread;
use std::time::{Duration, Instant};

use envoy_types::pb::envoy::config::cluster::v3::cluster::LbPolicy;
use envoy_types::pb::envoy::config::core::v3::{address, socket_address::PortSpecifier};
use envoy_types::pb::envoy::config::endpoint::v3::lb_endpoint::HostIdentifier;
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::config::route::v3::route::Action;
use envoy_types::pb::envoy::config::route::v3::route_action::hash_policy::PolicySpecifier;
use envoy_types::pb::envoy::config::route::v3::RouteAction;
use hyper::body::{Bytes, Frame};
use hyper_util::rt::{TokioExecutor, TokioIo};
use interlock::translate::{translate, TranslateConfig, Translation};
use interlock::world::Object;
use serde_json::{json, Value};
use support::*;

const NS: &str = "default";
const PREFIX: &str = "nginx.ingress.kubernetes.io";

// === fixtures ===

/// An Ingress `name` for `host` sending `/` (Prefix) to `svc`:`port`.
fn annotated(name: &str, host: &str, svc: &str, port: i32, annotations: &[(&str, &str)]) -> Object {
    let annotations: serde_json::Map<String, Value> = annotations
        .iter()
        .map(|(k, v)| (format!("{PREFIX}/{k}"), json!(v)))
        .collect();
    ingress_raw(
        json!({"namespace": NS, "name": name, "creationTimestamp": timestamp(0),
               "annotations": annotations}),
        json!({"ingressClassName": "interlock",
               "rules": [rule(Some(host), vec![path("Prefix", "/", backend(svc, port))])]}),
    )
}

/// The Service `name` (port 80) with one ready endpoint per upstream port,
/// each in its own slice (all on 127.0.0.1).
fn backed(name: &str, ports: &[u16]) -> Vec<Object> {
    let mut objects = vec![service(NS, name, &[(None, 80)])];
    for (i, port) in ports.iter().enumerate() {
        objects.push(slice(
            NS,
            name,
            &format!("s{i}"),
            None,
            i32::from(*port),
            &[("127.0.0.1", Some(true))],
        ));
    }
    objects
}

fn config(port: u16) -> TranslateConfig {
    TranslateConfig {
        listen_address: "127.0.0.1".into(),
        http_port: port,
        https_port: free_port(),
        ..TranslateConfig::default()
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The ports of an assignment's endpoints.
fn ports(cla: &ClusterLoadAssignment) -> Vec<(String, u32)> {
    cla.endpoints
        .iter()
        .flat_map(|l| &l.lb_endpoints)
        .filter_map(|e| match &e.host_identifier {
            Some(HostIdentifier::Endpoint(ep)) => ep.address.as_ref(),
            _ => None,
        })
        .filter_map(|a| match &a.address {
            Some(address::Address::SocketAddress(s)) => match s.port_specifier {
                Some(PortSpecifier::PortValue(p)) => Some((s.address.clone(), p)),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn route_action<'t>(t: &'t Translation, host: &str) -> &'t RouteAction {
    t.routes
        .iter()
        .flat_map(|r| &r.virtual_hosts)
        .filter(|vh| vh.domains.iter().any(|d| d == host))
        .flat_map(|vh| &vh.routes)
        .find_map(|r| match &r.action {
            Some(Action::Route(a)) => Some(a),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no forwarding route for {host}"))
}

fn cluster_of(action: &RouteAction) -> String {
    match &action.cluster_specifier {
        Some(
            envoy_types::pb::envoy::config::route::v3::route_action::ClusterSpecifier::Cluster(c),
        ) => c.clone(),
        other => panic!("one cluster expected, got {other:?}"),
    }
}

/// A running Envoy serving a translation, killed on drop.
struct Gateway {
    port: u16,
    child: Child,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Gateway {
    /// Translates `objects`, checks Envoy accepts it, and starts Envoy on it.
    fn start(objects: Vec<Object>) -> (Gateway, Translation) {
        let port = free_port();
        let t = translate(&world(objects), &config(port));
        if let Err(output) = envoy_validates(&t) {
            panic!("Envoy rejected the translation:\n{output}");
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let (child, log) = spawn_static_envoy(dir.path(), &static_bootstrap(&t, false));
        let gateway = Gateway {
            port,
            child,
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "Envoy did not listen:\n{}",
                gateway.log()
            );
            thread::sleep(Duration::from_millis(50));
        }
        (gateway, t)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

// === HTTP/1.1 echo ===

/// An HTTP/1.1 upstream on 127.0.0.1 answering 200 with `upstream=<name>`.
fn echo(name: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind echo");
    let port = listener.local_addr().expect("echo addr").port();
    thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            thread::spawn(move || {
                if read_head(&mut conn).is_none() {
                    return;
                }
                let body = format!("upstream={name}\n");
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    port
}

/// Reads up to the end of a message head (requests and responses here have
/// no body beyond `content-length`, which the caller reads).
fn read_head(s: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).into_owned();
            return Some((head, raw[end + 4..].to_vec()));
        }
        let n = s.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
    }
}

/// `GET /` to Envoy on a new connection: the response head and body.
fn get(port: u16, host: &str, headers: &[&str]) -> (String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to Envoy");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut request = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for h in headers {
        request.push_str(h);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    s.write_all(request.as_bytes()).expect("write request");
    let (head, mut body) = read_head(&mut s).expect("a response");
    let _ = s.read_to_end(&mut body);
    (head, String::from_utf8_lossy(&body).into_owned())
}

fn header<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

// === gRPC over h2c ===

/// A gRPC upstream speaking only HTTP/2 cleartext (prior knowledge): every
/// call answers the request message prefixed with `pong:`, and
/// `grpc-status: 0` in the trailers.
async fn grpc_upstream() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind gRPC upstream");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    |req: hyper::Request<hyper::body::Incoming>| async move {
                        use http_body_util::BodyExt;
                        let body = req
                            .into_body()
                            .collect()
                            .await
                            .map(|c| c.to_bytes())
                            .unwrap_or_default();
                        let message = body.get(5..).unwrap_or_default();
                        let mut reply = b"pong:".to_vec();
                        reply.extend_from_slice(message);
                        let mut frame = vec![0u8];
                        frame.extend_from_slice(
                            &u32::try_from(reply.len()).unwrap_or(0).to_be_bytes(),
                        );
                        frame.extend_from_slice(&reply);
                        let mut trailers = hyper::HeaderMap::new();
                        trailers
                            .insert("grpc-status", hyper::header::HeaderValue::from_static("0"));
                        let frames: Vec<Result<Frame<Bytes>, Infallible>> = vec![
                            Ok(Frame::data(Bytes::from(frame))),
                            Ok(Frame::trailers(trailers)),
                        ];
                        let body = http_body_util::StreamBody::new(tokio_stream::iter(frames));
                        let response = hyper::Response::builder()
                            .header("content-type", "application/grpc")
                            .body(body)
                            .unwrap_or_else(|e| panic!("response: {e}"));
                        Ok::<_, Infallible>(response)
                    },
                );
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    port
}

/// One unary gRPC call over HTTP/2 (prior knowledge) to Envoy for `host`:
/// the `grpc-status` (trailers, or headers of a trailers-only answer) and
/// the response message.
async fn grpc_call(port: u16, host: &str, message: &[u8]) -> (Option<String>, Vec<u8>) {
    use http_body_util::BodyExt;
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to Envoy");
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2 handshake with Envoy");
    tokio::spawn(conn);
    let mut frame = vec![0u8];
    frame.extend_from_slice(&u32::try_from(message.len()).unwrap_or(0).to_be_bytes());
    frame.extend_from_slice(message);
    let request = hyper::Request::builder()
        .method("POST")
        .uri(format!("http://{host}/test.Echo/Ping"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(http_body_util::Full::new(Bytes::from(frame)))
        .expect("request");
    let response = sender.send_request(request).await.expect("a response");
    let status_header = response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let collected = response.into_body().collect().await.expect("body");
    let trailer = collected
        .trailers()
        .and_then(|t| t.get("grpc-status"))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = collected.to_bytes();
    (
        trailer.or(status_header),
        body.get(5..).unwrap_or_default().to_vec(),
    )
}

// === HTTPS upstream ===

/// An HTTPS (HTTP/1.1) upstream on 127.0.0.1 serving `cert_pem`/`key_pem`:
/// answers `upstream=tls sni=<the SNI the client sent, or none>`.
async fn tls_upstream(cert_pem: &str, key_pem: &str) -> u16 {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let chain: Vec<CertificateDer<'static>> = pem::parse_many(cert_pem)
        .expect("server certificate PEM")
        .into_iter()
        .map(|b| CertificateDer::from(b.into_contents()))
        .collect();
    let key = pem::parse(key_pem).expect("server key PEM");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.into_contents()));
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .expect("server certificate");
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind TLS upstream");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let sni = tls.get_ref().1.server_name().unwrap_or("none").to_owned();
                let mut raw = Vec::new();
                let mut buf = [0u8; 4096];
                while !raw.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => raw.extend_from_slice(&buf[..n]),
                    }
                }
                let body = format!("upstream=tls sni={sni}\n");
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(reply.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

// === translation ===

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

// === end to end ===

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

//! The annotations that shape the https listener, end to end through a real
//! Envoy 1.40 (static bootstrap of the translation, as in
//! `annotations_envoy.rs`): `ssl-passthrough` hands the TLS connection,
//! unterminated, to a TLS upstream, while another host of the same listener is
//! still terminated by Envoy; `auth-tls-*` makes a host ask for client
//! certificates signed by a CA. TLS material is made with the openssl CLI,
//! requests are made with curl and `openssl s_client`. No test asserts on
//! timing.

#[path = "translate_support.rs"]
mod support;
#[path = "support/tls.rs"]
#[allow(dead_code)]
mod tls;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use interlock::translate::{translate, TranslateConfig, Translation};
use interlock::world::Object;
use serde_json::{json, Value};
use support::*;

const NS: &str = "default";
const PREFIX: &str = "nginx.ingress.kubernetes.io";
/// ingress-nginx's answers to a missing and an invalid client certificate.
const MISSING: &str = "No required SSL certificate was sent\n";
const INVALID: &str = "The SSL certificate error\n";

// === fixtures ===

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Waits until something listens on `port`, or panics with `log()`.
fn wait_listening(port: u16, what: &str, log: impl Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not listen:\n{}",
            log()
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// A plain HTTP/1.1 upstream answering 200 with `upstream=<name>` and the
/// request head.
fn echo(name: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind echo");
    let port = listener.local_addr().expect("echo addr").port();
    thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            thread::spawn(move || {
                let mut raw = Vec::new();
                let mut buf = [0u8; 4096];
                while !raw.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => raw.extend_from_slice(&buf[..n]),
                    }
                }
                let body = format!("upstream={name}\n{}", String::from_utf8_lossy(&raw));
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

/// A child process killed on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Envoy serving a translation; its https port.
struct Gateway {
    https: u16,
    _envoy: StaticGateway,
}

impl Gateway {
    fn start(objects: Vec<Object>) -> (Gateway, Translation) {
        let https = free_port();
        let config = TranslateConfig {
            listen_address: "127.0.0.1".into(),
            http_port: free_port(),
            https_port: https,
            ..TranslateConfig::default()
        };
        let t = translate(&world(objects), &config);
        let gateway = Gateway {
            https,
            _envoy: StaticGateway::start(&t, https),
        };
        (gateway, t)
    }
}

/// The Service `name` (port `service_port`) with one ready endpoint on
/// 127.0.0.1:`port`.
fn backed(name: &str, service_port: i32, port: u16) -> [Object; 2] {
    [
        service(NS, name, &[(None, service_port)]),
        slice(
            NS,
            name,
            "a",
            None,
            i32::from(port),
            &[("127.0.0.1", Some(true))],
        ),
    ]
}

/// An Ingress `name` (age `age`) for `host`, `/` to `svc`:`svc_port`, with
/// `annotations` and, when `tls_secret` is set, a tls entry for the host.
fn ingress_for(
    name: &str,
    age: u32,
    host: &str,
    svc: &str,
    svc_port: i32,
    annotations: &[(&str, &str)],
    tls_secret: Option<&str>,
) -> Object {
    let annotations: serde_json::Map<String, Value> = annotations
        .iter()
        .map(|(k, v)| (format!("{PREFIX}/{k}"), json!(v)))
        .collect();
    let mut spec = json!({"ingressClassName": "interlock",
        "rules": [rule(Some(host), vec![path("Prefix", "/", backend(svc, svc_port))])]});
    if let Some(secret) = tls_secret {
        spec["tls"] = json!([{"hosts": [host], "secretName": secret}]);
    }
    ingress_raw(
        json!({"namespace": NS, "name": name, "creationTimestamp": timestamp(age),
               "annotations": annotations}),
        spec,
    )
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("the TLS tests need the openssl CLI: {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// In `dir`: `ca.crt`/`ca.key` (a CA) and `client.crt`/`client.key` (a client
/// certificate it signed), and `stranger.crt`/`stranger.key` (self-signed).
fn client_pki(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-days",
        "2",
        "-subj",
        "/CN=test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    ]);
    openssl(dir, &ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-subj",
        "/CN=client",
        "-keyout",
        "client.key",
        "-out",
        "client.csr",
    ]);
    openssl(dir, &csr);
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "client.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            "client.crt",
        ],
    );
    let mut stranger = vec!["req", "-x509"];
    stranger.extend(ec);
    stranger.extend([
        "-days",
        "2",
        "-subj",
        "/CN=stranger",
        "-keyout",
        "stranger.key",
        "-out",
        "stranger.crt",
    ]);
    openssl(dir, &stranger);
}

/// GET `https://host/` through Envoy's https port with SNI `host`, presenting
/// `client` (certificate and key files) if given: (status, body), or curl's
/// error (a refused handshake).
fn https_get(
    port: u16,
    host: &str,
    client: Option<(&Path, &Path)>,
) -> Result<(u16, String), String> {
    https_get_with(port, host, client, &[])
}

/// [`https_get`] sending extra `headers` (`Name: value`).
fn https_get_with(
    port: u16,
    host: &str,
    client: Option<(&Path, &Path)>,
    headers: &[&str],
) -> Result<(u16, String), String> {
    tls::https_request(port, host, client, headers)
}

/// The subject of the certificate a TLS client with SNI `host` is shown on
/// `port`, as `openssl s_client` prints it.
fn peer_subject(port: u16, host: &str) -> String {
    let out = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args(["-servername", host])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("the TLS tests need the openssl CLI: {e}"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .find(|l| l.starts_with("subject="))
        .map(|l| l.replace(' ', ""))
        .unwrap_or_else(|| panic!("no peer certificate for {host}: {text}"))
}

/// A client certificate and key, as [`https_get`] takes them.
fn with(files: &(PathBuf, PathBuf)) -> Option<(&Path, &Path)> {
    Some((files.0.as_path(), files.1.as_path()))
}

// === tests ===

#[test]
fn ssl_passthrough_hands_the_tls_connection_to_the_upstream_and_other_hosts_stay_terminated() {
    // The upstream terminates TLS itself, with its own certificate.
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = tls::certificate("pass.test");
    std::fs::write(dir.path().join("up.crt"), cert).expect("write cert");
    std::fs::write(dir.path().join("up.key"), key).expect("write key");
    let up_port = free_port();
    let upstream = Running(
        Command::new("openssl")
            .current_dir(dir.path())
            .args(["s_server", "-accept", &up_port.to_string()])
            .args(["-cert", "up.crt", "-key", "up.key", "-www", "-quiet"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("the TLS tests need the openssl CLI: {e}")),
    );
    wait_listening(up_port, "openssl s_server", String::new);
    let web = echo("web");
    let mut objects = vec![
        ingress_for(
            "pass",
            0,
            "pass.test",
            "tls-up",
            443,
            &[("ssl-passthrough", "true")],
            None,
        ),
        ingress_for("term", 1, "term.test", "web", 80, &[], Some("gateway-cert")),
        tls_secret(NS, "gateway-cert"),
    ];
    objects.extend(backed("tls-up", 443, up_port));
    objects.extend(backed("web", 80, web));
    let (gw, t) = Gateway::start(objects);
    assert!(t.diagnostics.is_empty(), "{:?}", messages(&t));

    // The passed-through host shows the upstream's certificate, not Envoy's
    // (CN=test), and the upstream answers.
    let subject = peer_subject(gw.https, "pass.test");
    assert!(subject.contains("CN=pass.test"), "{subject}");
    let (status, body) = https_get(gw.https, "pass.test", None).expect("passthrough answers");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("s_server"),
        "the TLS upstream answered: {body}"
    );

    // The other host is terminated by Envoy with the gateway's certificate.
    let subject = peer_subject(gw.https, "term.test");
    assert!(
        subject.contains("CN=test") && !subject.contains("pass"),
        "{subject}"
    );
    let (status, body) = https_get(gw.https, "term.test", None).expect("terminated answers");
    assert_eq!((status, body.lines().next()), (200, Some("upstream=web")));
    drop(upstream);
}

#[test]
fn auth_tls_refuses_a_client_without_a_certificate_and_serves_one_signed_by_the_ca() {
    let dir = tempfile::tempdir().expect("temp dir");
    client_pki(dir.path());
    let ca = std::fs::read_to_string(dir.path().join("ca.crt")).expect("ca");
    let web = echo("web");
    let mut objects = vec![
        ingress_for(
            "mtls",
            0,
            "mtls.test",
            "web",
            80,
            &[
                ("auth-tls-secret", "default/client-ca"),
                ("auth-tls-verify-client", "on"),
                ("auth-tls-verify-depth", "1"),
                ("auth-tls-pass-certificate-to-upstream", "true"),
            ],
            Some("gateway-cert"),
        ),
        ingress_for(
            "optional",
            1,
            "optional.test",
            "web",
            80,
            &[
                ("auth-tls-secret", "default/client-ca"),
                ("auth-tls-verify-client", "optional"),
            ],
            Some("gateway-cert"),
        ),
        ingress_for("open", 2, "open.test", "web", 80, &[], Some("gateway-cert")),
        ingress_for(
            "paged",
            3,
            "paged.test",
            "web",
            80,
            &[
                ("auth-tls-secret", "default/client-ca"),
                ("auth-tls-error-page", "https://errors.test/cert"),
            ],
            Some("gateway-cert"),
        ),
        tls_secret(NS, "gateway-cert"),
        secret(NS, "client-ca", "Opaque", &[("ca.crt", &ca)]),
    ];
    objects.extend(backed("web", 80, web));
    let (gw, t) = Gateway::start(objects);
    assert!(t.diagnostics.is_empty(), "{:?}", messages(&t));
    let client = (dir.path().join("client.crt"), dir.path().join("client.key"));
    let stranger = (
        dir.path().join("stranger.crt"),
        dir.path().join("stranger.key"),
    );

    // `on`: no certificate, or one the CA did not sign, gets ingress-nginx's
    // 400s.
    assert_eq!(
        https_get(gw.https, "mtls.test", None),
        Ok((400, MISSING.to_owned())),
        "no certificate"
    );
    assert_eq!(
        https_get(gw.https, "mtls.test", with(&stranger)),
        Ok((400, INVALID.to_owned())),
        "a stranger's certificate"
    );
    // Through another host's filter chain (SNI open.test asks for no
    // certificate) with `Host: mtls.test`: still refused.
    assert_eq!(
        https_get_with(gw.https, "open.test", with(&client), &["Host: mtls.test"]),
        Ok((400, MISSING.to_owned())),
        "SNI of a host without client certificates"
    );
    let (status, body) =
        https_get(gw.https, "mtls.test", with(&client)).expect("a signed client is served");
    assert_eq!(status, 200, "{body}");
    // The headers ingress-nginx sends: the certificate URL-encoded, as
    // nginx's $ssl_client_escaped_cert.
    for sent in [
        "ssl-client-subject-dn: CN=client",
        "ssl-client-issuer-dn: CN=test-ca",
        "ssl-client-cert: -----BEGIN%20CERTIFICATE-----%0A",
    ] {
        assert!(body.contains(sent), "{sent} reaches the upstream: {body}");
    }

    // `optional`: no certificate passes (and a client cannot forge the
    // headers), a stranger's does not; without
    // auth-tls-pass-certificate-to-upstream the certificate is not sent.
    let (status, body) = https_get_with(
        gw.https,
        "optional.test",
        None,
        &[
            "ssl-client-subject-dn: CN=forged",
            "ssl-client-cert: forged",
        ],
    )
    .expect("optional serves");
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains("forged"), "forged headers removed: {body}");
    let (status, body) =
        https_get(gw.https, "optional.test", with(&client)).expect("optional serves a client");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("ssl-client-subject-dn: CN=client") && !body.contains("ssl-client-cert"),
        "{body}"
    );
    assert_eq!(
        https_get(gw.https, "optional.test", with(&stranger)),
        Ok((400, INVALID.to_owned()))
    );

    // With auth-tls-error-page a refused client is redirected there.
    assert_eq!(
        https_get(gw.https, "paged.test", None).map(|(status, _)| status),
        Ok(302)
    );
    let (status, _) = https_get(gw.https, "paged.test", with(&client)).expect("paged serves");
    assert_eq!(status, 200);

    // A host of the same certificate without auth-tls asks for nothing.
    let (status, _) = https_get(gw.https, "open.test", None).expect("open serves");
    assert_eq!(status, 200);
}

#[test]
fn the_https_listener_declares_the_passthrough_cluster_and_the_client_ca_it_needs() {
    let ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    let objects = vec![
        ingress_for(
            "pass",
            0,
            "pass.test",
            "tls-up",
            443,
            &[("ssl-passthrough", "true")],
            None,
        ),
        // Newer, claims a certificate for the passed-through host: reported,
        // the host stays passed through.
        ingress_for("late", 1, "pass.test", "web", 80, &[], Some("gateway-cert")),
        ingress_for(
            "mtls",
            2,
            "mtls.test",
            "web",
            80,
            &[("auth-tls-secret", "default/client-ca")],
            Some("gateway-cert"),
        ),
        tls_secret(NS, "gateway-cert"),
        secret(NS, "client-ca", "Opaque", &[("ca.crt", ca)]),
        service(NS, "tls-up", &[(None, 443)]),
        service(NS, "web", &[(None, 80)]),
    ];
    let t = translate(&world(objects), &TranslateConfig::default());
    // What it names exists: the snapshot passes the consistency check.
    if let Err(e) = interlock::validate::validate(&mut t.clone(), None) {
        panic!("inconsistent snapshot: {e}");
    }
    let https = listener(&t, "https").expect("https listener");
    let chains: Vec<&str> = https
        .filter_chains
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        chains,
        [
            "passthrough pass.test",
            "default/gateway-cert client-auth mtls.test"
        ]
    );
    let refs = interlock::snapshot::References::of_listener(https);
    assert_eq!(refs.clusters, ["default/tls-up:443"]);
    assert_eq!(
        refs.secrets,
        ["ca:default/client-ca", "default/gateway-cert"]
    );
    let secrets: Vec<&str> = t.secrets.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(secrets, ["ca:default/client-ca", "default/gateway-cert"]);
    assert!(t.clusters.iter().any(|c| c.name == "default/tls-up:443"));
    assert!(
        has_diagnostic(
            &t,
            &[
                "Ingress default/late",
                "pass.test is passed through unterminated"
            ]
        ),
        "{:?}",
        messages(&t)
    );
}

#[test]
fn passthrough_alone_opens_the_https_listener_with_only_its_chain() {
    let objects = vec![
        ingress_for(
            "pass",
            0,
            "pass.test",
            "tls-up",
            443,
            &[("ssl-passthrough", "true")],
            None,
        ),
        // No / path: reported, not passed through.
        ingress_raw(
            json!({"namespace": NS, "name": "deep", "creationTimestamp": timestamp(1),
                   "annotations": {format!("{PREFIX}/ssl-passthrough"): "true"}}),
            json!({"ingressClassName": "interlock", "rules": [rule(Some("deep.test"),
                vec![path("Prefix", "/deep", backend("tls-up", 443))])]}),
        ),
        service(NS, "tls-up", &[(None, 443)]),
    ];
    let t = translate(&world(objects), &TranslateConfig::default());
    // What it names exists: the snapshot passes the consistency check.
    if let Err(e) = interlock::validate::validate(&mut t.clone(), None) {
        panic!("inconsistent snapshot: {e}");
    }
    let https = listener(&t, "https").expect("https listener");
    let chains: Vec<&str> = https
        .filter_chains
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(chains, ["passthrough pass.test"]);
    assert!(
        has_diagnostic(&t, &["default/deep", "deep.test has no / path"]),
        "{:?}",
        messages(&t)
    );
    if let Err(output) = envoy_validates(&t) {
        panic!("Envoy rejected the translation:\n{output}");
    }
}

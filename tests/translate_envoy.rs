//! The translator's output checked by a real Envoy: `envoy --mode validate` accepts
//! every generated resource (TLS, regexes, access log included), and a running
//! Envoy routes requests the way Ingress semantics say (exact vs prefix, trailing
//! slashes, regexes, precedence, ports in `Host`, one-label wildcards, catch-all).
//!
//! Envoy gets the translation as a static bootstrap (`static_bootstrap` in
//! `translate_support.rs`, shared with `translate_differential.rs`). For the
//! routing test, forwarding routes answer 200 with their cluster name instead of
//! forwarding, so each response says which route matched. Envoy runs with
//! `--concurrency 1`; a missing Envoy is installed (via `envoy_binary`), never
//! skipped.

#[path = "translate_support.rs"]
mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Child;
use std::time::{Duration, Instant};

use envoy_types::pb::envoy::config::bootstrap::v3::Bootstrap;
use interlock::translate::{translate, TranslateConfig};
use serde_json::json;
use support::*;

#[test]
fn envoy_accepts_every_generated_resource() {
    let t = run(rich_world());
    assert!(
        !t.secrets.is_empty() && t.listeners.len() == 2,
        "the rich world has TLS"
    );
    if let Err(output) = envoy_validates(&t) {
        panic!("Envoy rejected the translation:\n{output}");
    }
}

/// A running Envoy, killed on drop.
struct RunningEnvoy {
    child: Child,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for RunningEnvoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl RunningEnvoy {
    fn start(bootstrap: &Bootstrap, port: u16) -> RunningEnvoy {
        let dir = tempfile::tempdir().expect("temp dir");
        let (child, log) = spawn_static_envoy(dir.path(), bootstrap);
        let envoy = RunningEnvoy {
            child,
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while get(port, "ready.test", "/").is_none() {
            assert!(
                Instant::now() < deadline,
                "Envoy did not listen:\n{}",
                envoy.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        envoy
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// `(status, body)` of `GET path` with `Host: host`; `None` when nothing answers.
/// Reads exactly `content-length` body bytes rather than waiting for the close
/// (Envoy delays closing by up to `delayed_close_timeout`, 1 s).
fn get(port: u16, host: &str, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&raw).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if body.len() >= length {
                let status = head.split(' ').nth(1)?.parse().ok()?;
                return Some((status, body.to_owned()));
            }
        }
        let n = s.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

#[test]
fn envoy_routes_requests_as_ingress_semantics_say() {
    const NS: &str = "default";
    let svc = |name: &str| service(NS, name, &[(None, 80)]);
    let world = world([
        ingress(
            NS,
            "live",
            0,
            json!({
                "rules": [
                    rule(Some("a.test"), vec![
                        path("Exact", "/exact", backend("exact", 80)),
                        path("Prefix", "/pre/", backend("pre", 80)),
                        path("Prefix", "/pre/longer", backend("longer", 80)),
                        path("ImplementationSpecific", "/re/[0-9]+", backend("regex", 80)),
                        path("Prefix", "/gone", backend("missing", 80)),
                        path("Prefix", "/", backend("root", 80)),
                    ]),
                    rule(Some("*.wild.test"), vec![path("Prefix", "/w", backend("wild", 80))]),
                    rule(None, vec![path("Prefix", "/shared", backend("shared", 80))]),
                ],
                "defaultBackend": backend("def", 80),
            }),
        ),
        svc("exact"),
        svc("pre"),
        svc("longer"),
        svc("regex"),
        svc("root"),
        svc("wild"),
        svc("shared"),
        svc("def"),
    ]);
    let port = free_port();
    let config = TranslateConfig {
        listen_address: "127.0.0.1".into(),
        http_port: port,
        https_port: free_port(),
        ..TranslateConfig::default()
    };
    let t = translate(&world, &config);
    let envoy = RunningEnvoy::start(&static_bootstrap(&t, true), port);
    let cases: &[(&str, &str, &str)] = &[
        ("a.test", "/exact", "default/exact:80"),
        ("a.test", "/exact/", "default/root:80"),
        ("a.test", "/EXACT", "default/root:80"),
        ("a.test", "/exact?q=1", "default/exact:80"),
        ("a.test", "/pre", "default/pre:80"),
        ("a.test", "/pre/", "default/pre:80"),
        ("a.test", "/pre/x", "default/pre:80"),
        ("a.test", "/prefix", "default/root:80"),
        ("a.test", "/pre/longer/z", "default/longer:80"),
        ("a.test", "/pre/longerz", "default/pre:80"),
        ("a.test", "/re/123", "default/regex:80"),
        ("a.test", "/re/123/x", "default/root:80"),
        ("a.test", "/re/abc", "default/root:80"),
        ("a.test", "/pre/../exact", "default/exact:80"),
        ("a.test:8080", "/exact", "default/exact:80"),
        ("A.Test", "/exact", "default/exact:80"),
        ("a.test", "/shared/x", "default/shared:80"),
        ("x.wild.test", "/w", "default/wild:80"),
        ("X.WILD.TEST:1234", "/w/1", "default/wild:80"),
        ("x.wild.test", "/shared", "default/shared:80"),
        ("x.wild.test", "/other", "default/def:80"),
        ("y.x.wild.test", "/w", "default/def:80"),
        ("y.x.wild.test", "/shared", "default/shared:80"),
        ("wild.test", "/w", "default/def:80"),
        ("unknown.test", "/shared", "default/shared:80"),
        ("unknown.test", "/", "default/def:80"),
    ];
    let mut failures = Vec::new();
    for (host, path, want) in cases {
        match get(port, host, path) {
            Some((200, body)) if body == *want => {}
            got => failures.push(format!("{host}{path}: want {want}, got {got:?}")),
        }
    }
    match get(port, "a.test", "/gone/x") {
        Some((503, _)) => {}
        got => failures.push(format!("a.test/gone/x: want 503, got {got:?}")),
    }
    assert!(failures.is_empty(), "{failures:#?}\n{}", envoy.log());
}

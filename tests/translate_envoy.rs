//! The translator's output checked by a real Envoy: `envoy --mode validate` accepts
//! every generated resource (TLS, regexes, access log included), and a running
//! Envoy routes requests the way Ingress semantics say (exact vs prefix, trailing
//! slashes, regexes, precedence, ports in `Host`, one-label wildcards, catch-all).
//!
//! Envoy gets the translation as a static bootstrap: RDS tables inlined, EDS
//! clusters made STATIC with their assignment, SDS secrets made static. For the
//! routing test, forwarding routes answer 200 with their cluster name instead of
//! forwarding, so each response says which route matched. Envoy runs with
//! `--concurrency 1`; a missing Envoy is installed (via `envoy_binary`), never
//! skipped.

#[path = "translate_support.rs"]
mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use envoy_types::pb::envoy::config::bootstrap::v3::{bootstrap::StaticResources, Bootstrap};
use envoy_types::pb::envoy::config::cluster::v3::cluster::{ClusterDiscoveryType, DiscoveryType};
use envoy_types::pb::envoy::config::core::v3::{
    data_source::Specifier, transport_socket, DataSource, Node,
};
use envoy_types::pb::envoy::config::listener::v3::{filter, Listener};
use envoy_types::pb::envoy::config::route::v3::route_action::ClusterSpecifier;
use envoy_types::pb::envoy::config::route::v3::{
    route::Action, DirectResponseAction, RouteConfiguration,
};
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    http_connection_manager::RouteSpecifier, HttpConnectionManager,
};
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::DownstreamTlsContext;
use envoy_types::util::pack_any;
use interlock::local_gateway::envoy_binary;
use interlock::translate::{translate, TranslateConfig, Translation};
use prost::Message;
use serde_json::json;
use support::*;

/// `t` as a static bootstrap; with `tag_routes`, forwarding routes answer 200
/// with their cluster name.
fn static_bootstrap(t: &Translation, tag_routes: bool) -> Bootstrap {
    let table = |name: &str| -> RouteConfiguration {
        let mut rc = t
            .routes
            .iter()
            .find(|r| r.name == name)
            .cloned()
            .expect("table");
        if tag_routes {
            for route in rc
                .virtual_hosts
                .iter_mut()
                .flat_map(|v| v.routes.iter_mut())
            {
                if let Some(Action::Route(a)) = &route.action {
                    let Some(ClusterSpecifier::Cluster(c)) = &a.cluster_specifier else {
                        panic!("unexpected cluster specifier");
                    };
                    route.action = Some(Action::DirectResponse(DirectResponseAction {
                        status: 200,
                        body: Some(DataSource {
                            specifier: Some(Specifier::InlineString(c.clone())),
                            ..DataSource::default()
                        }),
                        ..DirectResponseAction::default()
                    }));
                }
            }
        }
        rc
    };
    let listeners: Vec<Listener> = t
        .listeners
        .iter()
        .cloned()
        .map(|mut l| {
            for chain in &mut l.filter_chains {
                for f in &mut chain.filters {
                    let Some(filter::ConfigType::TypedConfig(any)) = &f.config_type else {
                        continue;
                    };
                    let mut hcm: HttpConnectionManager = unpack(any);
                    let Some(RouteSpecifier::Rds(rds)) = &hcm.route_specifier else {
                        panic!("listeners use RDS");
                    };
                    hcm.route_specifier =
                        Some(RouteSpecifier::RouteConfig(table(&rds.route_config_name)));
                    f.config_type = Some(filter::ConfigType::TypedConfig(pack_any(hcm)));
                }
                if let Some(socket) = &mut chain.transport_socket {
                    let Some(transport_socket::ConfigType::TypedConfig(any)) = &socket.config_type
                    else {
                        panic!("TLS needs a typed config");
                    };
                    let mut tls: DownstreamTlsContext = unpack(any);
                    if let Some(common) = &mut tls.common_tls_context {
                        for sds in &mut common.tls_certificate_sds_secret_configs {
                            sds.sds_config = None; // a static secret of that name
                        }
                    }
                    socket.config_type =
                        Some(transport_socket::ConfigType::TypedConfig(pack_any(tls)));
                }
            }
            l
        })
        .collect();
    let clusters = t
        .clusters
        .iter()
        .cloned()
        .map(|mut c| {
            c.cluster_discovery_type =
                Some(ClusterDiscoveryType::Type(DiscoveryType::Static as i32));
            c.eds_cluster_config = None;
            c.load_assignment = t
                .endpoints
                .iter()
                .find(|e| e.cluster_name == c.name)
                .cloned();
            assert!(
                c.load_assignment.is_some(),
                "cluster {} has no assignment",
                c.name
            );
            c
        })
        .collect();
    Bootstrap {
        node: Some(Node {
            id: "translate-test".into(),
            cluster: "translate-test".into(),
            ..Node::default()
        }),
        static_resources: Some(StaticResources {
            listeners,
            clusters,
            secrets: t.secrets.clone(),
        }),
        ..Bootstrap::default()
    }
}

fn write_bootstrap(dir: &Path, bootstrap: &Bootstrap) -> std::path::PathBuf {
    let path = dir.join("bootstrap.pb");
    std::fs::write(&path, bootstrap.encode_to_vec()).expect("write bootstrap");
    path
}

fn envoy() -> std::path::PathBuf {
    envoy_binary().unwrap_or_else(|e| panic!("no Envoy binary: {e}"))
}

#[test]
fn envoy_accepts_every_generated_resource() {
    let t = run(rich_world());
    assert!(
        !t.secrets.is_empty() && t.listeners.len() == 2,
        "the rich world has TLS"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_bootstrap(dir.path(), &static_bootstrap(&t, false));
    if let Err(e) = interlock::local_gateway::validate_config(&config, &[]) {
        panic!("Envoy rejected the translation:\n{e}");
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
        let config = write_bootstrap(dir.path(), bootstrap);
        let log = dir.path().join("envoy.log");
        let child = Command::new(envoy())
            .args([
                "--concurrency",
                "1",
                "--disable-hot-restart",
                "--log-level",
                "warn",
                "-c",
            ])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start envoy");
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

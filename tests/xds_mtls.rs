//! The xDS port under mutual TLS, with real Envoys: a gateway with a valid
//! client certificate gets its config; one without a certificate, with one from
//! another CA, with an expired one, or in plain text gets nothing, and the
//! reason is logged; a certificate may only speak for its own gateway's node
//! ids; certificate and CA rotate without a restart and without a failed
//! request; and `interlock certgen`'s output works as is.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use interlock::bootstrap::XdsTls;
use interlock::certs::{Bundle, CertgenOptions, Issued, Issuer};
use interlock::snapshot::SnapshotStore;
use interlock::xds::tls::{NodeIdRules, ReloadingTls, TlsFiles};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use support::routes::{acked_routes, route_prober, Routes};
use support::{wait_for, ControlPlane, Envoy, EnvoyOptions};
use tempfile::TempDir;

const TRUST_DOMAIN: &str = "interlock.local";
const CONVERGE: Duration = Duration::from_secs(30);
const DAY: Duration = Duration::from_secs(86_400);

// === logs ===

/// Everything the process logged, for asserting on refusal reasons.
fn logs() -> String {
    let buffer = log_buffer();
    let bytes = buffer.lock().expect("log buffer").clone();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn log_buffer() -> Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = Arc::clone(&buffer);
        let _ = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_env_filter("interlock=info")
            .with_writer(move || LogWriter(Arc::clone(&writer)))
            .try_init();
        buffer
    })
    .clone()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// === certificates ===

/// A CA, Interlock's server certificate and the clients' certificates, as
/// directories of `tls.crt`/`tls.key`/`ca.crt`.
struct Pki {
    dir: TempDir,
    bundle: Bundle,
}

impl Pki {
    fn new(gateways: &[&str]) -> Pki {
        let options = CertgenOptions {
            gateways: gateways.iter().map(|g| (*g).to_owned()).collect(),
            ..CertgenOptions::default()
        };
        let bundle = Bundle::generate(&options).expect("certificates");
        let pki = Pki {
            dir: tempfile::tempdir().expect("temp dir"),
            bundle,
        };
        pki.write("server", &pki.bundle.server, &pki.bundle.ca_cert_pem);
        for (gateway, issued) in &pki.bundle.clients {
            pki.write(gateway, issued, &pki.bundle.ca_cert_pem);
        }
        pki
    }

    fn path(&self, party: &str) -> PathBuf {
        self.dir.path().join(party)
    }

    /// Writes `party`'s directory, each file replaced atomically.
    fn write(&self, party: &str, issued: &Issued, ca: &str) {
        let dir = self.path(party);
        std::fs::create_dir_all(&dir).expect("dir");
        for (name, text) in [
            ("tls.crt", issued.cert_pem.as_str()),
            ("tls.key", &issued.key_pem),
            ("ca.crt", ca),
        ] {
            let tmp = dir.join(format!(".{name}.tmp"));
            std::fs::write(&tmp, text).expect("write");
            std::fs::rename(&tmp, dir.join(name)).expect("rename");
        }
    }

    fn issuer(&self) -> Issuer {
        Issuer::from_pem(&self.bundle.ca_cert_pem, &self.bundle.ca_key_pem).expect("issuer")
    }
}

// === the gateway ===

/// Interlock's ADS server under mutual TLS with the server files of `pki`.
fn mtls_plane(pki: &Pki, store: SnapshotStore) -> (ControlPlane, Arc<ReloadingTls>) {
    let tls = ReloadingTls::load(TlsFiles::in_dir(&pki.path("server"))).expect("TLS files");
    let server_tls = Arc::clone(&tls);
    let plane = ControlPlane::start_with(0, store, move |server| {
        server.with_tls(server_tls, NodeIdRules::default())
    });
    (plane, tls)
}

/// An Envoy with node id `node` presenting the certificate in `client`
/// (a directory of `tls.crt`/`tls.key`/`ca.crt`), or plain text without one.
async fn envoy(plane: &ControlPlane, node: &str, client: Option<&Path>, sds: &TempDir) -> Envoy {
    let xds_tls = client.map(|dir| {
        let sds_dir = sds.path().join(node);
        XdsTls::from_dir(dir, "localhost", sds_dir).expect("xDS TLS options")
    });
    Envoy::start(EnvoyOptions {
        node_id: node.to_owned(),
        xds_tls,
        ..EnvoyOptions::new(plane.port, false)
    })
    .await
}

fn key_of(node: &str, gateway: &str) -> String {
    format!("{node}@spiffe://{TRUST_DOMAIN}/gateway/{gateway}")
}

async fn wait_routes(plane: &ControlPlane, key: &str, ids: &[usize]) {
    let want: std::collections::BTreeSet<usize> = ids.iter().copied().collect();
    wait_for(
        CONVERGE,
        &format!("{key} to ACK routes {ids:?}"),
        || async { acked_routes(&plane.tracker, key) == want },
    )
    .await;
}

async fn wait_logged(what: &str, needle: &str) {
    let deadline = tokio::time::Instant::now() + CONVERGE;
    while !logs().contains(needle) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what} ({needle:?}) in the log:\n{}",
            logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// === a client of our own ===

/// A TLS handshake with the xDS port, trusting `roots` and presenting
/// `client`: the server's certificate, or why it failed.
async fn handshake(port: u16, roots: &str, client: Option<&Issued>) -> Result<Vec<u8>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut store = rustls::RootCertStore::empty();
    for block in pem::parse_many(roots).expect("roots") {
        store
            .add(CertificateDer::from(block.into_contents()))
            .expect("root");
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(store);
    let mut config = match client {
        Some(issued) => {
            let cert = pem::parse(&issued.cert_pem).expect("cert").into_contents();
            let key = pem::parse(&issued.key_pem).expect("key").into_contents();
            builder
                .with_client_auth_cert(
                    vec![CertificateDer::from(cert)],
                    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)),
                )
                .expect("client auth")
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let name = ServerName::try_from("localhost").expect("name");
    let mut stream = connector
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    // TLS 1.3: a refused client certificate shows on the first read.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = stream.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await;
    let mut buf = [0u8; 1];
    match tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await {
        Ok(Err(e)) => return Err(e.to_string()),
        Ok(Ok(0)) => return Err("closed".into()),
        _ => {}
    }
    let certs = stream.get_ref().1.peer_certificates().unwrap_or_default();
    certs
        .first()
        .map(|c| c.to_vec())
        .ok_or_else(|| "no server certificate".to_owned())
}

// === tests ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_with_a_valid_client_certificate_gets_its_config_and_serves() {
    log_buffer();
    let pki = Pki::new(&["envoy"]);
    let routes = Routes::start(2).await;
    let store = SnapshotStore::new();
    store.publish(routes.snapshot([0, 1]));
    let (plane, _tls) = mtls_plane(&pki, store);
    let sds = tempfile::tempdir().expect("sds dir");
    let _envoy = envoy(&plane, "envoy-7d9f-abc", Some(&pki.path("envoy")), &sds).await;
    wait_routes(&plane, &key_of("envoy-7d9f-abc", "envoy"), &[0, 1]).await;
    support::routes::assert_serves(&routes, [0, 1]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_without_a_valid_certificate_get_nothing_and_the_reason_is_logged() {
    log_buffer();
    let pki = Pki::new(&["envoy"]);
    let routes = Routes::start(1).await;
    let store = SnapshotStore::new();
    store.publish(routes.snapshot([0]));
    let (plane, _tls) = mtls_plane(&pki, store);
    let sds = tempfile::tempdir().expect("sds dir");

    // A certificate from another CA.
    let other = Pki::new(&["envoy"]);
    let foreign = pki.path("foreign");
    pki.write(
        "foreign",
        other.bundle.client("envoy").expect("client"),
        &pki.bundle.ca_cert_pem,
    );
    let _foreign = envoy(&plane, "envoy-foreign", Some(&foreign), &sds).await;
    // An expired one, from the right CA.
    let now = SystemTime::now();
    let expired = pki
        .issuer()
        .issue_client(TRUST_DOMAIN, "envoy", now - 10 * DAY, now - DAY)
        .expect("expired certificate");
    pki.write("expired", &expired, &pki.bundle.ca_cert_pem);
    let _expired = envoy(&plane, "envoy-expired", Some(&pki.path("expired")), &sds).await;
    // Plain text to the mTLS port.
    let _plain = envoy(&plane, "envoy-plain", None, &sds).await;
    // No client certificate at all.
    let refused = handshake(plane.port, &pki.bundle.ca_cert_pem, None).await;
    assert!(
        refused.is_err(),
        "a client without a certificate got through"
    );

    wait_logged(
        "the foreign certificate's refusal",
        "invalid peer certificate: BadSignature",
    )
    .await;
    wait_logged("the expired certificate's refusal", "certificate expired").await;
    wait_logged(
        "the missing certificate's refusal",
        "peer sent no certificates",
    )
    .await;
    wait_logged(
        "the plain-text client's refusal",
        "corrupt message of type InvalidContentType",
    )
    .await;
    assert!(
        plane.tracker.nodes().is_empty(),
        "no refused client reaches the tracker: {:?}",
        plane.tracker.nodes().keys().collect::<Vec<_>>()
    );
    // The server's own certificate is fine: a valid client gets through.
    let valid = handshake(
        plane.port,
        &pki.bundle.ca_cert_pem,
        pki.bundle.client("envoy"),
    )
    .await;
    assert!(valid.is_ok(), "{valid:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_may_speak_only_for_its_own_gateways_nodes() {
    log_buffer();
    let pki = Pki::new(&["envoy", "edge"]);
    let routes = Routes::start(1).await;
    let store = SnapshotStore::new();
    store.publish(routes.snapshot([0]));
    let (plane, _tls) = mtls_plane(&pki, store);
    let sds = tempfile::tempdir().expect("sds dir");
    let _real = envoy(&plane, "envoy-1", Some(&pki.path("envoy")), &sds).await;
    wait_routes(&plane, &key_of("envoy-1", "envoy"), &[0]).await;
    // Gateway `edge` claims to be `envoy-1`: refused before anything is sent.
    let _impostor = envoy(&plane, "envoy-1", Some(&pki.path("edge")), &sds).await;
    wait_logged(
        "the impostor's refusal",
        "its certificate's identity may not use this node id",
    )
    .await;
    let nodes: Vec<String> = plane.tracker.nodes().into_keys().collect();
    assert_eq!(
        nodes,
        [key_of("envoy-1", "envoy")],
        "only the real node is tracked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_rotate_without_a_restart_or_a_failed_request() {
    log_buffer();
    let pki = Pki::new(&["envoy"]);
    let routes = Routes::start(2).await;
    let store = SnapshotStore::new();
    store.publish(routes.snapshot([0]));
    let (plane, tls) = mtls_plane(&pki, store.clone());
    let watcher = tokio::spawn(tls.watch(Duration::from_millis(100)));
    let sds = tempfile::tempdir().expect("sds dir");
    let _envoy = envoy(&plane, "envoy-1", Some(&pki.path("envoy")), &sds).await;
    let key = key_of("envoy-1", "envoy");
    wait_routes(&plane, &key, &[0]).await;
    let prober = route_prober(
        routes.listener_addr(),
        plane.store.clone(),
        plane.tracker.clone(),
        key.clone(),
    );

    // A new CA; the server certificate from it; the CA bundle trusts both, so
    // the clients' certificates from the old CA stay valid.
    let next = Pki::new(&["envoy"]);
    let bundle = format!("{}{}", pki.bundle.ca_cert_pem, next.bundle.ca_cert_pem);
    pki.write("server", &next.bundle.server, &bundle);
    // A new connection sees the new certificate (it only verifies against the new CA).
    wait_for(
        CONVERGE,
        "a new connection to see the new certificate",
        || async {
            handshake(
                plane.port,
                &next.bundle.ca_cert_pem,
                pki.bundle.client("envoy"),
            )
            .await
            .is_ok()
        },
    )
    .await;
    // The established stream keeps working.
    store.publish(routes.snapshot([0, 1]));
    wait_routes(&plane, &key, &[0, 1]).await;
    // A gateway with a certificate from the new CA is trusted too.
    let newcomer = pki.path("newcomer");
    pki.write(
        "newcomer",
        next.bundle.client("envoy").expect("client"),
        &bundle,
    );
    let _newcomer = envoy(&plane, "envoy-2", Some(&newcomer), &sds).await;
    wait_routes(&plane, &key_of("envoy-2", "envoy"), &[0, 1]).await;
    let report = prober.finish().await;
    assert!(report.requests > 0);
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    watcher.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certgen_output_works_as_is() {
    log_buffer();
    let (_dir, pki) = support::tls::certgen_output();
    let routes = Routes::start(1).await;
    let store = SnapshotStore::new();
    store.publish(routes.snapshot([0]));
    let tls = ReloadingTls::load(TlsFiles::in_dir(&pki.join("server"))).expect("server files");
    let plane = ControlPlane::start_with(0, store, move |server| {
        server.with_tls(tls, NodeIdRules::default())
    });
    let sds = tempfile::tempdir().expect("sds dir");
    let _envoy = envoy(&plane, "envoy-0", Some(&pki.join("envoy")), &sds).await;
    wait_routes(&plane, &key_of("envoy-0", "envoy"), &[0]).await;
    support::routes::assert_serves(&routes, [0]).await;
}

/// Ingress `ns/site` for `host` over HTTPS with its own certificate, its
/// Service and endpoints (upstream `up`), as world events.
fn tls_site(ns: &str, host: &str, up: std::net::SocketAddr) -> Vec<interlock::world::WorldEvent> {
    use interlock::world::{Object, WorldEvent};
    let (cert, key) = support::tls::certificate(host);
    let parse = |v: serde_json::Value| v;
    let ingress = parse(serde_json::json!({
        "metadata": {"name": "site", "namespace": ns},
        "spec": {"ingressClassName": "interlock",
                 "tls": [{"hosts": [host], "secretName": "site-tls"}],
                 "rules": [{"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix",
                   "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}
    }));
    let service = serde_json::json!({"metadata": {"name": "web", "namespace": ns},
                                     "spec": {"ports": [{"name": "http", "port": 80}]}});
    let slice = serde_json::json!({
        "metadata": {"name": "web-1", "namespace": ns,
                     "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": up.port()}],
        "endpoints": [{"addresses": [up.ip().to_string()], "conditions": {"ready": true}}]
    });
    let secret = serde_json::json!({
        "metadata": {"name": "site-tls", "namespace": ns}, "type": "kubernetes.io/tls",
        "stringData": {"tls.crt": cert, "tls.key": key}
    });
    let object = |o: Result<Object, serde_json::Error>| WorldEvent::Upsert(o.expect("object"));
    vec![
        object(serde_json::from_value(ingress).map(Object::Ingress)),
        object(serde_json::from_value(service).map(Object::Service)),
        object(serde_json::from_value(slice).map(Object::EndpointSlice)),
        object(serde_json::from_value(secret).map(Object::Secret)),
    ]
}

/// The names of the Ingress Secrets (`namespace/name`) an Envoy holds, from
/// its config_dump (its own xDS client certificate is one too: left out).
async fn held_secrets(envoy: &Envoy) -> Vec<String> {
    let dump = envoy.config_dump().await;
    let Some(secrets) = support::dump_section(&dump, "SecretsConfigDump") else {
        return Vec::new();
    };
    let mut names: Vec<String> = secrets["dynamic_active_secrets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["name"].as_str().map(str::to_owned))
        .filter(|name| name.contains('/'))
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_limited_to_a_namespace_never_receives_another_namespaces_key() {
    use interlock::pipeline::Rebuilder;
    use interlock::translate::TranslateConfig;
    use interlock::xds::tls::SecretScopes;
    log_buffer();
    let pki = Pki::new(&["envoy", "edge"]);
    let up = support::Upstream::start("web").await;
    let config = TranslateConfig {
        listen_address: "127.0.0.1".into(),
        http_port: support::free_port(),
        https_port: support::free_port(),
        ..TranslateConfig::default()
    };
    let mut rebuilder = Rebuilder::new(config);
    for event in tls_site("a", "a.test", up.addr)
        .into_iter()
        .chain(tls_site("b", "b.test", up.addr))
    {
        rebuilder.apply(event);
    }
    let snapshot = rebuilder.build().snapshot.expect("consistent");
    let store = SnapshotStore::new();
    store.publish(snapshot);
    let tls = ReloadingTls::load(TlsFiles::in_dir(&pki.path("server"))).expect("TLS files");
    let scopes = SecretScopes::new(vec!["edge=a".parse().expect("scope")]);
    let plane = ControlPlane::start_with(0, store, move |server| {
        server
            .with_tls(tls, NodeIdRules::default())
            .with_secret_scopes(scopes)
    });
    let sds = tempfile::tempdir().expect("sds dir");
    let edge = envoy(&plane, "edge-1", Some(&pki.path("edge")), &sds).await;
    let full = envoy(&plane, "envoy-1", Some(&pki.path("envoy")), &sds).await;
    let deadline = tokio::time::Instant::now() + CONVERGE;
    while held_secrets(&full).await != ["a/site-tls", "b/site-tls"] {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the unlimited gateway holds {:?}; nodes {:?}\n{}",
            held_secrets(&full).await,
            plane.tracker.nodes().keys().collect::<Vec<_>>(),
            logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_for(
        CONVERGE,
        "the limited gateway to hold its namespace's key",
        || async { held_secrets(&edge).await == ["a/site-tls"] },
    )
    .await;
    // It is settled: in sync with the (cut-down) snapshot, still without b's key.
    let edge_key = key_of("edge-1", "edge");
    wait_for(
        CONVERGE,
        "the limited gateway to hold its listeners",
        || async {
            plane.tracker.node(&edge_key).is_some_and(|n| {
                n.types[interlock::snapshot::ResourceType::Listener]
                    .acked
                    .len()
                    == 2
            })
        },
    )
    .await;
    assert_eq!(held_secrets(&edge).await, ["a/site-tls"]);
}

//! Fixtures for the translator tests: Kubernetes objects built from compact JSON
//! (as they would appear in manifests), worlds built from them, and short textual
//! views of the generated Envoy config so tests read as tables; also the
//! translation as a static Envoy bootstrap, and Envoy's verdict on it.
//!
//! Included by the `translate_*` test files with `#[path]`; on its own it only
//! checks the embedded test certificate.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use envoy_types::pb::envoy::config::bootstrap::v3::{bootstrap::StaticResources, Bootstrap};
use envoy_types::pb::envoy::config::cluster::v3::cluster::{ClusterDiscoveryType, DiscoveryType};
use envoy_types::pb::envoy::config::core::v3::{
    data_source::Specifier, transport_socket, DataSource, Node,
};
use envoy_types::pb::envoy::config::listener::v3::{filter, Listener};
use envoy_types::pb::envoy::config::route::v3::{
    header_matcher::HeaderMatchSpecifier, route::Action, route_action::ClusterSpecifier,
    route_match::PathSpecifier, DirectResponseAction, Route, RouteConfiguration, VirtualHost,
};
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    http_connection_manager::RouteSpecifier, HttpConnectionManager,
};
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{
    common_tls_context::ValidationContextType, DownstreamTlsContext,
};
use envoy_types::pb::envoy::r#type::matcher::v3::string_matcher::MatchPattern;
use envoy_types::pb::google::protobuf::Any;
use envoy_types::util::pack_any;
use interlock::local_gateway::{validate_config, LocalGatewayError};
use interlock::translate::{translate, Diagnostic, TranslateConfig, Translation};
use interlock::world::{Object, World};
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use k8s_openapi::ByteString;
use prost::{Message, Name};
use serde_json::{json, Value};

/// A self-signed P-256 certificate for CN=test, valid until 2126 (generated once with
/// `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 36500 -subj /CN=test`).
pub const TEST_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBdjCCARugAwIBAgIUTcRjMUdImn1YnWyiD7bLCn+Md8QwCgYIKoZIzj0EAwIw
DzENMAsGA1UEAwwEdGVzdDAgFw0yNjExMjUwMTI1MjNaGA8yMTI2MTEwMTAxMjUy
M1owDzENMAsGA1UEAwwEdGVzdDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABGzg
5Q39AoLi0TMUsJubRfFubaCFDTluOR8uw/GI1AFXxDxsZsM+eZPYdjQuvFMggIul
u0XneGBsPlpzz6AT3JOjUzBRMB0GA1UdDgQWBBR7PyiWfJdaSQCQeFZtNf2p5suk
eTAfBgNVHSMEGDAWgBR7PyiWfJdaSQCQeFZtNf2p5sukeTAPBgNVHRMBAf8EBTAD
AQH/MAoGCCqGSM49BAMCA0kAMEYCIQCp7uLQJDEEY3l9Tvxv3Zbg10pk2RTPbA70
VBtzz+q42AIhAK54M+tq671rdFDhugxmM7oHiO7larWPPdNoqoHXa3Pr
-----END CERTIFICATE-----
";

/// The private key of [`TEST_CERT`] (a throwaway test key, not a credential).
pub const TEST_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgoSHqKSTbXtj7xV2w
4z8Mi15gtRJk3QZ2nsYI9sWvgQ+hRANCAARs4OUN/QKC4tEzFLCbm0Xxbm2ghQ05
bjkfLsPxiNQBV8Q8bGbDPnmT2HY0LrxTIICLpbtF53hgbD5ac8+gE9yT
-----END PRIVATE KEY-----
";

fn from_json<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap_or_else(|e| panic!("bad fixture: {e}"))
}

/// `2024-01-01T00:00:00Z` plus `age` seconds: a smaller number is an older object.
pub fn timestamp(age: u32) -> String {
    format!(
        "2024-01-01T{:02}:{:02}:{:02}Z",
        age / 3600,
        (age / 60) % 60,
        age % 60
    )
}

/// An Ingress of class `interlock` (unless `spec` names another class) created
/// `created` seconds after the epoch of [`timestamp`].
pub fn ingress(ns: &str, name: &str, created: u32, spec: Value) -> Object {
    let mut spec = spec;
    if let Some(obj) = spec.as_object_mut() {
        obj.entry("ingressClassName").or_insert(json!("interlock"));
    }
    ingress_raw(
        json!({"namespace": ns, "name": name, "creationTimestamp": timestamp(created)}),
        spec,
    )
}

/// An Ingress with exactly the given metadata and spec (no class added).
pub fn ingress_raw(metadata: Value, spec: Value) -> Object {
    let mut value = json!({"metadata": metadata});
    if !spec.is_null() {
        value["spec"] = spec;
    }
    Object::Ingress(from_json::<Ingress>(value))
}

/// An IngressClass.
pub fn ingress_class(name: &str, controller: &str, default: bool) -> Object {
    let mut metadata = json!({"name": name});
    if default {
        metadata["annotations"] = json!({"ingressclass.kubernetes.io/is-default-class": "true"});
    }
    Object::IngressClass(from_json::<IngressClass>(
        json!({"metadata": metadata, "spec": {"controller": controller}}),
    ))
}

/// A ClusterIP Service with `(name, port)` TCP ports.
pub fn service(ns: &str, name: &str, ports: &[(Option<&str>, i32)]) -> Object {
    let ports: Vec<Value> = ports
        .iter()
        .map(|(n, p)| match n {
            Some(n) => json!({"name": n, "port": p}),
            None => json!({"port": p}),
        })
        .collect();
    Object::Service(from_json::<Service>(json!({
        "metadata": {"namespace": ns, "name": name},
        "spec": {"ports": ports},
    })))
}

/// A Service from raw JSON.
pub fn service_raw(value: Value) -> Object {
    Object::Service(from_json::<Service>(value))
}

/// An IPv4 EndpointSlice `<svc>-<suffix>` of Service `svc` with one port and
/// endpoints `(address, ready)` (`None`: no ready condition).
pub fn slice(
    ns: &str,
    svc: &str,
    suffix: &str,
    port_name: Option<&str>,
    port: i32,
    endpoints: &[(&str, Option<bool>)],
) -> Object {
    slice_typed(ns, svc, suffix, "IPv4", port_name, port, endpoints)
}

/// An EndpointSlice with an explicit address type.
pub fn slice_typed(
    ns: &str,
    svc: &str,
    suffix: &str,
    address_type: &str,
    port_name: Option<&str>,
    port: i32,
    endpoints: &[(&str, Option<bool>)],
) -> Object {
    let mut p = json!({"port": port, "protocol": "TCP"});
    if let Some(n) = port_name {
        p["name"] = json!(n);
    }
    let endpoints: Vec<Value> = endpoints
        .iter()
        .map(|(addr, ready)| match ready {
            Some(r) => json!({"addresses": [addr], "conditions": {"ready": r}}),
            None => json!({"addresses": [addr]}),
        })
        .collect();
    Object::EndpointSlice(from_json::<EndpointSlice>(json!({
        "metadata": {
            "namespace": ns,
            "name": format!("{svc}-{suffix}"),
            "labels": {"kubernetes.io/service-name": svc},
        },
        "addressType": address_type,
        "ports": [p],
        "endpoints": endpoints,
    })))
}

/// A Secret with the given type and `data` entries.
pub fn secret(ns: &str, name: &str, type_: &str, data: &[(&str, &str)]) -> Object {
    let mut s: Secret =
        from_json(json!({"metadata": {"namespace": ns, "name": name}, "type": type_}));
    s.data = Some(
        data.iter()
            .map(|(k, v)| ((*k).to_owned(), ByteString(v.as_bytes().to_vec())))
            .collect(),
    );
    Object::Secret(s)
}

/// A valid `kubernetes.io/tls` Secret holding [`TEST_CERT`] and [`TEST_KEY`].
pub fn tls_secret(ns: &str, name: &str) -> Object {
    secret(
        ns,
        name,
        "kubernetes.io/tls",
        &[("tls.crt", TEST_CERT), ("tls.key", TEST_KEY)],
    )
}

/// A world holding `objects`.
pub fn world(objects: impl IntoIterator<Item = Object>) -> World {
    let mut w = World::new();
    for o in objects {
        w.upsert(o);
    }
    w
}

/// Translates `objects` with the default config.
pub fn run(objects: impl IntoIterator<Item = Object>) -> Translation {
    translate(&world(objects), &TranslateConfig::default())
}

/// A service backend by port number.
pub fn backend(svc: &str, port: i32) -> Value {
    json!({"service": {"name": svc, "port": {"number": port}}})
}

/// One HTTP path.
pub fn path(path_type: &str, path: &str, backend: Value) -> Value {
    json!({"path": path, "pathType": path_type, "backend": backend})
}

/// A rule for `host` (`None`: host-less) with `paths`.
pub fn rule(host: Option<&str>, paths: Vec<Value>) -> Value {
    match host {
        Some(h) => json!({"host": h, "http": {"paths": paths}}),
        None => json!({"http": {"paths": paths}}),
    }
}

/// The route table `name`.
pub fn table<'t>(t: &'t Translation, name: &str) -> &'t RouteConfiguration {
    t.routes
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no route table {name}"))
}

/// The virtual host `name` of the `http` table.
pub fn vhost<'t>(t: &'t Translation, name: &str) -> &'t VirtualHost {
    table(t, "http")
        .virtual_hosts
        .iter()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("no virtual host {name}"))
}

/// Names of the `http` table's virtual hosts, in order.
pub fn vhost_names(t: &Translation) -> Vec<String> {
    table(t, "http")
        .virtual_hosts
        .iter()
        .map(|v| v.name.clone())
        .collect()
}

/// One route as `"<match> -> <target>"`, e.g. `"prefix / -> default/web:80"`,
/// `"sep-prefix /api [authority=...] -> 503"`.
pub fn describe(route: &Route) -> String {
    let m = route.r#match.as_ref().expect("route without match");
    let mut s = match &m.path_specifier {
        Some(PathSpecifier::Prefix(p)) => format!("prefix {p}"),
        Some(PathSpecifier::Path(p)) => format!("exact {p}"),
        Some(PathSpecifier::PathSeparatedPrefix(p)) => format!("sep-prefix {p}"),
        Some(PathSpecifier::SafeRegex(r)) => format!("regex {}", r.regex),
        other => format!("{other:?}"),
    };
    for h in &m.headers {
        if let Some(HeaderMatchSpecifier::StringMatch(sm)) = &h.header_match_specifier {
            if let Some(MatchPattern::SafeRegex(r)) = &sm.match_pattern {
                s.push_str(&format!(" [{}~{}]", h.name, r.regex));
            }
        }
    }
    let target = match &route.action {
        Some(Action::Route(a)) => match &a.cluster_specifier {
            Some(ClusterSpecifier::Cluster(c)) => c.clone(),
            other => format!("{other:?}"),
        },
        Some(Action::DirectResponse(d)) => d.status.to_string(),
        other => format!("{other:?}"),
    };
    format!("{s} -> {target}")
}

/// [`describe`] of every route of virtual host `name` in the `http` table.
pub fn routes(t: &Translation, name: &str) -> Vec<String> {
    vhost(t, name).routes.iter().map(describe).collect()
}

/// Every diagnostic as displayed.
pub fn messages(t: &Translation) -> Vec<String> {
    t.diagnostics.iter().map(Diagnostic::to_string).collect()
}

/// True when some diagnostic's text contains every one of `parts`.
pub fn has_diagnostic(t: &Translation, parts: &[&str]) -> bool {
    messages(t)
        .iter()
        .any(|m| parts.iter().all(|p| m.contains(p)))
}

/// Decodes an `Any` into `M`, panicking on a type mismatch.
pub fn unpack<M: Message + Name + Default>(any: &Any) -> M {
    assert_eq!(any.type_url, M::type_url());
    M::decode(any.value.as_slice()).expect("decodable")
}

/// The HCM of a listener's filter chain `i`.
pub fn hcm(listener: &Listener, chain: usize) -> HttpConnectionManager {
    let f = &listener.filter_chains[chain].filters[0];
    match &f.config_type {
        Some(filter::ConfigType::TypedConfig(any)) => unpack(any),
        other => panic!("unexpected filter config {other:?}"),
    }
}

/// The listener `name`, if present.
pub fn listener<'t>(t: &'t Translation, name: &str) -> Option<&'t Listener> {
    t.listeners.iter().find(|l| l.name == name)
}

/// `t` as a static Envoy bootstrap: RDS tables inlined into the listeners, EDS
/// clusters made STATIC with their assignment, SDS secrets made static. With
/// `tag_routes`, forwarding routes answer 200 with their cluster name instead of
/// forwarding, so each response says which route matched.
pub fn static_bootstrap(t: &Translation, tag_routes: bool) -> Bootstrap {
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
                    if any.type_url != HttpConnectionManager::type_url() {
                        continue; // a TCP proxy (TLS passthrough)
                    }
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
                        if let Some(ValidationContextType::CombinedValidationContext(combined)) =
                            &mut common.validation_context_type
                        {
                            if let Some(sds) = &mut combined.validation_context_sds_secret_config {
                                sds.sds_config = None;
                            }
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
            if c.eds_cluster_config.is_none() {
                return c; // a cluster that carries its own hosts (auth, aggregate)
            }
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

/// Writes `bootstrap` as `bootstrap.pb` into `dir`.
pub fn write_bootstrap(dir: &Path, bootstrap: &Bootstrap) -> PathBuf {
    let path = dir.join("bootstrap.pb");
    std::fs::write(&path, bootstrap.encode_to_vec()).expect("write bootstrap");
    path
}

/// Starts Envoy on `bootstrap`, written into `dir`: one worker, no hot restart,
/// warnings and worse to `dir/envoy.log` (returned with the child). A missing
/// Envoy is installed; one that cannot be found panics: never skipped.
pub fn spawn_static_envoy(dir: &Path, bootstrap: &Bootstrap) -> (std::process::Child, PathBuf) {
    let config = write_bootstrap(dir, bootstrap);
    let log = dir.join("envoy.log");
    let envoy =
        interlock::local_gateway::envoy_binary().unwrap_or_else(|e| panic!("no Envoy binary: {e}"));
    let child = std::process::Command::new(envoy)
        .args([
            "--concurrency",
            "1",
            "--disable-hot-restart",
            "--log-level",
            "warn",
            "-c",
        ])
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("start envoy");
    (child, log)
}

/// Envoy serving a translation from a static bootstrap, once `envoy --mode
/// validate` accepted it and it listens: killed when dropped.
pub struct StaticGateway {
    child: std::process::Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl StaticGateway {
    /// Validates `t`, starts Envoy on it and waits until `port` accepts
    /// connections; panics with Envoy's output otherwise.
    pub fn start(t: &Translation, port: u16) -> StaticGateway {
        if let Err(output) = envoy_validates(t) {
            panic!("Envoy rejected the translation:\n{output}");
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let (child, log) = spawn_static_envoy(dir.path(), &static_bootstrap(t, false));
        let gateway = StaticGateway {
            child,
            log,
            _dir: dir,
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "Envoy did not listen:\n{}",
                gateway.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        gateway
    }

    /// Envoy's log so far (warnings and worse).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for StaticGateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Envoy's verdict on `t`: `envoy --mode validate` of [`static_bootstrap`]. The
/// error is Envoy's output. A missing Envoy is installed (via `envoy_binary`), and
/// one that cannot be found or run panics: never skipped.
pub fn envoy_validates(t: &Translation) -> Result<(), String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_bootstrap(dir.path(), &static_bootstrap(t, false));
    validate_config(&config, &[]).map_err(|e| match e {
        LocalGatewayError::Invalid { output, .. } => output,
        other => panic!("could not run envoy --mode validate: {other}"),
    })
}

/// A world exercising every feature at once.
pub fn rich_world() -> Vec<Object> {
    const NS: &str = "default";
    vec![
        ingress_class("interlock", "interlock.dev/ingress-controller", true),
        ingress(
            NS,
            "shop",
            10,
            json!({
                "tls": [{"hosts": ["shop.test", "*.shop.test"], "secretName": "shop-cert"}, {"secretName": "broken"}],
                "rules": [
                    rule(Some("shop.test"), vec![
                        path("Prefix", "/", backend("web", 80)),
                        path("Exact", "/checkout", json!({"service": {"name": "api", "port": {"name": "grpc"}}})),
                        path("ImplementationSpecific", "/items/[0-9]+", backend("api", 8080)),
                        path("Prefix", "/missing", backend("nope", 80)),
                    ]),
                    rule(Some("*.shop.test"), vec![path("Prefix", "/", backend("web", 80))]),
                    rule(None, vec![path("Prefix", "/healthz", backend("api", 8080))]),
                ],
                "defaultBackend": backend("web", 80),
            }),
        ),
        ingress(
            "team",
            "blog",
            20,
            json!({
                "tls": [{"hosts": ["blog.test"], "secretName": "blog-cert"}],
                "rules": [
                    rule(Some("blog.test"), vec![path("Prefix", "/", backend("blog", 8000))]),
                    rule(Some("shop.test"), vec![path("Prefix", "/blog", backend("blog", 8000))]),
                    rule(Some("10.0.0.1"), vec![path("Prefix", "/", backend("blog", 8000))]),
                ],
                "defaultBackend": backend("blog", 8000),
            }),
        ),
        ingress_raw(
            json!({"namespace": NS, "name": "classless", "creationTimestamp": timestamp(30)}),
            json!({"rules": [rule(Some("plain.test"), vec![path("Exact", "/", backend("web", 80))])]}),
        ),
        ingress(
            NS,
            "resource",
            40,
            json!({"defaultBackend": {"resource": {"kind": "Bucket", "name": "b"}}}),
        ),
        service("default", "web", &[(Some("http"), 80)]),
        service(
            "default",
            "api",
            &[(Some("http"), 8080), (Some("grpc"), 9090)],
        ),
        service("team", "blog", &[(None, 8000)]),
        slice(
            NS,
            "web",
            "x1",
            Some("http"),
            8080,
            &[("10.1.0.2", Some(true)), ("10.1.0.1", None)],
        ),
        slice(
            NS,
            "api",
            "x1",
            Some("grpc"),
            9000,
            &[("10.2.0.1", Some(true))],
        ),
        tls_secret("default", "shop-cert"),
        tls_secret("team", "blog-cert"),
        secret(
            NS,
            "broken",
            "kubernetes.io/tls",
            &[("tls.crt", "garbage"), ("tls.key", "garbage")],
        ),
    ]
}

#[test]
fn embedded_test_certificate_is_servable() {
    let t = run([
        ingress(
            "default",
            "web",
            0,
            json!({"tls": [{"hosts": ["a.test"], "secretName": "cert"}]}),
        ),
        tls_secret("default", "cert"),
    ]);
    assert_eq!(t.secrets.len(), 1, "{:?}", messages(&t));
}

/// A small deterministic generator (xorshift64*), so a failure replays exactly.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

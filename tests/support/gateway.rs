//! Interlock as users run it on a directory of YAML: file source → pipeline →
//! snapshot store → ADS, with a real Envoy in front. Tests write manifests into
//! the directory and request through Envoy's listeners.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use interlock::debounce::DebounceConfig;
use interlock::pipeline::{Pipeline, PipelineConfig, StatusHandle};
use interlock::snapshot::SnapshotStore;
use interlock::sources::file::{FileSource, FileSourceStatus};
use interlock::translate::TranslateConfig;
use interlock::xds::AckTracker;
use tempfile::TempDir;
use tokio::sync::mpsc;

use super::control_plane::ControlPlane;
use super::envoy::{Envoy, EnvoyOptions};
use super::ports::free_port;
use super::routes::acked_route_table;
use super::wait::wait_for;

/// How to start a [`FileGateway`].
#[derive(Clone, Debug)]
pub struct GatewayOptions {
    /// Delta xDS instead of state of the world.
    pub delta: bool,
    /// The pipeline's debounce.
    pub debounce: DebounceConfig,
    /// Envoy's HTTP and HTTPS listener ports (fresh ones when `None`): two
    /// replicas of one gateway share them.
    pub listeners: Option<(u16, u16)>,
    /// See [`EnvoyOptions::max_regex_program_size`].
    pub max_regex_program_size: Option<u32>,
}

impl GatewayOptions {
    /// Short debounce windows (tests want speed, not realism), fresh ports, a
    /// default Envoy.
    pub fn new(delta: bool) -> Self {
        GatewayOptions {
            delta,
            debounce: DebounceConfig {
                quiet: Duration::from_millis(20),
                max_delay: Duration::from_millis(200),
            },
            listeners: None,
            max_regex_program_size: None,
        }
    }
}

/// A running file-directory gateway.
pub struct FileGateway {
    pub dir: TempDir,
    pub plane: ControlPlane,
    pub status: StatusHandle,
    pub files: FileSourceStatus,
    pub envoy: Envoy,
    pub http_port: u16,
    pub https_port: u16,
}

impl FileGateway {
    /// Starts Interlock on a fresh directory holding `files`, and an Envoy in front,
    /// with short debounce windows (tests want speed, not realism).
    pub async fn start(delta: bool, files: &[(&str, String)]) -> FileGateway {
        FileGateway::start_opts(files, GatewayOptions::new(delta)).await
    }

    /// Like [`FileGateway::start`] with the given pipeline debounce.
    pub async fn start_with(
        delta: bool,
        files: &[(&str, String)],
        debounce: DebounceConfig,
    ) -> FileGateway {
        let options = GatewayOptions {
            debounce,
            ..GatewayOptions::new(delta)
        };
        FileGateway::start_opts(files, options).await
    }

    /// Like [`FileGateway::start`] with every option.
    pub async fn start_opts(files: &[(&str, String)], options: GatewayOptions) -> FileGateway {
        let GatewayOptions {
            delta,
            debounce,
            listeners,
            max_regex_program_size,
        } = options;
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, yaml) in files {
            std::fs::write(dir.path().join(name), yaml).expect("write manifest");
        }
        let store = SnapshotStore::new();
        let (http_port, https_port) = listeners.unwrap_or_else(|| (free_port(), free_port()));
        let config = PipelineConfig {
            translate: TranslateConfig {
                listen_address: "127.0.0.1".into(),
                http_port,
                https_port,
                ..TranslateConfig::default()
            },
            debounce,
            secret_refetch: None,
        };
        let (events, received) = mpsc::channel(1024);
        let pipeline = Pipeline::new(config, store.clone(), ["file"]);
        let status = pipeline.status();
        tokio::spawn(pipeline.run(received));
        let source = FileSource::new(dir.path()).expect("file source");
        let files = source.status();
        tokio::spawn(async move {
            if let Err(e) = source.run(events).await {
                panic!("file source failed: {e}");
            }
        });
        let plane = ControlPlane::start_on(0, store);
        let envoy = Envoy::start(EnvoyOptions {
            max_regex_program_size,
            ..EnvoyOptions::new(plane.port, delta)
        })
        .await;
        FileGateway {
            dir,
            plane,
            status,
            files,
            envoy,
            http_port,
            https_port,
        }
    }

    /// Path of a file in the watched directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes (creates or replaces) a manifest file in one go.
    pub fn write(&self, name: &str, yaml: &str) {
        let tmp = self.dir.path().join(format!(".{name}.tmp"));
        std::fs::write(&tmp, yaml).expect("write manifest");
        std::fs::rename(&tmp, self.path(name)).expect("rename manifest");
    }

    /// Deletes a manifest file.
    pub fn remove(&self, name: &str) {
        std::fs::remove_file(self.path(name)).expect("remove manifest");
    }

    /// The HTTP listener.
    pub fn http(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.http_port))
    }

    /// Node id of the Envoy.
    pub fn node(&self) -> &str {
        &self.envoy.options().node_id
    }

    /// Domains of the virtual hosts in the HTTP route table Envoy has ACKed.
    pub fn acked_domains(&self) -> BTreeSet<String> {
        acked_domains(&self.plane, self.node())
    }

    /// Waits until Envoy has ACKed a route table that has a virtual host for `host`.
    pub async fn wait_host(&self, host: &str) {
        wait_for(
            Duration::from_secs(30),
            &format!("{host} to be ACKed"),
            || async { self.acked_domains().contains(host) },
        )
        .await;
    }
}

/// Domains of the virtual hosts in the `http` route table `node` has ACKed.
pub fn acked_domains(plane: &ControlPlane, node: &str) -> BTreeSet<String> {
    acked_domains_of(&plane.tracker, node)
}

/// Like [`acked_domains`], from a tracker (for probers, which outlive borrows).
pub fn acked_domains_of(tracker: &AckTracker, node: &str) -> BTreeSet<String> {
    acked_route_table(tracker, node, "http")
        .map(|table| {
            table
                .virtual_hosts
                .into_iter()
                .flat_map(|vh| vh.domains)
                .collect()
        })
        .unwrap_or_default()
}

// === manifests ===

/// A Service `name` in `ns` with one port named `http` (port 80) and an
/// EndpointSlice pointing at `backend` (omit for a Service with no endpoints).
pub fn service_yaml(ns: &str, name: &str, backend: Option<SocketAddr>) -> String {
    let mut yaml = format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: {ns}}}\n\
         spec:\n  ports:\n  - {{name: http, port: 80}}\n"
    );
    if let Some(addr) = backend {
        yaml += &format!(
            "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n\
             metadata:\n  name: {name}-1\n  namespace: {ns}\n  labels: {{kubernetes.io/service-name: {name}}}\n\
             addressType: IPv4\nports:\n- {{name: http, port: {port}}}\n\
             endpoints:\n- addresses: [\"{ip}\"]\n  conditions: {{ready: true}}\n",
            port = addr.port(),
            ip = addr.ip(),
        );
    }
    yaml
}

/// One path of an Ingress rule.
pub struct PathSpec<'a> {
    pub path: &'a str,
    pub path_type: &'a str,
    pub service: &'a str,
}

/// An Ingress with one rule (`host` may be empty for a host-less rule).
pub fn ingress_yaml(ns: &str, name: &str, host: &str, paths: &[PathSpec<'_>]) -> String {
    let mut yaml = format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: {name}, namespace: {ns}}}\n\
         spec:\n  ingressClassName: interlock\n  rules:\n  - "
    );
    if !host.is_empty() {
        yaml += &format!("host: \"{host}\"\n    ");
    }
    yaml += "http:\n      paths:\n";
    for p in paths {
        yaml += &format!(
            "      - path: \"{}\"\n        pathType: {}\n        backend: {{service: {{name: {}, port: {{name: http}}}}}}\n",
            p.path, p.path_type, p.service
        );
    }
    yaml
}

/// A simple Ingress: `host` → everything under `/` → `service`.
pub fn simple_ingress(ns: &str, name: &str, host: &str, service: &str) -> String {
    ingress_yaml(
        ns,
        name,
        host,
        &[PathSpec {
            path: "/",
            path_type: "Prefix",
            service,
        }],
    )
}

/// A `kubernetes.io/tls` Secret holding `cert` and `key` (PEM).
pub fn tls_secret_yaml(ns: &str, name: &str, cert: &str, key: &str) -> String {
    let indent = |pem: &str| {
        pem.lines()
            .map(|l| format!("    {l}\n"))
            .collect::<String>()
    };
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {ns}}}\ntype: kubernetes.io/tls\n\
         stringData:\n  tls.crt: |\n{}  tls.key: |\n{}",
        indent(cert),
        indent(key)
    )
}

/// `ingress` (as made by [`ingress_yaml`]) serving `host` over HTTPS with Secret `secret`.
pub fn with_tls(ingress: &str, host: &str, secret: &str) -> String {
    format!("{ingress}  tls:\n  - hosts: [\"{host}\"]\n    secretName: {secret}\n")
}

/// A `kubernetes.io/tls` Secret `<name>-tls` holding `cert` and `key`, and a
/// simple Ingress `name` serving `host` over HTTPS with it, as one manifest.
pub fn tls_ingress_with_secret(
    ns: &str,
    name: &str,
    host: &str,
    service: &str,
    (cert, key): (&str, &str),
) -> String {
    let secret_name = format!("{name}-tls");
    let secret = tls_secret_yaml(ns, &secret_name, cert, key);
    let ingress = with_tls(&simple_ingress(ns, name, host, service), host, &secret_name);
    format!("{secret}---\n{ingress}")
}

/// A well-formed certificate and its key (so Interlock serves them) that
/// Envoy refuses: RSA with 1,024 bits ("only RSA certificates with 2048-bit or
/// larger keys are supported"), Envoy's policy, not a structural fault.
pub fn weak_rsa_pem() -> (String, String) {
    let read = |f: &str| {
        let path = format!("{}/tests/data/tls/{f}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    (read("rsa_cert.pem"), read("rsa.pem"))
}

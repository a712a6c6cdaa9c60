//! A real Envoy process bootstrapped the way gateways are (Interlock's own
//! `render_bootstrap`), so the tests check what production Envoys would do.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use interlock::bootstrap::BootstrapOptions;
use interlock::local_gateway::{LocalEnvoy, LocalEnvoyOptions};

use super::http;

/// How long Envoy may take to answer on its admin port.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How to start an Envoy.
#[derive(Debug, Clone)]
pub struct EnvoyOptions {
    /// Interlock's xDS port on 127.0.0.1.
    pub xds_port: u16,
    /// Use delta xDS (`DELTA_GRPC`) instead of state of the world.
    pub delta: bool,
    /// Unique per Envoy by default, so ack tracking can tell Envoys apart.
    pub node_id: String,
    /// Worker threads; 1 makes "ACKed ⇒ served" exact (see DESIGN.md).
    pub concurrency: u32,
    /// RE2 program size above which this Envoy rejects a regex (Envoy's
    /// default is 100, which Interlock checks against): a lower one makes an
    /// Envoy that rejects config others accept.
    pub max_regex_program_size: Option<u32>,
    /// Mutual TLS to Interlock (client certificate, CA, server name).
    pub xds_tls: Option<interlock::bootstrap::XdsTls>,
}

impl EnvoyOptions {
    /// One worker and a fresh node id (`test-node-<pid>-<n>`).
    pub fn new(xds_port: u16, delta: bool) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Self {
            xds_port,
            delta,
            node_id: format!("test-node-{}-{n}", std::process::id()),
            concurrency: 1,
            max_regex_program_size: None,
            xds_tls: None,
        }
    }
}

/// A running Envoy (Interlock's own [`LocalEnvoy`]), with the admin queries tests
/// need. Failures panic with Envoy's log.
pub struct Envoy {
    opts: EnvoyOptions,
    inner: LocalEnvoy,
}

impl Envoy {
    /// Starts Envoy and waits until its admin endpoint answers. It need not be
    /// connected to Interlock yet (with nothing on `xds_port` it just keeps retrying).
    pub async fn start(opts: EnvoyOptions) -> Envoy {
        let local = LocalEnvoyOptions {
            bootstrap: BootstrapOptions {
                node_id: opts.node_id.clone(),
                node_cluster: "interlock-tests".into(),
                xds_host: "127.0.0.1".into(),
                xds_port: opts.xds_port,
                delta: opts.delta,
                admin_port: 0,
                xds_tls: opts.xds_tls.clone(),
            },
            concurrency: opts.concurrency,
            log_level: std::env::var("ENVOY_LOG_LEVEL").unwrap_or_else(|_| "warn".into()),
            inherit_output: false,
            config_overlay: opts.max_regex_program_size.map(|size| {
                format!(
                    "layered_runtime: {{layers: [{{name: strict, static_layer: \
                     {{re2.max_program_size.error_level: {size}}}}}]}}"
                )
            }),
        };
        let inner = LocalEnvoy::start(local)
            .await
            .unwrap_or_else(|e| panic!("cannot start Envoy: {e}"));
        let envoy = Envoy { opts, inner };
        envoy.wait_admin().await;
        envoy
    }

    /// The admin endpoint (127.0.0.1, port picked by the kernel).
    pub fn admin_addr(&self) -> SocketAddr {
        self.inner.admin_addr()
    }

    /// The options Envoy was started with (its node id, for instance).
    pub fn options(&self) -> &EnvoyOptions {
        &self.opts
    }

    /// Everything Envoy has logged, across restarts.
    pub fn log(&self) -> String {
        self.inner.log()
    }

    /// GET an admin path such as `/clusters`; returns status and body.
    pub async fn admin_get(&self, path: &str) -> (u16, String) {
        match http::get(self.admin_addr(), "localhost", path).await {
            Ok(r) => (r.status, r.body),
            Err(e) => panic!("Envoy admin {path}: {e}\n--- envoy log ---\n{}", self.log()),
        }
    }

    /// The full config dump, endpoints included.
    pub async fn config_dump(&self) -> serde_json::Value {
        let (status, body) = self.admin_get("/config_dump?include_eds").await;
        assert_eq!(status, 200, "config_dump answered {status}: {body}");
        serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("config_dump is not JSON ({e}): {body}"))
    }

    /// The value of counter or gauge `name` (e.g. `cluster_manager.cds.update_success`),
    /// or `None` if Envoy has no such stat yet.
    pub async fn stat(&self, name: &str) -> Option<u64> {
        let path = format!("/stats?format=json&filter={}", stat_filter(name));
        let (status, body) = self.admin_get(&path).await;
        assert_eq!(status, 200, "stats answered {status}: {body}");
        let json: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("stats are not JSON ({e}): {body}"));
        json["stats"]
            .as_array()?
            .iter()
            .find(|s| s["name"] == name)
            .and_then(|s| s["value"].as_u64())
    }

    /// Freezes (SIGSTOP) or thaws (SIGCONT) the process: a stalled Envoy that
    /// keeps its connections open but answers nothing.
    pub fn freeze(&self, frozen: bool) {
        let pid = self.inner.pid().expect("Envoy is running");
        let signal = if frozen { "-STOP" } else { "-CONT" };
        let status = std::process::Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} {pid}");
    }

    /// SIGKILL and reap: the harshest way an Envoy can go.
    pub fn kill(&mut self) {
        self.inner.kill();
    }

    /// Kills Envoy and starts it again with the same options and node id, as a pod
    /// restart would.
    pub async fn restart(&mut self) {
        if let Err(e) = self.inner.restart().await {
            panic!("cannot restart Envoy: {e}");
        }
        self.wait_admin().await;
    }

    /// Waits until admin answers `/server_info` with 200.
    async fn wait_admin(&self) {
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(r) = http::get(self.admin_addr(), "localhost", "/server_info").await {
                if r.status == 200 {
                    return;
                }
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "Envoy's admin did not answer within {START_TIMEOUT:?}\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The entry of a config dump whose `@type` ends with `kind`, e.g.
/// `"BootstrapConfigDump"`, `"ClustersConfigDump"`, `"RoutesConfigDump"`.
pub fn dump_section<'a>(dump: &'a serde_json::Value, kind: &str) -> Option<&'a serde_json::Value> {
    dump["configs"]
        .as_array()?
        .iter()
        .find(|c| c["@type"].as_str().is_some_and(|t| t.ends_with(kind)))
}

/// An admin `filter` matching exactly `name`: regex-escaped, then percent-encoded.
fn stat_filter(name: &str) -> String {
    let mut regex = String::from("^");
    for c in name.chars() {
        if c.is_ascii_punctuation() && c != '_' {
            regex.push('\\');
        }
        regex.push(c);
    }
    regex.push('$');
    regex
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

//! A real Envoy process bootstrapped the way gateways are (Interlock's own
//! `render_bootstrap`), so the tests check what production Envoys would do.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use interlock::bootstrap::{render_bootstrap, BootstrapOptions};
use tempfile::TempDir;
use tokio::process::{Child, Command};

use super::envoy_binary::envoy_binary;
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
        }
    }
}

/// A running Envoy; killed when dropped. Its bootstrap, admin address file and log live
/// in a temp dir kept for its whole life, so a failing test can print [`Envoy::log`].
pub struct Envoy {
    opts: EnvoyOptions,
    dir: TempDir,
    child: Option<Child>,
    admin: SocketAddr,
}

impl Envoy {
    /// Starts Envoy and waits until its admin endpoint answers. It need not be
    /// connected to Interlock yet (with nothing on `xds_port` it just keeps retrying).
    pub async fn start(opts: EnvoyOptions) -> Envoy {
        let dir = tempfile::Builder::new()
            .prefix("interlock-envoy")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temp dir for Envoy: {e}"));
        let bootstrap = render_bootstrap(&BootstrapOptions {
            node_id: opts.node_id.clone(),
            node_cluster: "interlock-tests".into(),
            xds_host: "127.0.0.1".into(),
            xds_port: opts.xds_port,
            delta: opts.delta,
            admin_port: 0,
        });
        fs::write(dir.path().join("bootstrap.yaml"), bootstrap)
            .unwrap_or_else(|e| panic!("cannot write the Envoy bootstrap: {e}"));
        let mut envoy = Envoy {
            opts,
            dir,
            child: None,
            admin: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        envoy.spawn().await;
        envoy
    }

    /// The admin endpoint (127.0.0.1, port picked by the kernel).
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin
    }

    /// The options Envoy was started with (its node id, for instance).
    pub fn options(&self) -> &EnvoyOptions {
        &self.opts
    }

    /// Everything Envoy has logged, across restarts.
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_else(|e| format!("(no log: {e})"))
    }

    /// GET an admin path such as `/clusters`; returns status and body.
    pub async fn admin_get(&self, path: &str) -> (u16, String) {
        match http::get(self.admin, "localhost", path).await {
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

    /// SIGKILL and reap: the harshest way an Envoy can go.
    pub fn kill(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = child.start_kill();
        for _ in 0..1000 {
            if !matches!(child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("Envoy did not exit within 5 s of SIGKILL");
    }

    /// Kills Envoy and starts it again with the same options and node id, as a pod
    /// restart would.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("envoy.log")
    }

    async fn spawn(&mut self) {
        let admin_file = self.dir.path().join("admin-address");
        let _ = fs::remove_file(&admin_file);
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap_or_else(|e| panic!("cannot open the Envoy log: {e}"));
        let _ = writeln!(log, "=== interlock tests: starting envoy ===");
        let level = std::env::var("ENVOY_LOG_LEVEL").unwrap_or_else(|_| "warn".into());
        let child = Command::new(envoy_binary())
            .arg("-c")
            .arg(self.dir.path().join("bootstrap.yaml"))
            .arg("--admin-address-path")
            .arg(&admin_file)
            .args(["--concurrency", &self.opts.concurrency.to_string()])
            // No shared memory or domain sockets: any number of Envoys can run at once.
            .arg("--disable-hot-restart")
            .args(["--log-level", &level])
            .args(["--drain-time-s", "1"])
            .stdin(Stdio::null())
            .stdout(clone(&log))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", envoy_binary().display()));
        self.child = Some(child);
        self.admin = self.wait_until_ready(&admin_file).await;
    }

    /// Waits for Envoy to write its admin address and answer `/server_info` there.
    async fn wait_until_ready(&mut self, admin_file: &std::path::Path) -> SocketAddr {
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    panic!(
                        "Envoy exited at start ({status})\n--- envoy log ---\n{}",
                        self.log()
                    );
                }
            }
            let addr = fs::read_to_string(admin_file)
                .ok()
                .and_then(|s| s.trim().parse::<SocketAddr>().ok());
            if let Some(addr) = addr {
                if let Ok(r) = http::get(addr, "localhost", "/server_info").await {
                    if r.status == 200 {
                        return addr;
                    }
                }
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "Envoy's admin did not answer within {START_TIMEOUT:?}\n--- envoy log ---\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        // Reap before the temp dir goes; never panic while unwinding.
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            for _ in 0..200 {
                if !matches!(child.try_wait(), Ok(None)) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
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

fn clone(log: &File) -> File {
    log.try_clone()
        .unwrap_or_else(|e| panic!("cannot duplicate the Envoy log handle: {e}"))
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

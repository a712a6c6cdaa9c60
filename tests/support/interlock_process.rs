//! `interlock serve` as a separate process, as operators run it: for tests of
//! signals, leader hand-over between replicas, and the Kubernetes source
//! through a (fake) API server.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use super::http::{get, Response};
use super::ports::free_port;

/// A running `interlock serve`; killed when dropped.
pub struct InterlockProcess {
    child: Child,
    pub xds_port: u16,
    pub admin: SocketAddr,
    pub http_port: u16,
    pub https_port: u16,
    pub identity: String,
    log: PathBuf,
}

impl InterlockProcess {
    /// Starts `interlock serve` on fresh loopback ports against the cluster of
    /// `kubeconfig`, with short debounce and leader-election durations, as
    /// `identity`, plus `extra` flags. Its log goes to `dir/<identity>.log`.
    /// `listeners` are the ports Envoy's HTTP and HTTPS listeners get (fresh
    /// ones when `None`): replicas serving the same gateway share them.
    pub fn start(
        kubeconfig: &Path,
        dir: &Path,
        identity: &str,
        listeners: Option<(u16, u16)>,
        extra: &[&str],
    ) -> Self {
        InterlockProcess::launch(dir, identity, listeners, extra, |command| {
            command
                .arg("--kubeconfig")
                .arg(kubeconfig)
                .args(["--identity", identity])
                .args(["--leader-election-namespace", "default"])
                .args(["--leader-election-lease-duration", "3s"])
                .args(["--leader-election-renew-deadline", "2s"])
                .args(["--leader-election-retry-period", "300ms"])
                .env_remove("POD_NAME")
                .env_remove("POD_NAMESPACE");
        })
    }

    /// Starts `interlock serve --ingress-dir ingress_dir` (the file source, no
    /// cluster) on fresh loopback ports, plus `extra` flags. Its log goes to
    /// `dir/<name>.log`.
    pub fn start_files(ingress_dir: &Path, dir: &Path, name: &str, extra: &[&str]) -> Self {
        InterlockProcess::launch(dir, name, None, extra, |command| {
            command.arg("--ingress-dir").arg(ingress_dir);
        })
    }

    /// `interlock serve` with the flags every test process shares, plus what
    /// `source` adds; logs to `dir/<name>.log`.
    fn launch(
        dir: &Path,
        name: &str,
        listeners: Option<(u16, u16)>,
        extra: &[&str],
        source: impl FnOnce(&mut Command),
    ) -> Self {
        let (xds_port, admin_port) = (free_port(), free_port());
        let (http_port, https_port) = listeners.unwrap_or_else(|| (free_port(), free_port()));
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("create interlock log");
        let err = out.try_clone().expect("clone log handle");
        let mut command = Command::new(env!("CARGO_BIN_EXE_interlock"));
        command.arg("serve");
        source(&mut command);
        command
            .args(["--xds-address", &format!("127.0.0.1:{xds_port}")])
            .args(["--admin-address", &format!("127.0.0.1:{admin_port}")])
            .args(["--listen-address", "127.0.0.1"])
            .args(["--http-port", &http_port.to_string()])
            .args(["--https-port", &https_port.to_string()])
            .args(["--debounce", "20ms", "--debounce-max", "200ms"])
            .args(extra)
            .env(
                "RUST_LOG",
                std::env::var("INTERLOCK_TEST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true);
        for proxy in [
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "http_proxy",
            "https_proxy",
            "all_proxy",
        ] {
            command.env_remove(proxy);
        }
        let child = command.spawn().expect("start interlock serve");
        InterlockProcess {
            child,
            xds_port,
            admin: SocketAddr::from(([127, 0, 0, 1], admin_port)),
            http_port,
            https_port,
            identity: name.to_owned(),
            log,
        }
    }

    /// The process id (for its CPU time and memory in `/proc`).
    pub fn pid(&self) -> u32 {
        self.child.id().expect("interlock serve is running")
    }

    /// Envoy's HTTP listener address for this replica's config.
    pub fn http(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.http_port))
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GET on the admin listener; `None` when it does not answer.
    pub async fn admin_get(&self, path: &str) -> Option<Response> {
        get(self.admin, "localhost", path).await.ok()
    }

    /// `/readyz` status code, `None` when the admin listener does not answer.
    pub async fn readyz(&self) -> Option<u16> {
        self.admin_get("/readyz").await.map(|r| r.status)
    }

    /// The version `/readyz` reports once ready.
    pub async fn ready_version(&self) -> Option<String> {
        let r = self.admin_get("/readyz").await?;
        (r.status == 200).then(|| {
            r.body
                .trim()
                .trim_start_matches("ready: snapshot ")
                .to_owned()
        })
    }

    /// Waits until `/readyz` answers 200.
    pub async fn wait_ready(&self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.readyz().await != Some(200) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} not ready after {timeout:?}; log:\n{}",
                self.identity,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends SIGTERM, as the kubelet does.
    pub fn terminate(&self) {
        let pid = self.child.id().expect("interlock still running");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {pid}");
    }

    /// Kills it at once (SIGKILL: a crashed or evicted replica).
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// Waits for it to exit; panics after `timeout`. Returns whether it exited 0.
    pub async fn wait_exit(&mut self, timeout: Duration) -> bool {
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(Ok(status)) => status.success(),
            Ok(Err(e)) => panic!("waiting for interlock: {e}"),
            Err(_) => panic!(
                "interlock {} did not exit within {timeout:?}; log:\n{}",
                self.identity,
                self.log()
            ),
        }
    }
}

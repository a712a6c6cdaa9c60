//! A real Envoy process bootstrapped the way gateways are, for the quickstart and
//! for tests that must see what production Envoys would do.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tempfile::TempDir;
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use super::envoy_binary::envoy_binary;
use super::error::LocalGatewayError;
use crate::bootstrap::{render_bootstrap, BootstrapOptions};

/// How long Envoy may take to open its admin port.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How to run a local Envoy.
#[derive(Debug, Clone)]
pub struct LocalEnvoyOptions {
    /// The bootstrap (its `admin_port` may be 0: the real port is read back).
    pub bootstrap: BootstrapOptions,
    /// Worker threads; 1 makes "ACKed ⇒ served" exact (DESIGN.md).
    pub concurrency: u32,
    /// Envoy's `--log-level`.
    pub log_level: String,
    /// Send Envoy's output (access log included) to this process's stdout/stderr
    /// instead of a log file.
    pub inherit_output: bool,
    /// YAML merged over the bootstrap (Envoy's `--config-yaml`), e.g. a runtime
    /// layer that makes this Envoy stricter than others.
    pub config_overlay: Option<String>,
}

/// A running Envoy, killed when dropped. Its bootstrap, admin address file and log
/// live in a temp dir kept for its whole life.
pub struct LocalEnvoy {
    opts: LocalEnvoyOptions,
    dir: TempDir,
    child: Option<Child>,
    admin: SocketAddr,
}

impl LocalEnvoy {
    /// Starts Envoy and waits until its admin port accepts connections. It need
    /// not have reached the control plane yet.
    pub async fn start(opts: LocalEnvoyOptions) -> Result<LocalEnvoy, LocalGatewayError> {
        let dir = tempfile::Builder::new()
            .prefix("interlock-envoy")
            .tempdir()
            .map_err(|e| LocalGatewayError::io("create a temp dir for Envoy", e))?;
        fs::write(
            dir.path().join("bootstrap.yaml"),
            render_bootstrap(&opts.bootstrap),
        )
        .map_err(|e| LocalGatewayError::io("write the Envoy bootstrap", e))?;
        // With mTLS to Interlock the bootstrap refers to file-based SDS files.
        if let Some(tls) = &opts.bootstrap.xds_tls {
            tls.write_sds_files(tls.sds_dir())
                .map_err(|e| LocalGatewayError::io("write the xDS TLS SDS files", e))?;
        }
        let mut envoy = LocalEnvoy {
            opts,
            dir,
            child: None,
            admin: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        envoy.spawn().await?;
        Ok(envoy)
    }

    /// The admin endpoint.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin
    }

    /// The options Envoy was started with.
    pub fn options(&self) -> &LocalEnvoyOptions {
        &self.opts
    }

    /// Everything Envoy has logged (empty when its output is inherited).
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// SIGKILL and reap: the harshest way an Envoy can go.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            for _ in 0..1000 {
                if !matches!(child.try_wait(), Ok(None)) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }

    /// Kills Envoy and starts it again with the same options, as a pod restart would.
    pub async fn restart(&mut self) -> Result<(), LocalGatewayError> {
        self.kill();
        self.spawn().await
    }

    /// The process id, while Envoy runs (to signal it, e.g. to freeze it).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(|c| c.id())
    }

    /// Waits until Envoy exits by itself.
    pub async fn wait(&mut self) -> Result<std::process::ExitStatus, LocalGatewayError> {
        match self.child.as_mut() {
            Some(child) => child
                .wait()
                .await
                .map_err(|e| LocalGatewayError::io("wait for Envoy", e)),
            None => Err(LocalGatewayError::EnvoyStart {
                reason: "Envoy is not running".into(),
                log: self.log(),
            }),
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("envoy.log")
    }

    async fn spawn(&mut self) -> Result<(), LocalGatewayError> {
        let bin = envoy_binary()?;
        let admin_file = self.dir.path().join("admin-address");
        let _ = fs::remove_file(&admin_file);
        let mut command = Command::new(&bin);
        command
            .arg("-c")
            .arg(self.dir.path().join("bootstrap.yaml"))
            .arg("--admin-address-path")
            .arg(&admin_file)
            .args(["--concurrency", &self.opts.concurrency.to_string()])
            // No shared memory or domain sockets: any number of Envoys can run at once.
            .arg("--disable-hot-restart")
            .args(["--log-level", &self.opts.log_level])
            .args(["--drain-time-s", "1"])
            .stdin(Stdio::null())
            .kill_on_drop(true);
        if let Some(overlay) = &self.opts.config_overlay {
            command.args(["--config-yaml", overlay]);
        }
        if !self.opts.inherit_output {
            let mut log = OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.log_path())
                .map_err(|e| LocalGatewayError::io("open the Envoy log", e))?;
            let _ = writeln!(log, "=== interlock: starting envoy ===");
            command.stdout(duplicate(&log)?).stderr(log);
        }
        let child = command
            .spawn()
            .map_err(|e| LocalGatewayError::io(format!("start {}", bin.display()), e))?;
        self.child = Some(child);
        self.admin = self.wait_until_ready(&admin_file).await?;
        Ok(())
    }

    /// Waits for Envoy to write its admin address and accept a connection there.
    async fn wait_until_ready(
        &mut self,
        admin_file: &Path,
    ) -> Result<SocketAddr, LocalGatewayError> {
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(LocalGatewayError::EnvoyStart {
                        reason: format!("Envoy exited at start ({status})"),
                        log: self.log(),
                    });
                }
            }
            let addr = fs::read_to_string(admin_file)
                .ok()
                .and_then(|s| s.trim().parse::<SocketAddr>().ok());
            if let Some(addr) = addr {
                if TcpStream::connect(addr).await.is_ok() {
                    return Ok(addr);
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(LocalGatewayError::EnvoyStart {
                    reason: format!("admin did not answer within {START_TIMEOUT:?}"),
                    log: self.log(),
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for LocalEnvoy {
    fn drop(&mut self) {
        // Reap before the temp dir goes.
        self.kill();
    }
}

fn duplicate(log: &File) -> Result<File, LocalGatewayError> {
    log.try_clone()
        .map_err(|e| LocalGatewayError::io("duplicate the Envoy log handle", e))
}

//! `interlock bench push` run as its own process, as operators run it, against
//! a test `interlock serve`: started in the background so a test can break the
//! gateway or send Ctrl-C mid-run, then awaited for its exit code and reports.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::process::{Child, Command};

use super::InterlockProcess;

/// A running `interlock bench push`; killed when dropped.
pub struct BenchPush {
    child: Child,
    /// Where its JSON report goes.
    pub json: PathBuf,
    /// Where its HTML report goes.
    pub html: PathBuf,
    log: PathBuf,
}

impl BenchPush {
    /// Starts `interlock bench push` against `server`'s admin API and Envoy
    /// listener, reports and log in `dir`, plus `args` (the sink and the run's shape).
    pub fn start(server: &InterlockProcess, dir: &Path, args: &[&str]) -> BenchPush {
        let (json, html, log) = (
            dir.join("push.json"),
            dir.join("push.html"),
            dir.join("push.log"),
        );
        let out = std::fs::File::create(&log).expect("create the bench log");
        let err = out.try_clone().expect("clone the log handle");
        let child = Command::new(env!("CARGO_BIN_EXE_interlock"))
            .args(["bench", "push"])
            .args(["--admin-address", &server.admin.to_string()])
            .args(["--gateway", &server.http().to_string()])
            .arg("--json")
            .arg(&json)
            .arg("--html")
            .arg(&html)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .expect("start interlock bench push");
        BenchPush {
            child,
            json,
            html,
            log,
        }
    }

    /// Sends SIGINT, as Ctrl-C does.
    pub fn interrupt(&self) {
        let pid = self.child.id().expect("bench still running");
        let status = std::process::Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -INT {pid}");
    }

    /// Its output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for it to exit (panics after `timeout`); returns its exit status
    /// and the JSON report, when it wrote one.
    pub async fn finish(mut self, timeout: Duration) -> (ExitStatus, Option<Value>) {
        let status = match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(Ok(status)) => status,
            Ok(Err(e)) => panic!("waiting for the bench: {e}"),
            Err(_) => panic!(
                "bench push still running after {timeout:?}:\n{}",
                self.log()
            ),
        };
        let report = std::fs::read_to_string(&self.json)
            .ok()
            .map(|text| serde_json::from_str(&text).expect("bench push's JSON report"));
        (status, report)
    }
}

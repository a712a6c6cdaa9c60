//! `interlock bench fanout` run as its own process (as Envoys would be) against
//! a test `interlock serve`, for the connect-storm test and the fan-out bench.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use super::InterlockProcess;

/// Runs `interlock bench fanout` with `args` against `server`, writing changes
/// into `ingress_dir` and its report to `json`; returns the process's output and
/// the report (when it wrote one).
pub async fn bench_fanout(
    server: &InterlockProcess,
    ingress_dir: &Path,
    json: &Path,
    args: &[&str],
) -> (Output, Option<Value>) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_interlock"))
        .args(["bench", "fanout"])
        .args(["--xds", &format!("127.0.0.1:{}", server.xds_port)])
        .arg("--ingress-dir")
        .arg(ingress_dir)
        .args(["--server-pid", &server.pid().to_string()])
        .arg("--json")
        .arg(json)
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .expect("run interlock bench fanout");
    let report = std::fs::read_to_string(json)
        .ok()
        .map(|text| serde_json::from_str(&text).expect("bench fanout's JSON report"));
    (output, report)
}

//! Envoy's own verdict on a config file, without running it.

use std::path::Path;
use std::process::Command;

use super::envoy_binary::envoy_binary;
use super::error::LocalGatewayError;

/// Runs `envoy --mode validate -c config` (plus `args`, e.g. `--service-node`):
/// catches what only Envoy knows (unknown fields, bad regexes, TLS material)
/// in a bootstrap before any Envoy has to load it.
pub fn validate_config(config: &Path, args: &[&str]) -> Result<(), LocalGatewayError> {
    let out = Command::new(envoy_binary()?)
        .args(["--mode", "validate", "--disable-hot-restart"])
        .args(args)
        .arg("-c")
        .arg(config)
        .output()
        .map_err(|e| LocalGatewayError::io("run envoy --mode validate", e))?;
    if out.status.success() {
        return Ok(());
    }
    Err(LocalGatewayError::Invalid {
        config: config.to_owned(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    })
}

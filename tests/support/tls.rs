//! TLS material and HTTPS requests for tests of Envoy's SNI listener.

use std::process::Command;

/// A self-signed certificate and key for `host`, made with the openssl CLI.
pub fn certificate(host: &str) -> (String, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", &format!("/CN={host}")])
        .args(["-addext", &format!("subjectAltName=DNS:{host}")])
        .arg("-keyout")
        .arg(dir.path().join("key.pem"))
        .arg("-out")
        .arg(dir.path().join("cert.pem"))
        .output()
        .unwrap_or_else(|e| panic!("the HTTPS test needs the openssl CLI: {e}"));
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).expect("pem");
    (read("cert.pem"), read("key.pem"))
}

/// GET over HTTPS with SNI `host`, via curl (status, body), or the curl error.
pub fn https_get(port: u16, host: &str) -> Result<(u16, String), String> {
    https_request(port, host, None, &[])
}

/// GET `https://host/` on `port` with SNI `host`, sending `headers`
/// (`Name: value`) and presenting `client` (certificate and key files) if
/// given, via curl: (status, body), or curl's error (a refused handshake).
pub fn https_request(
    port: u16,
    host: &str,
    client: Option<(&std::path::Path, &std::path::Path)>,
    headers: &[&str],
) -> Result<(u16, String), String> {
    let mut curl = Command::new("curl");
    for header in headers {
        curl.args(["-H", header]);
    }
    curl.args(["-sk", "--max-time", "10", "-w", "\n%{http_code}"])
        .args(["--resolve", &format!("{host}:{port}:127.0.0.1")]);
    if let Some((cert, key)) = client {
        curl.arg("--cert").arg(cert).arg("--key").arg(key);
    }
    let out = curl
        .arg(format!("https://{host}:{port}/"))
        .output()
        .unwrap_or_else(|e| panic!("the HTTPS tests need curl: {e}"));
    if !out.status.success() {
        return Err(format!(
            "curl exit {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    Ok((code.trim().parse().unwrap_or(0), body.to_owned()))
}

/// `interlock certgen --gateway envoy --out-dir` into a fresh temp dir: the dir
/// to keep, and the output directory in it (`ca.crt`, `server/`, `envoy/`).
pub fn certgen_output() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let pki = dir.path().join("pki");
    let out = Command::new(env!("CARGO_BIN_EXE_interlock"))
        .args(["certgen", "--gateway", "envoy", "--out-dir"])
        .arg(&pki)
        .output()
        .expect("run certgen");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (dir, pki)
}

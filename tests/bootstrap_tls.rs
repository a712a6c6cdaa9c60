//! `interlock bootstrap` with mutual TLS to Interlock, against the real Envoy 1.40:
//! Envoy accepts the bootstrap; it presents its client certificate to a TLS server
//! that requires one (`openssl s_server`: Interlock's own mTLS listener is tested with
//! this bootstrap where it is built), sends the pinned SNI, refuses a server
//! certificate without the pinned DNS SAN, and picks up a Secret-style rotation of
//! certificate, key and CA (the kubelet's `..data` symlink swap) without a restart.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use interlock::bootstrap::{
    render_bootstrap, BootstrapOptions, XdsTls, CLIENT_CERTIFICATE_SECRET,
    VALIDATION_CONTEXT_SECRET, XDS_CLUSTER,
};
use interlock::local_gateway::{validate_config, LocalEnvoy, LocalEnvoyOptions};
use support::{free_port, wait_for};
use tempfile::TempDir;

/// How long Envoy may take to (re)connect: its xDS retry back-off tops out at 5 s.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

#[test]
fn envoy_validates_the_tls_bootstrap_written_by_the_cli() {
    let pki = Pki::new("cli");
    let secret = SecretVolume::new(&pki);
    let sds = TempDir::new().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_interlock"))
        .args(["bootstrap", "--node-id", "gw-1"])
        .args(["--xds-address", "interlock.interlock-system.svc:18000"])
        .arg("--xds-tls-dir")
        .arg(secret.path())
        .arg("--sds-dir")
        .arg(sds.path())
        .output()
        .expect("run interlock bootstrap");
    assert!(
        out.status.success(),
        "interlock bootstrap: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = String::from_utf8(out.stdout).expect("UTF-8 bootstrap");
    // The host of --xds-address is the default server name.
    assert!(
        yaml.contains("sni: \"interlock.interlock-system.svc\"\n"),
        "{yaml}"
    );
    for (name, contents) in tls(&secret, "interlock.interlock-system.svc", sds.path()).sds_files() {
        let written = fs::read_to_string(sds.path().join(name)).expect("SDS file written");
        assert_eq!(written, contents);
    }
    validate(&yaml);
}

#[test]
fn envoy_validates_the_tls_bootstrap_with_explicit_files() {
    let pki = Pki::new("files");
    let sds = TempDir::new().expect("temp dir");
    let tls = XdsTls::from_files(
        pki.file("client.crt"),
        pki.file("client.key"),
        pki.file("ca.crt"),
        "localhost",
        sds.path(),
    )
    .expect("TLS options");
    tls.write_sds_files(sds.path()).expect("write SDS files");
    for delta in [false, true] {
        validate(&render_bootstrap(&options(18000, Some(tls.clone()), delta)));
    }
}

#[tokio::test]
async fn envoy_presents_its_certificate_and_follows_a_secret_rotation() {
    let v1 = Pki::new("v1");
    let secret = SecretVolume::new(&v1);
    let sds = TempDir::new().expect("temp dir");
    let port = free_port();
    let server = SServer::start(
        &v1,
        port,
        &["-servername", "localhost", "-servername_fatal"],
    );
    let envoy = start_envoy(port, tls(&secret, "localhost", sds.path())).await;

    // s_server requires a client certificate signed by its CA and ends the handshake
    // unless the SNI is `localhost`; Envoy checks the server's CA and DNS SAN.
    server.wait_for_client("envoy-v1", &envoy).await;
    let extensions = server.stdout();
    assert!(
        extensions.contains(r#"TLS client extension "server name""#),
        "{extensions}"
    );
    assert!(
        extensions.contains(r#"TLS client extension "application layer protocol negotiation""#),
        "{extensions}"
    );
    assert!(stat(&envoy, &ssl_stat("handshake")).await >= 1);
    assert_eq!(
        stat(&envoy, &ssl_stat("versions.TLSv1.3")).await,
        stat(&envoy, &ssl_stat("handshake")).await
    );

    // Rotate everything, CA included, the way the kubelet updates a Secret volume.
    let v2 = Pki::new("v2");
    secret.swap_to(&v2);
    let (cert_serial, ca_serial) = (v2.serial("client.crt"), v2.serial("ca.crt"));
    wait_for(
        CONNECT_TIMEOUT,
        "Envoy to load the rotated certificate and CA",
        || {
            let envoy = &envoy;
            let (cert_serial, ca_serial) = (&cert_serial, &ca_serial);
            async move {
                let certs = loaded_serials(envoy).await;
                certs.contains(cert_serial) && certs.contains(ca_serial)
            }
        },
    )
    .await;
    // Two loads at start, then one reload per secret; the SDS files did not change.
    let updates = "cluster.interlock_xds.client_ssl_socket_factory.ssl_context_update_by_sds";
    assert!(stat(&envoy, updates).await >= 4);
    for secret in [CLIENT_CERTIFICATE_SECRET, VALIDATION_CONTEXT_SECRET] {
        assert_eq!(
            stat(&envoy, &format!("sds.{secret}.key_rotation_failed")).await,
            0
        );
        assert_eq!(
            stat(&envoy, &format!("sds.{secret}.update_success")).await,
            1
        );
    }

    // A new connection uses both: a server of the new CA only (trusting only the new
    // CA) accepts Envoy, and Envoy accepts it.
    drop(server);
    let server = SServer::start(&v2, port, &[]);
    server.wait_for_client("envoy-v2", &envoy).await;
    drop(server);
}

#[tokio::test]
async fn envoy_refuses_a_server_certificate_without_the_pinned_name() {
    let pki = Pki::new("san");
    let secret = SecretVolume::new(&pki);
    let sds = TempDir::new().expect("temp dir");
    let port = free_port();
    let server = SServer::start(&pki, port, &[]);
    // The server certificate names localhost and 127.0.0.1, not `interlock`.
    let envoy = start_envoy(port, tls(&secret, "interlock", sds.path())).await;
    let name = ssl_stat("fail_verify_san");
    wait_for(
        CONNECT_TIMEOUT,
        "Envoy to refuse the server certificate",
        || {
            let (envoy, name) = (&envoy, &name);
            async move { stat(envoy, name).await >= 1 }
        },
    )
    .await;
    // TLS 1.3: the client checks the server before it sends its own certificate.
    let err = server.stderr();
    assert!(
        !err.contains("CN = envoy"),
        "the server saw Envoy's certificate:\n{err}"
    );
    assert_eq!(stat(&envoy, &ssl_stat("handshake")).await, 0);
}

// --- Envoy ---

fn options(xds_port: u16, xds_tls: Option<XdsTls>, delta: bool) -> BootstrapOptions {
    BootstrapOptions {
        node_id: "gw-tls".into(),
        node_cluster: "interlock-tests".into(),
        xds_host: "127.0.0.1".into(),
        xds_port,
        delta,
        admin_port: 0,
        xds_tls,
    }
}

fn tls(secret: &SecretVolume, server_name: &str, sds_dir: &Path) -> XdsTls {
    XdsTls::from_dir(secret.path(), server_name, sds_dir).expect("TLS options")
}

fn validate(yaml: &str) {
    let dir = TempDir::new().expect("temp dir");
    let path = dir.path().join("bootstrap.yaml");
    fs::write(&path, yaml).expect("write bootstrap");
    if let Err(e) = validate_config(&path, &[]) {
        panic!("Envoy rejects the TLS bootstrap:\n{e}\n--- bootstrap ---\n{yaml}");
    }
}

async fn start_envoy(xds_port: u16, tls: XdsTls) -> LocalEnvoy {
    LocalEnvoy::start(LocalEnvoyOptions {
        bootstrap: options(xds_port, Some(tls), false),
        concurrency: 1,
        log_level: "info".into(),
        inherit_output: false,
        config_overlay: None,
    })
    .await
    .unwrap_or_else(|e| panic!("cannot start Envoy: {e}"))
}

fn ssl_stat(name: &str) -> String {
    format!("cluster.{XDS_CLUSTER}.ssl.{name}")
}

async fn admin(envoy: &LocalEnvoy, path: &str) -> String {
    match support::get(envoy.admin_addr(), "localhost", path).await {
        Ok(r) if r.status == 200 => r.body,
        Ok(r) => panic!("Envoy admin {path} answered {}: {}", r.status, r.body),
        Err(e) => panic!(
            "Envoy admin {path}: {e}\n--- envoy log ---\n{}",
            envoy.log()
        ),
    }
}

/// A counter's value (0 when Envoy has no such stat yet).
async fn stat(envoy: &LocalEnvoy, name: &str) -> u64 {
    let text = admin(envoy, &format!("/stats?filter={XDS_CLUSTER}|sds")).await;
    text.lines()
        .filter_map(|l| l.split_once(": "))
        .find(|(n, _)| *n == name)
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Serial numbers (lowercase hex, no leading zeros) of every certificate Envoy has
/// loaded, from the admin's `/certs`.
async fn loaded_serials(envoy: &LocalEnvoy) -> Vec<String> {
    let body = admin(envoy, "/certs").await;
    let json: serde_json::Value = serde_json::from_str(&body).expect("/certs is JSON");
    let mut serials = Vec::new();
    for context in json["certificates"].as_array().into_iter().flatten() {
        for kind in ["ca_cert", "cert_chain"] {
            for cert in context[kind].as_array().into_iter().flatten() {
                if let Some(s) = cert["serial_number"].as_str() {
                    serials.push(normalize_serial(s));
                }
            }
        }
    }
    serials
}

fn normalize_serial(s: &str) -> String {
    s.trim()
        .to_ascii_lowercase()
        .trim_start_matches('0')
        .to_owned()
}

// --- Certificates ---

/// A CA with a server certificate (DNS localhost, IP 127.0.0.1) and a client
/// certificate (URI SAN spiffe://interlock.local/gateway/envoy, CN envoy-<tag>), all
/// ECDSA P-256, made with the openssl CLI.
struct Pki {
    dir: TempDir,
}

impl Pki {
    fn new(tag: &str) -> Pki {
        let pki = Pki {
            dir: TempDir::new().expect("temp dir"),
        };
        pki.key("ca.key");
        let ca = "req -x509 -new -key ca.key -days 2 -out ca.crt -addext \
                  basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign";
        let subject = format!("/CN=interlock-test-ca-{tag}");
        pki.openssl(&[ca.split_whitespace().collect(), vec!["-subj", &subject]].concat());
        pki.leaf(
            "server",
            "/CN=interlock",
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        );
        pki.leaf(
            "client",
            &format!("/CN=envoy-{tag}"),
            "subjectAltName=URI:spiffe://interlock.local/gateway/envoy\n\
             extendedKeyUsage=clientAuth\n",
        );
        pki
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn key(&self, name: &str) {
        let args = "ecparam -name prime256v1 -genkey -noout -out";
        self.openssl(&[args.split_whitespace().collect(), vec![name]].concat());
    }

    fn leaf(&self, name: &str, subject: &str, extensions: &str) {
        let (key, csr, ext, crt) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.ext"),
            format!("{name}.crt"),
        );
        self.key(&key);
        fs::write(
            self.file(&ext),
            format!("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n{extensions}"),
        )
        .expect("write extensions");
        self.openssl(&["req", "-new", "-key", &key, "-subj", subject, "-out", &csr]);
        let sign = "x509 -req -CA ca.crt -CAkey ca.key -CAcreateserial -days 2";
        let files = ["-in", &csr, "-extfile", &ext, "-out", &crt];
        self.openssl(&[sign.split_whitespace().collect(), files.to_vec()].concat());
    }

    /// The certificate's serial, normalised like [`loaded_serials`].
    fn serial(&self, crt: &str) -> String {
        let out = self.openssl(&["x509", "-noout", "-serial", "-in", crt]);
        let serial = out.trim().strip_prefix("serial=").expect("serial=HEX");
        normalize_serial(serial)
    }

    fn openssl(&self, args: &[&str]) -> String {
        let out = Command::new("openssl")
            .current_dir(self.dir.path())
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("the TLS tests need the openssl CLI: {e}"));
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// A directory laid out like a mounted `kubernetes.io/tls` Secret: `tls.crt`,
/// `tls.key` and `ca.crt` are symlinks through `..data`, itself a symlink to a
/// timestamped directory that an update replaces with one rename.
struct SecretVolume {
    dir: TempDir,
    generation: std::cell::Cell<u32>,
}

impl SecretVolume {
    fn new(pki: &Pki) -> SecretVolume {
        let volume = SecretVolume {
            dir: TempDir::new().expect("temp dir"),
            generation: std::cell::Cell::new(0),
        };
        volume.swap_to(pki);
        for name in ["tls.crt", "tls.key", "ca.crt"] {
            std::os::unix::fs::symlink(format!("..data/{name}"), volume.path().join(name))
                .expect("symlink");
        }
        volume
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// What the kubelet does: write the new files into a new directory, point
    /// `..data_tmp` at it and rename that over `..data`, then drop the old directory.
    fn swap_to(&self, pki: &Pki) {
        let old = self.generation.get();
        let new = old + 1;
        self.generation.set(new);
        let dir = self.path().join(format!("..gen{new}"));
        fs::create_dir(&dir).expect("create generation dir");
        for (from, to) in [
            ("client.crt", "tls.crt"),
            ("client.key", "tls.key"),
            ("ca.crt", "ca.crt"),
        ] {
            fs::copy(pki.file(from), dir.join(to)).expect("copy certificate");
        }
        let tmp = self.path().join("..data_tmp");
        std::os::unix::fs::symlink(format!("..gen{new}"), &tmp).expect("symlink ..data_tmp");
        fs::rename(&tmp, self.path().join("..data")).expect("rename ..data_tmp to ..data");
        if old > 0 {
            fs::remove_dir_all(self.path().join(format!("..gen{old}"))).expect("remove old");
        }
    }
}

// --- A TLS server that requires a client certificate ---

/// `openssl s_server` on 127.0.0.1: requires a client certificate signed by the
/// PKI's CA (`-Verify 1 -verify_return_error`), offers ALPN h2, logs the client's
/// TLS extensions on stdout and its certificate check on stderr. Killed on drop.
struct SServer {
    child: Child,
    dir: TempDir,
}

impl SServer {
    fn start(pki: &Pki, port: u16, extra: &[&str]) -> SServer {
        let dir = TempDir::new().expect("temp dir");
        let file = |name: &str| fs::File::create(dir.path().join(name)).expect("log file");
        let (cert, key) = (pki.file("server.crt"), pki.file("server.key"));
        let child = Command::new("openssl")
            .arg("s_server")
            .args(["-accept", &format!("127.0.0.1:{port}")])
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            // -servername switches to this second context when the SNI matches.
            .arg("-cert2")
            .arg(&cert)
            .arg("-key2")
            .arg(&key)
            .arg("-CAfile")
            .arg(pki.file("ca.crt"))
            .args(["-Verify", "1", "-verify_return_error", "-alpn", "h2"])
            .args(["-tlsextdebug", "-www"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(file("stdout"))
            .stderr(file("stderr"))
            .spawn()
            .unwrap_or_else(|e| panic!("the TLS tests need the openssl CLI: {e}"));
        SServer { child, dir }
    }

    fn stdout(&self) -> String {
        fs::read_to_string(self.dir.path().join("stdout")).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }

    /// Waits until s_server has verified a client certificate with `CN = cn`.
    async fn wait_for_client(&self, cn: &str, envoy: &LocalEnvoy) {
        let leaf = format!("depth=0 CN = {cn}\nverify return:1\n");
        let what = format!("s_server to verify Envoy's certificate (CN {cn})");
        let verified = tokio::time::timeout(CONNECT_TIMEOUT, async {
            while !self.stderr().contains(&leaf) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        if verified.is_err() {
            panic!(
                "timed out waiting for {what}\n--- s_server stderr ---\n{}\n--- s_server \
                 stdout ---\n{}\n--- envoy log ---\n{}",
                self.stderr(),
                self.stdout(),
                envoy.log()
            );
        }
    }
}

impl Drop for SServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

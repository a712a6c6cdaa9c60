//! `interlock certgen` end to end: the real binary writes files and manifests,
//! and the `openssl` CLI (an independent X.509 implementation) checks that the
//! chain verifies and the names, usages, keys and lifetimes are as documented;
//! each party's directory is loaded as `interlock serve --xds-tls-dir` loads it
//! and shakes hands as a gateway would. Plus the library's expired and foreign
//! certificates that the mTLS tests use.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use interlock::certs::identity::gateway_identity;
use interlock::certs::{Bundle, CertError, CertgenOptions, Issuer, WriteOptions};
use interlock::xds::tls::{GatewayIdentity, ReloadingTls, TlsFiles};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConnection};

const DAY: Duration = Duration::from_secs(86_400);

fn certgen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_interlock"))
        .arg("certgen")
        .args(args)
        .output()
        .expect("run interlock certgen")
}

fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 stdout")
}

/// Runs `openssl` with `args`; returns (success, stdout + stderr).
fn openssl(args: &[&str]) -> (bool, String) {
    let output = Command::new("openssl")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("these tests need the openssl CLI (Debian package openssl): {e}")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).to_str().expect("utf-8 path").to_owned()
}

/// `openssl verify` of `cert` against `ca`, for `purpose` (sslserver/sslclient).
fn verifies(ca: &str, cert: &str, purpose: &str) -> (bool, String) {
    openssl(&[
        "verify",
        "-x509_strict",
        "-purpose",
        purpose,
        "-CAfile",
        ca,
        cert,
    ])
}

/// One `openssl x509 -noout` field of `cert`.
fn x509(cert: &str, args: &[&str]) -> String {
    let mut all = vec!["x509", "-noout", "-in", cert];
    all.extend(args);
    let (ok, text) = openssl(&all);
    assert!(ok, "openssl x509 {args:?}: {text}");
    text
}

fn mode(path: impl AsRef<Path>) -> u32 {
    fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

fn key_matches_cert(key: &str, cert: &str) -> bool {
    let (ok_key, from_key) = openssl(&["pkey", "-in", key, "-pubout"]);
    let (ok_cert, from_cert) = openssl(&["x509", "-in", cert, "-noout", "-pubkey"]);
    assert!(ok_key && ok_cert, "{from_key}{from_cert}");
    from_key == from_cert
}

fn write(dir: &Path, name: &str, contents: &str) -> String {
    let p = dir.join(name);
    fs::write(&p, contents).expect("write");
    p.to_str().expect("utf-8 path").to_owned()
}

/// The names in `dir`, sorted.
fn list(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").file_name().into_string().expect("name"))
        .collect();
    names.sort();
    names
}

/// A TLS handshake in memory between the xDS listener's configuration as
/// `interlock serve --xds-tls-dir server_dir` loads it and a client presenting
/// `client_dir`'s `tls.crt` and `tls.key` and trusting its `ca.crt`, as Envoy
/// with `interlock bootstrap --xds-tls-dir client_dir` does. Returns the client
/// certificate the server saw, or which side failed and why.
fn handshake(server_dir: &Path, client_dir: &Path) -> Result<Vec<u8>, String> {
    let server = ReloadingTls::load(TlsFiles::in_dir(server_dir)).map_err(|e| e.to_string())?;
    let blocks = |name: &str| {
        let pem = fs::read(client_dir.join(name)).expect(name);
        pem::parse_many(pem)
            .expect("PEM")
            .into_iter()
            .map(pem::Pem::into_contents)
    };
    let mut roots = RootCertStore::empty();
    for ca in blocks("ca.crt") {
        roots.add(CertificateDer::from(ca)).expect("a CA");
    }
    let chain = blocks("tls.crt").map(CertificateDer::from).collect();
    let key = blocks("tls.key").next().expect("a key");
    let key = PrivateKeyDer::from(PrivatePkcs8KeyDer::from(key));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|c| {
            c.with_root_certificates(roots)
                .with_client_auth_cert(chain, key)
        })
        .expect("client configuration");
    let name = ServerName::try_from("interlock").expect("server name");
    let mut client = ClientConnection::new(Arc::new(client), name).expect("client");
    let mut server = ServerConnection::new(server.config()).expect("server");
    for _ in 0..4 {
        if !client.is_handshaking() && !server.is_handshaking() {
            let seen = server.peer_certificates().and_then(|c| c.first());
            return seen
                .map(|c| c.to_vec())
                .ok_or("no client certificate".into());
        }
        let mut bytes = Vec::new();
        client.write_tls(&mut bytes).expect("to server");
        let mut unread = bytes.as_slice();
        while !unread.is_empty() {
            server.read_tls(&mut unread).expect("server reads");
            server
                .process_new_packets()
                .map_err(|e| format!("server: {e}"))?;
        }
        let mut bytes = Vec::new();
        server.write_tls(&mut bytes).expect("to client");
        let mut unread = bytes.as_slice();
        while !unread.is_empty() {
            client.read_tls(&mut unread).expect("client reads");
            client
                .process_new_packets()
                .map_err(|e| format!("client: {e}"))?;
        }
    }
    Err("the handshake did not finish".into())
}

#[test]
fn files_chain_to_the_ca_with_the_documented_names_usages_and_keys() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("certs");
    let dir_arg = dir.to_str().expect("utf-8");
    ok(certgen(&[
        "--out-dir",
        dir_arg,
        "--gateway",
        "envoy",
        "--gateway",
        "edge-2",
    ]));

    assert_eq!(
        list(&dir),
        ["ca.crt", "ca.key", "edge-2", "envoy", "server"]
    );
    assert_eq!(mode(dir_arg), 0o700, "the directory holds keys");
    let ca_pem = fs::read_to_string(dir.join("ca.crt")).expect("ca.crt");
    let mut files = vec![dir.join("ca.crt"), dir.join("ca.key")];
    for party in ["server", "envoy", "edge-2"] {
        let party_dir = dir.join(party);
        assert_eq!(
            list(&party_dir),
            ["ca.crt", "tls.crt", "tls.key"],
            "{party}"
        );
        assert_eq!(mode(&party_dir), 0o700, "{party} holds a key");
        let beside = fs::read_to_string(party_dir.join("ca.crt")).expect("ca.crt");
        assert_eq!(beside, ca_pem, "{party}: the CA beside the certificate");
        files.extend(["tls.crt", "tls.key", "ca.crt"].map(|f| party_dir.join(f)));
    }
    for file in files {
        let name = file.display();
        let pem = fs::read_to_string(&file).expect("file");
        if file.extension().is_some_and(|e| e == "key") {
            assert_eq!(mode(&file), 0o600, "{name}");
            assert!(
                pem.starts_with("-----BEGIN PRIVATE KEY-----"),
                "PKCS#8: {name}"
            );
        } else {
            assert_eq!(mode(&file), 0o644, "{name}");
            assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{name}");
        }
    }

    let ca = path(&dir, "ca.crt");
    let server = path(&dir, "server/tls.crt");
    let (ok, text) = verifies(&ca, &server, "sslserver");
    assert!(ok, "server: {text}");
    for gateway in ["envoy", "edge-2"] {
        let client = path(&dir, &format!("{gateway}/tls.crt"));
        let (ok, text) = verifies(&ca, &client, "sslclient");
        assert!(ok, "{gateway}: {text}");
        // A client certificate is no server certificate.
        assert!(
            !verifies(&ca, &client, "sslserver").0,
            "{gateway} as server"
        );

        let ext = x509(&client, &["-ext", "subjectAltName,extendedKeyUsage"]);
        let uri = format!("URI:{}", gateway_identity("interlock.local", gateway));
        assert!(ext.contains(&uri), "{ext}");
        assert!(ext.contains("TLS Web Client Authentication"), "{ext}");
        assert!(!ext.contains("Server Authentication"), "{ext}");
        assert!(!ext.contains("DNS:"), "{ext}");
        let subject = x509(&client, &["-subject", "-nameopt", "RFC2253"]);
        assert_eq!(subject.trim(), format!("subject=CN={gateway}"));
        assert!(key_matches_cert(
            &path(&dir, &format!("{gateway}/tls.key")),
            &client
        ));

        // The directories as they are: `interlock serve --xds-tls-dir DIR/server`
        // and a gateway with `--xds-tls-dir DIR/<gateway>` shake hands, and the
        // server tells the gateway by its certificate.
        let seen = handshake(&dir.join("server"), &dir.join(gateway)).expect(gateway);
        let identity = GatewayIdentity::from_certificate(&seen).expect("an identity");
        assert_eq!(identity.gateway(), gateway);
    }
    assert!(!verifies(&ca, &server, "sslclient").0, "server as client");

    let ext = x509(&server, &["-ext", "subjectAltName,extendedKeyUsage"]);
    assert!(
        ext.contains(
            "DNS:interlock, DNS:interlock.interlock-system, DNS:interlock.interlock-system.svc, \
             DNS:interlock.interlock-system.svc.cluster.local, DNS:localhost, \
             IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1"
        ),
        "{ext}"
    );
    assert!(ext.contains("TLS Web Server Authentication"), "{ext}");
    assert!(!ext.contains("Client Authentication"), "{ext}");
    assert!(key_matches_cert(&path(&dir, "server/tls.key"), &server));
    assert!(key_matches_cert(&path(&dir, "ca.key"), &ca));
    assert!(!key_matches_cert(&path(&dir, "envoy/tls.key"), &server));

    let text = x509(&server, &["-text"]);
    assert!(text.contains("NIST CURVE: P-256"), "ECDSA P-256: {text}");
    let ca_ext = x509(&ca, &["-ext", "basicConstraints,keyUsage"]);
    assert!(ca_ext.contains("CA:TRUE, pathlen:0"), "{ca_ext}");
    assert!(ca_ext.contains("Certificate Sign"), "{ca_ext}");

    // Lifetimes: CA ten years, leaves one year.
    let checkend = |cert: &str, days: u64| {
        let secs = (days * 86_400).to_string();
        openssl(&["x509", "-noout", "-in", cert, "-checkend", &secs]).0
    };
    assert!(checkend(&ca, 3649) && !checkend(&ca, 3651));
    assert!(checkend(&server, 364) && !checkend(&server, 366));
    let client = path(&dir, "envoy/tls.crt");
    assert!(checkend(&client, 364) && !checkend(&client, 366));
}

#[test]
fn server_names_validity_and_trust_domain_are_set_by_flags() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let dir_arg = dir.to_str().expect("utf-8");
    ok(certgen(&[
        "--out-dir",
        dir_arg,
        "--server-name",
        "xds.example.com",
        "--server-name",
        "10.1.2.3",
        "--trust-domain",
        "prod.example",
        "--gateway",
        "gw",
        "--validity",
        "30d",
    ]));
    let server = path(dir, "server/tls.crt");
    let ext = x509(&server, &["-ext", "subjectAltName"]);
    assert!(
        ext.contains(
            "DNS:xds.example.com, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, \
             IP Address:10.1.2.3"
        ),
        "--server-name replaces the DNS names, an IP becomes an IP SAN: {ext}"
    );
    assert!(!ext.contains("DNS:interlock"), "{ext}");
    let ext = x509(&path(dir, "gw/tls.crt"), &["-ext", "subjectAltName"]);
    assert!(
        ext.contains("URI:spiffe://prod.example/gateway/gw"),
        "{ext}"
    );
    let secs = |days: u64| (days * 86_400).to_string();
    assert!(openssl(&["x509", "-noout", "-in", &server, "-checkend", &secs(29)]).0);
    assert!(!openssl(&["x509", "-noout", "-in", &server, "-checkend", &secs(31)]).0);
}

#[test]
fn existing_files_are_kept_unless_forced() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let dir_arg = dir.to_str().expect("utf-8");
    ok(certgen(&["--out-dir", dir_arg]));
    let before = fs::read_to_string(dir.join("ca.key")).expect("ca.key");

    let again = certgen(&["--out-dir", dir_arg]);
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("exists") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(
        fs::read_to_string(dir.join("ca.key")).expect("ca.key"),
        before
    );

    // Only one of the files exists: still nothing is written.
    let partial = tempfile::tempdir().expect("tempdir");
    fs::create_dir(partial.path().join("envoy")).expect("mkdir");
    fs::write(partial.path().join("envoy/tls.key"), "mine").expect("write");
    let run = certgen(&["--out-dir", partial.path().to_str().expect("utf-8")]);
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("envoy/tls.key exists"), "{stderr}");
    assert_eq!(list(partial.path()), ["envoy"], "nothing written beside it");
    assert_eq!(list(&partial.path().join("envoy")), ["tls.key"]);
    let mine = fs::read_to_string(partial.path().join("envoy/tls.key"));
    assert_eq!(mine.expect("tls.key"), "mine");

    // A bad flag writes nothing either.
    let empty = tmp.path().join("empty");
    let run = certgen(&[
        "--out-dir",
        empty.to_str().expect("utf-8"),
        "--gateway",
        "Bad_Name",
    ]);
    assert!(!run.status.success());
    assert!(!empty.exists());

    // --force replaces every file, keys still 0600.
    for key in ["ca.key", "server/tls.key"] {
        fs::set_permissions(dir.join(key), fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    let old_ca = fs::read_to_string(dir.join("envoy/ca.crt")).expect("ca.crt");
    ok(certgen(&["--out-dir", dir_arg, "--force"]));
    assert_ne!(
        fs::read_to_string(dir.join("ca.key")).expect("ca.key"),
        before
    );
    assert_ne!(
        fs::read_to_string(dir.join("envoy/ca.crt")).expect("ca.crt"),
        old_ca,
        "the new CA beside the gateway's certificate too"
    );
    assert_eq!(mode(dir.join("ca.key")), 0o600);
    assert_eq!(mode(dir.join("server/tls.key")), 0o600);
    let (ok, text) = verifies(
        &path(dir, "ca.crt"),
        &path(dir, "envoy/tls.crt"),
        "sslclient",
    );
    assert!(ok, "{text}");
}

#[test]
fn write_dir_returns_the_paths_in_order_and_checks_every_directory_first() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let options = CertgenOptions {
        gateways: vec!["a".into(), "b".into()],
        ..Default::default()
    };
    let bundle = Bundle::generate(&options).expect("bundle");
    let out = tmp.path().join("out");
    let paths = bundle
        .write_dir(&out, WriteOptions::default())
        .expect("written");
    let mut expected: Vec<PathBuf> = vec![out.join("ca.crt"), out.join("ca.key")];
    for party in ["server", "a", "b"] {
        expected.extend(["tls.crt", "tls.key", "ca.crt"].map(|f| out.join(party).join(f)));
    }
    assert_eq!(paths, expected);
    for party in ["a", "b"] {
        let seen = handshake(&out.join("server"), &out.join(party)).expect(party);
        let identity = GatewayIdentity::from_certificate(&seen).expect("an identity");
        assert_eq!(identity.gateway(), party);
    }

    // Without the CA key (a loaded CA): everything else.
    let no_key = tmp.path().join("no-key");
    let options = WriteOptions {
        ca_key: false,
        ..Default::default()
    };
    let written = bundle.write_dir(&no_key, options).expect("written");
    assert_eq!(written.len(), expected.len() - 1);
    assert!(!no_key.join("ca.key").exists());

    // A file where a gateway's directory goes stops the write before anything
    // is written, --force or not.
    let blocked = tmp.path().join("blocked");
    fs::create_dir(&blocked).expect("mkdir");
    fs::write(blocked.join("b"), "mine").expect("write");
    for overwrite in [false, true] {
        let options = WriteOptions {
            overwrite,
            ..Default::default()
        };
        let err = bundle.write_dir(&blocked, options).expect_err("blocked");
        assert!(matches!(err, CertError::NotADirectory(ref p) if *p == blocked.join("b")));
        assert!(err.to_string().contains("is not a directory"), "{err}");
        assert_eq!(list(&blocked), ["b"]);
    }

    // A gateway of another CA is refused by the server, and a client that
    // trusts only its own CA refuses the server.
    let options = CertgenOptions {
        gateways: vec!["a".into()],
        ..Default::default()
    };
    let other = Bundle::generate(&options).expect("another CA");
    let foreign = tmp.path().join("foreign");
    other
        .write_dir(&foreign, WriteOptions::default())
        .expect("written");
    let err = handshake(&out.join("server"), &foreign.join("a")).expect_err("foreign CA");
    assert!(err.starts_with("client: "), "{err}");
    fs::copy(out.join("ca.crt"), foreign.join("a/ca.crt")).expect("copy");
    let err = handshake(&out.join("server"), &foreign.join("a")).expect_err("foreign client");
    assert!(err.starts_with("server: "), "{err}");
}

#[test]
fn yaml_prints_tls_secrets_that_verify() {
    let stdout = ok(certgen(&[
        "-o",
        "yaml",
        "--gateway",
        "envoy",
        "--gateway",
        "edge",
        "--namespace",
        "gateways",
    ]));
    let docs: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(&stdout).expect("YAML documents");
    let names: Vec<&str> = docs
        .iter()
        .map(|d| d["metadata"]["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        [
            "interlock-xds-server",
            "interlock-xds-client-envoy",
            "interlock-xds-client-edge"
        ]
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut ca_crt = None;
    for doc in &docs {
        assert_eq!(doc["apiVersion"].as_str(), Some("v1"));
        assert_eq!(doc["kind"].as_str(), Some("Secret"));
        assert_eq!(doc["type"].as_str(), Some("kubernetes.io/tls"));
        assert_eq!(doc["metadata"]["namespace"].as_str(), Some("gateways"));
        let data = doc["stringData"].as_object().expect("stringData");
        let mut keys: Vec<&str> = data.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["ca.crt", "tls.crt", "tls.key"]);
        let field = |k: &str| doc["stringData"][k].as_str().expect(k).to_owned();
        let ca = ca_crt.get_or_insert_with(|| field("ca.crt"));
        assert_eq!(&field("ca.crt"), ca, "one CA for all Secrets");
        assert!(!stdout.contains("ca.key"));

        let name = doc["metadata"]["name"].as_str().expect("name");
        let ca = write(tmp.path(), "ca.crt", ca);
        let crt = write(tmp.path(), &format!("{name}.crt"), &field("tls.crt"));
        let key = write(tmp.path(), &format!("{name}.key"), &field("tls.key"));
        let purpose = if name.ends_with("server") {
            "sslserver"
        } else {
            "sslclient"
        };
        let (ok, text) = verifies(&ca, &crt, purpose);
        assert!(ok, "{name}: {text}");
        assert!(key_matches_cert(&key, &crt), "{name}");
    }
    // The PEMs are 3 (CA, cert, key) per Secret and nothing else is secret.
    assert_eq!(stdout.matches("-----BEGIN PRIVATE KEY-----").count(), 3);
}

#[test]
fn neither_files_nor_yaml_is_an_error() {
    let run = certgen(&[]);
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("--out-dir"));
}

#[test]
fn an_existing_ca_issues_a_new_gateway_without_copying_its_key() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let first = tmp.path().join("first");
    let second = tmp.path().join("second");
    ok(certgen(&["--out-dir", first.to_str().expect("utf-8")]));
    let ca = path(&first, "ca.crt");
    let ca_key = path(&first, "ca.key");
    ok(certgen(&[
        "--ca-cert",
        &ca,
        "--ca-key",
        &ca_key,
        "--gateway",
        "late",
        "--out-dir",
        second.to_str().expect("utf-8"),
    ]));
    assert!(
        !second.join("ca.key").exists(),
        "the CA key stays where it is"
    );
    assert_eq!(
        fs::read_to_string(second.join("ca.crt")).expect("ca.crt"),
        fs::read_to_string(&ca).expect("ca.crt")
    );
    assert_eq!(
        fs::read_to_string(second.join("late/ca.crt")).expect("ca.crt"),
        fs::read_to_string(&ca).expect("ca.crt")
    );
    let (ok, text) = verifies(&ca, &path(&second, "late/tls.crt"), "sslclient");
    assert!(ok, "{text}");
    let (ok, text) = verifies(&ca, &path(&second, "server/tls.crt"), "sslserver");
    assert!(ok, "{text}");
    // Old and new certificates of one CA work together.
    let seen = handshake(&second.join("server"), &first.join("envoy")).expect("handshake");
    let identity = GatewayIdentity::from_certificate(&seen).expect("an identity");
    assert_eq!(identity.gateway(), "envoy");
    handshake(&first.join("server"), &second.join("late")).expect("handshake");

    // A key that is not the CA's is refused, and nothing is written.
    let third = tmp.path().join("third");
    let run = certgen(&[
        "--ca-cert",
        &ca,
        "--ca-key",
        &path(&first, "envoy/tls.key"),
        "--out-dir",
        third.to_str().expect("utf-8"),
    ]);
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("does not belong"));
    assert!(!third.exists());
}

/// A self-signed P-256 CA for `subject` made by the openssl CLI (plus `extra`
/// arguments), valid 30 days, into `key` and `cert`.
fn openssl_ca(subject: &str, extra: &[&str], key: &str, cert: &str) {
    let mut args = vec![
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-subj",
        subject,
    ];
    args.extend_from_slice(extra);
    args.extend(["-days", "30", "-keyout", key, "-out", cert]);
    let (ok, text) = openssl(&args);
    assert!(ok, "{text}");
}

#[test]
fn a_ca_made_by_openssl_signs_certificates_that_chain_to_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let (key, cert) = (path(dir, "ca.key"), path(dir, "ca.crt"));
    // PrintableString country, several attributes, SKI/AKI: as operators' CAs are.
    openssl_ca(
        "/C=DE/O=Example Org/OU=Platform/CN=Example Root CA",
        &["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        &key,
        &cert,
    );
    let ca = Issuer::from_pem(
        &fs::read_to_string(&cert).expect("cert"),
        &fs::read_to_string(&key).expect("key"),
    )
    .expect("an openssl CA loads");
    let bundle = Bundle::issue(&ca, &CertgenOptions::default()).expect("issues");
    let server = write(dir, "server.crt", &bundle.server.cert_pem);
    let (ok, text) = verifies(&cert, &server, "sslserver");
    assert!(ok, "{text}");
    let issuer = x509(&server, &["-issuer", "-nameopt", "RFC2253"]);
    assert_eq!(
        issuer.trim(),
        "issuer=CN=Example Root CA,OU=Platform,O=Example Org,C=DE"
    );

    // A SEC1 ("EC PRIVATE KEY") key is refused with how to convert it.
    let sec1 = path(dir, "sec1.key");
    assert!(openssl(&["ec", "-in", &key, "-out", &sec1]).0);
    let err = Issuer::from_pem(
        &fs::read_to_string(&cert).expect("cert"),
        &fs::read_to_string(&sec1).expect("key"),
    )
    .expect_err("SEC1");
    assert!(err.to_string().contains("openssl pkcs8 -topk8"), "{err}");

    // A name rcgen cannot write back (the same attribute twice) is refused, not
    // turned into certificates that would not chain.
    openssl_ca("/DC=example/DC=com/CN=Twice", &[], &key, &cert);
    let err = Issuer::from_pem(
        &fs::read_to_string(&cert).expect("cert"),
        &fs::read_to_string(&key).expect("key"),
    )
    .expect_err("repeated attribute");
    assert!(matches!(err, CertError::CaCertificate(_)), "{err}");
}

#[test]
fn expired_and_foreign_client_certificates_do_not_verify() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let bundle = Bundle::generate(&CertgenOptions::default()).expect("bundle");
    let ca = Issuer::from_pem(&bundle.ca_cert_pem, &bundle.ca_key_pem).expect("CA");
    let now = SystemTime::now();
    let expired = ca
        .issue_client("interlock.local", "envoy", now - 10 * DAY, now - DAY)
        .expect("expired certificate");
    let not_yet = ca
        .issue_client("interlock.local", "envoy", now + DAY, now + 10 * DAY)
        .expect("future certificate");
    let other = Bundle::generate(&CertgenOptions::default()).expect("another CA");

    let ca_crt = write(dir, "ca.crt", &bundle.ca_cert_pem);
    let good = write(dir, "good.crt", &bundle.clients[0].1.cert_pem);
    assert!(verifies(&ca_crt, &good, "sslclient").0);
    let (ok, text) = verifies(
        &ca_crt,
        &write(dir, "expired.crt", &expired.cert_pem),
        "sslclient",
    );
    assert!(!ok && text.contains("certificate has expired"), "{text}");
    let (ok, text) = verifies(
        &ca_crt,
        &write(dir, "future.crt", &not_yet.cert_pem),
        "sslclient",
    );
    assert!(!ok && text.contains("not yet valid"), "{text}");
    let foreign = write(dir, "foreign.crt", &other.clients[0].1.cert_pem);
    let (ok, text) = verifies(&ca_crt, &foreign, "sslclient");
    assert!(
        !ok && text.contains("unable to get local issuer certificate"),
        "{text}"
    );

    // The expired certificate is otherwise the real thing: same identity.
    let ext = x509(&path(dir, "expired.crt"), &["-ext", "subjectAltName"]);
    assert!(
        ext.contains("URI:spiffe://interlock.local/gateway/envoy"),
        "{ext}"
    );
    assert!(!format!("{expired:?}").contains("PRIVATE KEY"));
}

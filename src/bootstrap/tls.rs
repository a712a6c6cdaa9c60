//! Mutual TLS from Envoy to Interlock's xDS port, with certificates Envoy reloads.
//!
//! Envoy reloads certificate files only when they reach it through SDS: a
//! `TlsCertificate` or `CertificateValidationContext` written inline in the bootstrap
//! (or under `static_resources.secrets`) is read once and never watched. The xDS
//! connection cannot take its own certificates from the xDS server, so, as Envoy's
//! "certificate rotation for xDS gRPC connection" example does, the bootstrap points
//! at two small SDS files (`sds_config.path_config_source`) whose secrets name the
//! certificate files. Envoy then watches the certificates' directory
//! (`watched_directory`) and re-reads certificate, key and CA whenever an entry is
//! moved into it. That is exactly how the kubelet updates a Secret volume: it writes
//! a new timestamped directory and renames a `..data` symlink over the old one, while
//! `tls.crt`, `tls.key` and `ca.crt` stay symlinks through `..data`. With an explicit
//! `watched_directory` Envoy also reads certificate and key together and checks that
//! neither changed in between, so it never pairs an old key with a new certificate.
//!
//! The SDS files hold only paths, never key material; they need to be written once
//! ([`XdsTls::write_sds_files`], `interlock bootstrap --sds-dir`) or shipped next to
//! the bootstrap, e.g. in the same ConfigMap ([`XdsTls::sds_files`]).
//!
//! The server name Envoy sends as SNI and requires as a DNS SAN of Interlock's
//! certificate stays in the bootstrap (`combined_validation_context`), so the SDS files
//! say only where the files are, and the bootstrap says whom Envoy trusts.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::yaml_quote;
use crate::x509::dns_name::{dns_name_problem, DnsNameProblem};

/// Certificate file of a `kubernetes.io/tls` Secret volume (the client certificate chain).
pub const SECRET_CERT_FILE: &str = "tls.crt";
/// Private key file of a `kubernetes.io/tls` Secret volume.
pub const SECRET_KEY_FILE: &str = "tls.key";
/// CA bundle of a Secret volume (cert-manager and `interlock certgen` put it there).
pub const SECRET_CA_FILE: &str = "ca.crt";

/// SDS file holding the client certificate secret, in [`XdsTls::sds_dir`].
pub const SDS_CLIENT_CERTIFICATE_FILE: &str = "xds-client-certificate.yaml";
/// SDS file holding the validation context secret (the CA), in [`XdsTls::sds_dir`].
pub const SDS_VALIDATION_CONTEXT_FILE: &str = "xds-validation-context.yaml";

/// Name of the SDS secret with the client certificate and key (also in Envoy's stats:
/// `sds.interlock_xds_client_certificate.*`).
pub const CLIENT_CERTIFICATE_SECRET: &str = "interlock_xds_client_certificate";
/// Name of the SDS secret with the CA that signs Interlock's server certificate.
pub const VALIDATION_CONTEXT_SECRET: &str = "interlock_xds_validation_context";

/// Server name when the xDS address is an IP literal: a DNS SAN of Interlock's
/// server certificate, like the Service names and `localhost`.
pub const DEFAULT_SERVER_NAME: &str = "interlock";

/// What Envoy needs to reach Interlock over mutual TLS. Paths are as Envoy sees them
/// (inside its container), absolute, and are not checked here: the files may live on
/// another machine than the one rendering the bootstrap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XdsTls {
    cert: String,
    key: String,
    ca: String,
    server_name: String,
    sds_dir: String,
}

/// Why an [`XdsTls`] cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XdsTlsError {
    /// Envoy would resolve a relative path against its own working directory.
    #[error("{what} must be an absolute path (as Envoy sees it), not {path:?}")]
    RelativePath { what: &'static str, path: PathBuf },
    /// The bootstrap is YAML text.
    #[error("{what} must be valid UTF-8: {path:?}")]
    NotUtf8 { what: &'static str, path: PathBuf },
    /// A certificate, key or CA path that names a directory.
    #[error("{what} must name a file, not {path:?}")]
    NotAFile { what: &'static str, path: PathBuf },
    /// Not something a DNS SAN can carry.
    #[error("xDS server name {name:?} {reason}")]
    ServerName { name: String, reason: &'static str },
}

// === impl XdsTls ===

impl XdsTls {
    /// Certificate, key and CA from one directory holding `tls.crt`, `tls.key` and
    /// `ca.crt`: a mounted `kubernetes.io/tls` Secret, rotated in place by the kubelet.
    pub fn from_dir(
        dir: impl AsRef<Path>,
        server_name: &str,
        sds_dir: impl AsRef<Path>,
    ) -> Result<XdsTls, XdsTlsError> {
        let dir = dir.as_ref();
        absolute_utf8("the xDS TLS directory", dir)?;
        XdsTls::from_files(
            dir.join(SECRET_CERT_FILE),
            dir.join(SECRET_KEY_FILE),
            dir.join(SECRET_CA_FILE),
            server_name,
            sds_dir,
        )
    }

    /// Certificate chain, key and CA bundle (PEM) from three paths. Envoy watches the
    /// directory of each; certificate and key are read as a pair when they share one.
    /// `server_name` is sent as SNI and must be a DNS SAN of Interlock's certificate;
    /// it is lowercased (DNS names are case-insensitive).
    pub fn from_files(
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
        ca: impl AsRef<Path>,
        server_name: &str,
        sds_dir: impl AsRef<Path>,
    ) -> Result<XdsTls, XdsTlsError> {
        Ok(XdsTls {
            cert: file_path("the xDS client certificate", cert.as_ref())?,
            key: file_path("the xDS client key", key.as_ref())?,
            ca: file_path("the xDS CA bundle", ca.as_ref())?,
            server_name: dns_name(server_name)?,
            sds_dir: dir_path("the SDS directory", sds_dir.as_ref())?,
        })
    }

    /// The client certificate chain Envoy presents.
    pub fn cert(&self) -> &Path {
        Path::new(&self.cert)
    }

    /// The client certificate's private key.
    pub fn key(&self) -> &Path {
        Path::new(&self.key)
    }

    /// The CA bundle that must have signed Interlock's server certificate.
    pub fn ca(&self) -> &Path {
        Path::new(&self.ca)
    }

    /// Sent as SNI; Interlock's certificate must carry it as a DNS SAN.
    pub fn server_name(&self) -> &str {
        &self.server_name
    }

    /// Where Envoy reads [`SDS_CLIENT_CERTIFICATE_FILE`] and
    /// [`SDS_VALIDATION_CONTEXT_FILE`].
    pub fn sds_dir(&self) -> &Path {
        Path::new(&self.sds_dir)
    }

    /// The two SDS files the bootstrap refers to: (file name in [`XdsTls::sds_dir`],
    /// YAML). They hold paths only, nothing secret.
    pub fn sds_files(&self) -> [(&'static str, String); 2] {
        [
            (SDS_CLIENT_CERTIFICATE_FILE, self.client_certificate_sds()),
            (SDS_VALIDATION_CONTEXT_FILE, self.validation_context_sds()),
        ]
    }

    /// Writes [`XdsTls::sds_files`] into `dir` (created if missing), each through a
    /// temporary file renamed into place, so a watching Envoy never reads half a file.
    /// `dir` is usually [`XdsTls::sds_dir`]; another one serves to ship the files to
    /// where Envoy runs.
    pub fn write_sds_files(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)?;
        for (name, yaml) in self.sds_files() {
            let tmp = dir.join(format!(".{name}.tmp"));
            fs::write(&tmp, yaml)?;
            fs::rename(&tmp, dir.join(name))?;
        }
        Ok(())
    }

    /// Appends the xDS cluster's `transport_socket` (indented for the cluster).
    pub(super) fn render_transport_socket(&self, y: &mut String) {
        let sds_dir = yaml_quote(&self.sds_dir);
        // `write!` into a String cannot fail.
        let _ = write!(
            y,
            r#"    # Mutual TLS to Interlock. Certificate, key and CA come through file-based SDS,
    # so Envoy reloads them when their directory changes (e.g. a Secret's update).
    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        sni: {server_name}
        common_tls_context:
          # Envoy's upstream default maximum is TLS 1.2: both bounds are needed.
          tls_params: {{ tls_minimum_protocol_version: TLSv1_3, tls_maximum_protocol_version: TLSv1_3 }}
          alpn_protocols: [h2]
          tls_certificate_sds_secret_configs:
          - name: {CLIENT_CERTIFICATE_SECRET}
            sds_config:
              resource_api_version: V3
              path_config_source:
                path: {cert_sds}
                watched_directory: {{ path: {sds_dir} }}
          combined_validation_context:
            default_validation_context:
              match_typed_subject_alt_names:
              - san_type: DNS
                matcher: {{ exact: {server_name} }}
            validation_context_sds_secret_config:
              name: {VALIDATION_CONTEXT_SECRET}
              sds_config:
                resource_api_version: V3
                path_config_source:
                  path: {ca_sds}
                  watched_directory: {{ path: {sds_dir} }}
"#,
            server_name = yaml_quote(&self.server_name),
            cert_sds = yaml_quote(&self.sds_path(SDS_CLIENT_CERTIFICATE_FILE)),
            ca_sds = yaml_quote(&self.sds_path(SDS_VALIDATION_CONTEXT_FILE)),
        );
    }

    fn sds_path(&self, file: &str) -> String {
        format!("{}/{file}", self.sds_dir.trim_end_matches('/'))
    }

    fn client_certificate_sds(&self) -> String {
        let mut y = sds_header(CLIENT_CERTIFICATE_SECRET, "Client certificate and key");
        let _ = write!(
            y,
            r#"  tls_certificate:
    certificate_chain: {{ filename: {cert} }}
    private_key: {{ filename: {key} }}
"#,
            cert = yaml_quote(&self.cert),
            key = yaml_quote(&self.key),
        );
        // Read as a pair, and checked to be one, when both live in one directory.
        let cert_dir = parent(&self.cert);
        if cert_dir == parent(&self.key) {
            let _ = writeln!(
                y,
                "    watched_directory: {{ path: {} }}",
                yaml_quote(cert_dir)
            );
        }
        y
    }

    fn validation_context_sds(&self) -> String {
        let mut y = sds_header(VALIDATION_CONTEXT_SECRET, "CA of Interlock's certificate");
        let _ = write!(
            y,
            r#"  validation_context:
    trusted_ca: {{ filename: {ca} }}
    watched_directory: {{ path: {dir} }}
"#,
            ca = yaml_quote(&self.ca),
            dir = yaml_quote(parent(&self.ca)),
        );
        y
    }
}

/// The xDS server name when none is given: the host of the xDS address when it is a
/// DNS name, else [`DEFAULT_SERVER_NAME`] (an IP literal is no DNS SAN).
pub fn default_server_name(xds_host: &str) -> &str {
    let host = xds_host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(xds_host);
    if host.parse::<IpAddr>().is_ok() {
        DEFAULT_SERVER_NAME
    } else {
        host
    }
}

fn sds_header(secret: &str, what: &str) -> String {
    format!(
        "# {what} for Envoy's xDS connection: file-based SDS written by\n\
         # `interlock bootstrap`. Envoy re-reads the files named here when they change.\n\
         resources:\n\
         - \"@type\": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret\n  \
         name: {secret}\n"
    )
}

/// The directory of an absolute file path (validated by [`file_path`]).
fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

fn absolute_utf8<'a>(what: &'static str, path: &'a Path) -> Result<&'a str, XdsTlsError> {
    let path_buf = || path.to_owned();
    let Some(s) = path.to_str() else {
        return Err(XdsTlsError::NotUtf8 {
            what,
            path: path_buf(),
        });
    };
    if !path.is_absolute() {
        return Err(XdsTlsError::RelativePath {
            what,
            path: path_buf(),
        });
    }
    Ok(s)
}

/// An absolute directory path without trailing slashes (except the root itself).
fn dir_path(what: &'static str, path: &Path) -> Result<String, XdsTlsError> {
    let s = absolute_utf8(what, path)?.trim_end_matches('/');
    Ok(if s.is_empty() { "/".into() } else { s.into() })
}

fn file_path(what: &'static str, path: &Path) -> Result<String, XdsTlsError> {
    let s = absolute_utf8(what, path)?;
    let names_a_dir = s.ends_with('/')
        || !matches!(
            path.components().next_back(),
            Some(std::path::Component::Normal(_))
        );
    if names_a_dir {
        return Err(XdsTlsError::NotAFile {
            what,
            path: path.to_owned(),
        });
    }
    Ok(s.to_owned())
}

/// Checks that `name` can be a DNS SAN (letters, digits and hyphens in dot-separated
/// labels) and lowercases it.
fn dns_name(name: &str) -> Result<String, XdsTlsError> {
    let fail = |reason| XdsTlsError::ServerName {
        name: name.to_owned(),
        reason,
    };
    match dns_name_problem(name) {
        None => {}
        Some(DnsNameProblem::IpAddress) => {
            return Err(fail(
                "is an IP address: give a DNS name of Interlock's certificate (e.g. interlock)",
            ))
        }
        Some(DnsNameProblem::Length) => return Err(fail("must have 1 to 253 characters")),
        Some(DnsNameProblem::Labels) => {
            return Err(fail(
                "is not a DNS name (dot-separated labels of letters, digits and inner hyphens)",
            ))
        }
    }
    Ok(name.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls() -> XdsTls {
        XdsTls::from_dir("/etc/interlock/xds-tls", "Interlock", "/etc/envoy").unwrap()
    }

    #[test]
    fn from_dir_uses_the_secret_file_names() {
        let t = tls();
        assert_eq!(t.cert(), Path::new("/etc/interlock/xds-tls/tls.crt"));
        assert_eq!(t.key(), Path::new("/etc/interlock/xds-tls/tls.key"));
        assert_eq!(t.ca(), Path::new("/etc/interlock/xds-tls/ca.crt"));
        assert_eq!(t.server_name(), "interlock");
        assert_eq!(t.sds_dir(), Path::new("/etc/envoy"));
    }

    #[test]
    fn sds_files_name_the_certificates_and_watch_their_directory() {
        let [(cert_name, cert), (ca_name, ca)] = tls().sds_files();
        assert_eq!(cert_name, SDS_CLIENT_CERTIFICATE_FILE);
        assert_eq!(ca_name, SDS_VALIDATION_CONTEXT_FILE);
        assert!(
            cert.contains("  name: interlock_xds_client_certificate\n"),
            "{cert}"
        );
        assert!(
            cert.contains(r#"certificate_chain: { filename: "/etc/interlock/xds-tls/tls.crt" }"#)
        );
        assert!(cert.contains(r#"private_key: { filename: "/etc/interlock/xds-tls/tls.key" }"#));
        assert!(cert.contains(r#"watched_directory: { path: "/etc/interlock/xds-tls" }"#));
        assert!(
            ca.contains("  name: interlock_xds_validation_context\n"),
            "{ca}"
        );
        assert!(ca.contains(r#"trusted_ca: { filename: "/etc/interlock/xds-tls/ca.crt" }"#));
        assert!(ca.contains(r#"watched_directory: { path: "/etc/interlock/xds-tls" }"#));
    }

    #[test]
    fn cert_and_key_in_different_directories_are_watched_separately() {
        let t = XdsTls::from_files("/a/cert.pem", "/b/key.pem", "/ca.pem", "x", "/s").unwrap();
        let [(_, cert), (_, ca)] = t.sds_files();
        // Envoy's default then watches the directory of each file.
        assert!(!cert.contains("watched_directory"), "{cert}");
        assert!(ca.contains(r#"watched_directory: { path: "/" }"#), "{ca}");
    }

    #[test]
    fn transport_socket_pins_the_server_name_and_points_at_the_sds_files() {
        let mut y = String::new();
        XdsTls::from_dir("/certs", "localhost", "/etc/envoy/")
            .unwrap()
            .render_transport_socket(&mut y);
        assert!(y.contains("sni: \"localhost\"\n"), "{y}");
        assert!(y.contains("matcher: { exact: \"localhost\" }"));
        assert!(y.contains("tls_maximum_protocol_version: TLSv1_3"));
        assert!(y.contains("path: \"/etc/envoy/xds-client-certificate.yaml\"\n"));
        assert!(y.contains("path: \"/etc/envoy/xds-validation-context.yaml\"\n"));
        assert!(y.contains("watched_directory: { path: \"/etc/envoy\" }"));
    }

    #[test]
    fn paths_must_be_absolute_files() {
        assert!(matches!(
            XdsTls::from_dir("certs", "x", "/s"),
            Err(XdsTlsError::RelativePath { .. })
        ));
        assert!(matches!(
            XdsTls::from_dir("/certs", "x", "sds"),
            Err(XdsTlsError::RelativePath { .. })
        ));
        assert!(matches!(
            XdsTls::from_files("/c/", "/k", "/ca", "x", "/s"),
            Err(XdsTlsError::NotAFile { .. })
        ));
        assert!(matches!(
            XdsTls::from_files("/c", "/k/..", "/ca", "x", "/s"),
            Err(XdsTlsError::NotAFile { .. })
        ));
    }

    #[test]
    fn server_name_must_be_a_dns_name() {
        for bad in [
            "",
            "127.0.0.1",
            "::1",
            "a..b",
            "-a",
            "a b",
            "*.svc",
            "a\"b",
            "é",
        ] {
            assert!(
                matches!(
                    XdsTls::from_dir("/c", bad, "/s"),
                    Err(XdsTlsError::ServerName { .. })
                ),
                "{bad:?} accepted"
            );
        }
        let name = "interlock.interlock-system.svc.cluster.local";
        assert_eq!(
            XdsTls::from_dir("/c", name, "/s").unwrap().server_name(),
            name
        );
    }

    #[test]
    fn default_server_name_is_the_dns_host_or_interlock() {
        assert_eq!(
            default_server_name("interlock.interlock-system"),
            "interlock.interlock-system"
        );
        assert_eq!(default_server_name("localhost"), "localhost");
        assert_eq!(default_server_name("127.0.0.1"), DEFAULT_SERVER_NAME);
        assert_eq!(default_server_name("[::1]"), DEFAULT_SERVER_NAME);
    }

    #[test]
    fn write_sds_files_replaces_them_whole() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("sds");
        let t = tls();
        t.write_sds_files(&out).unwrap();
        t.write_sds_files(&out).unwrap();
        let mut names: Vec<_> = fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [SDS_CLIENT_CERTIFICATE_FILE, SDS_VALIDATION_CONTEXT_FILE]
        );
        for (name, yaml) in t.sds_files() {
            assert_eq!(fs::read_to_string(out.join(name)).unwrap(), yaml);
        }
    }
}

//! Envoy bootstrap for a gateway that takes all of its config from Interlock over ADS.
//!
//! Rendered by hand as YAML so that `interlock bootstrap` and the tests need no YAML
//! crate; every value that comes from outside is emitted as a double-quoted, escaped
//! YAML string, so no node id or host name can change the document's structure.
//!
//! With [`XdsTls`] the xDS cluster speaks mutual TLS, its certificates coming from
//! file-based SDS so that Envoy reloads them when they change (see [`tls`]).

mod tls;

use std::fmt::Write as _;
use std::net::IpAddr;

pub use tls::{
    default_server_name, XdsTls, XdsTlsError, CLIENT_CERTIFICATE_SECRET, DEFAULT_SERVER_NAME,
    SDS_CLIENT_CERTIFICATE_FILE, SDS_VALIDATION_CONTEXT_FILE, SECRET_CA_FILE, SECRET_CERT_FILE,
    SECRET_KEY_FILE, VALIDATION_CONTEXT_SECRET,
};

/// Name of the static cluster through which Envoy reaches Interlock.
pub const XDS_CLUSTER: &str = "interlock_xds";

/// Options for an Envoy gateway bootstrap that points at Interlock over ADS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapOptions {
    /// `node.id`: identifies this Envoy to Interlock (ack tracking, logs). Envoy 1.40
    /// exits at start when it is empty.
    pub node_id: String,
    /// `node.cluster`: Envoy 1.40 exits at start when it is empty.
    pub node_cluster: String,
    /// Host name or IP literal of Interlock's xDS listener.
    pub xds_host: String,
    /// Port of Interlock's xDS listener.
    pub xds_port: u16,
    /// Use the incremental protocol (`DELTA_GRPC`) instead of state of the world (`GRPC`).
    pub delta: bool,
    /// Admin port, bound on 127.0.0.1 only; 0 lets the kernel pick one.
    pub admin_port: u16,
    /// Mutual TLS to Interlock; `None` is plaintext (the bootstrap is then exactly
    /// what it was before TLS existed). The bootstrap refers to two SDS files that
    /// must exist where [`XdsTls::sds_dir`] says: see [`XdsTls::write_sds_files`].
    pub xds_tls: Option<XdsTls>,
}

/// Renders the bootstrap as YAML.
///
/// LDS and CDS use `initial_fetch_timeout: 0s`: Envoy waits for complete config
/// instead of going live with listeners or clusters missing, which is safe because
/// Interlock only publishes consistent snapshots (DESIGN.md, invariant 2).
pub fn render_bootstrap(opts: &BootstrapOptions) -> String {
    let api_type = if opts.delta { "DELTA_GRPC" } else { "GRPC" };
    // A bracketed IPv6 literal ("[::1]") is accepted too, as people write it in URLs.
    let host = opts
        .xds_host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(&opts.xds_host);
    // STATIC needs an IP literal; anything else must be resolved by DNS.
    let discovery = if host.parse::<IpAddr>().is_ok() {
        "STATIC"
    } else {
        "STRICT_DNS"
    };

    let mut y = String::new();
    // `write!` into a String cannot fail.
    let _ = write!(
        y,
        r#"node:
  id: {node_id}
  cluster: {node_cluster}
admin:
  address:
    socket_address: {{ address: 127.0.0.1, port_value: {admin_port} }}
dynamic_resources:
  ads_config:
    api_type: {api_type}
    transport_api_version: V3
    set_node_on_first_message_only: true
    grpc_services:
    - envoy_grpc:
        cluster_name: {XDS_CLUSTER}
        # Reconnect quickly after an Interlock restart (default backoff grows to 30s).
        retry_policy:
          retry_back_off: {{ base_interval: 0.25s, max_interval: 5s }}
  lds_config: {{ ads: {{}}, resource_api_version: V3, initial_fetch_timeout: 0s }}
  cds_config: {{ ads: {{}}, resource_api_version: V3, initial_fetch_timeout: 0s }}
static_resources:
  clusters:
  - name: {XDS_CLUSTER}
    type: {discovery}
    dns_lookup_family: V4_PREFERRED
    connect_timeout: 1s
    # Detect a half-dead xDS connection (e.g. a vanished pod) instead of waiting forever.
    upstream_connection_options:
      tcp_keepalive: {{ keepalive_probes: 3, keepalive_time: 30, keepalive_interval: 5 }}
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config:
          http2_protocol_options:
            connection_keepalive: {{ interval: 30s, timeout: 5s }}
"#,
        node_id = yaml_quote(&opts.node_id),
        node_cluster = yaml_quote(&opts.node_cluster),
        admin_port = opts.admin_port,
    );
    if let Some(tls) = &opts.xds_tls {
        tls.render_transport_socket(&mut y);
    }
    let _ = write!(
        y,
        r#"    load_assignment:
      cluster_name: {XDS_CLUSTER}
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: {{ address: {host}, port_value: {xds_port} }}
"#,
        host = yaml_quote(host),
        xds_port = opts.xds_port,
    );
    y
}

/// Quotes `s` as a double-quoted YAML scalar, escaping everything that could end the
/// string, break the line or be read as something other than the text itself.
pub(crate) fn yaml_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Other C0/C1 controls and DEL, plus characters YAML 1.1 treats as line
            // breaks (U+2028, U+2029) and the byte-order mark.
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(delta: bool) -> BootstrapOptions {
        BootstrapOptions {
            node_id: "gw-1".into(),
            node_cluster: "gateways".into(),
            xds_host: "127.0.0.1".into(),
            xds_port: 18000,
            delta,
            admin_port: 0,
            xds_tls: None,
        }
    }

    #[test]
    fn api_type_follows_delta() {
        assert!(render_bootstrap(&opts(true)).contains("api_type: DELTA_GRPC\n"));
        let sotw = render_bootstrap(&opts(false));
        assert!(sotw.contains("api_type: GRPC\n"));
        assert!(!sotw.contains("DELTA_GRPC"));
    }

    #[test]
    fn ip_literal_is_static_and_name_is_strict_dns() {
        let y = render_bootstrap(&opts(false));
        assert!(y.contains("type: STATIC\n"));
        assert!(y.contains(r#"address: "127.0.0.1", port_value: 18000"#));

        let mut o = opts(false);
        o.xds_host = "interlock.interlock-system.svc".into();
        assert!(render_bootstrap(&o).contains("type: STRICT_DNS\n"));

        o.xds_host = "[::1]".into();
        let y = render_bootstrap(&o);
        assert!(y.contains("type: STATIC\n"));
        assert!(y.contains(r#"address: "::1","#));
    }

    #[test]
    fn node_and_admin_are_set() {
        let mut o = opts(false);
        o.admin_port = 9901;
        let y = render_bootstrap(&o);
        assert!(y.contains("  id: \"gw-1\"\n  cluster: \"gateways\"\n"));
        assert!(y.contains("{ address: 127.0.0.1, port_value: 9901 }"));
        assert!(y.contains("initial_fetch_timeout: 0s"));
        assert!(y.contains("set_node_on_first_message_only: true"));
    }

    #[test]
    fn tls_adds_only_the_transport_socket() {
        let plain = render_bootstrap(&opts(false));
        let mut o = opts(false);
        o.xds_tls = Some(XdsTls::from_dir("/certs", "interlock", "/etc/envoy").unwrap());
        let with_tls = render_bootstrap(&o);
        let start = with_tls.find("    # Mutual TLS to Interlock.").unwrap();
        let end = with_tls.find("    load_assignment:\n").unwrap();
        assert!(with_tls[start..end].contains("\n    transport_socket:\n"));
        assert_eq!(format!("{}{}", &with_tls[..start], &with_tls[end..]), plain);
    }

    #[test]
    fn node_id_is_escaped() {
        let mut o = opts(false);
        o.node_id = "a\"b\\c\nd: {e}\u{7}\u{2028}é".into();
        let y = render_bootstrap(&o);
        assert!(y.contains(r#"  id: "a\"b\\c\nd: {e}\u0007\u2028é""#), "{y}");
        // The value stays on one line: the document has the same shape as without it.
        assert_eq!(
            y.lines().count(),
            render_bootstrap(&opts(false)).lines().count()
        );
    }
}

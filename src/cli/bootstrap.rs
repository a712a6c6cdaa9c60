//! `interlock bootstrap`: prints the Envoy bootstrap for a gateway.

use std::path::PathBuf;

use anyhow::Context;
use clap::{ArgGroup, Args};
use interlock::bootstrap::{default_server_name, render_bootstrap, BootstrapOptions, XdsTls};

/// Flags of `interlock bootstrap`.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("xds_tls").args(["xds_tls_dir", "xds_cert"])))]
pub struct BootstrapArgs {
    /// Envoy node id (unique per gateway; Interlock tracks ACKs by it).
    #[arg(long)]
    node_id: String,
    /// Envoy node cluster (the gateway's fleet name).
    #[arg(long, default_value = "interlock-gateway")]
    node_cluster: String,
    /// Interlock's xDS address, HOST:PORT (host may be a DNS name).
    #[arg(long, default_value = "127.0.0.1:18000")]
    xds_address: String,
    /// Use incremental (delta) xDS instead of state of the world.
    #[arg(long)]
    delta: bool,
    /// Envoy admin port (bound on 127.0.0.1).
    #[arg(long, default_value_t = 9901)]
    admin_port: u16,
    /// Connect to Interlock with mutual TLS (1.3), taking the client certificate,
    /// key and CA from DIR/tls.crt, DIR/tls.key and DIR/ca.crt: a mounted
    /// kubernetes.io/tls Secret. Absolute path as Envoy sees it; Envoy reloads the
    /// files when the directory changes (the kubelet's `..data` swap). Needs --sds-dir.
    #[arg(long, value_name = "DIR", requires = "sds_dir")]
    xds_tls_dir: Option<PathBuf>,
    /// Mutual TLS with the client certificate chain (PEM) in FILE, instead of
    /// --xds-tls-dir; needs --xds-key and --xds-ca too.
    #[arg(long, value_name = "FILE", requires_all = ["xds_key", "xds_ca", "sds_dir"])]
    xds_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM), with --xds-cert.
    #[arg(long, value_name = "FILE", requires = "xds_cert")]
    xds_key: Option<PathBuf>,
    /// The CA bundle (PEM) that signed Interlock's server certificate, with --xds-cert.
    #[arg(long, value_name = "FILE", requires = "xds_cert")]
    xds_ca: Option<PathBuf>,
    /// Name sent as SNI and required as a DNS SAN of Interlock's certificate.
    /// Default: the host of --xds-address when it is a DNS name, else `interlock`.
    #[arg(long, value_name = "NAME", requires = "xds_tls")]
    xds_server_name: Option<String>,
    /// With TLS: the directory where Envoy reads the two file-based SDS files
    /// (xds-client-certificate.yaml, xds-validation-context.yaml) that name the
    /// certificate files; absolute, as Envoy sees it. They are written there unless
    /// --sds-write-dir says otherwise.
    #[arg(long, value_name = "DIR", requires = "xds_tls")]
    sds_dir: Option<PathBuf>,
    /// Write the SDS files into DIR instead of --sds-dir, to ship them to where Envoy
    /// runs (e.g. into the ConfigMap that also holds the bootstrap).
    #[arg(long, value_name = "DIR", requires = "sds_dir")]
    sds_write_dir: Option<PathBuf>,
}

/// Prints the bootstrap to stdout (and writes the SDS files when TLS is on).
pub fn run(args: BootstrapArgs) -> anyhow::Result<()> {
    let (host, port) = args
        .xds_address
        .rsplit_once(':')
        .context("--xds-address must be HOST:PORT")?;
    let xds_port = port
        .parse()
        .with_context(|| format!("invalid port in --xds-address {:?}", args.xds_address))?;
    anyhow::ensure!(!host.is_empty(), "--xds-address must be HOST:PORT");
    anyhow::ensure!(!args.node_id.is_empty(), "--node-id must not be empty");
    let xds_tls = xds_tls(&args, host)?;
    if let Some(tls) = &xds_tls {
        let dir = args.sds_write_dir.as_deref().unwrap_or(tls.sds_dir());
        tls.write_sds_files(dir)
            .with_context(|| format!("cannot write the SDS files into {}", dir.display()))?;
    }
    let yaml = render_bootstrap(&BootstrapOptions {
        node_id: args.node_id,
        node_cluster: args.node_cluster,
        xds_host: host.to_owned(),
        xds_port,
        delta: args.delta,
        admin_port: args.admin_port,
        xds_tls,
    });
    print!("{yaml}");
    Ok(())
}

/// The TLS options, if any TLS flag was given (clap has checked which go together).
fn xds_tls(args: &BootstrapArgs, xds_host: &str) -> anyhow::Result<Option<XdsTls>> {
    let Some(sds_dir) = &args.sds_dir else {
        return Ok(None);
    };
    let server_name = args
        .xds_server_name
        .as_deref()
        .unwrap_or_else(|| default_server_name(xds_host));
    let tls = match (
        &args.xds_tls_dir,
        &args.xds_cert,
        &args.xds_key,
        &args.xds_ca,
    ) {
        (Some(dir), None, None, None) => XdsTls::from_dir(dir, server_name, sds_dir),
        (None, Some(cert), Some(key), Some(ca)) => {
            XdsTls::from_files(cert, key, ca, server_name, sds_dir)
        }
        _ => anyhow::bail!("give either --xds-tls-dir or --xds-cert, --xds-key and --xds-ca"),
    };
    let tls = tls.map_err(|e| match (&e, &args.xds_server_name) {
        (interlock::bootstrap::XdsTlsError::ServerName { .. }, None) => {
            anyhow::anyhow!("{e} (taken from --xds-address; set --xds-server-name)")
        }
        _ => e.into(),
    })?;
    Ok(Some(tls))
}

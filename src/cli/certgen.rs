//! `interlock certgen`: the certificates for mutual TLS on xDS, as files or as
//! Kubernetes Secret manifests.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use interlock::certs::identity::{DEFAULT_SERVER_IPS, DEFAULT_SERVER_NAMES, DEFAULT_TRUST_DOMAIN};
use interlock::certs::{Bundle, CertgenOptions, Issuer, WriteOptions, DEFAULT_NAMESPACE};

/// Flags of `interlock certgen`.
#[derive(Args, Debug)]
pub struct CertgenArgs {
    /// Write the files into DIR: the CA as DIR/ca.crt and DIR/ca.key (the key only
    /// for a CA made here), and per party a directory holding tls.crt, tls.key and
    /// ca.crt, as a mounted kubernetes.io/tls Secret does: DIR/server for
    /// `interlock serve --xds-tls-dir`, DIR/<gateway> for `interlock bootstrap
    /// --xds-tls-dir`. Keys mode 0600, directories 0700.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    /// Print Kubernetes Secret manifests (kubernetes.io/tls) to stdout.
    #[arg(short = 'o', long, value_enum, value_name = "FORMAT")]
    output: Option<Output>,
    /// A gateway to issue a client certificate for (repeatable); its identity is
    /// spiffe://<trust-domain>/gateway/<NAME>.
    #[arg(long = "gateway", value_name = "NAME", default_value = "envoy")]
    gateways: Vec<String>,
    /// SPIFFE trust domain of the gateway identities.
    #[arg(long, default_value = DEFAULT_TRUST_DOMAIN)]
    trust_domain: String,
    /// A DNS name for the server certificate (repeatable; replaces the default
    /// Service names). An IP address is added as an IP SAN. 127.0.0.1 and ::1 are
    /// always included.
    #[arg(long = "server-name", value_name = "NAME")]
    server_names: Vec<String>,
    /// Lifetime of the server and client certificates (the CA it makes lives 10 years).
    #[arg(long, default_value = "365d", value_parser = humantime::parse_duration)]
    validity: Duration,
    /// Sign with this existing CA certificate (PEM) instead of making a new CA.
    #[arg(long, value_name = "FILE", requires = "ca_key")]
    ca_cert: Option<PathBuf>,
    /// The key of --ca-cert (unencrypted PKCS#8 PEM). It is not copied to --out-dir.
    #[arg(long, value_name = "FILE", requires = "ca_cert")]
    ca_key: Option<PathBuf>,
    /// Namespace of the Secrets printed with -o yaml.
    #[arg(long, default_value = DEFAULT_NAMESPACE)]
    namespace: String,
    /// Overwrite existing files in --out-dir.
    #[arg(long)]
    force: bool,
}

/// Formats for `-o`.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Output {
    /// Kubernetes Secret manifests.
    Yaml,
}

/// Generates, then writes the files and/or prints the manifests.
pub fn run(args: CertgenArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.out_dir.is_some() || args.output.is_some(),
        "say where to put the certificates: --out-dir DIR and/or -o yaml"
    );
    let options = options(&args);
    let loaded_ca = match (&args.ca_cert, &args.ca_key) {
        (Some(cert), Some(key)) => {
            let read = |path: &PathBuf| {
                std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
            };
            let issuer = Issuer::from_pem(&read(cert)?, &read(key)?)
                .with_context(|| format!("loading the CA from {}", cert.display()))?;
            Some(issuer)
        }
        _ => None,
    };
    let bundle = match &loaded_ca {
        Some(ca) => Bundle::issue(ca, &options)?,
        None => Bundle::generate(&options)?,
    };
    // Render before writing, so a bad --namespace leaves no files behind.
    let manifests = match args.output {
        Some(Output::Yaml) => Some(bundle.secret_manifests(&args.namespace)?),
        None => None,
    };
    if let Some(dir) = &args.out_dir {
        let write = WriteOptions {
            overwrite: args.force,
            ca_key: loaded_ca.is_none(),
        };
        for path in bundle.write_dir(dir, write)? {
            eprintln!("wrote {}", path.display());
        }
    } else if loaded_ca.is_none() {
        eprintln!(
            "note: the new CA's key is not kept (it is in no Secret); to issue more \
             certificates from this CA later, also pass --out-dir"
        );
    }
    if let Some(manifests) = manifests {
        print!("{manifests}");
    }
    Ok(())
}

/// The library options from the flags: `--server-name` values that are IP
/// addresses become IP SANs.
fn options(args: &CertgenArgs) -> CertgenOptions {
    let mut server_names = Vec::new();
    let mut server_ips = DEFAULT_SERVER_IPS.to_vec();
    for name in &args.server_names {
        match name.parse::<IpAddr>() {
            Ok(ip) if !server_ips.contains(&ip) => server_ips.push(ip),
            Ok(_) => {}
            Err(_) => server_names.push(name.clone()),
        }
    }
    if args.server_names.is_empty() {
        server_names = DEFAULT_SERVER_NAMES.map(str::to_owned).to_vec();
    }
    CertgenOptions {
        trust_domain: args.trust_domain.clone(),
        gateways: args.gateways.clone(),
        server_names,
        server_ips,
        validity: args.validity,
    }
}

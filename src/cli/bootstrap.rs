//! `interlock bootstrap`: prints the Envoy bootstrap for a gateway.

use anyhow::Context;
use clap::Args;
use interlock::bootstrap::{render_bootstrap, BootstrapOptions};

/// Flags of `interlock bootstrap`.
#[derive(Args, Debug)]
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
}

/// Prints the bootstrap to stdout.
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
    let yaml = render_bootstrap(&BootstrapOptions {
        node_id: args.node_id,
        node_cluster: args.node_cluster,
        xds_host: host.to_owned(),
        xds_port,
        delta: args.delta,
        admin_port: args.admin_port,
    });
    print!("{yaml}");
    Ok(())
}

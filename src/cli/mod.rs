//! Command-line interface: one file per subcommand.

mod bootstrap;

use clap::{Parser, Subcommand};

/// Interlock: an Envoy xDS control plane for Kubernetes Ingress that never serves
/// a missing route.
#[derive(Parser, Debug)]
#[command(name = "interlock", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print an Envoy bootstrap (YAML) for a gateway that takes its config from Interlock.
    Bootstrap(bootstrap::BootstrapArgs),
}

/// Runs the chosen subcommand.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Bootstrap(args) => bootstrap::run(args),
    }
}

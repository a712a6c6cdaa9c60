//! Command-line interface: one file per subcommand.

mod bench;
mod bench_push;
mod bootstrap;
mod certgen;
mod migrate_check;
mod quickstart;
mod serve;
mod serve_kube;
mod wait;
mod xds_limits;

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
    /// Serve Envoy gateways over ADS from a directory of Kubernetes YAML.
    Serve(serve::ServeArgs),
    /// Serve `examples/` with a real local Envoy in front and demo upstreams behind.
    Quickstart(quickstart::QuickstartArgs),
    /// Print an Envoy bootstrap (YAML) for a gateway that takes its config from Interlock.
    Bootstrap(bootstrap::BootstrapArgs),
    /// Write a CA, a server certificate and gateway client certificates for mutual TLS on xDS.
    Certgen(certgen::CertgenArgs),
    /// Report what becomes of each ingress-nginx annotation of the Ingresses in a directory or a cluster.
    MigrateCheck(migrate_check::MigrateCheckArgs),
    /// Wait until Ingresses (namespace/name) are programmed on every connected Envoy.
    Wait(wait::WaitArgs),
    /// Measure a running Interlock from the outside (Envoy-like clients, probe Ingresses).
    Bench(bench::BenchArgs),
}

/// Runs the chosen subcommand.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Bootstrap(args) => bootstrap::run(args),
        Command::Certgen(args) => certgen::run(args),
        Command::MigrateCheck(args) => migrate_check::run(args),
        Command::Wait(args) => runtime()?.block_on(wait::run(args)),
        Command::Bench(args) => {
            serve::init_logging(serve::LogFormat::Text);
            runtime()?.block_on(bench::run(args))
        }
        Command::Serve(args) => {
            serve::init_logging(args.log_format);
            runtime()?.block_on(serve::run(args))
        }
        Command::Quickstart(args) => {
            serve::init_logging(args.serve.log_format);
            runtime()?.block_on(quickstart::run(args))
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

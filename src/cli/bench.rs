//! `interlock bench`: measure a running Interlock from the outside.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};

use interlock::bench::envoy_like::Flavor;
use interlock::bench::fanout::{self, ChangePlan, FanoutPlan};

/// `interlock bench ...`
#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    mode: BenchMode,
}

#[derive(Subcommand, Debug)]
enum BenchMode {
    /// M Envoy-like ADS clients against a running Interlock: connect storm, then
    /// optional changes written as Ingress files, timed until every client holds them.
    Fanout(FanoutArgs),
    /// N probe Ingresses against a running Interlock with real Envoys in front:
    /// write → published → each ACK → programmed → first 200, and every bad answer.
    Push(super::bench_push::PushArgs),
}

/// `interlock bench fanout`
#[derive(Args, Debug)]
pub struct FanoutArgs {
    /// Interlock's xDS address (plain text: loopback or `--xds-insecure`).
    #[arg(long, default_value = "127.0.0.1:18000")]
    xds: String,
    /// How many clients, all connecting at once.
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// ADS flavour.
    #[arg(long, value_enum, default_value_t = Flavor::Delta)]
    mode: Flavor,
    /// Node ids are this followed by the client's index.
    #[arg(long, default_value = "bench-")]
    node_prefix: String,
    /// Deadline for every client to hold complete config.
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    complete_timeout: Duration,
    /// The directory `serve --ingress-dir` watches: changes are probe Ingresses
    /// written there (and removed after).
    #[arg(long)]
    ingress_dir: Option<PathBuf>,
    /// How many changes (with `--ingress-dir`).
    #[arg(long, default_value_t = 5)]
    changes: usize,
    /// Deadline for every client to hold one change.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    change_timeout: Duration,
    /// Quiet time between changes.
    #[arg(long, default_value = "500ms", value_parser = humantime::parse_duration)]
    pause: Duration,
    /// `ingressClassName` of the probe Ingresses.
    #[arg(long, default_value = "interlock")]
    ingress_class: String,
    /// Interlock's process id, when it runs on this machine: report its CPU time
    /// and peak memory over the run.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Also write the report as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// Runs `interlock bench`.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.mode {
        BenchMode::Fanout(args) => run_fanout(args).await,
        BenchMode::Push(args) => super::bench_push::run(args).await,
    }
}

async fn run_fanout(args: FanoutArgs) -> anyhow::Result<()> {
    let xds = if args.xds.contains("://") {
        args.xds.clone()
    } else {
        format!("http://{}", args.xds)
    };
    let plan = FanoutPlan {
        xds,
        clients: args.clients,
        flavor: args.mode,
        node_prefix: args.node_prefix,
        complete_timeout: args.complete_timeout,
        changes: args.ingress_dir.map(|ingress_dir| ChangePlan {
            ingress_dir,
            count: args.changes,
            timeout: args.change_timeout,
            pause: args.pause,
            class: args.ingress_class,
        }),
        server_pid: args.server_pid,
    };
    let report = fanout::run(plan).await?;
    print!("{report}");
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json).with_context(|| format!("write {}", path.display()))?;
    }
    anyhow::ensure!(
        report.clean(),
        "not every client got every config without a failure"
    );
    Ok(())
}

//! `interlock serve`: the control plane. Sources → pipeline → snapshot store → ADS,
//! plus the admin listener (gRPC admin API, probes, metrics, debug views, UI).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use interlock::admin::{self, AdminServices};
use interlock::debounce::DebounceConfig;
use interlock::pipeline::{Pipeline, PipelineConfig};
use interlock::snapshot::SnapshotStore;
use interlock::sources::file::FileSource;
use interlock::translate::TranslateConfig;
use interlock::xds::{AckTracker, AdsServer};
use tokio::sync::mpsc;
use tracing::info;

/// Flags of `interlock serve` (and of `interlock quickstart`).
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address the ADS (xDS) gRPC server listens on.
    #[arg(long, default_value = "127.0.0.1:18000")]
    pub xds_address: SocketAddr,
    /// Address of the admin listener: the gRPC admin API and plain HTTP
    /// (`/healthz`, `/readyz`, `/metrics`, `/debug/*`, and a live page at `/`).
    #[arg(long, default_value = "127.0.0.1:18001")]
    pub admin_address: SocketAddr,
    /// Directory of Kubernetes YAML (Ingress, IngressClass, Service, EndpointSlice,
    /// Secret) to serve, watched live. The embedded default: no cluster needed.
    #[arg(long)]
    pub ingress_dir: Option<PathBuf>,
    /// Address Envoy's gateway listeners bind.
    #[arg(long, default_value = "0.0.0.0")]
    pub listen_address: String,
    /// Port of Envoy's HTTP listener.
    #[arg(long, default_value_t = 10080)]
    pub http_port: u16,
    /// Port of Envoy's HTTPS listener (SNI, certificates over SDS).
    #[arg(long, default_value_t = 10443)]
    pub https_port: u16,
    /// IngressClass name served (also used when no IngressClass object exists).
    #[arg(long, default_value = "interlock")]
    pub ingress_class: String,
    /// `spec.controller` of the IngressClasses that are ours.
    #[arg(long, default_value = "interlock.dev/ingress-controller")]
    pub controller_name: String,
    /// Quiet window: changes closer together than this are published together.
    #[arg(long, default_value = "100ms", value_parser = humantime::parse_duration)]
    pub debounce: Duration,
    /// Longest a change may wait for its publish under continuous churn.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub debounce_max: Duration,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// How logs are printed.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Starts sources, pipeline, ADS server and admin server; returns a task that
/// ends when both servers have stopped (on SIGINT/SIGTERM) or one fails.
pub async fn start(
    args: &ServeArgs,
) -> anyhow::Result<tokio::task::JoinHandle<anyhow::Result<()>>> {
    anyhow::ensure!(
        args.debounce_max >= args.debounce,
        "--debounce-max ({:?}) must not be shorter than --debounce ({:?})",
        args.debounce_max,
        args.debounce
    );
    let dir = args
        .ingress_dir
        .clone()
        .context("--ingress-dir is required (the Kubernetes source arrives in a later release)")?;
    let source =
        FileSource::new(&dir).with_context(|| format!("cannot watch {}", dir.display()))?;
    let store = SnapshotStore::new();
    let tracker = AckTracker::new();
    let config = PipelineConfig {
        translate: TranslateConfig {
            listen_address: args.listen_address.clone(),
            http_port: args.http_port,
            https_port: args.https_port,
            ingress_class: args.ingress_class.clone(),
            controller_name: args.controller_name.clone(),
        },
        debounce: DebounceConfig {
            quiet: args.debounce,
            max_delay: args.debounce_max,
        },
    };
    let (events, received) = mpsc::channel(1024);
    let pipeline = Pipeline::new(config, store.clone(), ["file"]);
    let status = pipeline.status();
    tokio::spawn(pipeline.run(received));
    tokio::spawn(async move {
        if let Err(e) = source.run(events).await {
            tracing::error!(error = %e, "file source stopped");
        }
    });
    let listener = tokio::net::TcpListener::bind(args.xds_address)
        .await
        .with_context(|| format!("cannot listen for xDS on {}", args.xds_address))?;
    let admin_listener = admin::bind_admin(args.admin_address).await?;
    // Started before the ADS server accepts, so streams are seen from the first.
    let services = AdminServices::new(store.clone(), tracker.clone(), status);
    info!(xds = %args.xds_address, admin = %args.admin_address, dir = %dir.display(), "interlock serving");
    let server = AdsServer::new(store, tracker);
    Ok(tokio::spawn(async move {
        let xds = async {
            server.serve_on(listener, shutdown_signal()).await?;
            anyhow::Ok(())
        };
        let admin = async {
            let AdminServices { http, grpc, .. } = services;
            admin::serve_admin(admin_listener, http, Some(grpc), shutdown_signal()).await?;
            anyhow::Ok(())
        };
        tokio::try_join!(xds, admin)?;
        Ok(())
    }))
}

/// Runs `interlock serve` until SIGINT/SIGTERM.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    start(&args).await?.await.context("xDS server task")?
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    info!("shutting down");
}

/// Installs the tracing subscriber for `format` (RUST_LOG overrides the level).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

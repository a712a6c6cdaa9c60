//! `interlock serve`: the control plane. Sources → pipeline → snapshot store → ADS,
//! plus the admin listener (gRPC admin API, probes, metrics, debug views, UI).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use interlock::admin::{self, AdminLimits, AdminServices, Health};
use interlock::debounce::DebounceConfig;
use interlock::pipeline::{Pipeline, PipelineConfig};
use interlock::snapshot::SnapshotStore;
use interlock::sources::file::FileSource;
use interlock::sources::health::SourceHealth;
use interlock::sources::kube::KubeSource;
use interlock::translate::TranslateConfig;
use interlock::world::SecretRefetch;
use interlock::xds::tls::{
    GatewayNamespaces, NodeIdRule, NodeIdRules, ReloadingTls, SecretScopes, TlsFiles,
};
use interlock::xds::{AckTracker, AdsServer, Drain};
use tokio::sync::{broadcast, mpsc};
use tracing::{error, info, warn};

use super::serve_kube::{self, KubeArgs};

/// Flags of `interlock serve` (and of `interlock quickstart`).
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address the ADS (xDS) gRPC server listens on.
    #[arg(long, default_value = "127.0.0.1:18000")]
    pub xds_address: SocketAddr,
    /// Directory with the xDS listener's mutual-TLS material: `tls.crt`,
    /// `tls.key` (the server's) and `ca.crt` (the CA client certificates must
    /// chain to), as a mounted `kubernetes.io/tls` Secret or `interlock certgen`
    /// lays them out. Re-read when they change.
    #[arg(long)]
    pub xds_tls_dir: Option<PathBuf>,
    /// Serve xDS in plain text on a non-loopback address. Anyone who reaches
    /// the port then gets every TLS private key Interlock serves.
    #[arg(long)]
    pub xds_insecure: bool,
    /// With mutual TLS, `IDENTITY=PATTERN`: clients whose certificate identity
    /// is IDENTITY (`*`: any) may use node ids matching PATTERN (`*` wildcards,
    /// `{gateway}` for the identity's gateway name). Repeatable. Default:
    /// gateway NAME may use `NAME` and `NAME-*` (its Deployment's pod names).
    #[arg(long)]
    pub node_id_rule: Vec<NodeIdRule>,
    /// With mutual TLS, `IDENTITY=NS[,NS...]`: that gateway (full identity or
    /// gateway name) receives only the TLS Secrets of these namespaces, and its
    /// HTTPS listener serves only their hosts. Repeatable. Default: all.
    #[arg(long)]
    pub gateway_namespaces: Vec<GatewayNamespaces>,
    /// Address of the admin listener: the gRPC admin API and plain HTTP
    /// (`/healthz`, `/readyz`, `/metrics`, `/debug/*`, and a live page at `/`).
    #[arg(long, default_value = "127.0.0.1:18001")]
    pub admin_address: SocketAddr,
    /// How long a gateway node is remembered after its last xDS stream closed
    /// (its ACK state and metric series); pods replaced by a rollout have new
    /// names, so the departed must not pile up.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub node_grace: Duration,
    /// Serve the debug views and the admin gRPC API to any client, not only
    /// on loopback (probes, metrics and `/peer/ingresses` always are).
    #[arg(long)]
    pub admin_debug_anywhere: bool,
    /// Longest an admin client may take to send a request's headers (and its
    /// first request after connecting); slower connections are closed.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub admin_header_read_timeout: Duration,
    /// Admin connections served at once; beyond it new ones are closed at once.
    #[arg(long, default_value_t = 1024)]
    pub admin_max_connections: usize,
    /// `/readyz` turns false when a source that has synced has been failing
    /// (e.g. its Kubernetes watch cannot reach the API server) for longer
    /// than this; `0s`: never.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub source_outage_unready_after: Duration,
    /// TEST HOOK, not for production: abort the pipeline task this long after
    /// start, to test supervision (`/healthz` fails, `serve` exits non-zero).
    #[arg(long, hide = true, value_parser = humantime::parse_duration)]
    pub test_abort_pipeline_after: Option<Duration>,
    /// Directory of Kubernetes YAML (Ingress, IngressClass, Service, EndpointSlice,
    /// Secret) to serve, watched live: the embedded default, no cluster needed.
    /// Without it, Interlock watches a Kubernetes API server.
    #[arg(long)]
    pub ingress_dir: Option<PathBuf>,
    /// On SIGTERM: how long connected Envoys keep being served (while readiness
    /// is false and new streams are refused) so they can move to another replica.
    /// A second signal, or every Envoy leaving, ends it early.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub drain_timeout: Duration,
    #[command(flatten)]
    pub kube: KubeArgs,
    #[command(flatten)]
    pub xds_limits: super::xds_limits::XdsLimitArgs,
    /// Address Envoy's gateway listeners bind (an IP: Envoy rejects names).
    #[arg(long, default_value = "0.0.0.0")]
    pub listen_address: std::net::IpAddr,
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
    /// Prefix of the ingress-nginx annotations honoured (ingress-nginx's
    /// `--annotations-prefix`).
    #[arg(long, default_value = interlock::translate::source::ingress::DEFAULT_PREFIX)]
    pub annotations_prefix: String,
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

/// Starts sources, pipeline, ADS server and admin server (and in Kubernetes,
/// leader election and the status writer); returns a task that ends after the
/// graceful shutdown (SIGINT/SIGTERM, see [`drain`]) or when a server fails.
pub async fn start(
    args: &ServeArgs,
) -> anyhow::Result<tokio::task::JoinHandle<anyhow::Result<()>>> {
    anyhow::ensure!(
        args.debounce_max >= args.debounce,
        "--debounce-max ({:?}) must not be shorter than --debounce ({:?})",
        args.debounce_max,
        args.debounce
    );
    let tls = xds_tls(args)?;
    let store = SnapshotStore::new();
    let tracker = AckTracker::new().with_departure_grace(args.node_grace);
    let config = PipelineConfig {
        translate: TranslateConfig {
            listen_address: args.listen_address.to_string(),
            http_port: args.http_port,
            https_port: args.https_port,
            ingress_class: args.ingress_class.clone(),
            controller_name: args.controller_name.clone(),
            annotations_prefix: args.annotations_prefix.clone(),
        },
        debounce: DebounceConfig {
            quiet: args.debounce,
            max_delay: args.debounce_max,
        },
        secret_refetch: None,
    };
    let mut config = config;
    let (events, received) = mpsc::channel(1024);
    let drain = Drain::default();
    let mut kube_source = None;
    let mut file_source = None;
    let pipeline = match &args.ingress_dir {
        Some(dir) => {
            let source =
                FileSource::new(dir).with_context(|| format!("cannot watch {}", dir.display()))?;
            file_source = Some((source, events));
            info!(dir = %dir.display(), "serving a directory of Kubernetes YAML");
            Pipeline::new(config, store.clone(), ["file"])
        }
        None => {
            let (client, source) = serve_kube::source(&args.kube)
                .await
                .context("without --ingress-dir, Interlock watches Kubernetes")?;
            // The data of TLS Secrets no Ingress names stays out of memory.
            let (refetch, requests) = SecretRefetch::channel(SECRET_REFETCH_QUEUE);
            config.secret_refetch = Some(refetch);
            let source = source.with_secret_refetch(requests);
            let pipeline = Pipeline::new(config, store.clone(), KubeSource::source_names());
            kube_source = Some((client, source, events));
            pipeline
        }
    };
    let status = pipeline.status();
    // Every long-running task is spawned through `health` (supervised).
    let sources = match &kube_source {
        Some((_, source, _)) => source.health(),
        None => SourceHealth::default(),
    };
    let outage_threshold =
        (!args.source_outage_unready_after.is_zero()).then_some(args.source_outage_unready_after);
    let health = Health::new(sources, outage_threshold);
    if let Some((source, events)) = file_source {
        health.spawn("file source", source.run(events));
    }
    let pipeline = health.spawn("pipeline", pipeline.run(received));
    if let Some(after) = args.test_abort_pipeline_after {
        // TEST HOOK (hidden flag): see `--test-abort-pipeline-after`.
        let abort = pipeline.abort;
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            warn!("test hook: aborting the pipeline task");
            abort.abort();
        });
    }
    let listener =
        interlock::xds::bind_xds(args.xds_address, args.xds_limits.xds_listen_backlog).await?;
    let admin_listener = admin::bind_admin(args.admin_address).await?;
    // Started before the ADS server accepts, so streams are seen from the first.
    let services = AdminServices::with_drain(store.clone(), tracker.clone(), status, drain.clone());
    let kube_parts = match kube_source {
        Some((client, source, events)) => {
            let parts = serve_kube::start_status(
                &args.kube,
                client,
                &source,
                services.hub.clone(),
                &drain,
                &health,
            )?;
            health.spawn("kube source", source.run(events));
            Some(parts)
        }
        None => None,
    };
    info!(xds = %args.xds_address, admin = %args.admin_address, "interlock serving");
    let mut server = AdsServer::new(store, tracker.clone())
        .with_drain(drain.clone())
        .with_limits(args.xds_limits.to_limits());
    if let Some(tls) = tls {
        health.spawn(
            "xDS TLS reload",
            std::sync::Arc::clone(&tls).watch(TLS_RELOAD_INTERVAL),
        );
        server = server
            .with_tls(tls, NodeIdRules::new(args.node_id_rule.clone()))
            .with_secret_scopes(SecretScopes::new(args.gateway_namespaces.clone()));
    }
    let drain_timeout = args.drain_timeout;
    let xds = health.spawn("xDS server", server.serve_draining(listener));
    let AdminServices {
        http, grpc, public, ..
    } = services;
    let closed = drain.clone();
    let public = (!args.admin_debug_anywhere).then_some(public);
    let with_health = |router: axum::Router| router.layer(axum::Extension(health.clone()));
    let limits = AdminLimits {
        header_read_timeout: args.admin_header_read_timeout,
        max_connections: args.admin_max_connections,
        ..AdminLimits::default()
    };
    let admin = health.spawn(
        "admin server",
        admin::serve_admin_with(
            admin_listener,
            with_health(http),
            Some(grpc),
            public.map(with_health),
            limits,
            async move { closed.closed().await },
        ),
    );
    Ok(tokio::spawn(async move {
        let failed = tokio::select! {
            () = shutdown_signal() => false,
            _ = health.failed() => true,
        };
        if failed {
            // A dead task often takes its neighbours with it (the pipeline's
            // end closes the source's channel): let those be reported too.
            tokio::time::sleep(FAILURE_SETTLE).await;
        }
        // From here on, tasks ending is expected (failures stay reported).
        health.stopping();
        let failures = health.failures();
        if !failures.is_empty() {
            let failures = failures.iter().map(ToString::to_string);
            let failures = failures.collect::<Vec<_>>().join("; ");
            error!(%failures, "draining, then exiting with an error (/healthz fails meanwhile)");
        }
        drain_streams(&drain, &tracker, drain_timeout).await;
        if let Some(parts) = kube_parts {
            serve_kube::stop(parts).await;
        }
        let _ = xds.done.await;
        let _ = admin.done.await;
        if failures.is_empty() {
            return Ok(());
        }
        let failures = failures.iter().map(ToString::to_string);
        Err(anyhow::anyhow!(failures.collect::<Vec<_>>().join("; ")))
    }))
}

/// After a supervised task fails, how long other tasks' ends still count as
/// failures (reported with it) before shutdown starts.
const FAILURE_SETTLE: Duration = Duration::from_millis(200);

/// Secret fetches that may wait for the Kubernetes source.
const SECRET_REFETCH_QUEUE: usize = 4096;

/// How often the xDS TLS files are checked for a new certificate or CA.
const TLS_RELOAD_INTERVAL: Duration = Duration::from_secs(2);

/// The xDS listener's TLS material, or why serving without it is refused:
/// plain text only on loopback or with `--xds-insecure`.
fn xds_tls(args: &ServeArgs) -> anyhow::Result<Option<std::sync::Arc<ReloadingTls>>> {
    let Some(dir) = &args.xds_tls_dir else {
        anyhow::ensure!(
            args.gateway_namespaces.is_empty() && args.node_id_rule.is_empty(),
            "--gateway-namespaces and --node-id-rule need client identities: give --xds-tls-dir"
        );
        let loopback = args.xds_address.ip().is_loopback();
        anyhow::ensure!(
            loopback || args.xds_insecure,
            "xDS on {} would hand TLS private keys to anyone who connects: give --xds-tls-dir \
             (mutual TLS; `interlock certgen` makes the certificates), or --xds-insecure",
            args.xds_address
        );
        if !loopback {
            tracing::warn!(xds = %args.xds_address, "--xds-insecure: xDS in plain text, no client authentication; anyone who reaches this port gets every TLS private key served");
        }
        return Ok(None);
    };
    let tls = ReloadingTls::load(TlsFiles::in_dir(dir))
        .with_context(|| format!("cannot use the xDS TLS files in {}", dir.display()))?;
    info!(dir = %dir.display(), "xDS requires mutual TLS");
    Ok(Some(tls))
}

/// The graceful shutdown: readiness false and new streams refused at once;
/// open streams served until every Envoy has left, `timeout` passes or a
/// second signal arrives; then they are ended.
async fn drain_streams(drain: &Drain, tracker: &AckTracker, timeout: Duration) {
    drain.start();
    let open = || tracker.nodes().values().map(|n| n.streams).sum::<usize>();
    info!(
        streams = open(),
        ?timeout,
        "draining: not ready, refusing new xDS streams"
    );
    let mut events = tracker.subscribe();
    let all_left = async {
        // Rechecked on each stream event (a lagging receiver just rechecks).
        while open() > 0 {
            if let Err(broadcast::error::RecvError::Closed) = events.recv().await {
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = all_left => info!("every Envoy has left"),
        () = tokio::time::sleep(timeout) => info!(streams = open(), "drain timeout: ending the remaining streams"),
        () = shutdown_signal() => info!("second signal: ending the remaining streams"),
    }
    drain.close();
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

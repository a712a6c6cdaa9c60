//! `interlock bench push`: flags, the sink (directory or namespace), signals,
//! and the three outputs (summary table, JSON, HTML).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use tokio::signal::unix::{signal, SignalKind};

use interlock::admin::client;
use interlock::admin::grpc::pb::GetSnapshotRequest;
use interlock::bench::push::{
    self, FileSink, HttpClient, KubeSink, Outcome, ProbeSink, ProbeTiming, PushPlan,
};
use interlock::bench::report::{render_html, PushReport, Versions};

/// `interlock bench push`
#[derive(Args, Debug)]
pub struct PushArgs {
    /// Interlock's admin address (gRPC API).
    #[arg(long, default_value = "127.0.0.1:18001")]
    admin_address: String,
    /// Envoy's HTTP listener, where probe requests go.
    #[arg(long, default_value = "127.0.0.1:10080")]
    gateway: SocketAddr,
    /// File mode: the directory `interlock serve --ingress-dir` watches. The
    /// bench starts a demo upstream per probe. Without it: cluster mode.
    #[arg(long, conflicts_with_all = ["kubeconfig", "backend_service"])]
    ingress_dir: Option<PathBuf>,
    /// Cluster mode: kubeconfig (default: KUBECONFIG, ~/.kube/config, in-cluster).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Cluster mode: the namespace probes go to; created and deleted by the bench.
    #[arg(long, default_value = "interlock-bench-push")]
    namespace: String,
    /// Cluster mode: the Service ("namespace/name") whose ready endpoints back every probe.
    #[arg(long)]
    backend_service: Option<String>,
    /// Cluster mode: the `x-upstream` header that backend answers with, if it
    /// names itself; other 200s then count as wrong backend.
    #[arg(long)]
    expect_upstream: Option<String>,
    /// Write probes into a directory or namespace the bench did not create
    /// (only its own probe objects are touched).
    #[arg(long)]
    use_existing: bool,
    /// How many probe Ingresses.
    #[arg(long, default_value_t = 50)]
    probes: usize,
    /// Writes per second; without it, all probes are written in one burst.
    #[arg(long)]
    rate: Option<f64>,
    /// After every probe answered: update each, then delete each, at the same rate.
    #[arg(long)]
    churn: bool,
    /// `ingressClassName` of the probes.
    #[arg(long, default_value = "interlock")]
    ingress_class: String,
    /// After the last write, how long every probe may take to answer 200.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// Keep probing this long once every probe answered (and after the churn's updates).
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    hold: Duration,
    /// Pause between requests of one probe once it answered (10 ms before).
    #[arg(long, default_value = "100ms", value_parser = humantime::parse_duration)]
    probe_interval: Duration,
    /// Answers to requests sent this soon after programmed do not count
    /// (Envoy's workers take the new routes an instant after its ACK).
    #[arg(long, default_value = "10ms", value_parser = humantime::parse_duration)]
    grace: Duration,
    /// End the run when no request got an HTTP answer for this long.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    gateway_dead_after: Duration,
    /// Envoy admin addresses (repeatable), to record Envoy's version.
    #[arg(long)]
    envoy_admin: Vec<SocketAddr>,
    /// Write the report as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the report as a self-contained HTML page here.
    #[arg(long)]
    html: Option<PathBuf>,
}

/// Runs `interlock bench push`; fails (non-zero exit) unless the promise held.
pub async fn run(args: PushArgs) -> anyhow::Result<()> {
    // Registered before anything is written, so Ctrl-C always reaches cleanup.
    let mut interrupt = signal(SignalKind::interrupt()).context("install the SIGINT handler")?;
    let mut terminate = signal(SignalKind::terminate()).context("install the SIGTERM handler")?;
    let shutdown = async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        eprintln!("\ninterrupted: removing the probes");
    };
    let plan = plan(&args);
    let endpoint = client::endpoint(&args.admin_address)?;
    let admin = client::connect(
        &endpoint,
        tokio::time::Instant::now() + Duration::from_secs(10),
        Duration::from_secs(10),
    )
    .await?;
    let versions = versions(admin.clone(), &args.envoy_admin).await;
    let (target, outcome) = match &args.ingress_dir {
        Some(dir) => {
            let sink = Arc::new(FileSink::open(dir, args.use_existing)?);
            (
                sink.describe(),
                push::run(plan.clone(), sink, admin, shutdown).await?,
            )
        }
        None => {
            let backend = args.backend_service.as_deref().context(
                "cluster mode needs --backend-service NAMESPACE/NAME (or pass --ingress-dir)",
            )?;
            let client = interlock::sources::kube::connect(args.kubeconfig.as_deref()).await?;
            let sink = KubeSink::open(client, &args.namespace, args.use_existing, backend).await?;
            let sink = Arc::new(sink);
            (
                sink.describe(),
                push::run(plan.clone(), sink, admin, shutdown).await?,
            )
        }
    };
    report(&args, &plan, &target, versions, outcome)
}

fn plan(args: &PushArgs) -> PushPlan {
    PushPlan {
        run: push::run_id(),
        probes: args.probes,
        rate: args.rate,
        churn: args.churn,
        gateway: args.gateway,
        class: args.ingress_class.clone(),
        expect_upstream: args.expect_upstream.clone(),
        timing: ProbeTiming {
            fast: Duration::from_millis(10),
            steady: args.probe_interval,
            grace: args.grace,
            timeout: Duration::from_secs(2),
        },
        timeout: args.timeout,
        hold: args.hold,
        gateway_dead_after: args.gateway_dead_after,
    }
}

/// Prints the table, writes the files, and fails unless the run was clean.
fn report(
    args: &PushArgs,
    plan: &PushPlan,
    target: &str,
    versions: Versions,
    outcome: Outcome,
) -> anyhow::Result<()> {
    let report = PushReport::new(plan, target, versions, outcome);
    print!("{report}");
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json).with_context(|| format!("write {}", path.display()))?;
    }
    if let Some(path) = &args.html {
        std::fs::write(path, render_html(&report))
            .with_context(|| format!("write {}", path.display()))?;
    }
    if let Some(error) = &report.cleanup_error {
        anyhow::bail!("cleanup failed, probe objects may be left in {target}: {error}");
    }
    anyhow::ensure!(
        report.clean(),
        "the promise did not hold: {} bad answers, {}/{} programmed, {}/{} answered 200",
        report.bad.total,
        report.programmed,
        report.probes_total,
        report.answered,
        report.probes_total
    );
    Ok(())
}

/// The measured Interlock's version (from its admin API; this binary's, marked
/// so, when it does not say) and each Envoy's, from its `/server_info`.
async fn versions(mut admin: client::AdminClient, envoy_admins: &[SocketAddr]) -> Versions {
    let served = admin
        .get_snapshot(GetSnapshotRequest { summary_only: true })
        .await
        .ok()
        .map(|r| r.into_inner().interlock_version)
        .filter(|v| !v.is_empty());
    let mut versions = Versions {
        interlock: served
            .unwrap_or_else(|| format!("unknown (the bench is {})", env!("CARGO_PKG_VERSION"))),
        ..Versions::default()
    };
    for admin in envoy_admins {
        let mut client = HttpClient::new(*admin, Duration::from_secs(2));
        let version = match client.get_text("localhost", "/server_info").await {
            Ok((200, body)) => serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("version")?.as_str().map(str::to_owned))
                .unwrap_or_else(|| "unknown (unreadable /server_info)".into()),
            Ok((status, _)) => format!("unknown (/server_info answered {status})"),
            Err(e) => format!("unknown ({e})"),
        };
        versions.envoy.insert(admin.to_string(), version);
    }
    versions
}

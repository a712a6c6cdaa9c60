//! The Kubernetes side of `interlock serve` (when no `--ingress-dir` is given):
//! the kube-rs source, leader election and the Ingress status writer.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use interlock::admin::{EventHub, Health};
use interlock::ingress_status::{
    parse_addresses, watch_peers, watch_publish_service, ServiceRef, StatusWriter,
};
use interlock::leader::{LeaderElector, LeaseConfig};
use interlock::sources::kube::{connect, KubeSource, KubeSourceConfig};
use interlock::xds::Drain;
use kube::Client;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::info;

/// Flags of the Kubernetes source, leader election and status writer.
#[derive(Args, Debug, Clone)]
pub struct KubeArgs {
    /// Kubeconfig file (default: KUBECONFIG, ~/.kube/config, then the in-cluster
    /// service account).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Watch only this namespace (default: all namespaces).
    #[arg(long)]
    pub namespace: Option<String>,
    /// Label selector narrowing the watched Secrets (only
    /// `type=kubernetes.io/tls` ones are listed; those an annotation names,
    /// `auth-secret` or `auth-tls-secret`, are watched by name, any type).
    #[arg(long)]
    pub secret_label_selector: Option<String>,
    /// Address written into `status.loadBalancer.ingress` of programmed Ingresses:
    /// an IP or a hostname (repeat or comma-separate for several).
    #[arg(long, conflicts_with = "publish_service")]
    pub status_address: Vec<String>,
    /// Copy the LoadBalancer address of this Service (NAMESPACE/NAME, the one in
    /// front of the Envoys) into Ingress status.
    #[arg(long)]
    pub publish_service: Option<ServiceRef>,
    /// The Service in front of the Interlock replicas (NAMESPACE/NAME), whose
    /// EndpointSlices name a port `admin`: the leader then writes an Ingress's
    /// address only once the Envoys of every replica have it, not just its own.
    #[arg(long)]
    pub peer_service: Option<ServiceRef>,
    /// Namespace of the leader-election Lease (default: POD_NAMESPACE, else `default`).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    pub leader_election_namespace: String,
    /// Name of the leader-election Lease.
    #[arg(long, default_value = "interlock-leader")]
    pub leader_election_id: String,
    /// How long a Lease not renewed stays valid (a dead leader's is taken over after this).
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
    pub leader_election_lease_duration: Duration,
    /// A leader that could not renew for this long stops writing status.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub leader_election_renew_deadline: Duration,
    /// How often to try to acquire or renew the Lease.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub leader_election_retry_period: Duration,
    /// This replica's identity in the Lease (default: POD_NAME, else hostname-pid).
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
}

/// The running Kubernetes parts, for the shutdown sequence.
pub struct KubeParts {
    /// Ends once the Lease is released (after `drain` starts) and the
    /// supervisor has seen it end.
    pub elector: JoinHandle<()>,
}

impl KubeArgs {
    /// The leader-election settings these flags give.
    fn lease_config(&self) -> LeaseConfig {
        LeaseConfig {
            namespace: self.leader_election_namespace.clone(),
            name: self.leader_election_id.clone(),
            identity: self.identity(),
            lease_duration: self.leader_election_lease_duration,
            renew_deadline: self.leader_election_renew_deadline,
            retry_period: self.leader_election_retry_period,
        }
    }

    fn identity(&self) -> String {
        self.identity.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_owned())
                .unwrap_or_else(|_| "interlock".to_owned());
            format!("{host}-{}", std::process::id())
        })
    }
}

/// Connects and builds the source (before the pipeline, which must know the
/// sources its sync gate waits for).
pub async fn source(args: &KubeArgs) -> anyhow::Result<(Client, KubeSource)> {
    args.lease_config().validate()?;
    let client = connect(args.kubeconfig.as_deref()).await?;
    let source = KubeSource::new(
        client.clone(),
        KubeSourceConfig {
            namespace: args.namespace.clone(),
            secret_label_selector: args.secret_label_selector.clone(),
        },
    );
    Ok((client, source))
}

/// Starts leader election and the status writer (supervised by `health`).
/// Both stop when `drain` starts: the writer first (status stays as it is),
/// then the Lease is released so another replica takes over at once.
pub fn start_status(
    args: &KubeArgs,
    client: Client,
    source: &KubeSource,
    hub: EventHub,
    drain: &Drain,
    health: &Health,
) -> anyhow::Result<KubeParts> {
    let lease = args.lease_config();
    let (identity, lease_name) = (
        lease.identity.clone(),
        format!("{}/{}", lease.namespace, lease.name),
    );
    let elector = LeaderElector::with_client(client.clone(), lease);
    let (addresses, addresses_rx) = watch::channel(parse_addresses(&args.status_address));
    match &args.publish_service {
        Some(service) => {
            health.spawn(
                "publish service watch",
                watch_publish_service(client.clone(), service.clone(), addresses),
            );
        }
        None if args.status_address.is_empty() => {
            info!("neither --status-address nor --publish-service: Ingress status is not written")
        }
        None => {}
    }
    let mut writer = StatusWriter::new(
        client.clone(),
        hub,
        source.observed_status(),
        addresses_rx,
        elector.leadership(),
    );
    if let Some(service) = &args.peer_service {
        let (peers, peers_rx) = watch::channel(Vec::new());
        health.spawn(
            "peer service watch",
            watch_peers(client, service.clone(), peers),
        );
        writer = writer.with_peers(peers_rx);
    }
    let (writer_stopped, writer_done) = tokio::sync::oneshot::channel::<()>();
    let stop_writer = drain.clone();
    health.spawn("status writer", async move {
        writer.run(async move { stop_writer.started().await }).await;
        let _ = writer_stopped.send(());
    });
    let release = drain.clone();
    info!(%identity, lease = %lease_name, "leader election");
    let elector = health.spawn("leader elector", async move {
        let stopped = async move {
            release.started().await;
            let _ = writer_done.await;
        };
        elector.run(stopped).await
    });
    Ok(KubeParts {
        elector: elector.done,
    })
}

/// Gives the parts a moment to release the Lease.
pub async fn stop(parts: KubeParts) {
    let released = tokio::time::timeout(Duration::from_secs(5), parts.elector).await;
    if released.is_err() {
        tracing::warn!("the Lease was not released within 5 s; it will expire instead");
    }
}

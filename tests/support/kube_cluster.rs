//! A fake cluster for Interlock's Kubernetes mode: the fake API server, a
//! kubeconfig pointing at it, and the `interlock` IngressClass, plus ways to
//! put a host behind an Ingress.

use std::path::PathBuf;

use tempfile::TempDir;

use std::time::Duration;

use super::envoy::{Envoy, EnvoyOptions};
use super::fake_kube::FakeApiServer;
use super::interlock_process::InterlockProcess;
use super::kube_objects::{endpoint_slice, ingress, ingress_class, service};
use super::upstream::Upstream;

/// The API server and a scratch directory (kubeconfig, replica logs).
pub struct KubeCluster {
    pub api: FakeApiServer,
    pub dir: TempDir,
    pub kubeconfig: PathBuf,
}

impl KubeCluster {
    /// A fresh API server holding only the `interlock` IngressClass.
    pub async fn start() -> KubeCluster {
        let api = FakeApiServer::start().await;
        let dir = tempfile::tempdir().expect("temp dir");
        let kubeconfig = dir.path().join("kubeconfig");
        api.write_kubeconfig(&kubeconfig);
        api.apply(ingress_class());
        KubeCluster {
            api,
            dir,
            kubeconfig,
        }
    }

    /// [`KubeCluster::start`] plus Service `web` backed by an upstream answering `web`.
    pub async fn with_web() -> (KubeCluster, Upstream) {
        let cluster = KubeCluster::start().await;
        let web = Upstream::start("web").await;
        cluster.backend("web", &web);
        (cluster, web)
    }

    /// Starts a replica of `interlock serve` named `identity` against this cluster.
    pub fn replica(&self, identity: &str, extra: &[&str]) -> InterlockProcess {
        InterlockProcess::start(&self.kubeconfig, self.dir.path(), identity, None, extra)
    }

    /// [`KubeCluster::replica`] for the gateway whose Envoy listeners are on
    /// `listeners` (HTTP, HTTPS): replicas of one deployment share their flags.
    /// Envoys on one host can share the ports too (Envoy binds with SO_REUSEPORT).
    pub fn replica_of(
        &self,
        identity: &str,
        listeners: (u16, u16),
        extra: &[&str],
    ) -> InterlockProcess {
        InterlockProcess::start(
            &self.kubeconfig,
            self.dir.path(),
            identity,
            Some(listeners),
            extra,
        )
    }

    /// A replica (see [`KubeCluster::replica`]) with a SotW Envoy connected,
    /// once it is ready.
    pub async fn serving(&self, identity: &str, extra: &[&str]) -> (InterlockProcess, Envoy) {
        let replica = self.replica(identity, extra);
        let envoy = Envoy::start(EnvoyOptions::new(replica.xds_port, false)).await;
        replica.wait_ready(Duration::from_secs(30)).await;
        (replica, envoy)
    }

    /// Service `service` in `default` with `upstream` as its one endpoint.
    pub fn backend(&self, service_name: &str, upstream: &Upstream) {
        self.api.apply(service("default", service_name));
        self.api
            .apply(endpoint_slice("default", service_name, &[upstream.addr]));
    }

    /// Ingress `name` (class `interlock`) routing `host` to `service`.
    pub fn route(&self, name: &str, host: &str, service_name: &str) {
        self.api
            .apply(ingress("default", name, "interlock", host, service_name));
    }
}

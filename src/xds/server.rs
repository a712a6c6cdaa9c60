//! The tonic ADS service: accepts streams and hands each to its own task.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::mpsc;
use tonic::transport::server::TcpIncoming;
use tonic::Status;

use crate::snapshot::SnapshotStore;

use super::ack_tracker::AckTracker;
use super::drain::Drain;
use super::initial_sync::InitialSyncs;
use super::limits::{client_name, Limit, StreamCount, XdsLimits};
use super::request_stream::Requests;
use super::service::AdsService;
use super::stream::{run, Protocol, StreamContext};
use super::tls::{tls_incoming, NodeIdRules, ReloadingTls, SecretScopes, XdsPeer};

/// Responses buffered per stream; the state machine keeps at most one per type in
/// flight, so this never holds stale versions.
const RESPONSE_BUFFER: usize = 8;

/// TCP and HTTP/2 keepalive, so a vanished Envoy's stream is noticed.
const KEEPALIVE: std::time::Duration = std::time::Duration::from_secs(30);

/// Why the xDS server stopped.
#[derive(Debug, thiserror::Error)]
pub enum XdsError {
    /// The address could not be bound.
    #[error("cannot listen for xDS on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// The gRPC server failed.
    #[error("xDS server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Binds the xDS listener on `addr` with an accept backlog of `backlog`
/// (`--xds-listen-backlog`; the kernel caps it at `net.core.somaxconn`), so a
/// connect storm waits in the kernel instead of being reset.
pub async fn bind_xds(addr: SocketAddr, backlog: u32) -> Result<TcpListener, XdsError> {
    let bind = || {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        socket.listen(backlog)
    };
    bind().map_err(|source| XdsError::Bind { addr, source })
}

/// The ADS server (SotW and delta on one port), serving whatever the store holds.
#[derive(Clone)]
pub struct AdsServer {
    ctx: StreamContext,
    /// Streams open now, against `ctx.limits.max_streams`.
    open: StreamCount,
    /// Mutual TLS, when on.
    tls: Option<Arc<ReloadingTls>>,
}

impl AdsServer {
    /// A server publishing `store`'s snapshots and recording ACKs in `tracker`.
    pub fn new(store: SnapshotStore, tracker: AckTracker) -> Self {
        AdsServer {
            ctx: StreamContext {
                store,
                tracker,
                drain: Drain::default(),
                auth: None,
                scopes: Arc::default(),
                limits: Arc::default(),
                breaches: Default::default(),
                whole_types: Arc::default(),
                initial_syncs: initial_syncs(&XdsLimits::default()),
            },
            open: StreamCount::default(),
            tls: None,
        }
    }

    /// Requires mutual TLS with `tls`'s material: every client presents a
    /// certificate from its CA, and may speak only for the node ids `rules`
    /// allow its identity.
    pub fn with_tls(mut self, tls: Arc<ReloadingTls>, rules: NodeIdRules) -> Self {
        self.tls = Some(tls);
        self.ctx.auth = Some(Arc::new(rules));
        self
    }

    /// Limits the gateway identities `scopes` names to the Secrets of some
    /// namespaces (with mutual TLS; without it nobody has an identity).
    pub fn with_secret_scopes(mut self, scopes: SecretScopes) -> Self {
        self.ctx.scopes = Arc::new(scopes);
        self
    }

    /// Applies `limits` (streams, first-request timeout, names, sizes, HTTP/2
    /// reset floods; see [`XdsLimits`]) instead of the defaults.
    pub fn with_limits(mut self, limits: XdsLimits) -> Self {
        self.ctx.initial_syncs = initial_syncs(&limits);
        self.ctx.limits = Arc::new(limits);
        self
    }

    /// The limits this server applies.
    pub fn limits(&self) -> &XdsLimits {
        &self.ctx.limits
    }

    /// Follows `drain`: refuses new streams once it starts and ends open ones
    /// when it closes (see [`AdsServer::serve_draining`]).
    pub fn with_drain(mut self, drain: Drain) -> Self {
        self.ctx.drain = drain;
        self
    }

    /// Serves on `listener` until `drain` closes: when it starts, the listener is
    /// closed and every connection gets an HTTP/2 GOAWAY (no new streams, open
    /// ones carry on); when it closes, open streams end and this returns once
    /// their connections are gone.
    pub async fn serve_draining(self, listener: TcpListener) -> Result<(), XdsError> {
        let drain = self.ctx.drain.clone();
        self.serve_on(listener, async move { drain.started().await })
            .await
    }

    /// The tonic service, to mount on a server of your own.
    pub fn into_service(self) -> AdsService {
        AdsService::new(self)
    }

    /// Binds `addr` and serves until `shutdown` completes.
    pub async fn serve(
        self,
        addr: SocketAddr,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), XdsError> {
        let listener = bind_xds(addr, self.ctx.limits.listen_backlog).await?;
        self.serve_on(listener, shutdown).await
    }

    /// Serves on an already-bound listener (tests bind port 0 first).
    pub async fn serve_on(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), XdsError> {
        let limits = &self.ctx.limits;
        // tonic turns h2's guard against local-error reset floods off unless
        // given a value (RUSTSEC-2024-0003): set both reset limits explicitly.
        let builder = tonic::transport::Server::builder()
            .http2_keepalive_interval(Some(KEEPALIVE))
            .max_concurrent_streams(limits.max_streams_per_connection)
            .http2_max_pending_accept_reset_streams(Some(limits.max_pending_accept_reset_streams))
            .http2_max_local_error_reset_streams(Some(limits.max_local_error_reset_streams));
        if let Some(tls) = self.tls.clone() {
            let incoming = tls_incoming(listener, tls);
            builder
                .clone()
                .add_service(self.into_service())
                .serve_with_incoming_shutdown(incoming, shutdown)
                .await?;
            return Ok(());
        }
        // Socket options must be set on the incoming stream: the builder's are
        // ignored with `serve_with_incoming*`. Without TCP_NODELAY every small
        // xDS exchange waits for Nagle's ~40 ms.
        let incoming = TcpIncoming::from(listener)
            .with_nodelay(Some(true))
            .with_keepalive(Some(KEEPALIVE));
        let mut builder = builder;
        builder
            .add_service(self.into_service())
            .serve_with_incoming_shutdown(incoming, shutdown)
            .await?;
        Ok(())
    }

    /// Starts a stream's task; refused with UNAVAILABLE while draining, so the
    /// Envoy retries (and reaches another replica), and with RESOURCE_EXHAUSTED
    /// while `--xds-max-streams` are open. `remote` is the peer's address.
    pub(crate) fn spawn<P: Protocol>(
        &self,
        requests: Requests<P::Request>,
        peer: Option<XdsPeer>,
        remote: Option<SocketAddr>,
    ) -> Result<mpsc::Receiver<Result<P::Response, Status>>, Status> {
        if self.ctx.drain.is_draining() {
            return Err(Status::unavailable(
                "this Interlock replica is shutting down; connect to another",
            ));
        }
        let client = client_name(remote.or(peer.as_ref().map(|p| p.addr)), None);
        let max = self.ctx.limits.max_streams;
        let Some(slot) = self.open.try_open(max) else {
            self.ctx.breaches.breach(
                Limit::Streams,
                &client,
                &format!("a stream beyond the {max} open on this server (--xds-max-streams)"),
            );
            return Err(Status::resource_exhausted(format!(
                "this Interlock replica serves at most {max} xDS streams; retry later or connect to another"
            )));
        };
        let (tx, rx) = mpsc::channel(RESPONSE_BUFFER);
        tokio::spawn(run::<P>(requests, tx, self.ctx.clone(), peer, client, slot));
        Ok(rx)
    }
}

/// The first-sync turns `limits` ask for.
fn initial_syncs(limits: &XdsLimits) -> InitialSyncs {
    InitialSyncs::new(limits.max_initial_syncs, limits.initial_sync_hold)
}

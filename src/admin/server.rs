//! The admin listener: the gRPC admin API (HTTP/2, `application/grpc`) and the
//! plain HTTP routes (HTTP/1.1 for browsers, curl and the kubelet) on one port.
//! hyper's auto builder tells the protocols apart by the connection preface
//! (HTTP/2 prior knowledge, which gRPC clients speak, or HTTP/1.1); axum
//! routes gRPC by its `/package.Service/Method` paths.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinSet;
use tonic::service::Routes;
use tracing::{debug, warn};

/// After shutdown is asked for, how long open connections (a `WatchEvents`
/// stream never ends by itself) may take to finish before they are dropped.
const DRAIN: Duration = Duration::from_secs(2);

/// Pause after a failed `accept` (e.g. out of file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Limits that keep one client from tying up the admin listener (slowloris,
/// connection floods, large bodies).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdminLimits {
    /// Longest a client may take to send a request's headers (HTTP/1.1), and
    /// to send its first request at all after connecting (either protocol,
    /// including the HTTP/2 preface); the connection is closed after it.
    pub header_read_timeout: Duration,
    /// Connections served at once; beyond it new ones are closed at once.
    pub max_connections: usize,
    /// Largest request body (gRPC requests included; the HTTP routes take
    /// none); a `Content-Length` above it gets 413.
    pub max_body_bytes: usize,
}

impl Default for AdminLimits {
    fn default() -> Self {
        AdminLimits {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 1024,
            max_body_bytes: 64 * 1024,
        }
    }
}

/// HTTP/2 keepalive: a ping after this much silence...
const H2_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(20);
/// ...closes the connection unless answered within this.
const H2_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// Concurrent HTTP/2 streams on one admin connection.
const H2_MAX_STREAMS: u32 = 64;

/// Why the admin server stopped.
#[derive(Debug, thiserror::Error)]
pub enum AdminServerError {
    /// The address could not be bound.
    #[error("cannot listen for the admin API on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why it failed.
        source: std::io::Error,
    },
    /// Accepting or serving failed.
    #[error("admin server failed: {0}")]
    Serve(#[from] std::io::Error),
}

/// One router for both protocols: `http`'s routes, plus `grpc`'s services when
/// given. Unknown paths get a gRPC `UNIMPLEMENTED` when the request is gRPC,
/// else a plain 404.
pub fn admin_router(http: Router, grpc: Option<Routes>) -> Router {
    let base = match grpc {
        Some(grpc) => grpc.into_axum_router(),
        None => Router::new(),
    };
    // Replaces tonic's own fallback, which answers every path with gRPC
    // UNIMPLEMENTED (a 200 with an empty body, confusing in a browser).
    base.fallback(not_found).merge(http)
}

async fn not_found(request: Request) -> Response {
    if is_grpc(&request) {
        let path = request.uri().path().to_owned();
        return tonic::Status::unimplemented(format!("no gRPC method {path}")).into_http();
    }
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

/// What a client not on loopback gets: `public`'s routes, and a 403 (gRPC:
/// `PERMISSION_DENIED`) for everything else.
pub fn remote_router(public: Router) -> Router {
    public.fallback(loopback_only)
}

async fn loopback_only(request: Request) -> Response {
    let message = "the admin API and debug views answer only on loopback (kubectl port-forward)";
    if is_grpc(&request) {
        return tonic::Status::permission_denied(message).into_http();
    }
    (StatusCode::FORBIDDEN, format!("{message}\n")).into_response()
}

/// True for a gRPC request (answered with a gRPC status, not an HTTP page).
fn is_grpc(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"))
}

/// Binds `addr` for [`serve_admin`].
pub async fn bind_admin(addr: SocketAddr) -> Result<TcpListener, AdminServerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| AdminServerError::Bind { addr, source })
}

/// Serves `http` and `grpc` (see [`admin_router`]) on `listener` until
/// `shutdown` completes; then stops accepting, asks every connection to finish
/// (HTTP/2 GOAWAY, HTTP/1.1 close), and drops those still open after two
/// seconds. With `public`, only clients on loopback get everything; others get
/// `public`'s routes and a 403 elsewhere (debug views and the admin gRPC API
/// show more than probes and scrapes need: reach them with a port-forward).
pub async fn serve_admin(
    listener: TcpListener,
    http: Router,
    grpc: Option<Routes>,
    public: Option<Router>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), AdminServerError> {
    serve_admin_with(
        listener,
        http,
        grpc,
        public,
        AdminLimits::default(),
        shutdown,
    )
    .await
}

/// [`serve_admin`] with the given [`AdminLimits`].
pub async fn serve_admin_with(
    listener: TcpListener,
    http: Router,
    grpc: Option<Routes>,
    public: Option<Router>,
    limits: AdminLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), AdminServerError> {
    let body_limit = DefaultBodyLimit::max(limits.max_body_bytes);
    let app = admin_router(http, grpc).layer(body_limit);
    let public = public.map(|p| remote_router(p).layer(body_limit));
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut refused_logged = false;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                        // Closed at once: a flood must not starve the probes
                        // of the connections already served.
                        if !std::mem::replace(&mut refused_logged, true) {
                            warn!(%peer, max = limits.max_connections, "admin connection cap reached; closing new connections until some end");
                        }
                        drop(tcp);
                        continue;
                    };
                    if slots.available_permits() > limits.max_connections / 2 {
                        refused_logged = false;
                    }
                    let router = match &public {
                        Some(public) if !peer.ip().is_loopback() => public.clone(),
                        _ => app.clone(),
                    };
                    let serving = serve_connection(tcp, router, limits, stopping.clone());
                    connections.spawn(async move {
                        serving.await;
                        drop(slot);
                    });
                }
                // Out of file descriptors and the like: the listener itself
                // is fine; back off instead of spinning.
                Err(e) => {
                    warn!(error = %e, "admin listener could not accept");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let _ = stop.send(true);
    let drained = tokio::time::timeout(DRAIN, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        debug!(
            open = connections.len(),
            "admin connections dropped after the drain"
        );
    }
    // Dropping the set aborts whatever is still open.
    Ok(())
}

/// One connection, HTTP/1.1 or HTTP/2 (prior knowledge, as gRPC clients
/// speak it), until it ends or `stopping` turns true. A client that has not
/// sent a complete first request within the header-read timeout is
/// disconnected (hyper's own timeout covers later HTTP/1.1 requests, but not
/// the protocol detection before the first).
async fn serve_connection(
    tcp: TcpStream,
    app: Router,
    limits: AdminLimits,
    mut stopping: watch::Receiver<bool>,
) {
    // Small request/response exchanges must not wait for Nagle.
    let _ = tcp.set_nodelay(true);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(H2_KEEPALIVE_INTERVAL)
        .keep_alive_timeout(H2_KEEPALIVE_TIMEOUT)
        .max_concurrent_streams(H2_MAX_STREAMS);
    let first_request = Arc::new(Notify::new());
    let service = Limited {
        inner: TowerToHyperService::new(app),
        first_request: Arc::clone(&first_request),
        max_body_bytes: limits.max_body_bytes,
    };
    let connection = builder.serve_connection(TokioIo::new(tcp), service);
    tokio::pin!(connection);
    let first_deadline = tokio::time::sleep(limits.header_read_timeout);
    tokio::pin!(first_deadline);
    let mut waiting_first = true;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    debug!(error = %e, "admin connection ended with an error");
                }
                return;
            }
            () = first_request.notified(), if waiting_first => waiting_first = false,
            () = &mut first_deadline, if waiting_first => {
                debug!("admin client sent no complete request within the header-read timeout; closing");
                return;
            }
            _ = stopping.wait_for(|s| *s) => break,
        }
    }
    connection.as_mut().graceful_shutdown();
    let _ = connection.await;
}

/// The router as a hyper service that notes the connection's first request
/// and answers 413 to a declared body over the limit (the router's
/// [`DefaultBodyLimit`] covers bodies read without a `Content-Length`).
struct Limited<S> {
    inner: S,
    first_request: Arc<Notify>,
    max_body_bytes: usize,
}

impl<S> hyper::service::Service<hyper::Request<Incoming>> for Limited<S>
where
    S: hyper::service::Service<hyper::Request<Incoming>, Response = Response>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        self.first_request.notify_one();
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.max_body_bytes as u64) {
            let message = format!("request body over {} bytes\n", self.max_body_bytes);
            return Box::pin(async move {
                Ok((StatusCode::PAYLOAD_TOO_LARGE, message).into_response())
            });
        }
        Box::pin(self.inner.call(request))
    }
}

//! The admin listener: the gRPC admin API (HTTP/2, `application/grpc`) and the
//! plain HTTP routes (HTTP/1.1 for browsers, curl and the kubelet) on one port.
//! hyper's auto builder tells the protocols apart by the connection preface
//! (HTTP/2 prior knowledge, which gRPC clients speak, or HTTP/1.1); axum
//! routes gRPC by its `/package.Service/Method` paths.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tonic::service::Routes;
use tracing::{debug, warn};

/// After shutdown is asked for, how long open connections (a `WatchEvents`
/// stream never ends by itself) may take to finish before they are dropped.
const DRAIN: Duration = Duration::from_secs(2);

/// Pause after a failed `accept` (e.g. out of file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

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
    let app = admin_router(http, grpc);
    let public = public.map(remote_router);
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    let router = match &public {
                        Some(public) if !peer.ip().is_loopback() => public.clone(),
                        _ => app.clone(),
                    };
                    connections.spawn(serve_connection(tcp, router, stopping.clone()));
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
/// speak it), until it ends or `stopping` turns true.
async fn serve_connection(tcp: TcpStream, app: Router, mut stopping: watch::Receiver<bool>) {
    // Small request/response exchanges must not wait for Nagle.
    let _ = tcp.set_nodelay(true);
    let builder = auto::Builder::new(TokioExecutor::new());
    let connection = builder.serve_connection(TokioIo::new(tcp), TowerToHyperService::new(app));
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                debug!(error = %e, "admin connection ended with an error");
            }
            return;
        }
        _ = stopping.wait_for(|s| *s) => {}
    }
    connection.as_mut().graceful_shutdown();
    let _ = connection.await;
}

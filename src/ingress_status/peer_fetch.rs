//! Asking a replica which Ingresses its Envoys have: its `/peer/ingresses`
//! (served to other replicas; the debug views answer only on loopback).

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::admin::http::IngressesView;

/// A peer that does not answer within this is skipped for the pass.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Why a peer could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// Connecting or the HTTP exchange failed.
    #[error("{0}")]
    Http(String),
    /// It did not answer in time.
    #[error("no answer within {TIMEOUT:?}")]
    Timeout,
    /// It answered something else than the view.
    #[error("unexpected answer: {0}")]
    Answer(String),
}

/// The Ingress states of the replica whose admin listener is `addr`.
pub async fn fetch_ingresses(addr: SocketAddr) -> Result<IngressesView, PeerError> {
    tokio::time::timeout(TIMEOUT, fetch(addr))
        .await
        .map_err(|_| PeerError::Timeout)?
}

async fn fetch(addr: SocketAddr) -> Result<IngressesView, PeerError> {
    let http = |e: &dyn std::fmt::Display| PeerError::Http(e.to_string());
    let tcp = TcpStream::connect(addr).await.map_err(|e| http(&e))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| http(&e))?;
    tokio::spawn(connection);
    let request = Request::get("/peer/ingresses")
        .header(hyper::header::HOST, addr.to_string())
        .body(Empty::<Bytes>::new())
        .map_err(|e| http(&e))?;
    let response = sender.send_request(request).await.map_err(|e| http(&e))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| http(&e))?
        .to_bytes();
    if !status.is_success() {
        return Err(PeerError::Answer(format!("HTTP {status}")));
    }
    serde_json::from_slice(&body).map_err(|e| PeerError::Answer(e.to_string()))
}

//! Accepting xDS connections over TLS: each handshake runs in its own task
//! (a slow client never holds up the others), a refused client is logged with
//! the reason, and each accepted connection carries its verified identity to
//! the streams it opens.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::Connected;
use tracing::warn;

use super::identity::GatewayIdentity;
use super::reloading::ReloadingTls;

/// Longest a client may take to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Established connections waiting for the server to take them.
const BACKLOG: usize = 1024;

/// Who is at the other end of an xDS connection.
#[derive(Clone, Debug)]
pub struct XdsPeer {
    /// Its address.
    pub addr: SocketAddr,
    /// The identity of its verified client certificate (`None`: it has no SAN).
    pub identity: Option<GatewayIdentity>,
}

/// One accepted TLS connection.
pub(crate) struct TlsConnection {
    stream: TlsStream<TcpStream>,
    peer: XdsPeer,
}

impl Connected for TlsConnection {
    type ConnectInfo = XdsPeer;

    fn connect_info(&self) -> XdsPeer {
        self.peer.clone()
    }
}

impl AsyncRead for TlsConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The TLS connections accepted on `listener`, for tonic's
/// `serve_with_incoming`. Accepting stops when the stream is dropped.
pub(crate) fn tls_incoming(
    listener: TcpListener,
    tls: Arc<ReloadingTls>,
) -> ReceiverStream<Result<TlsConnection, io::Error>> {
    let (tx, rx) = mpsc::channel(BACKLOG);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = tx.closed() => return,
            };
            let (tcp, addr) = match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors and the like: back off a little.
                    warn!(error = %e, "cannot accept an xDS connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = TlsAcceptor::from(tls.config());
            let tx = tx.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => {
                        let identity = stream
                            .get_ref()
                            .1
                            .peer_certificates()
                            .and_then(|certs| certs.first())
                            .and_then(|leaf| GatewayIdentity::from_certificate(leaf));
                        let peer = XdsPeer { addr, identity };
                        let _ = tx.send(Ok(TlsConnection { stream, peer })).await;
                    }
                    Ok(Err(e)) => {
                        warn!(peer = %addr, error = %e, "xDS client refused: TLS handshake failed")
                    }
                    Err(_) => warn!(peer = %addr, "xDS client refused: TLS handshake timed out"),
                }
            });
        }
    });
    ReceiverStream::new(rx)
}

//! Accepting xDS connections over TLS: each handshake runs in its own task
//! (a slow client never holds up the others), a refused client is logged with
//! the reason, and each accepted connection carries its verified identity to
//! the streams it opens.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::Connected;
use tracing::{debug, warn};

use super::identity::GatewayIdentity;
use super::reloading::ReloadingTls;

/// Longest a client may take to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Established connections waiting for the server to take them.
const BACKLOG: usize = 1024;

/// A refused client retries every few seconds: its reason is logged as a
/// warning once in this long, in between at debug level.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// Refusals remembered for [`REFUSAL_LOG_INTERVAL`], at most this many.
const REFUSALS_REMEMBERED: usize = 1024;

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
                    Ok(Err(e)) => refused(addr, &e.to_string()),
                    Err(_) => refused(addr, "the TLS handshake timed out"),
                }
            });
        }
    });
    ReceiverStream::new(rx)
}

/// Logs why a client was refused: a warning the first time per address and
/// reason in [`REFUSAL_LOG_INTERVAL`], debug otherwise.
fn refused(addr: SocketAddr, reason: &str) {
    static SEEN: Mutex<Option<HashMap<(IpAddr, String), Instant>>> = Mutex::new(None);
    let now = Instant::now();
    let fresh = {
        let mut seen = match SEEN.lock() {
            Ok(seen) => seen,
            Err(poisoned) => poisoned.into_inner(),
        };
        let seen = seen.get_or_insert_with(HashMap::new);
        if seen.len() >= REFUSALS_REMEMBERED {
            seen.retain(|_, at| now.duration_since(*at) < REFUSAL_LOG_INTERVAL);
        }
        let key = (addr.ip(), reason.to_owned());
        match seen.get(&key) {
            Some(at) if now.duration_since(*at) < REFUSAL_LOG_INTERVAL => false,
            _ => {
                if seen.len() < REFUSALS_REMEMBERED {
                    seen.insert(key, now);
                }
                true
            }
        }
    };
    if fresh {
        warn!(peer = %addr, error = %reason, "xDS client refused: TLS handshake failed");
    } else {
        debug!(peer = %addr, error = %reason, "xDS client refused again");
    }
}

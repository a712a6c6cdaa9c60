//! A keep-alive HTTP/1.1 GET client for probing the gateway: one connection
//! per probe, re-opened when the gateway closed it, every request bounded in
//! time. Failures are values (a prober counts them, it does not stop).

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// What a probe needs of an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// `x-upstream` (the demo upstream's name), if present.
    pub upstream: Option<String>,
    /// Whether `x-envoy-upstream-service-time` is present: Envoy sets it only
    /// when an upstream answered, so a 404 without it came from Envoy itself.
    pub upstream_time: bool,
}

/// One connection to the gateway, opened on demand.
pub struct HttpClient {
    addr: SocketAddr,
    timeout: Duration,
    sender: Option<SendRequest<Empty<Bytes>>>,
}

// === impl HttpClient ===

impl HttpClient {
    /// A client of `addr`; each request (connect included) must end within `timeout`.
    pub fn new(addr: SocketAddr, timeout: Duration) -> Self {
        HttpClient {
            addr,
            timeout,
            sender: None,
        }
    }

    /// `GET path` and the body as text (for Envoy's `/server_info`).
    pub async fn get_text(&mut self, host: &str, path: &str) -> Result<(u16, String), String> {
        let addr = self.addr;
        let exchange = async {
            let mut sender = connect(addr).await?;
            let response = request(&mut sender, host, path).await?;
            let status = response.status().as_u16();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("reading the body: {e}"))?
                .to_bytes();
            Ok((status, String::from_utf8_lossy(&body).into_owned()))
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| format!("no answer within {:?}", self.timeout))?
    }

    /// `GET path` with `Host: host`. On failure the connection is dropped, so
    /// the next request starts afresh.
    pub async fn get(&mut self, host: &str, path: &str) -> Result<Answer, String> {
        let cached = self.sender.take();
        let addr = self.addr;
        let exchange = async {
            let reusable = match cached {
                Some(mut s) => s.ready().await.is_ok().then_some(s),
                None => None,
            };
            let mut sender = match reusable {
                Some(s) => s,
                None => connect(addr).await?,
            };
            let answer = send(&mut sender, host, path).await?;
            Ok::<_, String>((answer, sender))
        };
        let (answer, sender) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| format!("no answer within {:?}", self.timeout))??;
        self.sender = Some(sender);
        Ok(answer)
    }
}

/// A fresh HTTP/1.1 connection to `addr` (no Nagle delay); its driver task ends
/// by itself when the sender is dropped or the server closes. Shared with the
/// test support's client.
pub async fn connect(addr: SocketAddr) -> Result<SendRequest<Empty<Bytes>>, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect to {addr}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake with {addr}: {e}"))?;
    // Ends by itself when the sender is dropped or the gateway closes.
    tokio::spawn(conn);
    Ok(sender)
}

/// `GET path` with `Host: host` on `sender`.
async fn request(
    sender: &mut SendRequest<Empty<Bytes>>,
    host: &str,
    path: &str,
) -> Result<hyper::Response<hyper::body::Incoming>, String> {
    let request = Request::get(path)
        .header(hyper::header::HOST, host)
        .body(Empty::new())
        .map_err(|e| format!("bad request: {e}"))?;
    sender
        .send_request(request)
        .await
        .map_err(|e| format!("GET {path}: {e}"))
}

async fn send(
    sender: &mut SendRequest<Empty<Bytes>>,
    host: &str,
    path: &str,
) -> Result<Answer, String> {
    let response = request(sender, host, path).await?;
    let status = response.status().as_u16();
    let headers = response.headers();
    let upstream = headers
        .get("x-upstream")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let upstream_time = headers.contains_key("x-envoy-upstream-service-time");
    // Read the body so the connection can be reused.
    response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("reading the body: {e}"))?;
    Ok(Answer {
        status,
        upstream,
        upstream_time,
    })
}

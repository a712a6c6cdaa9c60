//! A minimal HTTP/1.1 client for talking to Envoy's listeners and admin endpoint.
//! Errors are returned as strings (not panics) so probers can count failures.

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::Request;
use interlock::bench::push::connect_http1 as connect;

/// Every request (connect included) must finish within this.
const TIMEOUT: Duration = Duration::from_secs(5);

/// What the tests need of an HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: String,
    /// Lower-case names, in the order received.
    pub headers: Vec<(String, String)>,
}

impl Response {
    /// The first value of header `name` (case-insensitive), e.g. `x-upstream`.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One GET over a fresh connection with `Host: host`, 5 s timeout.
pub async fn get(addr: SocketAddr, host: &str, path: &str) -> Result<Response, String> {
    with_timeout(host, path, async {
        let mut sender = connect(addr).await?;
        send(&mut sender, host, path).await
    })
    .await
}

/// A client that keeps one keep-alive connection to `addr` and opens a new one when it
/// has been closed or failed: what a prober hammering Envoy wants.
pub struct HttpClient {
    addr: SocketAddr,
    sender: Option<SendRequest<Empty<Bytes>>>,
}

impl HttpClient {
    /// Creates a client; the connection is opened by the first request.
    pub fn new(addr: SocketAddr) -> Self {
        Self { addr, sender: None }
    }

    /// GET with `Host: host`. A connection the server closed while idle is replaced
    /// before sending; a failure during the request is returned and the connection
    /// dropped, so the next call starts afresh.
    pub async fn get(&mut self, host: &str, path: &str) -> Result<Response, String> {
        let (addr, cached) = (self.addr, self.sender.take());
        let (resp, sender) = with_timeout(host, path, async {
            let mut sender = match cached {
                Some(mut s) => match s.ready().await {
                    Ok(()) => s,
                    Err(_) => connect(addr).await?,
                },
                None => connect(addr).await?,
            };
            let resp = send(&mut sender, host, path).await?;
            Ok((resp, sender))
        })
        .await?;
        self.sender = Some(sender);
        Ok(resp)
    }
}

async fn with_timeout<T>(
    host: &str,
    path: &str,
    f: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, String> {
    tokio::time::timeout(TIMEOUT, f)
        .await
        .map_err(|_| format!("GET {host}{path}: timed out after {TIMEOUT:?}"))?
}

async fn send(
    sender: &mut SendRequest<Empty<Bytes>>,
    host: &str,
    path: &str,
) -> Result<Response, String> {
    let req = Request::get(path)
        .header(hyper::header::HOST, host)
        .body(Empty::new())
        .map_err(|e| format!("bad request {host}{path}: {e}"))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("GET {host}{path}: {e}"))?;
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(n, v)| {
            let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
            (n.as_str().to_string(), v)
        })
        .collect();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("GET {host}{path}: reading body: {e}"))?
        .to_bytes();
    Ok(Response {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
        headers,
    })
}

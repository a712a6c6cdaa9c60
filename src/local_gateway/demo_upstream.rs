//! A backend that says who it is, so people (quickstart) and tests can tell which
//! cluster a request reached.

use std::convert::Infallible;
use std::net::SocketAddr;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use super::error::LocalGatewayError;

/// An HTTP/1.1 server answering every request with 200, body `name` and header
/// `x-upstream: name`. Stops (connections included) when dropped.
pub struct DemoUpstream {
    addr: SocketAddr,
    name: String,
    task: JoinHandle<()>,
}

impl DemoUpstream {
    /// Binds `addr` (port 0 for any) and serves on a tokio task.
    pub async fn bind(addr: SocketAddr, name: &str) -> Result<DemoUpstream, LocalGatewayError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| LocalGatewayError::io(format!("bind upstream {name} on {addr}"), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| LocalGatewayError::io(format!("read upstream {name}'s address"), e))?;
        let task = tokio::spawn(serve(listener, name.to_owned()));
        Ok(DemoUpstream {
            addr,
            name: name.to_owned(),
            task,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What it answers with.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for DemoUpstream {
    fn drop(&mut self) {
        // Dropping the accept loop drops its JoinSet, which aborts every connection.
        self.task.abort();
    }
}

async fn serve(listener: TcpListener, name: String) {
    let mut conns = JoinSet::new();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => continue, // e.g. too many open files: keep serving the others
        };
        // Reap finished connections so the set does not grow without bound.
        while conns.try_join_next().is_some() {}
        let name = name.clone();
        let service = service_fn(move |_req: Request<Incoming>| {
            let mut resp = Response::new(Full::new(Bytes::from(name.clone())));
            if let Ok(value) = name.parse() {
                resp.headers_mut().insert("x-upstream", value);
            }
            async move { Ok::<_, Infallible>(resp) }
        });
        conns.spawn(async move {
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

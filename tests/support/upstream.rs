//! A backend for Envoy to route to, which says who it is so tests can tell which
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

/// An HTTP/1.1 server on 127.0.0.1 answering every request with 200, body `name` and
/// header `x-upstream: name`. Stops (connections included) when dropped.
pub struct Upstream {
    pub addr: SocketAddr,
    pub name: String,
    task: JoinHandle<()>,
}

impl Upstream {
    /// Binds an ephemeral port and starts serving on a tokio task.
    pub async fn start(name: &str) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("upstream {name}: cannot bind 127.0.0.1:0: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("upstream {name}: no local address: {e}"));
        let task = tokio::spawn(serve(listener, name.to_string()));
        Upstream {
            addr,
            name: name.to_string(),
            task,
        }
    }
}

impl Drop for Upstream {
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
            let resp = Response::builder()
                .header("x-upstream", name.as_str())
                .body(Full::new(Bytes::from(name.clone())))
                .expect("a static response is valid");
            async move { Ok::<_, Infallible>(resp) }
        });
        conns.spawn(async move {
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

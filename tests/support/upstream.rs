//! A backend for Envoy to route to, which says who it is so tests can tell which
//! cluster a request reached.

use std::net::SocketAddr;

use interlock::local_gateway::DemoUpstream;

/// An HTTP/1.1 server on 127.0.0.1 answering every request with 200, body `name` and
/// header `x-upstream: name`. Stops (connections included) when dropped.
pub struct Upstream {
    pub addr: SocketAddr,
    pub name: String,
    _server: DemoUpstream,
}

impl Upstream {
    /// Binds an ephemeral port and starts serving on a tokio task.
    pub async fn start(name: &str) -> Upstream {
        let server = DemoUpstream::bind(SocketAddr::from(([127, 0, 0, 1], 0)), name)
            .await
            .unwrap_or_else(|e| panic!("upstream {name}: {e}"));
        Upstream {
            addr: server.addr(),
            name: name.to_owned(),
            _server: server,
        }
    }
}

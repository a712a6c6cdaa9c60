//! A TCP forwarder standing in for a Kubernetes Service in front of several
//! Interlock replicas: new connections go to the current target, which a test
//! switches (as endpoints change when a replica stops being ready).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A running forwarder on 127.0.0.1; stops accepting when dropped.
pub struct TcpForwarder {
    pub port: u16,
    target: Arc<Mutex<SocketAddr>>,
    accept: JoinHandle<()>,
}

impl TcpForwarder {
    /// Forwards new connections to `target` until [`TcpForwarder::switch`].
    pub async fn start(target: SocketAddr) -> TcpForwarder {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("forwarder: bind 127.0.0.1:0");
        let port = listener.local_addr().expect("forwarder address").port();
        let target = Arc::new(Mutex::new(target));
        let current = Arc::clone(&target);
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let to = *current.lock().unwrap_or_else(|e| e.into_inner());
                tokio::spawn(async move {
                    let _ = inbound.set_nodelay(true);
                    if let Ok(mut outbound) = TcpStream::connect(to).await {
                        let _ = outbound.set_nodelay(true);
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        TcpForwarder {
            port,
            target,
            accept,
        }
    }

    /// Sends new connections to `target`; open ones stay where they are.
    pub fn switch(&self, target: SocketAddr) {
        *self.target.lock().unwrap_or_else(|e| e.into_inner()) = target;
    }
}

impl Drop for TcpForwarder {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

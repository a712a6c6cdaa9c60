//! Interlock's ADS server run in-process on its own runtime and thread, so a test
//! can kill it abruptly (every connection dropped at once, as when the process
//! dies) and start a fresh one on the same port.

use std::net::SocketAddr;
use std::thread::JoinHandle;

use interlock::snapshot::SnapshotStore;
use interlock::xds::{AckTracker, AdsServer};
use tokio::sync::oneshot;

/// A running ADS server with its own store and tracker.
pub struct ControlPlane {
    pub store: SnapshotStore,
    pub tracker: AckTracker,
    pub port: u16,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ControlPlane {
    /// Starts a server on a free loopback port with an empty store (sync gate closed).
    pub fn start() -> ControlPlane {
        ControlPlane::start_on(0, SnapshotStore::new())
    }

    /// Starts a server on `port` (0 = any) serving `store`.
    pub fn start_on(port: u16, store: SnapshotStore) -> ControlPlane {
        ControlPlane::start_with(port, store, |server| server)
    }

    /// Like [`ControlPlane::start_on`], with the server set up by `configure`
    /// (e.g. mutual TLS).
    pub fn start_with(
        port: u16,
        store: SnapshotStore,
        configure: impl FnOnce(AdsServer) -> AdsServer,
    ) -> ControlPlane {
        ControlPlane::start_tracking(port, store, AckTracker::new(), configure)
    }

    /// Like [`ControlPlane::start_with`], recording into `tracker`.
    pub fn start_tracking(
        port: u16,
        store: SnapshotStore,
        tracker: AckTracker,
        configure: impl FnOnce(AdsServer) -> AdsServer,
    ) -> ControlPlane {
        let std_listener = std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
            .unwrap_or_else(|e| panic!("cannot bind the xDS port {port}: {e}"));
        std_listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let port = std_listener.local_addr().expect("local addr").port();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = configure(AdsServer::new(store.clone(), tracker.clone()));
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("xDS runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
                tokio::spawn(async move {
                    let never = std::future::pending::<()>();
                    if let Err(e) = server.serve_on(listener, never).await {
                        panic!("xDS server failed: {e}");
                    }
                });
                let _ = stopped.await;
            });
            // Dropping the runtime drops every connection task: an abrupt stop.
            runtime.shutdown_background();
        });
        ControlPlane {
            store,
            tracker,
            port,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Kills the server: every stream is cut at once, nothing is flushed.
    pub fn kill(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.kill();
    }
}

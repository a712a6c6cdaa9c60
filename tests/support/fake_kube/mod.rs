//! A fake Kubernetes API server on loopback, speaking the real list/watch HTTP protocol,
//! so the Kubernetes source can be tested through kube-rs exactly as it runs in a
//! cluster, with the test in control of what the server does and when.
//!
//! What it implements (each in its own file):
//! - `store`: objects as JSON, one global resourceVersion counter, a change log per
//!   kind, compaction (then 410 Gone for older versions);
//! - `list`: lists with `limit`/`continue`, `resourceVersion`/`resourceVersionMatch`;
//! - `watch`: `watch=true` streams of newline-delimited events, bookmarks
//!   (`allowWatchBookmarks`), streaming lists (`sendInitialEvents`), ERROR 410 in-stream;
//! - `selector`: `labelSelector` and `fieldSelector`;
//! - `crud`, `patch`: GET/POST/PUT/DELETE and merge PATCH, the `/status` subresource,
//!   resourceVersion preconditions (409 Conflict), no-op writes;
//! - `lease`: Lease helpers; `kinds`: the seven kinds served (Namespaces are plain
//!   objects: deleting one does not delete what is in it); `server`: HTTP and the
//!   request log.
//!
//! What kube-rs 5.0 sends, from its source (`kube-runtime/src/watcher.rs`,
//! `kube-core/src/params.rs`, `kube-client/src/client/mod.rs`): `watcher::Config::default()`
//! uses the ListWatch strategy: `GET <collection>?limit=500` (no resourceVersion,
//! following `continue` tokens), then `GET <collection>?watch=true&timeoutSeconds=290&
//! allowWatchBookmarks=true&resourceVersion=<list version>`, selectors passed as
//! `labelSelector`/`fieldSelector` on both. A watch that ends is resumed from the last
//! version seen (event or bookmark); an ERROR event with code 410 makes it re-list. With
//! `.streaming_lists()` the first request is instead `watch=true&sendInitialEvents=true&
//! resourceVersionMatch=NotOlderThan&resourceVersion=0`, completed by the bookmark
//! annotated `k8s.io/initial-events-end`. Status writes are `PATCH .../{name}/status`
//! with the content type of the `Patch` variant (merge: `application/merge-patch+json`).
//!
//! To point kube-rs at it: `kube::Config::new(server.url().parse()?)`, or write
//! [`FakeApiServer::kubeconfig_yaml`] to a file for `KUBECONFIG` (no auth, plain HTTP;
//! note that kube-rs also honours `HTTPS_PROXY` from the environment for kubeconfigs).
//! For example (checked against kube 5.0):
//!
//! ```text
//! let server = FakeApiServer::start().await;
//! server.apply(json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", ...}));
//! let kc = kube::config::Kubeconfig::from_yaml(&server.kubeconfig_yaml())?;
//! let client = Client::try_from(Config::from_custom_kubeconfig(kc, &Default::default()).await?)?;
//! let events = watcher(Api::<Ingress>::all(client), watcher::Config::default());
//! // Init, InitApply.., InitDone; then server.apply / delete → Apply / Delete;
//! // server.expire_watches() → Err(WatchError 410), then Init.. again (a re-list).
//! server.wait_for_watches(&INGRESS, 1, Duration::from_secs(5)).await;
//! ```
// Each test binary uses a different subset of these helpers.
#![allow(dead_code, unused_imports)]

mod crud;
pub mod kinds;
mod lease;
mod list;
mod patch;
mod routes;
mod selector;
mod server;
mod status;
mod store;
mod watch;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::{AbortHandle, JoinHandle};
use tokio::time::Instant;

pub use kinds::{
    ResourceKind, ENDPOINT_SLICE, INGRESS, INGRESS_CLASS, LEASE, NAMESPACE, SECRET, SERVICE,
};
pub use lease::lease;
pub use server::RecordedRequest;

use list::ListGate;
use status::ApiError;
use store::{object_key, Key, Store};
use watch::Watches;

/// A running fake API server; stops (closing every connection) when dropped.
pub struct FakeApiServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl FakeApiServer {
    /// Starts a server on `127.0.0.1` at a free port, with no objects.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("fake API server: bind 127.0.0.1:0");
        let addr = listener
            .local_addr()
            .expect("fake API server: local address");
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                store: Store::new(),
                watches: Watches::default(),
                gates: HashMap::new(),
                failing_writes: 0,
            }),
            requests: Mutex::default(),
            connections: Mutex::default(),
        });
        let accept = tokio::spawn(server::serve(listener, shared.clone()));
        Self {
            addr,
            shared,
            accept,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`, the cluster URL for kube-rs.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kubeconfig whose current context points at this server without auth, with
    /// `default` as the namespace.
    pub fn kubeconfig_yaml(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\npreferences: {{}}\n\
             clusters:\n- name: fake\n  cluster:\n    server: {url}\n\
             users:\n- name: fake\n  user: {{}}\n\
             contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: default\n\
             current-context: fake\n",
            url = self.url()
        )
    }

    /// Writes [`Self::kubeconfig_yaml`] to `path`.
    pub fn write_kubeconfig(&self, path: &Path) {
        std::fs::write(path, self.kubeconfig_yaml())
            .unwrap_or_else(|e| panic!("writing kubeconfig {}: {e}", path.display()));
    }

    // ---- objects (as an administrator: no request log, no HTTP rules) ----

    /// Creates or replaces an object, as `kubectl apply` would: the kind comes from its
    /// `apiVersion`/`kind`, a namespaced object without a namespace goes to `default`,
    /// and for kinds with a status subresource an object without `status` keeps the
    /// stored one (so a test editing an Ingress does not wipe what a controller wrote),
    /// while one with `status` sets it (e.g. a Service's load balancer address).
    /// Returns the stored object, with its new `metadata.resourceVersion`. Watches see
    /// ADDED or MODIFIED; an apply that changes nothing changes nothing.
    pub fn apply(&self, mut obj: Value) -> Value {
        let api_version = obj["apiVersion"].as_str().unwrap_or_default();
        let kind_name = obj["kind"].as_str().unwrap_or_default();
        let kind = kinds::by_type(api_version, kind_name).unwrap_or_else(|| {
            panic!("fake API server: apply of unserved type {api_version}/{kind_name}")
        });
        if kind.namespaced && obj["metadata"]["namespace"].as_str().is_none() {
            obj["metadata"]["namespace"] = json!("default");
        }
        let key = object_key(kind, &obj)
            .unwrap_or_else(|e| panic!("fake API server: apply: {}", e.message));
        let mut state = self.shared.state();
        if kind.has_status && obj.get("status").is_none() {
            if let Some(status) = state.store.get(kind, &key).and_then(|o| o.get("status")) {
                obj["status"] = status.clone();
            }
        }
        state.put(kind, obj)
    }

    /// The stored object, if any (`namespace` is ignored for cluster-scoped kinds).
    pub fn get(
        &self,
        kind: &'static ResourceKind,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let state = self.shared.state();
        state.store.get(kind, &key(kind, namespace, name)).cloned()
    }

    /// Every stored object of `kind`, in namespace/name order.
    pub fn list(&self, kind: &'static ResourceKind) -> Vec<Value> {
        self.shared
            .state()
            .store
            .current(kind)
            .into_values()
            .collect()
    }

    /// Deletes an object; watches see DELETED. Returns it, or `None` if there was none.
    pub fn delete(
        &self,
        kind: &'static ResourceKind,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        self.shared
            .state()
            .remove(kind, &key(kind, namespace, name))
    }

    /// The version of the latest write, of any kind.
    pub fn resource_version(&self) -> u64 {
        self.shared.state().store.resource_version()
    }

    /// Answers the next `n` writes (any method but GET, any kind) with 409
    /// Conflict, as a busy API server or a racing writer would.
    pub fn fail_next_writes(&self, n: u32) {
        self.shared.state().failing_writes = n;
    }

    // ---- holding back initial lists (the sync gate) ----

    /// Makes every list of `kind` (and streaming-list watch) wait `delay` before it is
    /// answered; `Duration::ZERO` undoes it. The answer is the state after the wait.
    pub fn set_list_delay(&self, kind: &'static ResourceKind, delay: Duration) {
        self.shared.state().gates.entry(kind).or_default().delay = delay;
    }

    /// Holds every list of `kind` until [`Self::resume_lists`]: a delay of the test's
    /// choosing, for asserting what happens while a client has not finished listing.
    pub fn pause_lists(&self, kind: &'static ResourceKind) {
        self.shared.state().gates.entry(kind).or_default().paused = true;
    }

    pub fn resume_lists(&self, kind: &'static ResourceKind) {
        self.shared.state().gates.entry(kind).or_default().paused = false;
    }

    // ---- history and watch streams ----

    /// Compacts history at the current version: later watches or continue tokens from
    /// an older version get 410 Gone. Open watches continue.
    pub fn compact(&self) {
        let mut state = self.shared.state();
        let rv = state.store.resource_version();
        state.store.compact(rv);
    }

    /// Compacts history up to `rv` (at most the current version).
    pub fn compact_to(&self, rv: u64) {
        self.shared.state().store.compact(rv);
    }

    /// Compacts history and ends every open watch with an ERROR event (code 410,
    /// reason `Expired`), as when watchers fall out of the server's window: kube-rs
    /// then re-lists. Returns how many watches were expired.
    pub fn expire_watches(&self) -> usize {
        self.expire(None)
    }

    /// [`Self::expire_watches`] for the watches of one kind only (history is compacted
    /// for all kinds, as etcd compacts; the other watches carry on).
    pub fn expire_watches_of(&self, kind: &'static ResourceKind) -> usize {
        self.expire(Some(kind))
    }

    fn expire(&self, kind: Option<&'static ResourceKind>) -> usize {
        let mut state = self.shared.state();
        let rv = state.store.resource_version();
        state.store.compact(rv);
        let message = format!("too old resource version: watch expired at {rv}");
        state.watches.fail(kind, &ApiError::expired(message))
    }

    /// Sends a BOOKMARK at the current version to every watch that allowed bookmarks.
    pub fn send_bookmarks(&self) {
        let mut state = self.shared.state();
        let rv = state.store.resource_version();
        state.watches.bookmark(rv);
    }

    /// Ends every open watch stream cleanly, as an API server restart does: kube-rs
    /// watches again from the last version it saw.
    pub fn close_watches(&self) {
        self.shared.state().watches.close_all();
    }

    /// Cuts every TCP connection abruptly (watches and idle keep-alive connections).
    pub fn drop_connections(&self) {
        self.shared.state().watches.close_all();
        for conn in self
            .shared
            .connections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            conn.abort();
        }
    }

    /// How many watch streams of `kind` are open.
    pub fn open_watches(&self, kind: &'static ResourceKind) -> usize {
        self.shared.state().watches.count(kind)
    }

    /// Waits until at least `count` watches of `kind` are open; panics after `timeout`.
    pub async fn wait_for_watches(
        &self,
        kind: &'static ResourceKind,
        count: usize,
        timeout: Duration,
    ) {
        let deadline = Instant::now() + timeout;
        while self.open_watches(kind) < count {
            if Instant::now() >= deadline {
                panic!(
                    "fake API server: {} open watches of {} after {timeout:?}, wanted {count}",
                    self.open_watches(kind),
                    kind.plural
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    // ---- the request log ----

    /// Every request served so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn clear_requests(&self) {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.accept.abort();
        self.drop_connections();
    }
}

fn key(kind: &ResourceKind, namespace: Option<&str>, name: &str) -> Key {
    let ns = if kind.namespaced {
        namespace.unwrap_or("default")
    } else {
        ""
    };
    (ns.to_string(), name.to_string())
}

/// What the connection tasks share with the test.
pub struct Shared {
    state: Mutex<State>,
    requests: Mutex<Vec<RecordedRequest>>,
    connections: Mutex<Vec<AbortHandle>>,
}

impl Shared {
    /// The state lock. Never held across an await: handlers take it, do their work
    /// and release it, so writes and watch registration are atomic.
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn record(&self, request: RecordedRequest) {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(request);
    }

    pub fn track_connection(&self, conn: AbortHandle) {
        let mut conns = self.connections.lock().unwrap_or_else(|e| e.into_inner());
        conns.retain(|c| !c.is_finished());
        conns.push(conn);
    }

    /// Returns once lists of `kind` may be answered (see `set_list_delay`, `pause_lists`).
    pub async fn wait_for_list_gate(&self, kind: &'static ResourceKind) {
        let delay = self
            .state()
            .gates
            .get(kind)
            .map(|g| g.delay)
            .unwrap_or_default();
        tokio::time::sleep(delay).await;
        while self.state().gates.get(kind).is_some_and(|g| g.paused) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Everything behind the one lock.
pub struct State {
    pub store: Store,
    pub watches: Watches,
    pub gates: HashMap<&'static ResourceKind, ListGate>,
    /// Writes still to be refused with 409 Conflict ([`FakeApiServer::fail_next_writes`]).
    pub failing_writes: u32,
}

impl State {
    /// Commits a write and tells the open watches. Returns the stored object (the
    /// existing one unchanged if the write was a no-op).
    pub fn put(&mut self, kind: &'static ResourceKind, obj: Value) -> Value {
        let key = object_key(kind, &obj).expect("put: object has a name");
        match self.store.put(kind, obj) {
            Some(change) => {
                self.watches.notify(&change);
                change.object
            }
            None => self
                .store
                .get(kind, &key)
                .cloned()
                .expect("a no-op write keeps the object"),
        }
    }

    /// Deletes and tells the open watches. Returns the deleted object, stamped with the
    /// deletion's version.
    pub fn remove(&mut self, kind: &'static ResourceKind, key: &Key) -> Option<Value> {
        let change = self.store.remove(kind, key)?;
        self.watches.notify(&change);
        Some(change.object)
    }
}

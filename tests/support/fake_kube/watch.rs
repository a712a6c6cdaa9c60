//! `GET <collection>?watch=true`: a chunked HTTP body of newline-delimited JSON events
//! `{"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}`, as kube-rs reads
//! it (one event per line, `kube_client::Client::request_events`).
//!
//! What a watch starts with depends on `resourceVersion`, as on the real server:
//! - a version `N`: every change after `N` from the log, then live changes. `N` older
//!   than the last compaction gets HTTP 200 with one `ERROR` event (Status code 410,
//!   reason `Expired`) and the end of the stream: the real server reports it inside the
//!   stream, and kube-rs re-lists only on that (an HTTP 410 on the watch request itself
//!   would make kube-rs 5 retry the same version forever).
//! - unset or `"0"`: synthetic `ADDED` events for the current objects, then changes.
//! - `sendInitialEvents=true` (streaming lists; requires `resourceVersionMatch=
//!   NotOlderThan` and `allowWatchBookmarks=true`): the same `ADDED` events, then a
//!   `BOOKMARK` annotated `k8s.io/initial-events-end: "true"`, then changes.
//!
//! Registration and replay happen under the state lock that writes take, so a watch
//! sees every change after its start version exactly once and in order. The stream
//! ends after `timeoutSeconds`, when the test closes or expires watches, or when the
//! client goes away.

use std::time::Duration;

use hyper::body::Bytes;
use serde_json::{json, Value};
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

use super::kinds::ResourceKind;
use super::routes::{Query, Route};
use super::selector::Selector;
use super::server::Body;
use super::status::ApiError;
use super::store::{Change, ChangeType, Key};
use super::Shared;

/// How long a watch lasts when the client does not say (`timeoutSeconds`); the real
/// server picks 30 to 60 minutes.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// The open watch streams.
#[derive(Default)]
pub struct Watches {
    open: Vec<OpenWatch>,
}

struct OpenWatch {
    kind: &'static ResourceKind,
    namespace: Option<String>,
    selector: Selector,
    bookmarks: bool,
    /// Lines for the response body; dropping it ends the stream.
    tx: UnboundedSender<Bytes>,
}

impl OpenWatch {
    fn sees(&self, key: &Key, obj: &Value) -> bool {
        self.namespace.as_ref().is_none_or(|ns| *ns == key.0) && self.selector.matches(obj)
    }

    /// The event this watch gets for `change`, if any. Through a selector, an object
    /// that starts matching is ADDED and one that stops matching is DELETED, as the
    /// real server reports it.
    fn event_for(&self, change: &Change) -> Option<Bytes> {
        if change.kind != self.kind {
            return None;
        }
        let before = change
            .old
            .as_ref()
            .is_some_and(|o| self.sees(&change.key, o));
        let after = self.sees(&change.key, &change.object);
        let event_type = match (change.change_type, before, after) {
            (ChangeType::Deleted, true, _) => "DELETED",
            (ChangeType::Deleted, false, _) => return None,
            (_, false, true) => "ADDED",
            (_, true, true) => "MODIFIED",
            (_, true, false) => "DELETED",
            (_, false, false) => return None,
        };
        Some(event_line(event_type, &change.object))
    }
}

impl Watches {
    /// Sends `change` to every watch that sees it.
    pub fn notify(&mut self, change: &Change) {
        self.prune();
        for w in &self.open {
            if let Some(line) = w.event_for(change) {
                let _ = w.tx.send(line);
            }
        }
    }

    /// Sends a BOOKMARK at version `rv` to every watch that allowed bookmarks.
    pub fn bookmark(&mut self, rv: u64) {
        self.prune();
        for w in self.open.iter().filter(|w| w.bookmarks) {
            let _ =
                w.tx.send(event_line("BOOKMARK", &bookmark(w.kind, rv, false)));
        }
    }

    /// Ends the streams of `kind` (every stream if `None`) with an ERROR event carrying
    /// `error` (e.g. 410 Expired). Returns how many were ended.
    pub fn fail(&mut self, kind: Option<&ResourceKind>, error: &ApiError) -> usize {
        self.prune();
        let (failed, kept) = std::mem::take(&mut self.open)
            .into_iter()
            .partition::<Vec<_>, _>(|w| kind.is_none_or(|k| k == w.kind));
        self.open = kept;
        for w in &failed {
            let _ = w.tx.send(event_line("ERROR", &error.to_status()));
        }
        failed.len()
    }

    /// Ends every stream cleanly, as when the API server restarts.
    pub fn close_all(&mut self) {
        self.open.clear();
    }

    /// How many streams of `kind` are open.
    pub fn count(&mut self, kind: &ResourceKind) -> usize {
        self.prune();
        self.open.iter().filter(|w| w.kind == kind).count()
    }

    /// Forgets streams whose client has gone (or whose timeout ended them).
    fn prune(&mut self) {
        self.open.retain(|w| !w.tx.is_closed());
    }
}

/// Serves a watch request; see the module docs for what the stream carries.
pub async fn handle(shared: &Shared, route: &Route, query: &Query) -> Result<Body, ApiError> {
    let kind = route.kind;
    let selector = Selector::parse(kind, query.get("labelSelector"), query.get("fieldSelector"))?;
    let bookmarks = query.flag("allowWatchBookmarks");
    let initial_events = query.flag("sendInitialEvents");
    let version_match = query.get("resourceVersionMatch");
    if initial_events && (version_match != Some("NotOlderThan") || !bookmarks) {
        return Err(ApiError::invalid(
            "sendInitialEvents requires resourceVersionMatch=NotOlderThan and allowWatchBookmarks=true",
        ));
    }
    if !initial_events && version_match.is_some() {
        return Err(ApiError::invalid(
            "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
        ));
    }
    let timeout = match query.get("timeoutSeconds") {
        Some(s) => Duration::from_secs(
            s.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds {s:?}")))?,
        ),
        None => DEFAULT_TIMEOUT,
    };
    let since = match query.get("resourceVersion").unwrap_or_default() {
        "" | "0" => None,
        rv => Some(
            rv.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {rv:?}")))?,
        ),
    };
    if initial_events {
        // A streaming list is the initial list: it is held like one.
        shared.wait_for_list_gate(kind).await;
    }

    let (tx, rx) = unbounded_channel();
    let watch = OpenWatch {
        kind,
        namespace: route.namespace.clone(),
        selector,
        bookmarks,
        tx,
    };
    let mut state = shared.state();
    match since {
        Some(rv) if !initial_events => match state.store.changes_since(kind, rv) {
            Ok(changes) => {
                for line in changes.iter().filter_map(|ch| watch.event_for(ch)) {
                    let _ = watch.tx.send(line);
                }
            }
            Err(expired) => {
                let _ = watch.tx.send(event_line("ERROR", &expired.to_status()));
                return Ok(Body::watch(rx, timeout));
            }
        },
        _ => {
            for (key, obj) in state.store.current(kind) {
                if watch.sees(&key, &obj) {
                    let _ = watch.tx.send(event_line("ADDED", &obj));
                }
            }
            if initial_events {
                let rv = state.store.resource_version();
                let _ = watch
                    .tx
                    .send(event_line("BOOKMARK", &bookmark(kind, rv, true)));
            }
        }
    }
    state.watches.open.push(watch);
    Ok(Body::watch(rx, timeout))
}

/// One event as a line of the stream.
fn event_line(event_type: &str, object: &Value) -> Bytes {
    let mut line = serde_json::to_vec(&json!({ "type": event_type, "object": object }))
        .expect("a JSON value serializes");
    line.push(b'\n');
    Bytes::from(line)
}

/// A bookmark object: only type, kind and resourceVersion, like the real server's.
fn bookmark(kind: &ResourceKind, rv: u64, initial_events_end: bool) -> Value {
    let mut metadata = json!({ "resourceVersion": rv.to_string(), "creationTimestamp": null });
    if initial_events_end {
        metadata["annotations"] = json!({ "k8s.io/initial-events-end": "true" });
    }
    json!({ "kind": kind.kind, "apiVersion": kind.api_version(), "metadata": metadata })
}

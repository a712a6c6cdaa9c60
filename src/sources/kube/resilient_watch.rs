//! A kube-rs watcher that never gives up: errors (API server down, 410 Gone,
//! forbidden) are retried with [`WatchBackoff`] and logged once per outage,
//! and only events come out.

use std::fmt::Debug;

use kube::runtime::watcher::{self, watcher, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use tokio_stream::{Stream, StreamExt};
use tracing::{info, warn};

use super::backoff::WatchBackoff;

/// Watches `api` with `config`; `what` names the watch in logs (e.g.
/// `Ingress`, `publish service gw/envoy`). A watch that expired re-lists:
/// its events start again with [`Event::Init`].
pub fn resilient_watch<K>(
    api: Api<K>,
    config: watcher::Config,
    what: String,
) -> impl Stream<Item = Event<K>> + Send
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    resilient_watch_reporting(api, config, what, |_| {})
}

/// [`resilient_watch`] that also tells `outage` of every failed attempt
/// (`Some(error)`) and of the end of an outage (`None`, on the first event
/// after it). A watch that restarts without re-listing yields no event, so
/// an outage may end silently: the failed attempts stop.
pub fn resilient_watch_reporting<K>(
    api: Api<K>,
    config: watcher::Config,
    what: String,
    mut outage: impl FnMut(Option<&watcher::Error>) + Send + 'static,
) -> impl Stream<Item = Event<K>> + Send
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let mut failing = false;
    watcher(api, config)
        .backoff(WatchBackoff::default())
        .filter_map(move |event| match event {
            Ok(event) => {
                if std::mem::take(&mut failing) {
                    info!(watch = %what, "watch recovered");
                    outage(None);
                }
                Some(event)
            }
            Err(error) => {
                // Logged when the outage starts, not on every retry.
                if !std::mem::replace(&mut failing, true) {
                    warn!(watch = %what, %error, "watch failed; retrying with backoff (the last good state stays)");
                }
                outage(Some(&error));
                None
            }
        })
}

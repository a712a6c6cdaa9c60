//! Bounds on what xDS clients can make the server hold or do (DESIGN.md "Trust
//! boundaries"): streams per connection and in total, reset floods, the time to a
//! stream's first request, names per type per stream, message size and text
//! lengths, and the listen backlog. Going over one is answered with a gRPC status
//! and logged once per client.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tonic::Status;
use tracing::{debug, warn};

use crate::snapshot::ResourceType;

use super::subscription::Subscription;

/// The limits of one ADS server. [`Default`] gives the documented defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XdsLimits {
    /// HTTP/2 `SETTINGS_MAX_CONCURRENT_STREAMS` per connection.
    pub max_streams_per_connection: u32,
    /// Open ADS streams across all connections; beyond it `RESOURCE_EXHAUSTED`.
    pub max_streams: usize,
    /// A stream whose first request has not arrived by then ends with
    /// `DEADLINE_EXCEEDED`.
    pub first_request_timeout: Duration,
    /// Subscribed names per resource type per stream; beyond it
    /// `RESOURCE_EXHAUSTED` and the stream ends.
    pub max_names: usize,
    /// Largest request message accepted (bytes, after decompression).
    pub max_message_bytes: usize,
    /// Longest `node.id` accepted (bytes); a longer one is `INVALID_ARGUMENT`.
    pub max_node_id_bytes: usize,
    /// A NACK's `error_detail.message` is cut to this many bytes before it is
    /// stored, logged or shown.
    pub max_error_detail_bytes: usize,
    /// HTTP/2: streams a client may reset before they are accepted, per
    /// connection, before the connection gets a GOAWAY (h2's default: 20).
    pub max_pending_accept_reset_streams: usize,
    /// HTTP/2: streams the server may reset for a client's protocol errors per
    /// connection before it gets a GOAWAY (RUSTSEC-2024-0003; hyper's
    /// default, 1024, which tonic turns off unless set).
    pub max_local_error_reset_streams: usize,
    /// The xDS listener's accept backlog (the kernel caps it at
    /// `net.core.somaxconn`).
    pub listen_backlog: u32,
    /// Streams sending their first full config at once; others wait their
    /// turn, first come first served (a connect storm's median Envoy is ready
    /// sooner, none later).
    pub max_initial_syncs: usize,
    /// Longest a stream keeps its first-sync turn when it does not get in sync
    /// (a client that never ACKs).
    pub initial_sync_hold: Duration,
}

impl Default for XdsLimits {
    fn default() -> Self {
        XdsLimits {
            max_streams_per_connection: 16,
            max_streams: 10_000,
            first_request_timeout: Duration::from_secs(10),
            max_names: 100_000,
            max_message_bytes: 16 * 1024 * 1024,
            max_node_id_bytes: 256,
            max_error_detail_bytes: 4096,
            max_pending_accept_reset_streams: 20,
            max_local_error_reset_streams: 1024,
            listen_backlog: 4096,
            max_initial_syncs: 64,
            initial_sync_hold: Duration::from_secs(1),
        }
    }
}

/// Open streams across the server.
#[derive(Clone, Debug, Default)]
pub(crate) struct StreamCount(Arc<AtomicUsize>);

impl StreamCount {
    /// A slot for one more stream, or `None` when `max` are open.
    pub fn try_open(&self, max: usize) -> Option<StreamSlot> {
        self.0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < max).then_some(open + 1)
            })
            .ok()
            .map(|_| StreamSlot(Arc::clone(&self.0)))
    }

    /// Streams open now.
    #[cfg(test)]
    pub fn open(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }
}

/// One open stream; freed when dropped (when the stream's task ends).
#[derive(Debug)]
pub(crate) struct StreamSlot(Arc<AtomicUsize>);

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The limit a client went over, for logging it once per client.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Limit {
    Streams,
    FirstRequest,
    Names,
    NodeId,
    MessageSize,
}

/// Clients remembered per limit before the memory is cleared (and each may be
/// logged once more): the log itself must stay bounded.
const LOGGED_CLIENTS: usize = 4096;

/// Remembers which clients went over which limit, so each is logged once (at
/// warn; repeats at debug).
#[derive(Clone, Debug, Default)]
pub(crate) struct OnceLog(Arc<Mutex<HashSet<(Limit, String)>>>);

impl OnceLog {
    /// Logs `what` for `client` at warn the first time, at debug after.
    pub fn breach(&self, limit: Limit, client: &str, what: &str) {
        let first = {
            let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
            if seen.len() >= LOGGED_CLIENTS {
                seen.clear();
            }
            seen.insert((limit, client.to_owned()))
        };
        if first {
            warn!(client = %client, ?limit, "xDS client over a limit: {what} (logged once per client)");
        } else {
            debug!(client = %client, ?limit, "xDS client over a limit: {what}");
        }
    }
}

/// How a client is named in limit logs: its IP address (every connection of
/// one host is one client), else the node id it sent.
pub(crate) fn client_name(addr: Option<SocketAddr>, node_id: Option<&str>) -> String {
    match (addr.map(|a| a.ip()), node_id) {
        (Some(ip), _) => ip_name(ip),
        (None, Some(node)) => clean(node, 256),
        (None, None) => "unknown".to_owned(),
    }
}

fn ip_name(ip: IpAddr) -> String {
    ip.to_canonical().to_string()
}

/// `text` cut to at most `max` bytes (on a character boundary, marked when
/// cut), copying only what is kept: a client's text, stored, stays bounded.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    let end = boundary(text, max);
    let mut out = text[..end].to_owned();
    if end < text.len() {
        out.push_str("…[truncated]");
    }
    out
}

/// The largest character boundary of `text` at or below `max`.
fn boundary(text: &str, max: usize) -> usize {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    end
}

/// `text` cut to at most `max` bytes (on a character boundary, marked when
/// cut) with control characters escaped, so a client's text neither grows
/// memory nor forges log lines wherever it is stored, logged or shown. Copies
/// only what is kept.
pub(crate) fn clean(text: &str, max: usize) -> String {
    let end = boundary(text, max);
    let kept = &text[..end];
    let mut out = String::with_capacity(kept.len());
    for c in kept.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if end < text.len() {
        out.push_str("…[truncated]");
    }
    out
}

/// The cap on names per type per stream, checked against what the stream
/// already subscribed before a request's names are kept.
pub(crate) struct NameCount;

impl NameCount {
    /// A SotW request replaces the subscription: refused when it names more
    /// than `max` (the wildcard aside).
    pub fn check_sotw(
        kind: ResourceType,
        names: &[impl AsRef<[u8]>],
        max: usize,
    ) -> Result<(), Status> {
        if names.len() <= max {
            return Ok(());
        }
        let explicit = names.iter().filter(|n| n.as_ref() != b"*").count();
        if explicit <= max {
            return Ok(());
        }
        Err(too_many(kind, explicit, max))
    }

    /// A delta request adds `subscribe` and then drops `unsubscribe` from
    /// `held`: refused when the result would hold more than `max` names.
    pub fn check_delta(
        kind: ResourceType,
        held: &Subscription,
        subscribe: &[String],
        unsubscribe: &[String],
        max: usize,
    ) -> Result<(), Status> {
        if subscribe.is_empty() && unsubscribe.is_empty() {
            return Ok(());
        }
        if subscribe.iter().filter(|n| *n != "*").count() > max {
            return Err(too_many(kind, held.names().len() + subscribe.len(), max));
        }
        let after = held.names_after_delta(subscribe, unsubscribe);
        if after > max {
            return Err(too_many(kind, after, max));
        }
        Ok(())
    }
}

fn too_many(kind: ResourceType, names: usize, max: usize) -> Status {
    Status::resource_exhausted(format!(
        "{kind}: {names} resource names on one stream, more than the {max} this server allows (--xds-max-names)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("n{i}")).collect()
    }

    #[test]
    fn streams_beyond_the_cap_get_no_slot_until_one_closes() {
        let count = StreamCount::default();
        let a = count.try_open(2).expect("first");
        let _b = count.try_open(2).expect("second");
        assert!(count.try_open(2).is_none());
        drop(a);
        assert_eq!(count.open(), 1);
        assert!(count.try_open(2).is_some());
    }

    #[test]
    fn sotw_names_over_the_cap_are_refused() {
        let kind = ResourceType::Endpoints;
        assert!(NameCount::check_sotw(kind, &names(10), 10).is_ok());
        let mut with_wildcard = names(10);
        with_wildcard.push("*".into());
        assert!(NameCount::check_sotw(kind, &with_wildcard, 10).is_ok());
        let refused = NameCount::check_sotw(kind, &names(11), 10).unwrap_err();
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
    }

    #[test]
    fn delta_counts_what_is_already_subscribed() {
        let kind = ResourceType::Route;
        let mut held = crate::snapshot::PerType::<Subscription>::default();
        // Checks a request, and keeps it when it passes (as the stream does).
        let mut apply = |kind: ResourceType, subscribe: &[String], unsubscribe: &[String]| {
            let checked = NameCount::check_delta(kind, &held[kind], subscribe, unsubscribe, 10);
            if checked.is_ok() {
                held[kind].apply_delta(kind, false, subscribe, unsubscribe);
            }
            checked
        };
        apply(kind, &names(8), &[]).unwrap();
        // Repeats are not new names.
        apply(kind, &names(10), &[]).unwrap();
        let more = vec!["x".to_owned()];
        assert!(apply(kind, &more, &[]).is_err());
        // Unsubscribing in the same request makes room.
        apply(kind, &more, &["n0".to_owned()]).unwrap();
        assert!(apply(kind, &["y".to_owned()], &[]).is_err());
        // Other types have their own cap.
        apply(ResourceType::Endpoints, &names(10), &[]).unwrap();
    }

    #[test]
    fn text_is_cut_on_a_character_boundary_and_escaped() {
        assert_eq!(clean("short \"quoted\"", 100), "short \"quoted\"");
        let cut = clean("ééééé", 3);
        assert!(
            cut.starts_with('é') && cut.ends_with("[truncated]"),
            "{cut}"
        );
        assert_eq!(clean("a\nb", 10), "a\\nb");
        assert_eq!(truncate("a\nb", 10), "a\nb");
        assert!(truncate("ééééé", 3).starts_with("é…"));
        assert!(clean(&"x".repeat(300), 256).len() < 300);
    }
}

//! When did Envoy take a change? From a write to the moment Interlock records
//! Envoy's ACK of the route table carrying it (the push-latency benches).

use std::time::{Duration, Instant};

use interlock::snapshot::{ResourceType, SnapshotStore};
use interlock::xds::AckTracker;

/// Version of route table `name` in the newest snapshot.
pub fn route_table_version(store: &SnapshotStore, name: &str) -> Option<String> {
    store.current().and_then(|s| {
        s.get(ResourceType::Route, name)
            .map(|r| r.version().to_owned())
    })
}

/// When a route table change left Interlock and when Envoy took it.
#[derive(Clone, Copy, Debug)]
pub struct RouteTableAck {
    /// When Interlock sent the RDS response that Envoy ACKed.
    pub sent: Instant,
    /// When Interlock recorded the ACK.
    pub acked: Instant,
}

/// Waits for the store to publish route table `name` at a version other than
/// `before`, then for `node` to ACK that version; returns when the ACKed
/// response was sent and when the ACK arrived. Panics at `deadline`.
pub async fn next_route_table_ack(
    store: &SnapshotStore,
    tracker: &AckTracker,
    node: &str,
    name: &str,
    before: Option<&str>,
    deadline: Instant,
) -> RouteTableAck {
    let poll = Duration::from_micros(200);
    let version = loop {
        match route_table_version(store, name) {
            Some(now) if Some(now.as_str()) != before => break now,
            _ => {}
        }
        assert!(Instant::now() < deadline, "the change was never published");
        tokio::time::sleep(poll).await;
    };
    loop {
        if let Some(status) = tracker.node(node) {
            let rds = &status.types[ResourceType::Route];
            if rds.acked.get(name).is_some_and(|r| r.version() == version) {
                if let (Some(sent), Some(acked)) = (rds.last_pushed_at, rds.last_acked_at) {
                    return RouteTableAck { sent, acked };
                }
            }
        }
        assert!(Instant::now() < deadline, "the change was never ACKed");
        tokio::time::sleep(poll).await;
    }
}

/// Waits until `node` has ACKed its first route table (the initial config,
/// even an empty one: listeners come before routes).
pub async fn wait_initial_config(tracker: &AckTracker, node: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while tracker.node(node).is_none_or(|s| {
        s.types[interlock::snapshot::ResourceType::Route]
            .acked
            .is_empty()
    }) {
        assert!(Instant::now() < deadline, "initial config never ACKed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `node` has ACKed a route table with at least `n` domains.
pub async fn wait_domains_acked(tracker: &AckTracker, node: &str, n: usize, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while super::gateway::acked_domains_of(tracker, node).len() < n {
        assert!(
            Instant::now() < deadline,
            "initial config for {n} hosts not ACKed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Makes `changes` changes, one at a time, each past the debounce quiet window
/// (as a person or script applying one change would): `change(k)` makes change
/// `k` and returns when it was written. Returns the latencies of route table
/// `http` in milliseconds.
pub async fn change_latencies(
    store: &SnapshotStore,
    tracker: &AckTracker,
    node: &str,
    changes: usize,
    timeout: Duration,
    mut change: impl FnMut(usize) -> Instant,
) -> ChangeLatencies {
    let mut latencies = ChangeLatencies::default();
    for k in 1..=changes {
        tokio::time::sleep(Duration::from_millis(120)).await;
        let before = route_table_version(store, "http");
        let written = change(k);
        let ack = next_route_table_ack(
            store,
            tracker,
            node,
            "http",
            before.as_deref(),
            written + timeout,
        )
        .await;
        let ms = |at: Instant| at.saturating_duration_since(written).as_secs_f64() * 1e3;
        latencies.to_ack.push(ms(ack.acked));
        latencies.to_sent.push(ms(ack.sent));
    }
    latencies.to_ack.sort_by(f64::total_cmp);
    latencies.to_sent.sort_by(f64::total_cmp);
    latencies
}

/// Latencies of a run of changes, each sorted, in milliseconds.
#[derive(Clone, Debug, Default)]
pub struct ChangeLatencies {
    /// Write → Envoy's ACK: what an operator sees.
    pub to_ack: Vec<f64>,
    /// Write → the RDS response leaving Interlock: Interlock's own share (source,
    /// debounce, translation, validation, publish, send); the rest is the wire
    /// and Envoy.
    pub to_sent: Vec<f64>,
}

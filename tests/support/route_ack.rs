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

/// Waits for the store to publish route table `name` at a version other than
/// `before`, then for `node` to ACK that version; returns when the ACK arrived.
/// Panics at `deadline`.
pub async fn next_route_table_ack(
    store: &SnapshotStore,
    tracker: &AckTracker,
    node: &str,
    name: &str,
    before: Option<&str>,
    deadline: Instant,
) -> Instant {
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
                if let Some(at) = rds.last_acked_at {
                    return at;
                }
            }
        }
        assert!(Instant::now() < deadline, "the change was never ACKed");
        tokio::time::sleep(poll).await;
    }
}

//! Whether each source is currently in sync with what it reads: when it first
//! synced, and whether (and since when) it has been failing since. The
//! Kubernetes watchers report here; `/readyz` reads it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// One source's state (see [`SourceHealth`]).
#[derive(Clone, Debug, Default)]
pub struct SourceState {
    /// When the source last finished a full list (its first sync and every
    /// re-list after).
    pub last_sync: Option<SystemTime>,
    /// Since when it has been failing (`None`: it is not), with the error
    /// that started the outage.
    pub failing_since: Option<(Instant, SystemTime, String)>,
    /// The last failed attempt of the current outage.
    pub last_failure: Option<Instant>,
}

impl SourceState {
    /// True once the source has synced at least once.
    pub fn has_synced(&self) -> bool {
        self.last_sync.is_some()
    }

    /// How long the current outage has lasted, if there is one: failing
    /// since, and a failed attempt within [`QUIET_RECOVERY`].
    pub fn outage(&self) -> Option<Duration> {
        let recent = self.last_failure?.elapsed() <= QUIET_RECOVERY;
        let (since, _, _) = self.failing_since.as_ref()?;
        recent.then(|| since.elapsed())
    }
}

/// A failing source retries with backoff (at most ~37.5 s apart for the
/// Kubernetes watchers); with no failed attempt for this long, its outage is
/// over even if no event has said so (a watch that restarts from its last
/// version yields no event until something changes).
pub const QUIET_RECOVERY: Duration = Duration::from_secs(75);

/// Shared, cheap to clone: every source's [`SourceState`], by source name
/// (e.g. `kube/Ingress`).
#[derive(Clone, Debug, Default)]
pub struct SourceHealth {
    sources: Arc<Mutex<BTreeMap<String, SourceState>>>,
}

/// A source that has synced once and has been failing for longer than asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outage {
    /// The source's name.
    pub source: String,
    /// How long it has been failing.
    pub for_: Duration,
    /// The error that started the outage.
    pub error: String,
}

impl SourceHealth {
    /// `source` finished a full list: it is in sync (an outage, if any, ended).
    pub fn synced(&self, source: &str) {
        let mut sources = self.lock();
        let state = sources.entry(source.to_owned()).or_default();
        state.last_sync = Some(SystemTime::now());
        state.failing_since = None;
    }

    /// `source` delivers events again after an outage.
    pub fn recovered(&self, source: &str) {
        if let Some(state) = self.lock().get_mut(source) {
            state.failing_since = None;
        }
    }

    /// An attempt of `source` failed (the outage, and its error, counts from
    /// the first failure on).
    pub fn failing(&self, source: &str, error: &str) {
        let mut sources = self.lock();
        let state = sources.entry(source.to_owned()).or_default();
        if state.outage().is_none() {
            state.failing_since = Some((Instant::now(), SystemTime::now(), error.to_owned()));
        }
        state.last_failure = Some(Instant::now());
    }

    /// Every source's state, by name.
    pub fn states(&self) -> BTreeMap<String, SourceState> {
        self.lock().clone()
    }

    /// Sources that synced once and have been failing for longer than `threshold`.
    pub fn outages_longer_than(&self, threshold: Duration) -> Vec<Outage> {
        self.lock()
            .iter()
            .filter(|(_, s)| s.has_synced())
            .filter_map(|(name, s)| {
                let for_ = s.outage()?;
                let (_, _, error) = s.failing_since.as_ref()?;
                (for_ > threshold).then(|| Outage {
                    source: name.clone(),
                    for_,
                    error: error.clone(),
                })
            })
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, SourceState>> {
        self.sources.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_outage_after_the_first_sync_and_longer_than_the_threshold_counts() {
        let health = SourceHealth::default();
        health.failing("kube/Ingress", "connection refused");
        assert!(health.outages_longer_than(Duration::ZERO).is_empty());
        health.synced("kube/Ingress");
        health.failing("kube/Ingress", "connection refused");
        std::thread::sleep(Duration::from_millis(5));
        let outages = health.outages_longer_than(Duration::ZERO);
        assert_eq!(outages.len(), 1);
        assert_eq!(outages[0].source, "kube/Ingress");
        assert!(health
            .outages_longer_than(Duration::from_secs(60))
            .is_empty());
        health.recovered("kube/Ingress");
        assert!(health.outages_longer_than(Duration::ZERO).is_empty());
    }
}

//! The election loop: acquire, then hold by renewing, step down when renewals fail,
//! and release on shutdown.

use std::future::Future;
use std::pin::{pin, Pin};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::{Api, Client};
use tokio::sync::watch;
use tokio::time::{sleep, sleep_until, timeout, Instant};
use tracing::{debug, info, warn};

use super::config::LeaseConfig;
use super::error::LeaderError;
use super::lock::{Attempt, LeaseLock};

/// One replica's candidacy for the lease. Other components do not talk to the Lease:
/// they follow [`LeaderElector::leadership`] and act (e.g. write Ingress status) only
/// while it is `true` (invariant 9).
pub struct LeaderElector {
    api: Api<Lease>,
    config: LeaseConfig,
    leadership: watch::Sender<bool>,
}

/// Why holding the lease ended.
enum Held {
    /// Shutdown was requested while leading.
    ShutDown,
    /// Renewal failed for too long, or someone else took the lease.
    Lost,
}

impl LeaderElector {
    /// A candidate for the Lease `config.name`, read and written through `api`, which
    /// must be namespaced to `config.namespace` ([`Self::run`] checks). Nothing happens
    /// until [`Self::run`].
    pub fn new(api: Api<Lease>, config: LeaseConfig) -> Self {
        let (leadership, _) = watch::channel(false);
        Self {
            api,
            config,
            leadership,
        }
    }

    /// [`Self::new`] with the Lease `Api` for `config.namespace`, so the two cannot
    /// disagree.
    pub fn with_client(client: Client, config: LeaseConfig) -> Self {
        let api = Api::namespaced(client, &config.namespace);
        Self::new(api, config)
    }

    /// Whether this replica leads: `true` only while it holds the lease, `false` at
    /// first, and back to `false` *before* the lease can pass to anyone else (on
    /// failed renewals, on losing it, and before releasing it). Take it before
    /// [`Self::run`], which consumes the elector.
    pub fn leadership(&self) -> watch::Receiver<bool> {
        self.leadership.subscribe()
    }

    /// Runs the election until `shutdown` completes; then, if leading, stops leading
    /// and releases the lease so another replica takes over at once. API failures are
    /// logged and retried, never returned: a replica that cannot reach the API server
    /// just does not lead. Errors only for settings that cannot elect safely.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), LeaderError> {
        self.config.validate()?;
        check_namespace(&self.api, &self.config)?;
        let Self {
            api,
            config,
            leadership,
        } = self;
        let mut election = Election {
            lock: LeaseLock::new(api, config.clone()),
            config,
            leadership,
            holder_seen: None,
        };
        let mut shutdown = pin!(shutdown);
        loop {
            let Some(renewed_at) = election.acquire(shutdown.as_mut()).await else {
                debug!(lease = %election.config.name, "leader election stopped while not leading");
                return Ok(());
            };
            election.set_leading(true);
            info!(lease = %election.config.name, identity = %election.config.identity, "became leader");
            match election.hold(shutdown.as_mut(), renewed_at).await {
                Held::ShutDown => {
                    election.set_leading(false);
                    election.release().await;
                    return Ok(());
                }
                Held::Lost => {}
            }
        }
    }
}

/// The running election: the lock plus the channel that tells everyone else.
struct Election {
    lock: LeaseLock,
    config: LeaseConfig,
    leadership: watch::Sender<bool>,
    /// The other holder last logged, so that each change is logged once.
    holder_seen: Option<String>,
}

impl Election {
    /// Tries every `retry_period` until we hold the lease; returns when the successful
    /// attempt started (the lease is valid from then), or `None` on shutdown.
    async fn acquire(
        &mut self,
        mut shutdown: Pin<&mut impl Future<Output = ()>>,
    ) -> Option<Instant> {
        loop {
            let started = Instant::now();
            let attempt = tokio::select! {
                biased;
                () = shutdown.as_mut() => return None,
                attempt = self.attempt(self.config.renew_deadline) => attempt,
            };
            match attempt {
                Some(Attempt::Held) => {
                    self.holder_seen = None;
                    return Some(started);
                }
                Some(Attempt::HeldBy(holder)) => {
                    if self.holder_seen.as_deref() != Some(holder.as_str()) {
                        info!(lease = %self.config.name, %holder, "lease held by another replica; waiting");
                        self.holder_seen = Some(holder);
                    }
                }
                Some(Attempt::Contended) | None => {}
            }
            tokio::select! {
                biased;
                () = shutdown.as_mut() => return None,
                () = sleep(self.config.retry_period) => {}
            }
        }
    }

    /// Renews every `retry_period` while leading. A renewal that has not succeeded
    /// `renew_deadline` after the last good one started ends the leadership right at
    /// that deadline, which comes before `lease_duration`, when others may take over.
    async fn hold(
        &mut self,
        mut shutdown: Pin<&mut impl Future<Output = ()>>,
        mut renewed_at: Instant,
    ) -> Held {
        loop {
            let deadline = renewed_at + self.config.renew_deadline;
            let next = (Instant::now() + self.config.retry_period).min(deadline);
            tokio::select! {
                biased;
                () = shutdown.as_mut() => return Held::ShutDown,
                () = sleep_until(next) => {}
            }
            let started = Instant::now();
            let remaining = deadline.saturating_duration_since(started);
            if remaining.is_zero() {
                return self.lost("could not renew the lease within the renew deadline", None);
            }
            // Not raced with shutdown: a renewal cut off mid-flight could leave the
            // lease renewed behind our back, and the release after shutdown would
            // then fail. It is bounded by the deadline anyway.
            match self.attempt(remaining).await {
                Some(Attempt::Held) => renewed_at = started,
                Some(Attempt::HeldBy(holder)) => {
                    return self.lost("another replica holds the lease", Some(holder))
                }
                Some(Attempt::Contended) | None => {}
            }
        }
    }

    /// Steps down; logs why.
    fn lost(&mut self, reason: &str, holder: Option<String>) -> Held {
        self.set_leading(false);
        info!(lease = %self.config.name, identity = %self.config.identity, holder = ?holder, reason, "lost leadership");
        Held::Lost
    }

    /// One attempt, bounded by `limit`; failures are logged and come back as `None`.
    async fn attempt(&mut self, limit: Duration) -> Option<Attempt> {
        match timeout(limit, self.lock.try_acquire_or_renew()).await {
            Ok(Ok(attempt)) => Some(attempt),
            Ok(Err(error)) => {
                warn!(lease = %self.config.name, %error, "leader election: lease request failed; retrying");
                None
            }
            Err(_) => {
                warn!(lease = %self.config.name, ?limit, "leader election: lease request timed out; retrying");
                None
            }
        }
    }

    /// Gives the lease back after we stopped leading, bounded by `renew_deadline`.
    async fn release(&mut self) {
        let name = &self.config.name;
        match timeout(self.config.renew_deadline, self.lock.release()).await {
            Ok(Ok(true)) => {
                info!(lease = %name, identity = %self.config.identity, "released leadership")
            }
            Ok(Ok(false)) => {
                info!(lease = %name, "stopped leading; the lease had already changed hands")
            }
            Ok(Err(error)) => {
                warn!(lease = %name, %error, "could not release the lease; it will expire")
            }
            Err(_) => warn!(lease = %name, "releasing the lease timed out; it will expire"),
        }
    }

    fn set_leading(&self, leading: bool) {
        self.leadership.send_replace(leading);
    }
}

/// The Lease `Api` must point where the settings say, or replicas configured alike
/// could elect on different Leases.
fn check_namespace(api: &Api<Lease>, config: &LeaseConfig) -> Result<(), LeaderError> {
    match api.namespace() {
        Some(ns) if ns == config.namespace => Ok(()),
        other => Err(LeaderError::InvalidConfig {
            reason: format!(
                "the Lease API is for namespace {:?}, the settings say {:?}",
                other.unwrap_or("<all namespaces>"),
                config.namespace
            ),
        }),
    }
}

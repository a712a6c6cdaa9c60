//! The Lease on the API server as a lock: one attempt at a time to take, renew or
//! release it. Every write is a create or a replace carrying the resourceVersion we
//! read, so of two replicas racing for the lease exactly one wins and the other gets
//! 409 Conflict.

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use tokio::time::Instant;
use tracing::warn;

use super::config::LeaseConfig;
use super::observed::Observed;
use super::record;

/// How an attempt to acquire or renew the lease ended (API failures aside).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// We hold the lease: created, taken over or renewed just now.
    Held,
    /// Another replica holds the lease and it has not expired.
    HeldBy(String),
    /// Another writer changed the lease between our read and our write; the next
    /// attempt reads the new state.
    Contended,
}

/// The Lease, what we saw of it, and what we last wrote to it.
pub(crate) struct LeaseLock {
    api: Api<Lease>,
    config: LeaseConfig,
    observed: Option<Observed>,
    /// The lease as the server returned our last successful write: a release is
    /// written over it, so it fails (409) if anyone wrote after us.
    ours: Option<Lease>,
}

impl LeaseLock {
    pub(crate) fn new(api: Api<Lease>, config: LeaseConfig) -> Self {
        Self {
            api,
            config,
            observed: None,
            ours: None,
        }
    }

    /// client-go's `tryAcquireOrRenew`: reads the lease, creates it if missing, and
    /// writes us in as holder if it is ours, free, or expired on our clock.
    pub(crate) async fn try_acquire_or_renew(&mut self) -> Result<Attempt, kube::Error> {
        let Some(current) = self.api.get_opt(&self.config.name).await? else {
            return self.create().await;
        };
        let now = Instant::now();
        let observed = Observed::update(
            self.observed.take(),
            &current,
            self.config.lease_duration,
            now,
        );
        let other_holder = observed
            .holder()
            .filter(|h| *h != self.config.identity)
            .map(str::to_string);
        let expired = observed.is_expired(now);
        self.observed = Some(observed);
        if let Some(holder) = other_holder {
            if !expired {
                self.ours = None;
                return Ok(Attempt::HeldBy(holder));
            }
        }
        if current.metadata.resource_version.is_none() {
            // Without it the replace would be unconditional and could overwrite a
            // concurrent winner; the server always sends one, so this is a glitch.
            warn!(lease = %self.config.name, "lease read without a resourceVersion; not writing it");
            return Ok(Attempt::Contended);
        }
        let mut lease = current;
        lease.spec = Some(record::held(
            lease.spec.as_ref(),
            &self.config.identity,
            self.config.lease_duration_seconds(),
            Timestamp::now(),
        ));
        self.write(lease).await
    }

    /// Gives the lease back if our last write is still the current version, so the
    /// next leader need not wait it out. Returns whether it was released.
    pub(crate) async fn release(&mut self) -> Result<bool, kube::Error> {
        let Some(mut lease) = self.ours.take() else {
            return Ok(false);
        };
        let spec = lease.spec.take().unwrap_or_default();
        lease.spec = Some(record::released(&spec, Timestamp::now()));
        match self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if is_contention(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn create(&mut self) -> Result<Attempt, kube::Error> {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(self.config.name.clone()),
                namespace: Some(self.config.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(record::held(
                None,
                &self.config.identity,
                self.config.lease_duration_seconds(),
                Timestamp::now(),
            )),
        };
        match self.api.create(&PostParams::default(), &lease).await {
            Ok(created) => Ok(self.wrote(created)),
            Err(e) if is_contention(&e) => Ok(Attempt::Contended),
            Err(e) => Err(e),
        }
    }

    async fn write(&mut self, lease: Lease) -> Result<Attempt, kube::Error> {
        match self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            Ok(written) => Ok(self.wrote(written)),
            Err(e) if is_contention(&e) => Ok(Attempt::Contended),
            Err(e) => Err(e),
        }
    }

    /// Remembers our own write as the latest record seen, so that a later write by
    /// anyone else shows up as a change.
    fn wrote(&mut self, written: Lease) -> Attempt {
        self.observed = Some(Observed::update(
            None,
            &written,
            self.config.lease_duration,
            Instant::now(),
        ));
        self.ours = Some(written);
        Attempt::Held
    }
}

/// 409: a stale resourceVersion on replace, or a lease created by someone else first.
fn is_contention(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status)
        if status.code == 409 || status.is_conflict() || status.is_already_exists())
}

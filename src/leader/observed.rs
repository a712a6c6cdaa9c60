//! The lease record as this replica last saw it, and since when, on our own clock.
//!
//! Expiry is judged the way client-go judges it: a lease held by someone else is
//! expired once its record has not changed for `leaseDurationSeconds` as measured by
//! *our* monotonic clock from the moment we first saw that record. The holder's
//! `renewTime` is never compared with our wall clock, so clock skew between nodes
//! cannot make a live leader look dead.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use tokio::time::Instant;

/// The parts of a Lease whose change proves its holder is alive.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Record {
    holder: Option<String>,
    renew_time: Option<MicroTime>,
    resource_version: Option<String>,
}

impl Record {
    fn of(lease: &Lease) -> Self {
        let spec = lease.spec.as_ref();
        Self {
            holder: spec
                .and_then(|s| s.holder_identity.clone())
                .filter(|h| !h.is_empty()),
            renew_time: spec.and_then(|s| s.renew_time.clone()),
            resource_version: lease.metadata.resource_version.clone(),
        }
    }
}

/// A lease record and when we first saw it.
#[derive(Clone, Debug)]
pub(crate) struct Observed {
    record: Record,
    first_seen: Instant,
    valid_for: Duration,
}

impl Observed {
    /// Folds a fresh read of the lease into what we saw before: the clock restarts only
    /// if the record changed. `default_duration` stands in for a missing or nonsensical
    /// `leaseDurationSeconds`.
    pub(crate) fn update(
        previous: Option<Self>,
        lease: &Lease,
        default_duration: Duration,
        now: Instant,
    ) -> Self {
        let record = Record::of(lease);
        let valid_for = lease
            .spec
            .as_ref()
            .and_then(|s| s.lease_duration_seconds)
            .and_then(|secs| u64::try_from(secs).ok())
            .filter(|&secs| secs > 0)
            .map_or(default_duration, Duration::from_secs);
        let first_seen = match previous {
            Some(prev) if prev.record == record => prev.first_seen,
            _ => now,
        };
        Self {
            record,
            first_seen,
            valid_for,
        }
    }

    /// Who holds the lease; `None` if nobody does (never acquired, or released).
    pub(crate) fn holder(&self) -> Option<&str> {
        self.record.holder.as_deref()
    }

    /// Whether the holder has let the lease lapse, as far as our clock can tell.
    pub(crate) fn is_expired(&self, now: Instant) -> bool {
        now >= self.first_seen + self.valid_for
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::coordination::v1::LeaseSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use k8s_openapi::jiff::Timestamp;

    use super::*;

    const DEFAULT: Duration = Duration::from_secs(15);

    fn lease(holder: &str, renew_second: i64, rv: &str) -> Lease {
        Lease {
            metadata: ObjectMeta {
                resource_version: Some(rv.to_string()),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(holder.to_string()),
                lease_duration_seconds: Some(2),
                renew_time: Timestamp::from_second(renew_second).ok().map(MicroTime),
                ..LeaseSpec::default()
            }),
        }
    }

    #[test]
    fn an_unchanged_record_expires_after_its_duration_on_our_clock() {
        let t0 = Instant::now();
        let seen = Observed::update(None, &lease("a", 100, "1"), DEFAULT, t0);
        let again = Observed::update(
            Some(seen),
            &lease("a", 100, "1"),
            DEFAULT,
            t0 + Duration::from_secs(1),
        );
        assert!(!again.is_expired(t0 + Duration::from_millis(1999)));
        assert!(again.is_expired(t0 + Duration::from_secs(2)));
    }

    #[test]
    fn a_renewal_restarts_the_clock() {
        let t0 = Instant::now();
        let seen = Observed::update(None, &lease("a", 100, "1"), DEFAULT, t0);
        let t1 = t0 + Duration::from_millis(1500);
        let renewed = Observed::update(Some(seen), &lease("a", 101, "2"), DEFAULT, t1);
        assert!(!renewed.is_expired(t0 + Duration::from_secs(3)));
        assert!(renewed.is_expired(t1 + Duration::from_secs(2)));
    }

    #[test]
    fn an_empty_holder_is_no_holder() {
        let seen = Observed::update(None, &lease("", 100, "1"), DEFAULT, Instant::now());
        assert_eq!(seen.holder(), None);
    }

    #[test]
    fn a_missing_duration_falls_back_to_ours() {
        let mut l = lease("a", 100, "1");
        if let Some(spec) = l.spec.as_mut() {
            spec.lease_duration_seconds = None;
        }
        let t0 = Instant::now();
        let seen = Observed::update(None, &l, DEFAULT, t0);
        assert!(!seen.is_expired(t0 + Duration::from_secs(14)));
        assert!(seen.is_expired(t0 + DEFAULT));
    }
}

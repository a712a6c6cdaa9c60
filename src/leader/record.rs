//! The lease records this replica writes: taking or renewing the lease, and giving it
//! back. Pure, so the bookkeeping (`acquireTime`, `leaseTransitions`) is tested alone.

use k8s_openapi::api::coordination::v1::LeaseSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;

/// The spec that makes `identity` the holder as of `now`, written over `current` (the
/// spec as read, `None` when creating the Lease). Renewing keeps `acquireTime` and
/// `leaseTransitions`; taking over from anyone else (or from nobody, after a release)
/// counts one transition and restarts `acquireTime`, as client-go does.
pub(crate) fn held(
    current: Option<&LeaseSpec>,
    identity: &str,
    lease_duration_seconds: i32,
    now: Timestamp,
) -> LeaseSpec {
    let now = MicroTime(now);
    let current_holder = current.and_then(|s| s.holder_identity.as_deref());
    let transitions = current.and_then(|s| s.lease_transitions).unwrap_or(0);
    let (acquire_time, lease_transitions) = match current {
        Some(spec) if current_holder == Some(identity) => (
            spec.acquire_time.clone().unwrap_or_else(|| now.clone()),
            transitions,
        ),
        Some(_) => (now.clone(), transitions.saturating_add(1)),
        None => (now.clone(), 0),
    };
    LeaseSpec {
        holder_identity: Some(identity.to_string()),
        lease_duration_seconds: Some(lease_duration_seconds),
        acquire_time: Some(acquire_time),
        renew_time: Some(now),
        lease_transitions: Some(lease_transitions),
        ..current.cloned().unwrap_or_default()
    }
}

/// The spec of a released lease: no holder and a one-second duration, which every
/// candidate reads as free, so the next leader takes over at once instead of waiting
/// out the full lease duration.
pub(crate) fn released(current: &LeaseSpec, now: Timestamp) -> LeaseSpec {
    let now = MicroTime(now);
    LeaseSpec {
        holder_identity: None,
        lease_duration_seconds: Some(1),
        acquire_time: Some(now.clone()),
        renew_time: Some(now),
        ..current.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn creating_starts_at_zero_transitions() {
        let spec = held(None, "me", 15, at(10));
        assert_eq!(spec.holder_identity.as_deref(), Some("me"));
        assert_eq!(spec.lease_transitions, Some(0));
        assert_eq!(spec.lease_duration_seconds, Some(15));
        assert_eq!(spec.acquire_time, Some(MicroTime(at(10))));
        assert_eq!(spec.renew_time, Some(MicroTime(at(10))));
    }

    #[test]
    fn renewing_keeps_acquire_time_and_transitions() {
        let first = held(None, "me", 15, at(10));
        let renewed = held(Some(&first), "me", 15, at(12));
        assert_eq!(renewed.acquire_time, Some(MicroTime(at(10))));
        assert_eq!(renewed.renew_time, Some(MicroTime(at(12))));
        assert_eq!(renewed.lease_transitions, Some(0));
    }

    #[test]
    fn taking_over_counts_a_transition() {
        let theirs = held(None, "ghost", 15, at(10));
        let ours = held(Some(&theirs), "me", 15, at(40));
        assert_eq!(ours.holder_identity.as_deref(), Some("me"));
        assert_eq!(ours.lease_transitions, Some(1));
        assert_eq!(ours.acquire_time, Some(MicroTime(at(40))));
    }

    #[test]
    fn taking_a_released_lease_counts_a_transition() {
        let gone = released(&held(None, "ghost", 15, at(10)), at(11));
        let ours = held(Some(&gone), "me", 15, at(12));
        assert_eq!(ours.lease_transitions, Some(1));
    }

    #[test]
    fn releasing_clears_the_holder_and_shortens_the_lease() {
        let gone = released(&held(None, "me", 15, at(10)), at(11));
        assert_eq!(gone.holder_identity, None);
        assert_eq!(gone.lease_duration_seconds, Some(1));
        assert_eq!(gone.lease_transitions, Some(0));
    }
}

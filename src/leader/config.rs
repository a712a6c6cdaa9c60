//! The election's settings and the rules that keep them safe.

use std::time::Duration;

use super::error::LeaderError;

/// How long a lease stays valid without renewal unless configured otherwise, as in
/// client-go and kube-controller-manager.
pub const DEFAULT_LEASE_DURATION: Duration = Duration::from_secs(15);
/// How long a leader keeps leading without a successful renewal, by default.
pub const DEFAULT_RENEW_DEADLINE: Duration = Duration::from_secs(10);
/// How often candidates try to acquire and leaders renew, by default.
pub const DEFAULT_RETRY_PERIOD: Duration = Duration::from_secs(2);

/// Settings (the leader-election flags of `interlock serve`), kept apart from the
/// elector so the CLI can build and check them before anything talks to the API server.
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    /// Namespace of the Lease (`--leader-election-namespace`); every replica must agree.
    pub namespace: String,
    /// Name of the Lease (`--leader-election-id`), e.g. `interlock-leader`; replicas
    /// electing one leader share it.
    pub name: String,
    /// This replica's `holderIdentity`. Must be unique per process (pod name plus
    /// something random): a restarted replica reusing an identity would be taken for
    /// the old leader and would take the lease over without waiting it out.
    pub identity: String,
    /// How long a lease that is not renewed stays valid: what other candidates wait,
    /// on their own clocks, before taking over from a leader that vanished.
    pub lease_duration: Duration,
    /// How long a leader keeps leading while it cannot renew. Shorter than
    /// `lease_duration`, so a cut-off leader stops before anyone else can start.
    pub renew_deadline: Duration,
    /// How often candidates try to acquire the lease and the leader renews it.
    pub retry_period: Duration,
}

impl LeaseConfig {
    /// Settings with the default timings (15 s / 10 s / 2 s, as client-go).
    pub fn new(
        namespace: impl Into<String>,
        name: impl Into<String>,
        identity: impl Into<String>,
    ) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
            identity: identity.into(),
            lease_duration: DEFAULT_LEASE_DURATION,
            renew_deadline: DEFAULT_RENEW_DEADLINE,
            retry_period: DEFAULT_RETRY_PERIOD,
        }
    }

    /// Checks what safety depends on: `lease_duration > renew_deadline > retry_period > 0`
    /// (a leader must give up before others may take over, and must get several tries
    /// at renewing before it gives up), a whole second at least for the lease (the API
    /// field is in seconds), and non-empty names.
    pub fn validate(&self) -> Result<(), LeaderError> {
        let invalid = |reason: String| Err(LeaderError::InvalidConfig { reason });
        if self.namespace.is_empty() || self.name.is_empty() || self.identity.is_empty() {
            return invalid(format!(
                "namespace ({:?}), name ({:?}) and identity ({:?}) must not be empty",
                self.namespace, self.name, self.identity
            ));
        }
        if self.retry_period.is_zero() {
            return invalid("the retry period must be positive".to_string());
        }
        if self.lease_duration < Duration::from_secs(1) {
            return invalid(format!(
                "the lease duration ({:?}) must be at least 1s",
                self.lease_duration
            ));
        }
        if self.renew_deadline <= self.retry_period {
            return invalid(format!(
                "the renew deadline ({:?}) must be longer than the retry period ({:?})",
                self.renew_deadline, self.retry_period
            ));
        }
        if self.lease_duration <= self.renew_deadline {
            return invalid(format!(
                "the lease duration ({:?}) must be longer than the renew deadline ({:?})",
                self.lease_duration, self.renew_deadline
            ));
        }
        Ok(())
    }

    /// `lease_duration` as the Lease's `leaseDurationSeconds`: rounded up, so others
    /// never wait less than we promised ourselves.
    pub(crate) fn lease_duration_seconds(&self) -> i32 {
        let d = self.lease_duration;
        let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
        i32::try_from(secs).unwrap_or(i32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timings(lease: u64, renew: u64, retry: u64) -> LeaseConfig {
        LeaseConfig {
            lease_duration: Duration::from_millis(lease),
            renew_deadline: Duration::from_millis(renew),
            retry_period: Duration::from_millis(retry),
            ..LeaseConfig::new("ns", "lease", "me")
        }
    }

    #[test]
    fn defaults_are_valid() {
        assert!(LeaseConfig::new("ns", "lease", "me").validate().is_ok());
    }

    #[test]
    fn a_leader_must_give_up_before_the_lease_expires() {
        assert!(timings(2000, 2000, 200).validate().is_err());
        assert!(timings(2000, 1500, 1500).validate().is_err());
        assert!(timings(2000, 1500, 0).validate().is_err());
        assert!(timings(900, 500, 100).validate().is_err());
        assert!(timings(2000, 1500, 200).validate().is_ok());
    }

    #[test]
    fn lease_seconds_round_up() {
        assert_eq!(timings(2000, 1500, 200).lease_duration_seconds(), 2);
        assert_eq!(timings(2500, 1500, 200).lease_duration_seconds(), 3);
    }
}

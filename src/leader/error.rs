//! What ends an election: only what retrying cannot fix.

/// Errors that stop [`super::LeaderElector::run`]. API failures are not among them:
/// a replica that cannot reach the API server simply does not lead, and keeps trying.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    /// The settings (or the Lease `Api` given with them) could not elect safely.
    #[error("invalid leader election settings: {reason}")]
    InvalidConfig {
        /// What is wrong, for the operator.
        reason: String,
    },
}

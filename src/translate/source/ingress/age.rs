//! Which of two Ingresses is older: the one that wins a conflict.

use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::jiff::Timestamp;

use crate::world::ObjectKey;

/// Sort key putting the oldest Ingress first: `metadata.creationTimestamp`, then
/// namespace/name. An Ingress without a timestamp (hand-written files) sorts after
/// every timestamped one, so it never displaces an Ingress the API server has
/// already accepted; among timestamp-less Ingresses namespace/name decides.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Age<'a> {
    missing_timestamp: bool,
    created: Option<Timestamp>,
    key: &'a ObjectKey,
}

impl<'a> Age<'a> {
    /// The age of `ingress` stored under `key`.
    pub(crate) fn of(key: &'a ObjectKey, ingress: &Ingress) -> Self {
        let created = ingress.metadata.creation_timestamp.as_ref().map(|t| t.0);
        Age {
            missing_timestamp: created.is_none(),
            created,
            key,
        }
    }
}

//! Which clusters each Service backs, as one translation resolved them.
//!
//! An endpoints-only change recomputes just the assignments of the Services whose
//! slices changed. It needs each such Service's targets exactly as the last full
//! translation resolved them (the port name decides which slice port is read),
//! and nothing but Ingresses and Services decides those, so they stay valid until
//! one of those changes.

use std::sync::Arc;

use crate::translate::model::ClusterTarget;
use crate::world::ObjectKey;

/// Cluster targets sorted by Service, then cluster name. The targets are the
/// translation's own (shared), so keeping them costs no copies.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceClusters {
    targets: Vec<Arc<ClusterTarget>>,
}

impl ServiceClusters {
    /// Indexes `targets` (one per cluster).
    pub(crate) fn new(targets: impl IntoIterator<Item = Arc<ClusterTarget>>) -> Self {
        let mut targets: Vec<Arc<ClusterTarget>> = targets.into_iter().collect();
        targets.sort_by(|a, b| (&a.service, &a.name).cmp(&(&b.service, &b.name)));
        ServiceClusters { targets }
    }

    /// The clusters backed by `service`; empty when no served route uses it.
    pub fn of(&self, service: &ObjectKey) -> &[Arc<ClusterTarget>] {
        let start = self.targets.partition_point(|t| t.service < *service);
        let len = self.targets[start..].partition_point(|t| t.service == *service);
        &self.targets[start..start + len]
    }

    /// Number of clusters.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// True when no Service backs a cluster.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(ns: &str, svc: &str, port: i32, port_name: Option<&str>) -> Arc<ClusterTarget> {
        let service = ObjectKey::new(ns, svc);
        Arc::new(ClusterTarget::new(
            service,
            port,
            port_name.map(str::to_owned),
        ))
    }

    #[test]
    fn groups_targets_by_service() {
        let targets = [
            target("a", "web", 443, None),
            target("a", "web", 80, Some("http")),
            target("b", "web", 80, None),
            target("a", "web-2", 80, None),
        ];
        let index = ServiceClusters::new(targets.iter().rev().cloned());
        assert_eq!(index.len(), 4);
        assert_eq!(index.of(&ObjectKey::new("a", "web")), &targets[..2]);
        assert_eq!(index.of(&ObjectKey::new("b", "web")), &targets[2..3]);
        assert_eq!(index.of(&ObjectKey::new("a", "web-2")), &targets[3..]);
        assert!(index.of(&ObjectKey::new("c", "web")).is_empty());
    }
}

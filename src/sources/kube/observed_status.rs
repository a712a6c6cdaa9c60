//! The `status.loadBalancer.ingress` each Ingress has on the API server, as the
//! source last saw it: the Ingress status writer compares against it to skip
//! no-op writes and to notice when someone else changed it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use k8s_openapi::api::networking::v1::IngressLoadBalancerIngress;
use tokio::sync::watch;

use crate::world::ObjectKey;

/// Addresses by Ingress. Cheap to clone (a shared handle).
#[derive(Clone, Debug)]
pub struct ObservedIngressStatus {
    addresses: Arc<Mutex<BTreeMap<ObjectKey, Vec<IngressLoadBalancerIngress>>>>,
    changed: watch::Sender<u64>,
}

impl Default for ObservedIngressStatus {
    fn default() -> Self {
        ObservedIngressStatus {
            addresses: Arc::default(),
            changed: watch::channel(0).0,
        }
    }
}

impl ObservedIngressStatus {
    fn map(&self) -> MutexGuard<'_, BTreeMap<ObjectKey, Vec<IngressLoadBalancerIngress>>> {
        // A poisoned lock only means a panic elsewhere mid-insert of a plain map.
        self.addresses.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The addresses `key` has (empty when none or unknown).
    pub fn get(&self, key: &ObjectKey) -> Vec<IngressLoadBalancerIngress> {
        self.map().get(key).cloned().unwrap_or_default()
    }

    /// Records what an Ingress has now; wakes [`ObservedIngressStatus::subscribe`]rs
    /// when it differs.
    pub fn set(&self, key: ObjectKey, addresses: Vec<IngressLoadBalancerIngress>) {
        let changed = {
            let mut map = self.map();
            if addresses.is_empty() {
                map.remove(&key).is_some()
            } else {
                map.insert(key, addresses.clone()).as_ref() != Some(&addresses)
            }
        };
        if changed {
            self.changed.send_modify(|n| *n += 1);
        }
    }

    /// Forgets a deleted Ingress.
    pub fn remove(&self, key: &ObjectKey) {
        if self.map().remove(key).is_some() {
            self.changed.send_modify(|n| *n += 1);
        }
    }

    /// Replaces everything (a re-list).
    pub fn replace(&self, all: BTreeMap<ObjectKey, Vec<IngressLoadBalancerIngress>>) {
        let all: BTreeMap<_, _> = all.into_iter().filter(|(_, a)| !a.is_empty()).collect();
        let changed = {
            let mut map = self.map();
            let changed = *map != all;
            *map = all;
            changed
        };
        if changed {
            self.changed.send_modify(|n| *n += 1);
        }
    }

    /// Wakes whenever some Ingress's observed addresses change.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }
}

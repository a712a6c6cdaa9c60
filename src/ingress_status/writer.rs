//! The leader's loop that writes addresses into programmed Ingresses' status.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;
use tokio::sync::{broadcast, watch};
use tracing::{debug, info, warn};

use super::address::StatusAddress;
use super::everywhere::ProgrammedCheck;
use crate::admin::{AdminEvent, EventHub};
use crate::sources::kube::ObservedIngressStatus;
use crate::world::ObjectKey;

/// After a failed write, when to try again.
const RETRY: Duration = Duration::from_secs(1);
/// A full pass now and then, in case an event was missed (a lagging
/// subscriber): status converges even then.
const RESYNC: Duration = Duration::from_secs(30);
/// How often the replicas are asked again while an Ingress waits for their
/// Envoys (their ACKs raise no event here).
const PEER_POLL: Duration = Duration::from_millis(500);

/// What a pass left to do.
#[derive(Default)]
struct Pass {
    /// A write failed.
    failed: bool,
    /// An Ingress lacks its address but is not programmed everywhere yet.
    waiting: bool,
}

/// Writes `status.loadBalancer.ingress` of the served Ingresses.
///
/// - Only while this replica leads, and only for Ingresses that are
///   programmed (every connected Envoy ACKed their current routes; with
///   [`StatusWriter::with_peers`], the Envoys of every replica): the address
///   is a promise that the Ingress serves.
/// - Only Ingresses of our class (the served set); others are never touched.
/// - A JSON merge patch of `status.loadBalancer` on the `status`
///   subresource: spec, labels and annotations are never written.
/// - Skipped when the Ingress already has exactly these addresses.
/// - Never cleared: not on shutdown, not on losing the lease, not when the
///   address source has nothing (yet).
pub struct StatusWriter {
    client: Client,
    hub: EventHub,
    observed: ObservedIngressStatus,
    addresses: watch::Receiver<Vec<StatusAddress>>,
    leadership: watch::Receiver<bool>,
    check: ProgrammedCheck,
}

impl StatusWriter {
    /// A writer patching through `client`, with the Ingress states of `hub`,
    /// the current statuses in `observed`, the addresses to write and whether
    /// this replica leads.
    pub fn new(
        client: Client,
        hub: EventHub,
        observed: ObservedIngressStatus,
        addresses: watch::Receiver<Vec<StatusAddress>>,
        leadership: watch::Receiver<bool>,
    ) -> Self {
        StatusWriter {
            client,
            hub,
            observed,
            addresses,
            leadership,
            check: ProgrammedCheck::Local,
        }
    }

    /// Counts an Ingress as programmed only once the Envoys of every replica
    /// (their admin listeners at `peers`) have it: with several replicas, the
    /// leader alone may have no Envoy at all.
    pub fn with_peers(mut self, peers: watch::Receiver<Vec<SocketAddr>>) -> Self {
        self.check = ProgrammedCheck::Everywhere {
            peers,
            unreachable: Default::default(),
        };
        self
    }

    /// Runs until `stop` completes (then writes nothing more, clears nothing).
    pub async fn run(mut self, stop: impl Future<Output = ()>) {
        tokio::pin!(stop);
        let mut events = self.hub.subscribe();
        let mut observed = self.observed.subscribe();
        let mut pass = Pass::default();
        // Fixed addresses (`--status-address`) have no sender left: never changes.
        let mut addresses_open = true;
        loop {
            if *self.leadership.borrow_and_update() {
                pass = self.reconcile().await;
            }
            let wait = tokio::time::sleep(if pass.failed {
                RETRY
            } else if pass.waiting && matches!(self.check, ProgrammedCheck::Everywhere { .. }) {
                PEER_POLL
            } else {
                RESYNC
            });
            tokio::pin!(wait);
            // Until something that can call for a write happens.
            loop {
                tokio::select! {
                    () = &mut stop => return,
                    changed = self.leadership.changed() => match changed {
                        Ok(()) => break,
                        Err(_) => return,
                    },
                    changed = self.addresses.changed(), if addresses_open => {
                        addresses_open = changed.is_ok();
                        break;
                    }
                    changed = observed.changed() => match changed {
                        Ok(()) => break,
                        Err(_) => return,
                    },
                    event = events.recv() => match event {
                        Ok(AdminEvent::IngressProgrammed { .. })
                        | Ok(AdminEvent::SnapshotPublished { .. })
                        | Err(broadcast::error::RecvError::Lagged(_)) => break,
                        Ok(_) => {}
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                    () = &mut wait => break,
                }
            }
        }
    }

    /// One pass over the served Ingresses.
    async fn reconcile(&mut self) -> Pass {
        let mut pass = Pass::default();
        let addresses = self.addresses.borrow_and_update().clone();
        if addresses.is_empty() {
            return pass;
        }
        let states = self.hub.ingresses();
        let missing: Vec<&ObjectKey> = states
            .keys()
            .filter(|k| self.observed.get(k) != addresses)
            .collect();
        if missing.is_empty() {
            return pass;
        }
        let programmed = self.check.programmed(&states).await;
        debug!(
            served = states.len(),
            missing = missing.len(),
            programmed = programmed.len(),
            "status pass"
        );
        for key in missing {
            if !programmed.contains(key) {
                pass.waiting = true;
                continue;
            }
            if !*self.leadership.borrow() {
                break;
            }
            pass.failed |= !self.write(key, &addresses).await;
        }
        pass
    }

    async fn write(&self, key: &ObjectKey, addresses: &[StatusAddress]) -> bool {
        let api = Api::<Ingress>::namespaced(self.client.clone(), &key.namespace);
        let patch = json!({ "status": { "loadBalancer": { "ingress": addresses } } });
        match api
            .patch_status(&key.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(written) => {
                let now = written
                    .status
                    .and_then(|s| s.load_balancer)
                    .and_then(|lb| lb.ingress)
                    .unwrap_or_default();
                info!(ingress = %key, addresses = ?now, "Ingress status written");
                self.observed.set(key.clone(), now);
                true
            }
            // Deleted meanwhile: nothing to report.
            Err(kube::Error::Api(e)) if e.code == 404 => {
                debug!(ingress = %key, "Ingress gone before its status was written");
                true
            }
            Err(e) => {
                warn!(ingress = %key, error = %e, "cannot write Ingress status; will retry");
                false
            }
        }
    }
}

//! Translation proportional to what changed (issue 12): the same output as
//! [`translate`](super::translate), kept up to date object by object.
//!
//! Each served Ingress is read once into its contribution and kept, with what
//! it looked up (`read.rs`); a changed Ingress, or a Service or Secret one of
//! them looked up, is read again. Routes are merged per host (`host.rs`): a
//! host's virtual host depends only on the contributions naming it plus the
//! global claims (rules without host, the default backend), so only the hosts
//! a re-read touches, old and new, are merged, rendered and encoded again; a
//! change to a global claim redoes every host (from the kept contributions,
//! without reading anything). TLS is merged again from the Ingresses that
//! claim TLS hosts when one of them changes (`tls.rs`). Clusters are counted
//! per name and their assignments redone only when they appear or their
//! slices change (`clusters.rs`); diagnostics are a multiset (`tally.rs`).
//! Route tables are spliced from the encoded virtual hosts (`emit.rs`).
//!
//! A change of IngressClass (which Ingresses are ours) or a re-list redoes
//! everything: [`Translator::rebuild`].

mod clusters;
mod emit;
mod host;
mod index;
mod merge;
mod read;
mod tally;
mod tls;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::{IngressResources, TranslateConfig};
use crate::world::{Kind, ObjectKey, ObjectRef, World};
use clusters::Clusters;
use host::HostUnit;
use read::{AgeKey, IngressRead};
use tally::Tally;
use tls::TlsUnit;

pub use emit::Emitted;

/// The incremental translator's state: every served Ingress's contribution and
/// every per-host, TLS and per-cluster result, as of the last world it saw.
#[derive(Debug)]
pub struct Translator {
    config: TranslateConfig,
    reads: BTreeMap<ObjectKey, IngressRead>,
    /// Which Ingresses looked each object up.
    dependents: BTreeMap<ObjectRef, BTreeSet<ObjectKey>>,
    /// Which Ingresses have rules naming each host, oldest first.
    claimers: BTreeMap<crate::translate::model::Host, BTreeSet<AgeKey>>,
    /// Ingresses with global claims, oldest first.
    global: BTreeSet<AgeKey>,
    /// Ingresses claiming TLS hosts, oldest first.
    tls_claimers: BTreeSet<AgeKey>,
    hosts: BTreeMap<crate::translate::model::Host, HostUnit>,
    catch_all: HostUnit,
    tls: TlsUnit,
    clusters: Clusters,
    tally: Tally,
    /// Shared with the pipeline's report until the next change (copy on write).
    ingresses: Arc<BTreeMap<ObjectKey, IngressResources>>,
    /// What the next emit must write beyond clusters.
    dirty: Dirty,
}

/// Resources changed since the last emit (clusters keep their own).
#[derive(Debug, Default)]
struct Dirty {
    routes: bool,
    https_listener: bool,
    secrets: BTreeSet<String>,
    ingresses: bool,
}

/// What one batch of re-reads touched.
#[derive(Debug, Default)]
struct Touched {
    hosts: BTreeSet<crate::translate::model::Host>,
    global: bool,
    tls: bool,
    owners: BTreeSet<ObjectKey>,
}

/// What changed in the world since the translator last saw it.
#[derive(Clone, Debug, Default)]
pub struct Changes {
    /// Ingresses, Services and Secrets created, changed or deleted.
    pub objects: BTreeSet<ObjectRef>,
    /// Services whose EndpointSlices changed.
    pub slice_services: BTreeSet<ObjectKey>,
}

// === impl Translator ===

impl Translator {
    /// A translator that has seen nothing; its first [`Translator::rebuild`]
    /// reads everything.
    pub fn new(config: TranslateConfig) -> Self {
        Translator {
            config,
            reads: BTreeMap::new(),
            dependents: BTreeMap::new(),
            claimers: BTreeMap::new(),
            global: BTreeSet::new(),
            tls_claimers: BTreeSet::new(),
            hosts: BTreeMap::new(),
            catch_all: HostUnit::default(),
            tls: TlsUnit::default(),
            clusters: Clusters::default(),
            tally: Tally::default(),
            ingresses: Arc::default(),
            dirty: Dirty::default(),
        }
    }

    /// Forgets everything and reads all of `world`; the next emit must be
    /// [`Translator::emit_full`].
    pub fn rebuild(&mut self, world: &World) {
        *self = Translator::new(self.config.clone());
        let changes = Changes {
            objects: world
                .ingresses
                .keys()
                .map(|key| ObjectRef {
                    kind: Kind::Ingress,
                    key: key.clone(),
                })
                .collect(),
            slice_services: BTreeSet::new(),
        };
        self.apply(world, &changes, true);
    }

    /// True when every kept contribution is one this translator renders
    /// exactly: no canary (merged across Ingresses), no route whose
    /// rendering differs between the http and https tables (an HTTPS
    /// redirect), no route whose policy adds clusters (external auth, default
    /// backend), no TLS passthrough and no client certificates. Otherwise the
    /// caller translates in full with
    /// [`translate`](super::translate), the reference, and this state only
    /// keeps up.
    pub fn plain(&self) -> bool {
        self.reads.values().all(|read| read.plain)
    }

    /// Brings the state up to `world`, which differs from the last one seen
    /// only by `changes` (no IngressClass change, no re-list).
    pub fn update(&mut self, world: &World, changes: &Changes) {
        self.apply(world, changes, false);
    }

    fn apply(&mut self, world: &World, changes: &Changes, fresh: bool) {
        let mut touched = Touched {
            global: fresh,
            ..Touched::default()
        };
        self.reread(world, changes, &mut touched);
        let owners = self.remerge(&touched);
        touched.owners.extend(owners);
        if touched.tls {
            self.retls(&mut touched);
        }
        self.resources(&touched.owners);
        self.clusters.slices_changed(&changes.slice_services);
    }
}

//! Turning the translator's state into a snapshot: a full one, or an edit of
//! the last one writing only what changed.
//!
//! Route tables are spliced: a `RouteConfiguration` with only `name` (field 1)
//! and `virtual_hosts` (field 2) set encodes as its name followed by each
//! virtual host as a length-delimited field 2, so the table's bytes are the
//! encoded name plus every host's kept bytes, without rendering or encoding
//! the unchanged hosts again (at 10,000 hosts, megabytes per change).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::Translator;
use crate::snapshot::{
    route_table, virtual_hosts_field, InconsistentSnapshot, ResourceType, Snapshot, SnapshotBuilder,
};
use crate::translate::render::{
    self,
    listener::{self, HTTPS},
};
use crate::translate::{Diagnostic, IngressResources};
use crate::world::{ObjectKey, World};

/// What one emit produced for the pipeline.
#[derive(Debug)]
pub struct Emitted {
    /// The snapshot, or why it is inconsistent; `None` when no resource
    /// changed (the last snapshot stands).
    pub snapshot: Option<Result<Snapshot, InconsistentSnapshot>>,
    /// Every diagnostic, when they changed.
    pub diagnostics: Option<Vec<Diagnostic>>,
    /// The resources of every served Ingress, when they changed.
    pub ingresses: Option<Arc<BTreeMap<ObjectKey, IngressResources>>>,
}

// === impl Translator ===

impl Translator {
    /// The whole snapshot, sharing unchanged resources with `previous`. Call
    /// right after [`Translator::rebuild`].
    pub fn emit_full(&mut self, world: &World, previous: Option<&Snapshot>) -> Emitted {
        let changes = self.clusters.take_changes(world, &mut self.tally);
        self.dirty = super::Dirty::default();
        let mut builder = Snapshot::builder().listener(listener::http_listener(&self.config));
        if let Some(https) = &self.tls.listener {
            builder = builder.listener(https.clone());
        }
        builder = self
            .routes(builder)
            .clusters_from(changes.clusters, |t| render::cluster::cluster(&t))
            .load_assignments(changes.endpoints);
        for secret in self.tls.secrets.values() {
            builder = builder.secret(secret.clone());
        }
        let snapshot = builder.build().map(|s| match previous {
            Some(previous) => s.share_with(previous),
            None => s,
        });
        Emitted {
            snapshot: Some(snapshot),
            diagnostics: Some(
                self.tally
                    .take_changed()
                    .unwrap_or_else(|| self.tally.all()),
            ),
            ingresses: Some(Arc::clone(&self.ingresses)),
        }
    }

    /// An edit of `base` (the snapshot of the state before the last
    /// [`Translator::update`]) writing only what changed.
    pub fn emit(&mut self, world: &World, base: &Snapshot) -> Emitted {
        let changes = self.clusters.take_changes(world, &mut self.tally);
        let dirty = std::mem::take(&mut self.dirty);
        let ingresses = dirty.ingresses.then(|| Arc::clone(&self.ingresses));
        let diagnostics = self.tally.take_changed();
        let unchanged = !dirty.routes
            && !dirty.https_listener
            && dirty.secrets.is_empty()
            && changes.clusters.is_empty()
            && changes.endpoints.is_empty()
            && changes.removed.is_empty();
        if unchanged {
            return Emitted {
                snapshot: None,
                diagnostics,
                ingresses,
            };
        }
        let mut builder = base.edit();
        builder = builder
            .clusters_from(changes.clusters, |t| render::cluster::cluster(&t))
            .load_assignments(changes.endpoints);
        for name in &changes.removed {
            builder = builder
                .remove(ResourceType::Cluster, name)
                .remove(ResourceType::Endpoints, name);
        }
        if dirty.https_listener {
            builder = match &self.tls.listener {
                Some(https) => builder.listener(https.clone()),
                None => builder
                    .remove(ResourceType::Listener, HTTPS)
                    .remove(ResourceType::Route, HTTPS),
            };
        }
        for name in &dirty.secrets {
            builder = match self.tls.secrets.get(name) {
                Some(secret) => builder.secret(secret.clone()),
                None => builder.remove(ResourceType::Secret, name),
            };
        }
        if dirty.routes {
            builder = self.routes(builder);
        }
        Emitted {
            snapshot: Some(builder.build()),
            diagnostics,
            ingresses,
        }
    }

    /// Adds every route table, spliced from the kept virtual hosts.
    fn routes(&mut self, mut builder: SnapshotBuilder) -> SnapshotBuilder {
        let units = self.hosts.values().chain([&self.catch_all]);
        let encoded: Vec<&[u8]> = units.map(|u| u.encoded.as_slice()).collect();
        let body = virtual_hosts_field(&encoded);
        let tables = self.tables();
        let clusters = self.clusters.names();
        for name in tables {
            let value = route_table(name, &body);
            builder = builder.encoded_route((*name).to_owned(), value, clusters.to_vec());
        }
        builder
    }
}

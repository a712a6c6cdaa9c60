//! World lookups shared by every object read in one translation.
//!
//! Many paths name the same Service port (an Ingress usually sends several paths
//! to one Service), and several Ingresses may name one TLS Secret. Resolving a
//! Service port builds the cluster name and copies the Service key, and loading a
//! Secret parses its PEM; at 20,000 paths that is a good share of a full rebuild.
//! Each answer is remembered for the rest of the translation, and every reference
//! gets the same shared value. Only lookups go through the maps (never
//! iteration), so their order cannot reach the output.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::secret::{self, SecretError};
use super::service::{resolve_service, ServicePortRef, Unavailable};
use crate::translate::model::{Certificate, ClusterTarget};
use crate::world::{Kind, ObjectKey, ObjectRef, World};

/// Memoized Service and Secret lookups over one world.
pub struct Lookups<'w> {
    world: &'w World,
    services: HashMap<ServicePortRef<'w>, Result<Arc<ClusterTarget>, Unavailable>>,
    secrets: BTreeMap<ObjectKey, Result<Arc<Certificate>, SecretError>>,
    /// Every object looked up since the last [`Lookups::take_visited`], when
    /// recording: what the incremental translator re-reads an object after.
    visited: Option<Vec<ObjectRef>>,
}

// === impl Lookups ===

impl<'w> Lookups<'w> {
    /// Lookups over `world`.
    pub fn new(world: &'w World) -> Self {
        Lookups {
            world,
            services: HashMap::new(),
            secrets: BTreeMap::new(),
            visited: None,
        }
    }

    /// Lookups over `world` that also record which objects each read looks up.
    pub fn recording(world: &'w World) -> Self {
        Lookups {
            visited: Some(Vec::new()),
            ..Lookups::new(world)
        }
    }

    /// The objects looked up since the last call (empty unless recording),
    /// whether they exist or not: a read depends on them.
    pub fn take_visited(&mut self) -> Vec<ObjectRef> {
        self.visited
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    fn visit(&mut self, kind: Kind, key: impl FnOnce() -> ObjectKey) {
        if let Some(visited) = &mut self.visited {
            visited.push(ObjectRef { kind, key: key() });
        }
    }

    /// [`resolve_service`] of `port`, computed once per distinct reference.
    pub fn service(&mut self, port: ServicePortRef<'w>) -> Result<Arc<ClusterTarget>, Unavailable> {
        self.visit(Kind::Service, || {
            ObjectKey::new(port.namespace, port.service)
        });
        let world = self.world;
        self.services
            .entry(port)
            .or_insert_with(|| resolve_service(world, port).map(Arc::new))
            .clone()
    }

    /// The Service `key` on its first TCP port, as ingress-nginx serves a
    /// Service named without a port (the `default-backend` annotation).
    pub fn service_first_port(
        &mut self,
        key: &ObjectKey,
    ) -> Result<Arc<ClusterTarget>, Unavailable> {
        let world = self.world;
        let Some((stored, service)) = world.services.get_key_value(key) else {
            self.visit(Kind::Service, || key.clone());
            return Err(Unavailable::ServiceMissing(key.clone()));
        };
        let number = service
            .spec
            .iter()
            .flat_map(|s| s.ports.iter().flatten())
            .find(|p| p.protocol.as_deref().is_none_or(|proto| proto == "TCP"))
            .map(|p| p.port);
        self.service(ServicePortRef {
            namespace: &stored.namespace,
            service: &stored.name,
            number,
            name: None,
        })
    }

    /// The Secret `key` as stored, for annotations that read other kinds of
    /// Secret (e.g. basic-auth users).
    pub fn raw_secret(&self, key: &ObjectKey) -> Option<&'w k8s_openapi::api::core::v1::Secret> {
        self.world.secrets.get(key).map(|s| s.as_ref())
    }

    /// [`secret::load_ca`] of the Secret `key` (its `ca.crt`).
    pub fn ca_bundle(&mut self, key: &ObjectKey) -> Result<Vec<u8>, SecretError> {
        self.visit(Kind::Secret, || key.clone());
        secret::load_ca(self.world, key)
    }

    /// The cluster IP of the Service `key`, if it has one (not headless).
    pub fn cluster_ip(&mut self, key: &ObjectKey) -> Option<std::net::IpAddr> {
        self.visit(Kind::Service, || key.clone());
        let spec = self.world.services.get(key)?.spec.as_ref()?;
        spec.cluster_ip.as_deref()?.parse().ok()
    }

    /// [`secret::load`] of the TLS Secret `key`, computed once per Secret.
    pub fn certificate(&mut self, key: &ObjectKey) -> Result<Arc<Certificate>, SecretError> {
        self.visit(Kind::Secret, || key.clone());
        if let Some(loaded) = self.secrets.get(key) {
            return loaded.clone();
        }
        let loaded = secret::load(self.world, key).map(Arc::new);
        self.secrets.insert(key.clone(), loaded.clone());
        loaded
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;
    use crate::world::Object;

    fn to(
        service: &'static str,
        number: Option<i32>,
        name: Option<&'static str>,
    ) -> ServicePortRef<'static> {
        ServicePortRef {
            namespace: "ns",
            service,
            number,
            name,
        }
    }

    #[test]
    fn answers_like_resolve_and_shares_targets() {
        let mut world = World::new();
        world.upsert(Object::Service(Service {
            metadata: ObjectMeta {
                namespace: Some("ns".to_owned()),
                name: Some("web".to_owned()),
                ..ObjectMeta::default()
            },
            spec: Some(ServiceSpec {
                ports: Some(vec![ServicePort {
                    name: Some("http".to_owned()),
                    port: 80,
                    ..ServicePort::default()
                }]),
                ..ServiceSpec::default()
            }),
            status: None,
        }));
        let refs = [
            to("web", Some(80), None),
            to("web", None, Some("http")),
            to("web", Some(81), None),
            to("nope", Some(80), None),
            to("web", None, None),
        ];
        let mut lookups = Lookups::new(&world);
        for port in refs {
            for _ in 0..2 {
                assert_eq!(
                    lookups.service(port).map(|t| (*t).clone()),
                    resolve_service(&world, port)
                );
            }
        }
        let (Ok(a), Ok(b)) = (lookups.service(refs[0]), lookups.service(refs[0])) else {
            panic!("web:80 resolves to a cluster");
        };
        assert!(Arc::ptr_eq(&a, &b), "one target per distinct reference");
    }

    #[test]
    fn a_missing_secret_is_reported_by_name() {
        let world = World::new();
        let mut lookups = Lookups::new(&world);
        let key = ObjectKey::new("ns", "tls");
        assert_eq!(
            lookups.certificate(&key),
            Err(SecretError::Missing(key.clone()))
        );
    }
}

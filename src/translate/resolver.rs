//! Backend resolution, once per distinct backend in a translation.
//!
//! Many paths name the same Service port (an Ingress usually sends several paths
//! to one Service). Resolving it builds the cluster name and copies the Service
//! key; at 20,000 paths that is a good share of a full rebuild. The first
//! resolution is remembered for the rest of the translation, and every path gets
//! the same shared [`ClusterTarget`].

use std::collections::HashMap;

use k8s_openapi::api::networking::v1::IngressBackend;

use super::backend::{self, Backend, BackendError, Unavailable};
use crate::world::World;

/// A Service backend as written: namespace, Service, port number, port name.
type Key<'w> = (&'w str, &'w str, Option<i32>, Option<&'w str>);

/// What [`backend::resolve`] answers.
type Resolved = Result<(Backend, Option<Unavailable>), BackendError>;

/// Memoizes [`backend::resolve`] over one world. Only lookups go through the
/// map (never iteration), so its order cannot reach the output.
pub(crate) struct Resolver<'w> {
    world: &'w World,
    cache: HashMap<Key<'w>, Resolved>,
}

impl<'w> Resolver<'w> {
    /// A resolver over `world`.
    pub(crate) fn new(world: &'w World) -> Self {
        Resolver {
            world,
            cache: HashMap::new(),
        }
    }

    /// [`backend::resolve`] of `backend` in `namespace`, computed once per
    /// distinct Service backend.
    pub(crate) fn resolve(&mut self, namespace: &'w str, backend: &'w IngressBackend) -> Resolved {
        let Some(service) = backend
            .service
            .as_ref()
            .filter(|_| backend.resource.is_none())
        else {
            return backend::resolve(self.world, namespace, backend);
        };
        let port = service.port.as_ref();
        let key = (
            namespace,
            service.name.as_str(),
            port.and_then(|p| p.number),
            port.and_then(|p| p.name.as_deref()),
        );
        let world = self.world;
        self.cache
            .entry(key)
            .or_insert_with(|| backend::resolve(world, namespace, backend))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
    use k8s_openapi::api::networking::v1::{IngressServiceBackend, ServiceBackendPort};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;
    use crate::world::Object;

    fn to(service: &str, number: Option<i32>, name: Option<&str>) -> IngressBackend {
        IngressBackend {
            service: Some(IngressServiceBackend {
                name: service.to_owned(),
                port: Some(ServiceBackendPort {
                    number,
                    name: name.map(str::to_owned),
                }),
            }),
            resource: None,
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
        let backends = [
            to("web", Some(80), None),
            to("web", None, Some("http")),
            to("web", Some(81), None),
            to("nope", Some(80), None),
            IngressBackend::default(),
        ];
        let mut resolver = Resolver::new(&world);
        for backend in &backends {
            for _ in 0..2 {
                assert_eq!(
                    resolver.resolve("ns", backend),
                    backend::resolve(&world, "ns", backend)
                );
            }
        }
        let (Ok((Backend::Cluster(a), _)), Ok((Backend::Cluster(b), _))) = (
            resolver.resolve("ns", &backends[0]),
            resolver.resolve("ns", &backends[0]),
        ) else {
            panic!("web:80 resolves to a cluster");
        };
        assert!(Arc::ptr_eq(&a, &b), "one target per distinct backend");
    }
}

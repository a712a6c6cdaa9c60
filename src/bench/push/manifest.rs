//! The objects of one probe, typed once for both sinks: a Service without a
//! selector, an EndpointSlice naming the probe's backend, and the Ingress
//! routing the probe's host to it. The file sink writes them as YAML (JSON is
//! YAML), the Kubernetes sink creates them through the API.

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::probe::{Probe, MANAGED_BY, MANAGED_BY_LABEL, RUN_LABEL};

/// Annotation that changes on every update of the churn phase.
const GENERATION_ANNOTATION: &str = "interlock.dev/bench-generation";

/// Where a probe's traffic goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backend {
    /// Endpoint addresses (ready).
    pub addresses: Vec<IpAddr>,
    /// Their port.
    pub port: u16,
}

/// A probe's three objects.
#[derive(Clone, Debug)]
pub struct ProbeObjects {
    /// Selector-less, named after the probe.
    pub service: Service,
    /// The backend's endpoints for that Service.
    pub endpoints: EndpointSlice,
    /// The probe's route.
    pub ingress: Ingress,
}

/// The objects of `probe` at `generation` (1 when created; the churn phase's
/// update is 2 and adds a second path, so the route table really changes).
pub fn probe_objects(
    probe: &Probe,
    backend: &Backend,
    class: &str,
    generation: u32,
) -> ProbeObjects {
    let name = probe.name();
    let meta = |name: &str| ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(probe.namespace.clone()),
        labels: Some(labels(probe)),
        ..ObjectMeta::default()
    };
    let service = Service {
        metadata: meta(&name),
        spec: Some(ServiceSpec {
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: i32::from(backend.port),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    };
    let mut slice_meta = meta(&format!("{name}-1"));
    slice_meta
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert("kubernetes.io/service-name".into(), name.clone());
    let endpoints = EndpointSlice {
        metadata: slice_meta,
        address_type: if backend.addresses.iter().all(IpAddr::is_ipv6)
            && !backend.addresses.is_empty()
        {
            "IPv6".into()
        } else {
            "IPv4".into()
        },
        endpoints: backend
            .addresses
            .iter()
            .map(|a| Endpoint {
                addresses: vec![a.to_string()],
                conditions: Some(EndpointConditions {
                    ready: Some(true),
                    ..EndpointConditions::default()
                }),
                ..Endpoint::default()
            })
            .collect(),
        ports: Some(vec![EndpointPort {
            name: Some("http".into()),
            port: Some(i32::from(backend.port)),
            ..EndpointPort::default()
        }]),
    };
    let path = |path: &str| HTTPIngressPath {
        path: Some(path.to_owned()),
        path_type: "Prefix".into(),
        backend: IngressBackend {
            service: Some(IngressServiceBackend {
                name: name.clone(),
                port: Some(ServiceBackendPort {
                    name: Some("http".into()),
                    number: None,
                }),
            }),
            resource: None,
        },
    };
    let mut paths = vec![path("/")];
    if generation > 1 {
        paths.push(path(&format!("/generation-{generation}")));
    }
    let mut ingress_meta = meta(&name);
    ingress_meta.annotations = Some(BTreeMap::from([(
        GENERATION_ANNOTATION.to_owned(),
        generation.to_string(),
    )]));
    let ingress = Ingress {
        metadata: ingress_meta,
        spec: Some(IngressSpec {
            ingress_class_name: Some(class.to_owned()),
            rules: Some(vec![IngressRule {
                host: Some(probe.host()),
                http: Some(HTTPIngressRuleValue { paths }),
            }]),
            ..IngressSpec::default()
        }),
        status: None,
    };
    ProbeObjects {
        service,
        endpoints,
        ingress,
    }
}

fn labels(probe: &Probe) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY_LABEL.to_owned(), MANAGED_BY.to_owned()),
        (RUN_LABEL.to_owned(), probe.run.clone()),
    ])
}

// === impl ProbeObjects ===

impl ProbeObjects {
    /// A multi-document YAML file (each document in JSON, which is YAML).
    pub fn to_yaml(&self) -> Result<String, serde_json::Error> {
        Ok(format!(
            "{}\n---\n{}\n---\n{}\n",
            serde_json::to_string(&self.service)?,
            serde_json::to_string(&self.endpoints)?,
            serde_json::to_string(&self.ingress)?
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::file::parse_manifests;
    use crate::world::Object;

    #[test]
    fn probe_file_parses_as_the_file_source_reads_it() {
        let probe = Probe::new("r1", "bench", 3);
        let backend = Backend {
            addresses: vec!["127.0.0.1".parse().unwrap()],
            port: 8080,
        };
        let yaml = probe_objects(&probe, &backend, "interlock", 2)
            .to_yaml()
            .unwrap();
        let objects = parse_manifests(&yaml).unwrap();
        assert_eq!(objects.len(), 3, "{yaml}");
        let ingress = objects.iter().find_map(|o| match o {
            Object::Ingress(i) => Some(i),
            _ => None,
        });
        let rules = ingress
            .and_then(|i| i.spec.as_ref()?.rules.clone())
            .unwrap();
        assert_eq!(rules[0].host.as_deref(), Some("push-r1-3.bench.invalid"));
        assert_eq!(rules[0].http.as_ref().unwrap().paths.len(), 2);
    }
}

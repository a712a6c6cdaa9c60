//! What an object names in other objects: an Ingress's Services and TLS
//! (and basic-auth and upstream-CA) Secrets. NACK containment retries a quarantined Ingress when one of them
//! changes; the pipeline keeps the data of only the Secrets some Ingress names.

use k8s_openapi::api::networking::v1::{Ingress, IngressBackend};

use super::object::{Kind, ObjectKey, ObjectRef};
use super::stored::Stored;

/// What an object refers to that can make Envoy reject its config: an
/// Ingress's Services and TLS Secrets, in its namespace.
pub fn refers_to(object: Option<&Stored>) -> Vec<ObjectRef> {
    let Some(Stored::Ingress(ingress)) = object else {
        return Vec::new();
    };
    ingress_refs(ingress)
}

/// What `ingress` names: its Services and TLS Secrets, in its namespace, and
/// the Secrets its annotations name ([`annotation_secrets`]).
pub fn ingress_refs(ingress: &Ingress) -> Vec<ObjectRef> {
    let namespace = ingress
        .metadata
        .namespace
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "default".to_owned());
    let Some(spec) = &ingress.spec else {
        return Vec::new();
    };
    let of = |kind: Kind, name: &str| ObjectRef {
        kind,
        key: ObjectKey::new(namespace.clone(), name),
    };
    let service = |b: &IngressBackend| b.service.as_ref().map(|s| of(Kind::Service, &s.name));
    let mut refs: Vec<ObjectRef> = spec.default_backend.iter().filter_map(service).collect();
    for rule in spec.rules.iter().flatten() {
        for path in rule.http.iter().flat_map(|h| &h.paths) {
            refs.extend(service(&path.backend));
        }
    }
    for tls in spec.tls.iter().flatten() {
        refs.extend(tls.secret_name.as_deref().map(|s| of(Kind::Secret, s)));
    }
    refs.extend(
        annotation_secrets(ingress)
            .into_iter()
            .map(|key| ObjectRef {
                kind: Kind::Secret,
                key,
            }),
    );
    refs.sort();
    refs.dedup();
    refs
}

/// The Secrets `ingress`'s ingress-nginx annotations name, under any prefix:
/// the basic-auth `<prefix>/auth-secret` and the upstream CA
/// `<prefix>/proxy-ssl-secret` (`name` or `<own namespace>/name`), and the
/// client-certificate CA `<prefix>/auth-tls-secret` (`namespace/name`,
/// another namespace allowed as in ingress-nginx, or `name` in its own). Of
/// any type (often Opaque), so the Kubernetes source watches them by name.
pub fn annotation_secrets(ingress: &Ingress) -> Vec<ObjectKey> {
    let namespace = ingress
        .metadata
        .namespace
        .as_deref()
        .filter(|n| !n.is_empty())
        .unwrap_or("default");
    let mut keys = Vec::new();
    for (name, value) in ingress.metadata.annotations.iter().flatten() {
        let value = value.trim();
        let key = if name.ends_with("/auth-secret") || name.ends_with("/proxy-ssl-secret") {
            match value.split_once('/') {
                None => ObjectKey::new(namespace, value),
                Some((ns, secret)) if ns == namespace => ObjectKey::new(namespace, secret),
                Some(_) => continue,
            }
        } else if name.ends_with("/auth-tls-secret") {
            match value.split_once('/') {
                None => ObjectKey::new(namespace, value),
                Some((ns, secret)) => ObjectKey::new(ns, secret),
            }
        } else {
            continue;
        };
        if !key.namespace.is_empty() && !key.name.is_empty() {
            keys.push(key);
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_and_proxy_ssl_secrets_of_annotations_are_referenced() {
        let ingress: Ingress = serde_json::from_value(serde_json::json!({
            "metadata": {"namespace": "ns", "name": "i", "annotations": {
                "nginx.ingress.kubernetes.io/auth-secret": "users",
                "custom.prefix/auth-secret": "ns/more",
                "other/auth-secret": "elsewhere/not-ours",
                "nginx.ingress.kubernetes.io/proxy-ssl-secret": "ns/upstream-ca",
            }},
            "spec": {},
        }))
        .unwrap_or_else(|e| panic!("bad fixture: {e}"));
        let names: Vec<String> = ingress_refs(&ingress)
            .into_iter()
            .map(|r| r.key.name)
            .collect();
        assert_eq!(names, ["more", "upstream-ca", "users"]);
    }

    #[test]
    fn client_certificate_cas_of_annotations_are_referenced_in_any_namespace() {
        let ingress: Ingress = serde_json::from_value(serde_json::json!({
            "metadata": {"namespace": "ns", "name": "i", "annotations": {
                "nginx.ingress.kubernetes.io/auth-tls-secret": "certs/ca",
                "custom.prefix/auth-tls-secret": "own",
            }},
            "spec": {},
        }))
        .unwrap_or_else(|e| panic!("bad fixture: {e}"));
        let keys: Vec<String> = ingress_refs(&ingress)
            .into_iter()
            .map(|r| r.key.to_string())
            .collect();
        assert_eq!(keys, ["certs/ca", "ns/own"]);
    }
}

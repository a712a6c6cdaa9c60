//! Kubernetes objects as the API server holds them (JSON), for tests that feed
//! Interlock through the fake API server.

use std::net::SocketAddr;

use serde_json::{json, Value};

/// An Ingress of class `class` routing `host` `/` to Service `service` port 80.
pub fn ingress(ns: &str, name: &str, class: &str, host: &str, service: &str) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "namespace": ns, "name": name,
            "labels": { "app": name },
            "annotations": { "example.com/owner": "team-a" },
        },
        "spec": {
            "ingressClassName": class,
            "rules": [{ "host": host, "http": { "paths": [{
                "path": "/", "pathType": "Prefix",
                "backend": { "service": { "name": service, "port": { "number": 80 } } },
            }] } }],
        },
    })
}

/// The IngressClass `interlock` of Interlock's default controller name.
pub fn ingress_class() -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": { "name": "interlock" },
        "spec": { "controller": "interlock.dev/ingress-controller" },
    })
}

/// A ClusterIP Service with port 80 (named `http`) to target port 8080.
pub fn service(ns: &str, name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": { "namespace": ns, "name": name },
        "spec": { "type": "ClusterIP", "ports": [{ "name": "http", "port": 80, "targetPort": 8080 }] },
    })
}

/// The EndpointSlice of Service `service`: every address in `backends`, all
/// ready, port `http` taken from the first backend (all must share it).
pub fn endpoint_slice(ns: &str, service: &str, backends: &[SocketAddr]) -> Value {
    let port = backends.first().map_or(8080, SocketAddr::port);
    let name = format!("{service}-abcde");
    slice(ns, service, &name, backends, ("http", port))
}

/// An EndpointSlice `name` of `service`: every address of `backends`, ready,
/// with one port (name, number).
fn slice(ns: &str, service: &str, name: &str, backends: &[SocketAddr], port: (&str, u16)) -> Value {
    let endpoints: Vec<Value> = backends
        .iter()
        .map(|b| json!({ "addresses": [b.ip().to_string()], "conditions": { "ready": true } }))
        .collect();
    json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "namespace": ns, "name": name,
            "labels": { "kubernetes.io/service-name": service },
        },
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{ "name": port.0, "port": port.1, "protocol": "TCP" }],
    })
}

/// `status.loadBalancer.ingress` of an object, `Null` when it has none.
pub fn lb_addresses(object: &Value) -> Value {
    object["status"]["loadBalancer"]["ingress"].clone()
}

/// The object without what the API server or a controller changes on a status
/// write (resourceVersion, managedFields, status): what must stay untouched.
pub fn without_status(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(o) = object.as_object_mut() {
        o.remove("status");
    }
    if let Some(meta) = object["metadata"].as_object_mut() {
        meta.remove("resourceVersion");
        meta.remove("managedFields");
        meta.remove("generation");
    }
    object
}

/// A `kubernetes.io/tls` Secret holding `cert` and `key` (PEM), base64 in
/// `data` as the API server stores it.
pub fn tls_secret(ns: &str, name: &str, cert: &str, key: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": { "namespace": ns, "name": name },
        "type": "kubernetes.io/tls",
        "data": { "tls.crt": base64(cert.as_bytes()), "tls.key": base64(key.as_bytes()) },
    })
}

/// Standard base64 with padding (what `data` of a Secret holds).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// An EndpointSlice of the Interlock Service `service` naming one replica's
/// admin listener (port `admin`), as Kubernetes lists the ready replicas.
pub fn peer_slice(ns: &str, service: &str, replica: &str, admin: SocketAddr) -> Value {
    let name = format!("{service}-{replica}");
    slice(ns, service, &name, &[admin], ("admin", admin.port()))
}

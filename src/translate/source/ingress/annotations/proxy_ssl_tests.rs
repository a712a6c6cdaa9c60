//! Tests of `proxy-ssl-*` on HTTPS and GRPCS backends: a Secret's CA in,
//! upstream TLS settings and verdicts out, no protobuf.

use std::time::{Duration, SystemTime};

use k8s_openapi::api::core::v1::Secret;
use serde_json::json;

use super::test_fixtures::{read_in, verdict};
use crate::translate::model::{TlsVersion, UpstreamSettings};
use crate::world::{Object, World};

/// A world holding the Secret `ns/ca` with a CA bundle (and a client
/// certificate when `client` is set).
fn ca_world(client: bool) -> (World, String) {
    let now = SystemTime::now();
    let ca = crate::certs::Issuer::new_ca(now, now + Duration::from_secs(3600))
        .unwrap_or_else(|e| panic!("test CA: {e}"));
    let pem = ca.cert_pem().to_owned();
    let mut data = json!({"ca.crt": pem});
    if client {
        data["tls.crt"] = json!(pem);
        data["tls.key"] = json!(ca.key_pem());
    }
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"namespace": "ns", "name": "ca"},
        "stringData": data,
    }))
    .unwrap_or_else(|e| panic!("bad fixture: {e}"));
    let mut world = World::new();
    world.upsert(Object::Secret(secret));
    (world, pem)
}

#[test]
fn proxy_ssl_verifies_with_the_secrets_ca_and_sets_sni() {
    let (world, pem) = ca_world(false);
    let a = read_in(
        &world,
        &[
            ("backend-protocol", "HTTPS"),
            ("proxy-ssl-secret", "ns/ca"),
            ("proxy-ssl-verify", "on"),
            ("proxy-ssl-name", "backend.internal"),
            ("proxy-ssl-server-name", "on"),
            ("proxy-ssl-protocols", "TLSv1.2 TLSv1.3"),
            ("proxy-ssl-ciphers", "ECDHE-RSA-AES128-GCM-SHA256:!aNULL"),
        ],
    );
    let tls = a
        .cluster
        .settings
        .tls
        .clone()
        .unwrap_or_else(|| panic!("TLS wanted"));
    assert_eq!(tls.sni.as_deref(), Some("backend.internal"));
    assert_eq!(tls.versions, Some((TlsVersion::V1_2, TlsVersion::V1_3)));
    assert_eq!(tls.ciphers, ["ECDHE-RSA-AES128-GCM-SHA256"]);
    let verify = tls.verify.unwrap_or_else(|| panic!("verification wanted"));
    assert_eq!(verify.trusted_ca, pem.as_bytes());
    assert_eq!(verify.depth, Some(1), "nginx's default depth");
    assert_eq!(verify.name.as_deref(), Some("backend.internal"));
    assert_eq!(verdict(&a, "proxy-ssl-secret"), "honoured");
    assert!(verdict(&a, "proxy-ssl-ciphers").starts_with("approximated"));
    assert_eq!(verdict(&a, "proxy-ssl-protocols"), "honoured");
}

#[test]
fn proxy_ssl_defaults_and_invalid_values_verify_nothing() {
    let (world, _) = ca_world(true);
    // verify off (the default): TLS without a check, SNI off.
    let off = read_in(
        &world,
        &[("backend-protocol", "GRPCS"), ("proxy-ssl-secret", "ca")],
    );
    let tls = off.cluster.settings.tls.clone().unwrap_or_default();
    assert_eq!(tls.verify, None);
    assert_eq!(tls.sni, None);
    assert!(!tls.sni_from_host);
    assert!(
        verdict(&off, "proxy-ssl-secret").starts_with("approximated"),
        "the client certificate is not sent"
    );
    // Server name on without a name: the request's Host.
    let host = read_in(
        &world,
        &[
            ("backend-protocol", "HTTPS"),
            ("proxy-ssl-secret", "ca"),
            ("proxy-ssl-server-name", "on"),
            ("proxy-ssl-verify", "maybe"),
            ("proxy-ssl-protocols", "TLSv9"),
            ("proxy-ssl-ciphers", "HIGH:!aNULL"),
        ],
    );
    let tls = host.cluster.settings.tls.clone().unwrap_or_default();
    assert!(tls.sni_from_host);
    assert_eq!(tls.verify, None);
    assert_eq!(tls.versions, None);
    assert!(tls.ciphers.is_empty());
    for (name, expected) in [
        ("proxy-ssl-verify", "invalid"),
        ("proxy-ssl-protocols", "invalid"),
        ("proxy-ssl-ciphers", "ignored"),
        ("proxy-ssl-server-name", "approximated"),
    ] {
        let got = verdict(&host, name);
        assert!(got.starts_with(expected), "{name}: {got}");
    }
    // A Secret without a usable CA: nothing verified, the rest ignored.
    let missing = read_in(
        &World::new(),
        &[
            ("backend-protocol", "HTTPS"),
            ("proxy-ssl-secret", "ca"),
            ("proxy-ssl-verify", "on"),
        ],
    );
    assert_eq!(
        missing.cluster.settings,
        UpstreamSettings {
            tls: Some(Box::default()),
            ..UpstreamSettings::default()
        }
    );
    assert!(verdict(&missing, "proxy-ssl-verify").starts_with("ignored"));
}

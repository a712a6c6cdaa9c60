//! Client certificates: `auth-tls-secret` (`namespace/name` of a Secret with
//! `ca.crt`), `auth-tls-verify-client` and `auth-tls-verify-depth`, applied to
//! the Ingress's TLS hosts by the TLS handshake of each host's filter chain;
//! and the headers telling the upstream about the certificate (with
//! `auth-tls-pass-certificate-to-upstream`, the certificate itself), per route.
//!
//! `auth-tls-error-page` redirects (302) a refused client instead of the 400;
//! `auth-tls-match-cn` is not implemented (reported with why). When `auth-tls-secret` names a Secret that is missing or has no
//! usable `ca.crt`, the routes answer 503 rather than serve without the client
//! check, as ingress-nginx denies such locations.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;

use super::reader::Reader;
use super::values;
use crate::translate::model::{
    CaBundle, ClientAuth, ClientCertificateHeaders, ClientVerify, Redirect, RedirectCode,
};
use crate::translate::source::Lookups;
use crate::world::ObjectKey;

/// The annotations that only matter with `auth-tls-secret`.
const OPTIONS: [&str; 5] = [
    "auth-tls-verify-client",
    "auth-tls-verify-depth",
    "auth-tls-pass-certificate-to-upstream",
    "auth-tls-error-page",
    "auth-tls-match-cn",
];

/// What the client-certificate annotations ask of the Ingress's TLS hosts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientAuthOptions {
    /// The setting, when one is asked for and usable (`off` asks for none).
    pub auth: Option<Arc<ClientAuth>>,
    /// The certificate headers the routes send upstream (with `auth`).
    pub headers: Option<ClientCertificateHeaders>,
    /// Set when client certificates are asked for but cannot be checked: the
    /// routes answer 503.
    pub refusal: Option<String>,
}

/// Reads the `auth-tls-*` annotations of the Ingress `key`.
pub fn read(r: &mut Reader<'_>, key: &ObjectKey, lookups: &mut Lookups<'_>) -> ClientAuthOptions {
    let Some(name) = r.get("auth-tls-secret") else {
        for option in OPTIONS {
            r.ignored(option, "auth-tls-secret is not set");
        }
        return ClientAuthOptions::default();
    };
    let error_page = r
        .parse("auth-tls-error-page", super::redirect::parse_url)
        .map(|page| Redirect {
            code: RedirectCode::Found,
            ..page
        });
    r.honoured("auth-tls-error-page");
    r.ignored(
        "auth-tls-match-cn",
        "not implemented: Envoy matches subject alternative names, not the subject's CN",
    );
    let verify = match r.get("auth-tls-verify-client") {
        None | Some("on") => Some(ClientVerify::On),
        Some("optional") => Some(ClientVerify::Optional),
        Some("optional_no_ca") => Some(ClientVerify::OptionalNoCa),
        Some("off") => None,
        Some(other) => {
            r.invalid(
                "auth-tls-verify-client",
                format!("{other:?} is not on, off, optional or optional_no_ca; on is used"),
            );
            Some(ClientVerify::On)
        }
    };
    r.honoured("auth-tls-verify-client");
    let depth = r.parse("auth-tls-verify-depth", values::count).unwrap_or(1);
    r.honoured("auth-tls-verify-depth");
    let certificate = r
        .parse("auth-tls-pass-certificate-to-upstream", values::boolean)
        .unwrap_or(false);
    r.honoured("auth-tls-pass-certificate-to-upstream");
    let Some(verify) = verify else {
        r.honoured("auth-tls-secret");
        return ClientAuthOptions::default();
    };
    let refuse = |why: String| ClientAuthOptions {
        auth: None,
        headers: None,
        refusal: Some(format!("auth-tls: {why}; the route answers 503")),
    };
    let secret_key = match name.split_once('/') {
        Some((ns, n)) if !ns.is_empty() && !n.is_empty() && !n.contains('/') => {
            ObjectKey::new(ns, n)
        }
        None if !name.is_empty() => ObjectKey::new(key.namespace.clone(), name),
        _ => {
            r.invalid("auth-tls-secret", format!("{name:?} is not namespace/name"));
            return refuse(format!("auth-tls-secret {name:?} is not namespace/name"));
        }
    };
    let Some(secret) = lookups.raw_secret(&secret_key) else {
        r.invalid("auth-tls-secret", format!("Secret {secret_key} not found"));
        return refuse(format!("Secret {secret_key} not found"));
    };
    let Some(certificates) = ca_certificates(secret) else {
        r.invalid(
            "auth-tls-secret",
            format!("Secret {secret_key} has no PEM certificate under ca.crt"),
        );
        return refuse(format!("Secret {secret_key} has no ca.crt"));
    };
    r.approximated(
        "auth-tls-secret",
        "the upstream gets ssl-client-subject-dn and ssl-client-issuer-dn but no ssl-client-verify",
    );
    ClientAuthOptions {
        auth: Some(Arc::new(ClientAuth {
            ca: Arc::new(CaBundle {
                name: format!("ca:{secret_key}"),
                certificates,
            }),
            verify,
            depth,
            error_page,
        })),
        headers: Some(ClientCertificateHeaders { certificate }),
        refusal: None,
    }
}

/// The PEM certificates under `ca.crt`, if there is at least one.
fn ca_certificates(secret: &Secret) -> Option<Vec<u8>> {
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get("ca.crt"))
        .map(|b| b.0.clone())
        .or_else(|| {
            let text = secret.string_data.as_ref()?.get("ca.crt")?;
            Some(text.as_bytes().to_vec())
        })?;
    let text = std::str::from_utf8(&bytes).ok()?;
    text.contains("-----BEGIN CERTIFICATE-----")
        .then_some(bytes)
}

//! `proxy-ssl-*`: TLS to HTTPS and GRPCS backends.
//!
//! As in ingress-nginx they apply only with `proxy-ssl-secret` (`name` or
//! `<namespace>/name`, the Ingress's own namespace): without it the backend
//! is reached over TLS with no SNI and no verification (nginx's defaults).
//!
//! - `proxy-ssl-secret`: its `ca.crt` verifies the backend (inline trusted
//!   CA on the cluster: public data only). Its `tls.crt`/`tls.key` client
//!   certificate is not sent (approximated: sending it needs an SDS secret
//!   per cluster, scoped to gateways like listener secrets).
//! - `proxy-ssl-verify` `on`/`off` (default off), `proxy-ssl-verify-depth`
//!   (default 1, as nginx) → `max_verify_depth`.
//! - `proxy-ssl-name` → the name the certificate must carry (DNS SAN) and,
//!   with `proxy-ssl-server-name: on`, the SNI. Without a name, SNI is the
//!   request's `Host` (`auto_host_sni`; nginx would send its upstream block's
//!   name, `upstream_balancer`).
//! - `proxy-ssl-protocols` → the lowest and highest listed TLS version.
//! - `proxy-ssl-ciphers` → `cipher_suites`, for named suites BoringSSL knows
//!   (OpenSSL cipher-string operators and aliases are dropped).

use super::reader::Reader;
use crate::translate::model::{TlsVersion, UpstreamTls, UpstreamVerify};
use crate::translate::source::Lookups;
use crate::world::ObjectKey;

/// Every `proxy-ssl-*` annotation but the Secret.
const OPTIONS: [&str; 6] = [
    "proxy-ssl-verify",
    "proxy-ssl-verify-depth",
    "proxy-ssl-name",
    "proxy-ssl-server-name",
    "proxy-ssl-protocols",
    "proxy-ssl-ciphers",
];

/// nginx's `proxy_ssl_verify_depth` default in ingress-nginx.
const DEFAULT_DEPTH: u32 = 1;

/// Named cipher suites BoringSSL accepts (TLS ≤ 1.2; TLS 1.3's are fixed).
const KNOWN_CIPHERS: [&str; 14] = [
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
    "ECDHE-ECDSA-AES128-SHA",
    "ECDHE-RSA-AES128-SHA",
    "ECDHE-ECDSA-AES256-SHA",
    "ECDHE-RSA-AES256-SHA",
    "AES128-GCM-SHA256",
    "AES256-GCM-SHA384",
    "AES128-SHA",
    "AES256-SHA",
];

/// The TLS settings for a backend whose protocol asks for TLS (`tls` is
/// `Some`); the annotations are ignored otherwise.
pub fn read(
    r: &mut Reader<'_>,
    key: &ObjectKey,
    lookups: &mut Lookups<'_>,
    tls: Option<UpstreamTls>,
) -> Option<UpstreamTls> {
    let Some(mut tls) = tls else {
        for name in OPTIONS.iter().chain(&["proxy-ssl-secret"]) {
            r.ignored(name, "backend-protocol is not HTTPS or GRPCS");
        }
        return None;
    };
    let Some(ca) = ca(r, key, lookups) else {
        for name in OPTIONS {
            r.ignored(
                name,
                "proxy-ssl-secret is not usable (ingress-nginx applies proxy-ssl-* only with it)",
            );
        }
        return Some(tls);
    };
    let name = r.parse("proxy-ssl-name", |v| {
        if !v.is_empty()
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.*".contains(&b))
        {
            Ok(v.to_owned())
        } else {
            Err(format!("{v:?} is not a host name"))
        }
    });
    r.honoured("proxy-ssl-name");
    match r.get("proxy-ssl-server-name") {
        None | Some("off") => r.honoured("proxy-ssl-server-name"),
        Some("on") => match &name {
            Some(name) => {
                tls.sni = Some(name.clone());
                r.honoured("proxy-ssl-server-name");
            }
            None => {
                tls.sni_from_host = true;
                r.approximated(
                    "proxy-ssl-server-name",
                    "without proxy-ssl-name the SNI is the request's Host (nginx sends \"upstream_balancer\")",
                );
            }
        },
        Some(other) => r.invalid(
            "proxy-ssl-server-name",
            format!("{other:?} is not on or off; no SNI"),
        ),
    }
    let depth = r.parse("proxy-ssl-verify-depth", |v| {
        v.parse::<u32>()
            .map_err(|_| format!("{v:?} is not a whole number"))
    });
    let verify = match r.get("proxy-ssl-verify") {
        None | Some("off") => {
            r.honoured("proxy-ssl-verify");
            r.ignored("proxy-ssl-verify-depth", "proxy-ssl-verify is off");
            false
        }
        Some("on") => {
            r.honoured("proxy-ssl-verify");
            r.honoured("proxy-ssl-verify-depth");
            true
        }
        Some(other) => {
            r.invalid(
                "proxy-ssl-verify",
                format!("{other:?} is not on or off; not verified"),
            );
            r.ignored("proxy-ssl-verify-depth", "proxy-ssl-verify is invalid");
            false
        }
    };
    if verify {
        tls.verify = Some(UpstreamVerify {
            trusted_ca: ca,
            depth: Some(depth.unwrap_or(DEFAULT_DEPTH)),
            name,
        });
    }
    tls.versions = versions(r);
    tls.ciphers = ciphers(r);
    Some(tls)
}

/// The CA bundle of `proxy-ssl-secret`; `None` (with the verdict) when it is
/// absent or unusable.
fn ca(r: &mut Reader<'_>, key: &ObjectKey, lookups: &mut Lookups<'_>) -> Option<Vec<u8>> {
    let value = r.get("proxy-ssl-secret")?;
    let secret = match value.split_once('/') {
        None => value,
        Some((ns, name)) if ns == key.namespace => name,
        Some(_) => {
            r.invalid(
                "proxy-ssl-secret",
                "a Secret of another namespace is not allowed; ignored",
            );
            return None;
        }
    };
    let secret_key = ObjectKey::new(key.namespace.clone(), secret);
    match lookups.ca_bundle(&secret_key) {
        Ok(ca) => {
            let has_client_certificate = lookups.raw_secret(&secret_key).is_some_and(|s| {
                s.data.as_ref().is_some_and(|d| d.contains_key("tls.crt"))
                    || s.string_data
                        .as_ref()
                        .is_some_and(|d| d.contains_key("tls.crt"))
            });
            if has_client_certificate {
                r.approximated(
                    "proxy-ssl-secret",
                    "ca.crt verifies the backend; the client certificate (tls.crt/tls.key) is not sent",
                );
            } else {
                r.honoured("proxy-ssl-secret");
            }
            Some(ca)
        }
        Err(e) => {
            r.invalid("proxy-ssl-secret", format!("{e}; ignored"));
            None
        }
    }
}

/// `proxy-ssl-protocols`: the lowest and highest TLS version listed.
fn versions(r: &mut Reader<'_>) -> Option<(TlsVersion, TlsVersion)> {
    let value = r.get("proxy-ssl-protocols")?;
    let mut listed = Vec::new();
    let mut dropped = Vec::new();
    for token in value.split_whitespace() {
        match token {
            "TLSv1" => listed.push(TlsVersion::V1_0),
            "TLSv1.1" => listed.push(TlsVersion::V1_1),
            "TLSv1.2" => listed.push(TlsVersion::V1_2),
            "TLSv1.3" => listed.push(TlsVersion::V1_3),
            "SSLv2" | "SSLv3" => dropped.push(token),
            other => {
                r.invalid(
                    "proxy-ssl-protocols",
                    format!("{other:?} is not a TLS version; Envoy's default versions are used"),
                );
                return None;
            }
        }
    }
    let (Some(lo), Some(hi)) = (listed.iter().min(), listed.iter().max()) else {
        r.invalid(
            "proxy-ssl-protocols",
            "no TLS version listed; Envoy's default versions are used",
        );
        return None;
    };
    let contiguous = listed.len()
        == listed
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len()
        && (*hi as usize) - (*lo as usize) + 1 == listed.len();
    if dropped.is_empty() && contiguous {
        r.honoured("proxy-ssl-protocols");
    } else {
        r.approximated(
            "proxy-ssl-protocols",
            format!("every version from {lo} to {hi} is offered (Envoy takes a range; SSL is never offered)"),
        );
    }
    Some((*lo, *hi))
}

/// `proxy-ssl-ciphers`: the named suites BoringSSL knows, in order.
fn ciphers(r: &mut Reader<'_>) -> Vec<String> {
    let Some(value) = r.get("proxy-ssl-ciphers") else {
        return Vec::new();
    };
    let (known, dropped): (Vec<&str>, Vec<&str>) = value
        .split([':', ' ', ','])
        .filter(|t| !t.is_empty())
        .partition(|t| KNOWN_CIPHERS.contains(t));
    if known.is_empty() {
        r.ignored(
            "proxy-ssl-ciphers",
            "no cipher suite Envoy can name (OpenSSL aliases and operators have no equivalent); Envoy's defaults are used",
        );
    } else if dropped.is_empty() {
        r.honoured("proxy-ssl-ciphers");
    } else {
        r.approximated(
            "proxy-ssl-ciphers",
            format!(
                "{} dropped (not a cipher suite BoringSSL names)",
                dropped.join(", ")
            ),
        );
    }
    known.into_iter().map(str::to_owned).collect()
}

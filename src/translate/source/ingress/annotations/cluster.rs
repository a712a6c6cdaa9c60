//! The annotations that change the cluster a backend is reached through:
//! `backend-protocol`, `load-balance`, `affinity` (+ `affinity-mode`,
//! `session-cookie-*`), `service-upstream`, `proxy-connect-timeout`, and the
//! `proxy-ssl-*` family ([`super::proxy_ssl`]) for HTTPS and GRPCS.
//!
//! - `backend-protocol`: HTTP → HTTP/1.1; H2C and GRPC → HTTP/2 cleartext
//!   (prior knowledge); HTTPS → HTTP/1.1 over TLS; GRPCS → HTTP/2 over TLS.
//!   AUTO_HTTP and FCGI have no Envoy equivalent.
//! - `load-balance`: `round_robin`; `ewma` → least request (approximated).
//!   `affinity` overrides it, as in ingress-nginx.
//! - `affinity: cookie` → ring hash on the cluster and a cookie hash policy on
//!   the route ([`SessionCookie`]): Envoy generates the cookie (HttpOnly, as
//!   ingress-nginx's) on the first response.
//! - `service-upstream: "true"` → the Service's cluster IP as the only endpoint
//!   (resolved per backend, see `backend.rs`).
//! - `proxy-connect-timeout` → the cluster's `connect_timeout`.

use std::time::Duration;

use super::proxy_ssl;
use super::reader::Reader;
use super::values::{boolean, count, time};
use crate::translate::model::{
    Balance, SessionCookie, UpstreamProtocol, UpstreamSettings, UpstreamTls,
};
use crate::translate::source::Lookups;
use crate::world::ObjectKey;

/// What the cluster annotations ask of every backend of the Ingress.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterOptions {
    /// The settings of every backend's cluster (addresses left to the
    /// backend: see `service_upstream`).
    pub settings: UpstreamSettings,
    /// Use the Service's cluster IP instead of its endpoints.
    pub service_upstream: bool,
    /// The cookie of cookie affinity; its path `None` means the route's own
    /// path (set per path).
    pub session_cookie: Option<SessionCookie>,
}

/// What becomes of a cluster annotation `name` on a canary Ingress, whose
/// backend gets a cluster of its own; `None` for other annotations.
pub fn canary_note(name: &str) -> Option<&'static str> {
    let inherited = [
        "backend-protocol",
        "proxy-connect-timeout",
        "service-upstream",
    ];
    if inherited.contains(&name) || name.starts_with("proxy-ssl-") {
        return Some(
            "applies to the canary's own backend (ingress-nginx takes it from the main Ingress: set both alike)",
        );
    }
    if name == "load-balance" {
        return Some("applies to the canary's own backend, as in ingress-nginx");
    }
    if name == "affinity" || name == "affinity-mode" || name.starts_with("session-cookie-") {
        return Some(
            "the canary's backend balances by hash, on the main Ingress's session cookie (the canary's cookie settings are not used)",
        );
    }
    None
}

/// ingress-nginx's default session cookie name.
pub const DEFAULT_COOKIE: &str = "INGRESSCOOKIE";

/// Reads the cluster annotations of the Ingress `key`.
pub fn read(r: &mut Reader<'_>, key: &ObjectKey, lookups: &mut Lookups<'_>) -> ClusterOptions {
    let (protocol, tls) = backend_protocol(r);
    let tls = proxy_ssl::read(r, key, lookups, tls);
    let session_cookie = affinity(r);
    let balance = if session_cookie.is_some() {
        r.ignored(
            "load-balance",
            "affinity is set and overrides it (as in ingress-nginx)",
        );
        Balance::RingHash
    } else {
        load_balance(r)
    };
    let connect_timeout = r.parse("proxy-connect-timeout", |v| {
        time(v).and_then(|t| {
            if t.is_zero() {
                Err(super::values::ValueError::Time(v.to_owned()))
            } else {
                Ok(t)
            }
        })
    });
    r.honoured("proxy-connect-timeout");
    let service_upstream = r.parse("service-upstream", boolean).unwrap_or(false);
    r.honoured("service-upstream");
    ClusterOptions {
        settings: UpstreamSettings {
            protocol,
            tls: tls.map(Box::new),
            balance,
            connect_timeout,
            ..UpstreamSettings::default()
        },
        service_upstream,
        session_cookie,
    }
}

/// The protocol, and whether TLS is wanted (its details come from
/// `proxy-ssl-*`).
fn backend_protocol(r: &mut Reader<'_>) -> (UpstreamProtocol, Option<UpstreamTls>) {
    let tls = || Some(UpstreamTls::default());
    let value = r.get("backend-protocol").map(str::to_ascii_uppercase);
    let chosen = match value.as_deref() {
        None => return (UpstreamProtocol::Http1, None),
        Some("HTTP") => (UpstreamProtocol::Http1, None),
        Some("HTTPS") => (UpstreamProtocol::Http1, tls()),
        Some("GRPC" | "H2C") => (UpstreamProtocol::Http2, None),
        Some("GRPCS") => (UpstreamProtocol::Http2, tls()),
        Some("AUTO_HTTP") => {
            r.ignored(
                "backend-protocol",
                "AUTO_HTTP has no Envoy equivalent without TLS; HTTP/1.1 is used",
            );
            return (UpstreamProtocol::Http1, None);
        }
        Some("FCGI") => {
            r.ignored(
                "backend-protocol",
                "Envoy has no FastCGI upstream; HTTP/1.1 is used",
            );
            return (UpstreamProtocol::Http1, None);
        }
        Some(other) => {
            r.invalid(
                "backend-protocol",
                format!("{other:?} is not HTTP, HTTPS, GRPC, GRPCS, H2C, AUTO_HTTP or FCGI; HTTP/1.1 is used"),
            );
            return (UpstreamProtocol::Http1, None);
        }
    };
    r.honoured("backend-protocol");
    chosen
}

fn load_balance(r: &mut Reader<'_>) -> Balance {
    match r.get("load-balance") {
        None | Some("round_robin") => {
            r.honoured("load-balance");
            Balance::RoundRobin
        }
        Some("ewma") => {
            r.approximated(
                "load-balance",
                "Envoy's least request (fewest active requests of two random endpoints), not a latency EWMA",
            );
            Balance::LeastRequest
        }
        Some(other) => {
            r.invalid(
                "load-balance",
                format!("{other:?} is not round_robin or ewma; round robin is used"),
            );
            Balance::RoundRobin
        }
    }
}

/// Cookie affinity; `None` without `affinity: cookie` (every
/// `session-cookie-*` is then ignored).
fn affinity(r: &mut Reader<'_>) -> Option<SessionCookie> {
    const COOKIE_NAMES: [&str; 10] = [
        "affinity-mode",
        "affinity-canary-behavior",
        "session-cookie-name",
        "session-cookie-path",
        "session-cookie-max-age",
        "session-cookie-expires",
        "session-cookie-samesite",
        "session-cookie-secure",
        "session-cookie-domain",
        "session-cookie-change-on-failure",
    ];
    let off = |r: &mut Reader<'_>| {
        for name in COOKIE_NAMES
            .iter()
            .chain(&["session-cookie-conditional-samesite-none"])
        {
            r.ignored(name, "affinity is not cookie");
        }
        None
    };
    match r.get("affinity") {
        None => return off(r),
        Some("cookie") => r.honoured("affinity"),
        Some(other) => {
            r.invalid(
                "affinity",
                format!("{other:?} is not cookie (the only affinity); no affinity"),
            );
            return off(r);
        }
    }
    match r.get("affinity-mode") {
        None | Some("balanced") => r.approximated(
            "affinity-mode",
            "Envoy's ring hash: when pods come or go, only the sessions of the moved ring segments change pod",
        ),
        Some("persistent") => r.approximated(
            "affinity-mode",
            "Envoy's ring hash: when pods come or go, some sessions change pod (persistent never moves them)",
        ),
        Some(other) => r.invalid(
            "affinity-mode",
            format!("{other:?} is not balanced or persistent; balanced is used"),
        ),
    }
    r.approximated(
        "affinity-canary-behavior",
        "the canary split is chosen per request (Envoy's weighted clusters), as ingress-nginx's legacy behaviour",
    );
    let name = r
        .parse("session-cookie-name", cookie_token)
        .unwrap_or_else(|| DEFAULT_COOKIE.to_owned());
    r.honoured("session-cookie-name");
    let path = r.parse("session-cookie-path", |v| {
        if v.starts_with('/') && v.bytes().all(|b| b.is_ascii_graphic() && b != b';') {
            Ok(v.to_owned())
        } else {
            Err(format!("{v:?} is not a cookie path"))
        }
    });
    r.honoured("session-cookie-path");
    let max_age = r.parse("session-cookie-max-age", count);
    r.honoured("session-cookie-max-age");
    let expires = r.parse("session-cookie-expires", count);
    if max_age.is_some() {
        r.ignored(
            "session-cookie-expires",
            "session-cookie-max-age is set and takes precedence (as in browsers)",
        );
    } else {
        r.approximated(
            "session-cookie-expires",
            "sent as Max-Age with the same lifetime (Envoy sets no Expires attribute)",
        );
    }
    let max_age = max_age
        .or(expires)
        .map(|s| Duration::from_secs(u64::from(s)));
    let mut attributes = Vec::new();
    match r.get("session-cookie-samesite") {
        None => {}
        Some(v @ ("None" | "Lax" | "Strict")) => {
            attributes.push(("SameSite".to_owned(), v.to_owned()));
            r.honoured("session-cookie-samesite");
        }
        Some(other) => r.invalid(
            "session-cookie-samesite",
            format!("{other:?} is not None, Lax or Strict; no SameSite"),
        ),
    }
    r.ignored(
        "session-cookie-conditional-samesite-none",
        "Envoy cannot vary the cookie by the client's User-Agent; SameSite=None is always sent",
    );
    if let Some(domain) = r.parse("session-cookie-domain", |v| {
        if !v.is_empty()
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        {
            Ok(v.to_owned())
        } else {
            Err(format!("{v:?} is not a domain"))
        }
    }) {
        attributes.push(("Domain".to_owned(), domain));
    }
    r.honoured("session-cookie-domain");
    if r.parse("session-cookie-secure", boolean) == Some(true) {
        attributes.push(("Secure".to_owned(), String::new()));
    }
    r.approximated(
        "session-cookie-secure",
        "Secure only when set (ingress-nginx also adds it to cookies set over HTTPS)",
    );
    r.ignored(
        "session-cookie-change-on-failure",
        "Envoy's ring hash moves a failed pod's sessions to the next pod but does not reissue the cookie",
    );
    Some(SessionCookie {
        name,
        path,
        max_age,
        attributes,
    })
}

/// A cookie name: an RFC 6265 token.
fn cookie_token(v: &str) -> Result<String, String> {
    let separator = |b: u8| b"()<>@,;:\\\"/[]?={} \t".contains(&b);
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_graphic() && !separator(b)) {
        Ok(v.to_owned())
    } else {
        Err(format!("{v:?} is not a cookie name"))
    }
}

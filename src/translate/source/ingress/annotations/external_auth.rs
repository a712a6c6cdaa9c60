//! External authentication: `auth-url` (+ `auth-method`,
//! `auth-response-headers`, `auth-request-redirect`, `auth-always-set-cookie`)
//! by Envoy's HTTP `ext_authz` filter, one check request per client request.
//!
//! As ingress-nginx's auth subrequest: the request goes to the URL's path (the
//! client's path is not appended), without body, with the client's headers
//! plus `X-Original-URL`, `X-Original-Method`, `X-Sent-From`, `X-Real-IP`,
//! `X-Forwarded-For` and `X-Auth-Request-Redirect`; a 200 lets the request
//! through with `auth-response-headers` copied onto it, a 401 or 403 is the
//! answer (with the service's `WWW-Authenticate`), anything else 500.
//! Differences: the check request keeps the client's method (ingress-nginx
//! sends GET, or `auth-method`) and `Host` (ingress-nginx sends the URL's
//! host); only 200 admits (ingress-nginx: any 2xx). `auth-signin` (+ `auth-signin-redirect-param`) turns
//! the service's 401 into a 302 to the sign-in URL with `rd=<original URL>`
//! (not URL-escaped, unlike ingress-nginx); its nginx variables `$host`,
//! `$scheme`, `$request_uri`, `$escaped_request_uri` are resolved per request. Envoy cannot set the method or `Host` of the check
//! request: a route-level override of either makes it terminate.
//!
//! A URL that cannot be served (not http/https, nginx variables such as
//! `$host`, no host) fails closed: the routes answer 503, as ingress-nginx
//! denies the location.

use std::net::IpAddr;

use super::reader::Reader;
use super::values::boolean;
use crate::translate::model::{AuthHost, AuthServer, ExternalAuth, SigninUrl, UrlPart};

/// What the external-auth annotations ask of every route of the Ingress.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExternalAuthOptions {
    /// The external authentication, when `auth-url` is usable.
    pub auth: Option<ExternalAuth>,
    /// Set when `auth-url` is present but unusable: the routes answer 503.
    pub refusal: Option<String>,
}

/// The annotations ingress-nginx pairs with `auth-url` that Interlock does not
/// implement, with why.
const IGNORED: &[(&str, &str)] = &[
    (
        "auth-cache-key",
        "Envoy's ext_authz does not cache decisions; every request is checked",
    ),
    (
        "auth-cache-duration",
        "Envoy's ext_authz does not cache decisions; every request is checked",
    ),
    (
        "auth-keepalive",
        "Envoy pools connections to the auth service by itself",
    ),
    (
        "auth-keepalive-share-vars",
        "Envoy pools connections to the auth service by itself",
    ),
    (
        "auth-keepalive-requests",
        "Envoy pools connections to the auth service by itself",
    ),
    (
        "auth-keepalive-timeout",
        "Envoy pools connections to the auth service by itself",
    ),
    (
        "auth-proxy-set-headers",
        "headers from a ConfigMap are not added to the check request",
    ),
    (
        "auth-snippet",
        "raw nginx configuration cannot be translated to Envoy",
    ),
    (
        "enable-global-auth",
        "Interlock has no global auth-url to opt out of",
    ),
];

/// The methods ingress-nginx accepts for `auth-method`.
const METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE",
];

/// Reads the external-auth annotations.
pub fn read(r: &mut Reader<'_>) -> ExternalAuthOptions {
    for (name, why) in IGNORED {
        r.ignored(name, *why);
    }
    const OPTIONS: [&str; 6] = [
        "auth-method",
        "auth-response-headers",
        "auth-request-redirect",
        "auth-always-set-cookie",
        "auth-signin",
        "auth-signin-redirect-param",
    ];
    let Some(url) = r.get("auth-url") else {
        for name in OPTIONS {
            r.ignored(name, "auth-url is not set");
        }
        return ExternalAuthOptions::default();
    };
    let (server, path) = match parse_url(url) {
        Ok(parsed) => parsed,
        Err(why) => {
            r.invalid("auth-url", format!("{why}; the route answers 503"));
            for name in OPTIONS {
                r.ignored(name, "auth-url is invalid");
            }
            return ExternalAuthOptions {
                auth: None,
                refusal: Some(format!("auth-url {url:?}: {why}; the route answers 503")),
            };
        }
    };
    r.approximated(
        "auth-url",
        "Envoy ext_authz: the check request keeps the client's method and Host header, only a \
         200 admits (another 2xx answers 500)",
    );
    let original_uri_headers = match r.get("auth-method") {
        None => false,
        Some(m) if METHODS.contains(&m.to_ascii_uppercase().as_str()) => {
            r.approximated(
                "auth-method",
                "the check request keeps the client's method (Envoy cannot set it); \
                 X-Original-URI and X-Scheme are sent as ingress-nginx does with a method",
            );
            true
        }
        Some(m) => {
            r.invalid(
                "auth-method",
                format!("{m:?} is not an HTTP method; ignored"),
            );
            false
        }
    };
    let response_headers = r
        .parse("auth-response-headers", header_names)
        .unwrap_or_default();
    r.honoured("auth-response-headers");
    let request_redirect = r
        .get("auth-request-redirect")
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
    r.honoured("auth-request-redirect");
    let always_set_cookie = r.parse("auth-always-set-cookie", boolean).unwrap_or(false);
    r.honoured("auth-always-set-cookie");
    let signin = read_signin(r);
    ExternalAuthOptions {
        auth: Some(ExternalAuth {
            server,
            path,
            response_headers,
            request_redirect,
            original_uri_headers,
            always_set_cookie,
            signin,
        }),
        refusal: None,
    }
}

/// `auth-signin` with its `auth-signin-redirect-param` (default `rd`).
fn read_signin(r: &mut Reader<'_>) -> Option<SigninUrl> {
    let param = match r.get("auth-signin-redirect-param") {
        None => "rd",
        Some(p)
            if !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
        {
            p
        }
        Some(p) => {
            r.invalid(
                "auth-signin-redirect-param",
                format!("{p:?} is not a query parameter name; rd is used"),
            );
            "rd"
        }
    };
    let Some(url) = r.get("auth-signin") else {
        r.ignored("auth-signin-redirect-param", "auth-signin is not set");
        return None;
    };
    match signin_url(url, param) {
        Ok(signin) => {
            r.approximated(
                "auth-signin",
                "a 401 from the auth service becomes a 302 to it (Envoy's custom_response \
                 filter); the original URL in the redirect parameter is not URL-escaped",
            );
            r.honoured("auth-signin-redirect-param");
            Some(signin)
        }
        Err(why) => {
            r.invalid("auth-signin", format!("{why}; the 401 reaches the client"));
            r.ignored("auth-signin-redirect-param", "auth-signin is invalid");
            None
        }
    }
}

/// The sign-in URL `url`, its nginx variables resolved per request, with
/// `<param>=<original URL>` appended unless its query already sets `param`
/// (as ingress-nginx's `buildAuthSignURL`).
pub fn signin_url(url: &str, param: &str) -> Result<SigninUrl, String> {
    let lower = url.to_ascii_lowercase();
    if !lower.starts_with("http://") && !lower.starts_with("https://") {
        return Err("not an http:// or https:// URL".to_owned());
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the URL contains whitespace".to_owned());
    }
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut rest = url;
    while let Some(at) = rest.find('$') {
        text.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, next) = match after.strip_prefix('{') {
            Some(braced) => {
                let end = braced.find('}').ok_or("unclosed ${ in the URL")?;
                (&braced[..end], &braced[end + 1..])
            }
            None => {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], &after[end..])
            }
        };
        let part = match name {
            "host" | "http_host" | "best_http_host" => UrlPart::Host,
            "scheme" | "pass_access_scheme" => UrlPart::Scheme,
            "request_uri" | "escaped_request_uri" => UrlPart::RequestUri,
            other => return Err(format!("the nginx variable ${other} is not supported")),
        };
        if !text.is_empty() {
            parts.push(UrlPart::Text(std::mem::take(&mut text)));
        }
        parts.push(part);
        rest = next;
    }
    text.push_str(rest);
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let has_param = query
        .split('&')
        .any(|kv| kv.split('=').next() == Some(param));
    if !has_param {
        text.push(if url.contains('?') { '&' } else { '?' });
        text.push_str(param);
        text.push('=');
        parts.push(UrlPart::Text(std::mem::take(&mut text)));
        parts.extend([
            UrlPart::Scheme,
            UrlPart::Text("://".to_owned()),
            UrlPart::Host,
            UrlPart::RequestUri,
        ]);
    }
    if !text.is_empty() {
        parts.push(UrlPart::Text(text));
    }
    Ok(SigninUrl { parts })
}

/// `auth-response-headers`: header names separated by commas.
fn header_names(value: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(format!("{name:?} is not a header name"));
        }
        let lower = name.to_ascii_lowercase();
        if !names.contains(&lower) {
            names.push(lower);
        }
    }
    Ok(names)
}

/// An `http://` or `https://` URL: its server and its path (with query).
pub fn parse_url(url: &str) -> Result<(AuthServer, String), String> {
    if url.contains('$') {
        return Err("nginx variables cannot be resolved to a fixed auth server".to_owned());
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the URL contains whitespace".to_owned());
    }
    let lower = url.to_ascii_lowercase();
    let (tls, rest) = if lower.starts_with("https://") {
        (true, &url["https://".len()..])
    } else if lower.starts_with("http://") {
        (false, &url["http://".len()..])
    } else {
        return Err("not an http:// or https:// URL".to_owned());
    };
    let rest = rest.split('#').next().unwrap_or_default();
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    if authority.contains('@') {
        return Err("user information in the URL is not supported".to_owned());
    }
    let (host, port) = split_port(authority)?;
    let port = match port {
        None => {
            if tls {
                443
            } else {
                80
            }
        }
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("{p:?} is not a port"))?,
    };
    let path = match path {
        "" => "/".to_owned(),
        p if p.starts_with('?') => format!("/{p}"),
        p => p.to_owned(),
    };
    Ok((AuthServer { tls, host, port }, path))
}

/// `host[:port]` or `[v6][:port]`.
fn split_port(authority: &str) -> Result<(AuthHost, Option<&str>), String> {
    if let Some(bracketed) = authority.strip_prefix('[') {
        let (ip, after) = bracketed
            .split_once(']')
            .ok_or_else(|| "unclosed [ in the host".to_owned())?;
        let ip: IpAddr = ip
            .parse()
            .map_err(|_| format!("{ip:?} is not an IPv6 address"))?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or("junk after the address")?),
        };
        return Ok((AuthHost::Ip(ip), port));
    }
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    if host.is_empty() {
        return Err("the URL has no host".to_owned());
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok((AuthHost::Ip(ip), port));
    }
    let valid = host.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    if !valid || host.len() > 253 {
        return Err(format!("{host:?} is not a host name"));
    }
    Ok((AuthHost::Name(host.to_ascii_lowercase()), port))
}

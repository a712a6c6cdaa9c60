//! Redirects: `ssl-redirect`, `force-ssl-redirect`, `permanent-redirect`
//! (+ `-code`), `temporal-redirect` (+ `-code`), `from-to-www-redirect`.
//!
//! - `ssl-redirect: "true"` redirects plain-HTTP requests for hosts this Ingress
//!   has TLS for to HTTPS with 308, as ingress-nginx does; `force-ssl-redirect`
//!   does so for every host. Unlike ingress-nginx, where `ssl-redirect`
//!   defaults to true for TLS hosts, nothing is redirected without the
//!   annotation (existing Interlock Ingresses keep serving plain HTTP).
//! - `permanent-redirect` answers every path with a redirect to the URL (301, or
//!   `permanent-redirect-code`); `temporal-redirect` likewise with 302 (or
//!   `temporal-redirect-code`) and takes precedence, as in ingress-nginx. Envoy
//!   can answer 301, 302, 303, 307 and 308 only.
//! - `from-to-www-redirect` adds the other spelling of each host (`www.` added
//!   or removed) redirecting to it with 308.

use super::reader::Reader;
use super::values::{boolean, count};
use crate::translate::model::{Redirect, RedirectCode};

/// What the redirect annotations ask for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RedirectOptions {
    /// Redirect plain HTTP to HTTPS for this Ingress's TLS hosts.
    pub ssl_redirect: bool,
    /// Redirect plain HTTP to HTTPS for every host.
    pub force_ssl_redirect: bool,
    /// Answer every path with this redirect instead of forwarding.
    pub redirect: Option<Redirect>,
    /// Serve the `www.`-toggled spelling of each host as a redirect.
    pub from_to_www: bool,
}

/// Why a redirect annotation is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RedirectError {
    /// Not an absolute http(s) URL.
    #[error("{0:?} is not an absolute http:// or https:// URL")]
    Url(String),
    /// A status Envoy cannot redirect with.
    #[error("{0} is not a redirect status Envoy can send (301, 302, 303, 307, 308)")]
    Code(u32),
}

/// The status of plain HTTP redirected to HTTPS.
pub const SSL_REDIRECT_CODE: RedirectCode = RedirectCode::PermanentRedirect;

/// Reads the redirect annotations.
pub fn read(r: &mut Reader<'_>) -> RedirectOptions {
    let ssl_redirect = r.parse("ssl-redirect", boolean).unwrap_or(false);
    r.approximated(
        "ssl-redirect",
        "308 to HTTPS on this Ingress's TLS hosts; without the annotation Interlock \
         does not redirect (ingress-nginx defaults to true for TLS hosts)",
    );
    let force_ssl_redirect = r.parse("force-ssl-redirect", boolean).unwrap_or(false);
    r.honoured("force-ssl-redirect");
    let from_to_www = r.parse("from-to-www-redirect", boolean).unwrap_or(false);
    r.honoured("from-to-www-redirect");
    let mut chosen = redirect(r, "temporal-redirect", RedirectCode::Found);
    if chosen.is_some() {
        r.ignored("permanent-redirect", "temporal-redirect takes precedence");
        r.ignored(
            "permanent-redirect-code",
            "temporal-redirect takes precedence",
        );
    } else {
        chosen = redirect(r, "permanent-redirect", RedirectCode::MovedPermanently);
    }
    RedirectOptions {
        ssl_redirect,
        force_ssl_redirect,
        redirect: chosen,
        from_to_www,
    }
}

/// The redirect of annotation `name` (and `name-code`, defaulting to `default`).
fn redirect(r: &mut Reader<'_>, name: &str, default: RedirectCode) -> Option<Redirect> {
    let code_name = format!("{name}-code");
    let code = r
        .parse(&code_name, |v| -> Result<RedirectCode, String> {
            let n = count(v).map_err(|e| e.to_string())?;
            u16::try_from(n)
                .ok()
                .and_then(RedirectCode::from_status)
                .ok_or_else(|| RedirectError::Code(n).to_string())
        })
        .unwrap_or(default);
    let url = r.parse(name, parse_url)?;
    r.honoured(name);
    r.honoured(&code_name);
    Some(Redirect { code, ..url })
}

/// Splits an absolute URL into the parts a redirect replaces. The path (with
/// any query) replaces the request's; without a query the request's query is
/// dropped, as nginx's `return <code> <url>` does.
pub fn parse_url(url: &str) -> Result<Redirect, RedirectError> {
    let bad = || RedirectError::Url(url.to_owned());
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(bad());
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => {
            (h, Some(p.parse::<u16>().map_err(|_| bad())?))
        }
        _ => (authority, None),
    };
    if host.is_empty() || host.contains('@') {
        return Err(bad());
    }
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else if path.is_empty() {
        "/".to_owned()
    } else {
        path.to_owned()
    };
    Ok(Redirect {
        scheme: Some(scheme),
        host: Some(host.to_ascii_lowercase()),
        port,
        strip_query: !path.contains('?'),
        path: Some(path),
        code: RedirectCode::MovedPermanently,
    })
}

/// The other spelling of `host` for `from-to-www-redirect`; `None` for a
/// wildcard host.
pub fn www_twin(host: &str) -> Option<String> {
    if host.starts_with('*') {
        return None;
    }
    Some(match host.strip_prefix("www.") {
        Some(bare) => bare.to_owned(),
        None => format!("www.{host}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_redirect_parts() {
        let r = parse_url("https://Example.com:8443/a/b?x=1").unwrap();
        assert_eq!(r.scheme.as_deref(), Some("https"));
        assert_eq!(r.host.as_deref(), Some("example.com"));
        assert_eq!(r.port, Some(8443));
        assert_eq!(r.path.as_deref(), Some("/a/b?x=1"));
        assert!(!r.strip_query);
        let bare = parse_url("http://example.com").unwrap();
        assert_eq!(bare.path.as_deref(), Some("/"));
        assert!(bare.strip_query);
        for bad in [
            "example.com",
            "ftp://x",
            "https://",
            "https://a:b",
            "https://u@h/",
            "https://a b",
        ] {
            assert!(parse_url(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn www_twins_toggle_the_prefix() {
        assert_eq!(www_twin("www.a.test").as_deref(), Some("a.test"));
        assert_eq!(www_twin("a.test").as_deref(), Some("www.a.test"));
        assert_eq!(www_twin("*.a.test"), None);
    }
}

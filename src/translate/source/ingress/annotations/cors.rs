//! CORS: `enable-cors` and every `cors-*` annotation, answered by Envoy's CORS
//! filter (preflights never reach the upstream, as in ingress-nginx).
//!
//! Defaults are ingress-nginx's: any origin, methods `GET, PUT, POST, DELETE,
//! PATCH, OPTIONS`, its list of headers, credentials allowed, max age 1728000.
//! `cors-allow-origin` takes a comma-separated list of `*`, exact origins and
//! `scheme://*.domain[:port]` wildcards. Envoy answers a matching origin by
//! echoing it (ingress-nginx sends `*` for `*`).

use super::reader::Reader;
use super::values::{boolean, count};
use crate::translate::model::{Cors, CorsOrigin};

const DEFAULT_METHODS: &str = "GET, PUT, POST, DELETE, PATCH, OPTIONS";
const DEFAULT_HEADERS: &str = "DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,\
Cache-Control,Content-Type,Range,Authorization";
const DEFAULT_MAX_AGE: u64 = 1_728_000;

/// The CORS policy, if `enable-cors: "true"`.
pub fn read(r: &mut Reader<'_>) -> Option<Cors> {
    const OPTIONS: [&str; 6] = [
        "cors-allow-origin",
        "cors-allow-methods",
        "cors-allow-headers",
        "cors-expose-headers",
        "cors-allow-credentials",
        "cors-max-age",
    ];
    if !r.parse("enable-cors", boolean).unwrap_or(false) {
        r.honoured("enable-cors");
        for name in OPTIONS {
            r.ignored(name, "enable-cors is not \"true\"");
        }
        return None;
    }
    r.honoured("enable-cors");
    let allow_origins = r
        .parse("cors-allow-origin", origins)
        .unwrap_or_else(|| vec![CorsOrigin::Any]);
    r.approximated(
        "cors-allow-origin",
        "a matching origin is echoed, also for *",
    );
    let list = |r: &mut Reader<'_>, name: &str, default: &str| {
        let value = r.parse(name, |v| {
            if v.chars()
                .all(|c| c.is_ascii_alphanumeric() || " ,-_*".contains(c))
            {
                Ok(v.to_owned())
            } else {
                Err(format!("{v:?} is not a comma-separated list of names"))
            }
        });
        r.honoured(name);
        value.unwrap_or_else(|| default.to_owned())
    };
    let allow_methods = list(r, "cors-allow-methods", DEFAULT_METHODS);
    let allow_headers = list(r, "cors-allow-headers", DEFAULT_HEADERS);
    let expose_headers = list(r, "cors-expose-headers", "");
    let allow_credentials = r.parse("cors-allow-credentials", boolean).unwrap_or(true);
    r.honoured("cors-allow-credentials");
    let max_age_secs = r
        .parse("cors-max-age", count)
        .map_or(DEFAULT_MAX_AGE, u64::from);
    r.honoured("cors-max-age");
    Some(Cors {
        allow_origins,
        allow_methods,
        allow_headers,
        expose_headers,
        allow_credentials,
        max_age_secs,
    })
}

/// Why an origin list is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not *, an origin (scheme://host[:port]) or scheme://*.domain[:port]")]
pub struct BadOrigin(String);

/// A comma-separated origin list.
pub fn origins(value: &str) -> Result<Vec<CorsOrigin>, BadOrigin> {
    let mut out = Vec::new();
    for origin in value.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        out.push(origin_of(origin)?);
    }
    if out.is_empty() {
        return Err(BadOrigin(value.to_owned()));
    }
    Ok(out)
}

fn origin_of(origin: &str) -> Result<CorsOrigin, BadOrigin> {
    if origin == "*" {
        return Ok(CorsOrigin::Any);
    }
    let bad = || BadOrigin(origin.to_owned());
    let (scheme, authority) = origin.split_once("://").ok_or_else(bad)?;
    let valid_scheme = !scheme.is_empty() && scheme.bytes().all(|b| b.is_ascii_alphanumeric());
    let valid_authority = !authority.is_empty()
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:*".contains(&b));
    if !valid_scheme || !valid_authority {
        return Err(bad());
    }
    match authority.strip_prefix("*.") {
        None if !authority.contains('*') => Ok(CorsOrigin::Exact(origin.to_ascii_lowercase())),
        Some(rest) if !rest.contains('*') && !rest.is_empty() => {
            let rest = rest.replace('.', "\\.");
            Ok(CorsOrigin::Pattern(format!(
                "(?i){scheme}://[A-Za-z0-9-]+\\.{rest}"
            )))
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_parse_exact_wildcard_and_any() {
        assert_eq!(
            origins("https://a.test, https://*.b.test:8443,*").unwrap(),
            vec![
                CorsOrigin::Exact("https://a.test".into()),
                CorsOrigin::Pattern("(?i)https://[A-Za-z0-9-]+\\.b\\.test:8443".into()),
                CorsOrigin::Any,
            ]
        );
        for bad in [
            "",
            "a.test",
            "https://a*.test",
            "https://*.",
            "https://a test",
        ] {
            assert!(origins(bad).is_err(), "{bad:?}");
        }
    }
}

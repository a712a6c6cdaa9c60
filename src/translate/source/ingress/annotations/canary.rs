//! Canary Ingresses: `canary`, `canary-weight` (+ `-total`), `canary-by-header`
//! (+ `-value`, `-pattern`), `canary-by-cookie`.
//!
//! A canary Ingress's paths attach to the identical paths of the main Ingress
//! (see [`crate::translate::model::canary`]). As in ingress-nginx the header
//! is checked first (`always`/`never`, or exactly `canary-by-header-value`, or
//! matching `canary-by-header-pattern`), then the cookie (`always`/`never`),
//! then the weight. Every other annotation of a canary Ingress is ignored, as
//! ingress-nginx ignores them; the main Ingress's policy applies. Only the
//! cluster annotations ([`super::cluster`]) still shape the canary's own
//! backend cluster.

use super::reader::Reader;
use super::values::{boolean, count};
use crate::translate::model::{Canary, HeaderChoice, HeaderValue};
use crate::translate::regex;

/// Default of `canary-weight-total`.
pub const DEFAULT_TOTAL_WEIGHT: u32 = 100;

/// The names of the canary annotations, which are all a canary Ingress honours.
pub const NAMES: &[&str] = &[
    "canary",
    "canary-weight",
    "canary-weight-total",
    "canary-by-header",
    "canary-by-header-value",
    "canary-by-header-pattern",
    "canary-by-cookie",
];

/// The canary this Ingress is, if `canary: "true"`.
pub fn read(r: &mut Reader<'_>) -> Option<Canary> {
    let enabled = r.parse("canary", boolean).unwrap_or(false);
    if !enabled {
        for name in &NAMES[1..] {
            r.ignored(name, "the Ingress is not a canary (canary is not \"true\")");
        }
        r.honoured("canary");
        return None;
    }
    r.honoured("canary");
    let total_weight = r
        .parse("canary-weight-total", |v| {
            count(v).map_err(|e| e.to_string()).and_then(|n| {
                if n == 0 {
                    Err("canary-weight-total must be at least 1".to_owned())
                } else {
                    Ok(n)
                }
            })
        })
        .unwrap_or(DEFAULT_TOTAL_WEIGHT);
    r.honoured("canary-weight-total");
    let weight = r
        .parse("canary-weight", |v| {
            count(v).map_err(|e| e.to_string()).and_then(|n| {
                if n > total_weight {
                    Err(format!("{n} is above canary-weight-total {total_weight}"))
                } else {
                    Ok(n)
                }
            })
        })
        .unwrap_or(0);
    r.honoured("canary-weight");
    let by_header = header(r);
    let by_cookie = r
        .get("canary-by-cookie")
        .filter(|c| is_token(c))
        .map(str::to_owned);
    if r.get("canary-by-cookie").is_some() && by_cookie.is_none() {
        r.invalid("canary-by-cookie", "not a cookie name; ignored");
    }
    r.honoured("canary-by-cookie");
    Some(Canary {
        by_header,
        by_cookie,
        weight,
        total_weight,
    })
}

fn header(r: &mut Reader<'_>) -> Option<HeaderChoice> {
    let name = r.get("canary-by-header").filter(|h| !h.is_empty());
    let Some(name) = name.filter(|n| is_token(n)) else {
        if name.is_some() {
            r.invalid("canary-by-header", "not a header name; ignored");
        }
        r.ignored("canary-by-header-value", "canary-by-header is not set");
        r.ignored("canary-by-header-pattern", "canary-by-header is not set");
        return None;
    };
    r.honoured("canary-by-header");
    let exact = r.get("canary-by-header-value").filter(|v| !v.is_empty());
    let pattern = r.get("canary-by-header-pattern").filter(|v| !v.is_empty());
    let value = match (exact, pattern) {
        (Some(v), _) => {
            r.honoured("canary-by-header-value");
            r.ignored(
                "canary-by-header-pattern",
                "canary-by-header-value takes precedence",
            );
            HeaderValue::Exact(v.to_owned())
        }
        (None, Some(p)) => match regex::validate(p) {
            Ok(()) => {
                r.approximated(
                    "canary-by-header-pattern",
                    "RE2 must match the whole header value (ingress-nginx searches with PCRE)",
                );
                HeaderValue::Pattern(p.to_owned())
            }
            Err(e) => {
                r.invalid(
                    "canary-by-header-pattern",
                    format!("{e}; only always/never choose the canary"),
                );
                HeaderValue::AlwaysNever
            }
        },
        (None, None) => HeaderValue::AlwaysNever,
    };
    Some(HeaderChoice {
        name: name.to_ascii_lowercase(),
        value,
    })
}

/// An HTTP token (header or cookie name).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

//! Limits and access: `proxy-body-size`, `whitelist-source-range` /
//! `allowlist-source-range`, `denylist-source-range`, `limit-rps`,
//! `limit-rpm` (+ `limit-burst-multiplier`), `limit-connections`.
//!
//! - `proxy-body-size`: a larger request body is answered 413 (Envoy's buffer
//!   filter, which holds the body until it is complete, as nginx does by
//!   default); `0` means no limit. Without the annotation there is no limit
//!   (ingress-nginx's default is 1m).
//! - Source ranges: Envoy's RBAC filter on the client address (the connection's
//!   peer, or the trusted `X-Forwarded-For` hop), answering 403; a client in a
//!   denied range is refused even if also allowed, as ingress-nginx orders
//!   `deny` before `allow`. An invalid list fails closed: the route answers 503
//!   rather than serving every address.
//! - `limit-rps` / `limit-rpm`: Envoy's local rate limit, a token bucket of
//!   `limit × limit-burst-multiplier` (default 5) per route per Envoy, answering
//!   503 as ingress-nginx does; ingress-nginx keeps one bucket per client
//!   address. With both, `limit-rps` is used.
//! - `limit-connections`: Envoy has no per-route connection limit; ignored.

use std::time::Duration;

use super::reader::Reader;
use super::values::{cidrs, count, size};
use crate::translate::model::{RateLimit, SourceRanges};

/// What the limit annotations ask of every route of the Ingress.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LimitOptions {
    /// Largest accepted request body.
    pub max_body_bytes: Option<u64>,
    /// Client address ranges.
    pub source_ranges: Option<SourceRanges>,
    /// Request rate.
    pub rate_limit: Option<RateLimit>,
    /// Set when a source range is invalid: the routes answer 503 (fail closed).
    pub refusal: Option<String>,
}

/// ingress-nginx's default `limit-burst-multiplier`.
const DEFAULT_BURST_MULTIPLIER: u32 = 5;

/// ingress-nginx's default `limit-req-status-code`.
const RATE_LIMITED_STATUS: u16 = 503;

/// Reads the limit annotations.
pub fn read(r: &mut Reader<'_>) -> LimitOptions {
    let max_body_bytes = r.parse("proxy-body-size", size).filter(|n| *n > 0);
    r.honoured("proxy-body-size");
    let mut refusal = None;
    let mut ranges = |r: &mut Reader<'_>, name: &str| match r.get(name) {
        None => Vec::new(),
        Some(v) => match cidrs(v) {
            Ok(list) => {
                r.honoured(name);
                list
            }
            Err(e) => {
                r.invalid(name, format!("{e}; the Ingress's routes answer 503"));
                refusal = Some(format!("annotation {name}: {e}; the route answers 503"));
                Vec::new()
            }
        },
    };
    let mut allow = ranges(r, "allowlist-source-range");
    if allow.is_empty() {
        allow = ranges(r, "whitelist-source-range");
    } else {
        r.ignored(
            "whitelist-source-range",
            "allowlist-source-range takes precedence",
        );
    }
    let deny = ranges(r, "denylist-source-range");
    let source_ranges =
        (!allow.is_empty() || !deny.is_empty()).then_some(SourceRanges { allow, deny });
    let rate_limit = rate_limit(r);
    r.ignored(
        "limit-connections",
        "Envoy has no per-route connection limit",
    );
    r.ignored("limit-whitelist", "not yet implemented");
    r.ignored("limit-allowlist", "not yet implemented");
    LimitOptions {
        max_body_bytes,
        source_ranges,
        rate_limit,
        refusal,
    }
}

fn rate_limit(r: &mut Reader<'_>) -> Option<RateLimit> {
    let multiplier = r
        .parse("limit-burst-multiplier", count)
        .filter(|m| *m > 0)
        .unwrap_or(DEFAULT_BURST_MULTIPLIER);
    r.honoured("limit-burst-multiplier");
    const HOW: &str = "one token bucket per route per Envoy (ingress-nginx: per client address)";
    let rps = r.parse("limit-rps", count).filter(|n| *n > 0);
    let rpm = r.parse("limit-rpm", count).filter(|n| *n > 0);
    r.approximated("limit-rps", HOW);
    if rps.is_some() {
        r.ignored("limit-rpm", "limit-rps takes precedence");
    } else {
        r.approximated("limit-rpm", HOW);
    }
    let (per_interval, interval) = match (rps, rpm) {
        (Some(n), _) => (n, Duration::from_secs(1)),
        (None, Some(n)) => (n, Duration::from_secs(60)),
        (None, None) => return None,
    };
    Some(RateLimit {
        per_interval,
        interval,
        burst: per_interval.saturating_mul(multiplier),
        status: RATE_LIMITED_STATUS,
    })
}

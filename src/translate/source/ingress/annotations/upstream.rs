//! Upstream, per route: `upstream-vhost`, `proxy-read-timeout`,
//! `proxy-next-upstream` (+ `-tries`), and `proxy-send-timeout` (ignored with
//! its reason). The annotations that change the cluster are in
//! [`super::cluster`].
//!
//! - `proxy-read-timeout`: Envoy's per-try idle timeout (the upstream is silent
//!   that long while the response is awaited or streamed → 504), nginx's
//!   `proxy_read_timeout` between two reads.
//! - `proxy-next-upstream`: `error` → retry on connect failure and reset,
//!   `timeout` → on reset (which includes upstream read timeouts),
//!   `http_NNN` → on that status, `off` → never; `invalid_header` and
//!   `non_idempotent` have no Envoy equivalent (Envoy retries any method).
//!   `proxy-next-upstream-tries` counts every attempt (nginx); Envoy counts
//!   retries, so 3 tries are 2 retries; nginx's 0 (unlimited) becomes 10 tries.

use std::time::Duration;

use super::reader::Reader;
use super::values::{count, time};
use crate::translate::model::Retry;

/// What the upstream annotations ask of every route of the Ingress.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpstreamOptions {
    /// `Host` sent upstream.
    pub upstream_host: Option<String>,
    /// Per-try idle timeout.
    pub read_timeout: Option<Duration>,
    /// Retries.
    pub retry: Option<Retry>,
}

/// nginx's default `proxy_next_upstream_tries` in ingress-nginx.
const DEFAULT_TRIES: u32 = 3;

/// Tries used for nginx's "unlimited" (0).
const UNLIMITED_TRIES: u32 = 10;

/// Reads the upstream annotations.
pub fn read(r: &mut Reader<'_>) -> UpstreamOptions {
    let upstream_host = r.parse("upstream-vhost", |v| {
        if !v.is_empty() && v.bytes().all(|b| b.is_ascii_graphic() && b != b'/') {
            Ok(v.to_owned())
        } else {
            Err(format!("{v:?} is not a host name"))
        }
    });
    r.honoured("upstream-vhost");
    let read_timeout = r.parse("proxy-read-timeout", time);
    r.approximated(
        "proxy-read-timeout",
        "Envoy's per-try idle timeout: 504 when the upstream is silent that long",
    );
    let retry = retry(r);
    ignored(r);
    UpstreamOptions {
        upstream_host,
        read_timeout,
        retry,
    }
}

fn retry(r: &mut Reader<'_>) -> Option<Retry> {
    let tries = r.parse("proxy-next-upstream-tries", count);
    let conditions = match r.get("proxy-next-upstream") {
        None if tries.is_none() => return None,
        None => "error timeout",
        Some(v) => v,
    };
    let mut retry = Retry {
        on_error: false,
        on_timeout: false,
        statuses: Vec::new(),
        retries: 0,
    };
    let mut off = false;
    let mut unmapped = Vec::new();
    for token in conditions.split_whitespace() {
        match token {
            "error" => retry.on_error = true,
            "timeout" => retry.on_timeout = true,
            "off" => off = true,
            "invalid_header" | "non_idempotent" => unmapped.push(token),
            t => match t.strip_prefix("http_").and_then(|s| s.parse::<u32>().ok()) {
                Some(code) if matches!(code, 403 | 404 | 429 | 500 | 502 | 503 | 504) => {
                    retry.statuses.push(code)
                }
                _ => {
                    r.invalid(
                        "proxy-next-upstream",
                        format!("unknown condition {t:?}; ignored"),
                    );
                    r.ignored(
                        "proxy-next-upstream-tries",
                        "proxy-next-upstream is invalid",
                    );
                    return None;
                }
            },
        }
    }
    if off {
        r.honoured("proxy-next-upstream");
        r.ignored("proxy-next-upstream-tries", "proxy-next-upstream is off");
        return None;
    }
    if unmapped.is_empty() {
        r.honoured("proxy-next-upstream");
    } else {
        r.approximated(
            "proxy-next-upstream",
            format!(
                "{} not mapped (Envoy has no equivalent; it retries any method)",
                unmapped.join(", ")
            ),
        );
    }
    retry.statuses.sort_unstable();
    retry.statuses.dedup();
    let tries = match tries.unwrap_or(DEFAULT_TRIES) {
        0 => {
            r.approximated(
                "proxy-next-upstream-tries",
                "0 (unlimited) becomes 10 tries",
            );
            UNLIMITED_TRIES
        }
        n => {
            r.honoured("proxy-next-upstream-tries");
            n
        }
    };
    retry.retries = tries - 1;
    Some(retry)
}

/// The upstream annotation Envoy has no equivalent for.
fn ignored(r: &mut Reader<'_>) {
    r.ignored(
        "proxy-send-timeout",
        "Envoy has no timeout between two writes upstream",
    );
}

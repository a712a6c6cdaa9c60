//! A route's policy ([`RoutePolicy`]) as Envoy route fields and per-route
//! filter configuration ([`super::filters`]).
//!
//! - rewrite → `regex_rewrite`; upstream host → `host_rewrite_literal`;
//!   `X-Forwarded-Prefix` → `request_headers_to_add` (overwriting);
//! - client certificate headers → `request_headers_to_remove` (what the
//!   client sent) and `request_headers_to_add` from `%DOWNSTREAM_PEER_*%`
//!   (left out when empty: no certificate);
//! - read timeout and retries → `retry_policy` (`per_try_idle_timeout`,
//!   `retry_on`, `num_retries`, `retriable_status_codes`);
//! - CORS, source ranges, rate limit, basic auth, external auth, body size →
//!   the matching filter's `typed_per_filter_config` entry, which enables it
//!   for the route;
//! - session cookie → a cookie `hash_policy` with a `ttl` (Envoy generates the
//!   cookie when the request has none; its cluster balances by ring hash).
//!
//! An empty policy sets nothing, so routes without annotations keep their bytes.

use std::collections::HashMap;

use envoy_types::pb::envoy::config::core::v3::{
    header_value_option::HeaderAppendAction, HeaderValue, HeaderValueOption,
};
use envoy_types::pb::envoy::config::route::v3::{
    route_action::{hash_policy, HashPolicy, HostRewriteSpecifier},
    RetryPolicy, RouteAction,
};
use envoy_types::pb::envoy::r#type::matcher::v3::{RegexMatchAndSubstitute, RegexMatcher};
use envoy_types::pb::google::protobuf::{Any, Duration, UInt32Value};

use super::filters;
use crate::translate::model::{Retry, RoutePolicy, SessionCookie};

/// Sets the route-action parts of `policy` on `action`.
pub fn apply(policy: &RoutePolicy, action: &mut RouteAction) {
    if let Some(rewrite) = &policy.rewrite {
        action.regex_rewrite = Some(RegexMatchAndSubstitute {
            pattern: Some(RegexMatcher {
                regex: rewrite.pattern.clone(),
                ..RegexMatcher::default()
            }),
            substitution: rewrite.substitution.clone(),
        });
    }
    if let Some(host) = &policy.upstream_host {
        action.host_rewrite_specifier =
            Some(HostRewriteSpecifier::HostRewriteLiteral(host.clone()));
    }
    action.retry_policy = retry_policy(policy.retry.as_deref(), policy.read_timeout);
    if let Some(cookie) = &policy.session_cookie {
        action.hash_policy = vec![cookie_hash(cookie)];
    }
}

/// Hashing on `cookie`; a `ttl` is always set so Envoy generates a missing
/// cookie (zero: a session cookie).
fn cookie_hash(cookie: &SessionCookie) -> HashPolicy {
    HashPolicy {
        policy_specifier: Some(hash_policy::PolicySpecifier::Cookie(hash_policy::Cookie {
            name: cookie.name.clone(),
            ttl: Some(duration(cookie.max_age.unwrap_or_default())),
            path: cookie.path.clone().unwrap_or_default(),
            attributes: cookie
                .attributes
                .iter()
                .map(|(name, value)| hash_policy::CookieAttribute {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect(),
        })),
        terminal: false,
    }
}

fn retry_policy(
    retry: Option<&Retry>,
    read_timeout: Option<std::time::Duration>,
) -> Option<RetryPolicy> {
    if retry.is_none() && read_timeout.is_none() {
        return None;
    }
    let mut policy = RetryPolicy {
        num_retries: Some(UInt32Value { value: 0 }),
        per_try_idle_timeout: read_timeout.map(duration),
        ..RetryPolicy::default()
    };
    if let Some(retry) = retry {
        let mut on: Vec<&str> = Vec::new();
        if retry.on_error {
            on.extend(["connect-failure", "refused-stream", "reset"]);
        }
        if retry.on_timeout && !retry.on_error {
            on.push("reset");
        }
        if !retry.statuses.is_empty() {
            on.push("retriable-status-codes");
        }
        policy.retry_on = on.join(",");
        policy.retriable_status_codes.clone_from(&retry.statuses);
        policy.num_retries = Some(UInt32Value {
            value: retry.retries,
        });
    }
    Some(policy)
}

fn duration(d: std::time::Duration) -> Duration {
    Duration {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: 0,
    }
}

/// The client certificate headers, and the Envoy formatter of each; the
/// certificate itself last.
const CLIENT_CERTIFICATE_HEADERS: [(&str, &str); 3] = [
    ("ssl-client-subject-dn", "%DOWNSTREAM_PEER_SUBJECT%"),
    ("ssl-client-issuer-dn", "%DOWNSTREAM_PEER_ISSUER%"),
    ("ssl-client-cert", "%DOWNSTREAM_PEER_CERT%"),
];

/// A request header set to `value`, replacing what the client sent.
pub(super) fn overwrite(key: &str, value: String) -> HeaderValueOption {
    HeaderValueOption {
        header: Some(HeaderValue {
            key: key.to_owned(),
            value,
            ..HeaderValue::default()
        }),
        append_action: HeaderAppendAction::OverwriteIfExistsOrAdd as i32,
        ..HeaderValueOption::default()
    }
}

/// The headers `policy` adds to requests sent upstream.
pub fn request_headers(policy: &RoutePolicy) -> Vec<HeaderValueOption> {
    let mut headers: Vec<HeaderValueOption> = policy
        .forwarded_prefix
        .iter()
        .map(|prefix| overwrite("x-forwarded-prefix", prefix.clone()))
        .chain(
            policy
                .custom_errors
                .as_ref()
                .map(|_| super::custom_errors::original_uri_header()),
        )
        .collect();
    if let Some(client) = policy.client_certificate {
        let sent = if client.certificate { 3 } else { 2 };
        headers.extend(
            CLIENT_CERTIFICATE_HEADERS[..sent]
                .iter()
                .map(|(key, value)| overwrite(key, (*value).to_owned())),
        );
    }
    headers
}

/// The headers `policy` removes from requests before adding its own: what a
/// client sent under the client certificate headers' names.
pub fn removed_request_headers(policy: &RoutePolicy) -> Vec<String> {
    match policy.client_certificate {
        Some(_) => CLIENT_CERTIFICATE_HEADERS
            .iter()
            .map(|(key, _)| (*key).to_owned())
            .collect(),
        None => Vec::new(),
    }
}

/// The per-route filter configuration `policy` enables. Encoded, the entries
/// are sorted by the snapshot stage when it encodes the table.
pub fn filter_configs(policy: &RoutePolicy) -> HashMap<String, Any> {
    let mut configs = HashMap::new();
    if let Some(cors) = &policy.cors {
        configs.insert(filters::CORS.to_owned(), filters::cors(cors));
    }
    if let Some(ranges) = &policy.source_ranges {
        configs.insert(filters::RBAC.to_owned(), filters::source_ranges(ranges));
    }
    if let Some(limit) = &policy.rate_limit {
        configs.insert(
            filters::LOCAL_RATE_LIMIT.to_owned(),
            filters::rate_limit(limit),
        );
    }
    if let Some(auth) = &policy.basic_auth {
        configs.insert(filters::BASIC_AUTH.to_owned(), filters::basic_auth(auth));
    }
    if let Some(auth) = &policy.external_auth {
        configs.insert(
            super::external_auth::EXT_AUTHZ.to_owned(),
            super::external_auth::per_route(auth),
        );
    }
    if let Some(custom) = super::custom_response::per_route(policy) {
        configs.insert(super::custom_response::CUSTOM_RESPONSE.to_owned(), custom);
    }
    if let Some(max) = policy.max_body_bytes {
        configs.insert(filters::BUFFER.to_owned(), filters::body_limit(max));
    }
    configs
}

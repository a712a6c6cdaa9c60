//! The HTTP filters every HCM runs, and their per-route configuration.
//!
//! Every HCM carries the same list (CORS, RBAC, local rate limit, basic auth,
//! custom responses ([`super::custom_response`]), external auth
//! ([`super::external_auth`]), buffer, then the router), each but the router disabled; a route that needs
//! one enables and configures it through `typed_per_filter_config`. So an
//! annotation change only ever changes RDS: listeners stay byte-identical and
//! are never drained. Order: CORS first (a preflight is answered before access
//! checks, as ingress-nginx answers it in its rewrite phase), then source
//! ranges (403), rate limit, authentication (401; basic, then external as
//! ingress-nginx checks `auth_request` before `auth_basic`… either denies),
//! body size (413).

use envoy_types::pb::envoy::config::core::v3::{
    data_source::Specifier, CidrRange, DataSource, RuntimeFractionalPercent,
};
use envoy_types::pb::envoy::config::rbac::v3::{
    permission, principal, rbac::Action as RbacAction, Permission, Policy, Principal,
    Rbac as RbacRules,
};
use envoy_types::pb::envoy::extensions::filters::http::basic_auth::v3::{
    BasicAuth as BasicAuthFilter, BasicAuthPerRoute,
};
use envoy_types::pb::envoy::extensions::filters::http::buffer::v3::{
    buffer_per_route, Buffer, BufferPerRoute,
};
use envoy_types::pb::envoy::extensions::filters::http::cors::v3::{Cors as CorsFilter, CorsPolicy};
use envoy_types::pb::envoy::extensions::filters::http::local_ratelimit::v3::LocalRateLimit;
use envoy_types::pb::envoy::extensions::filters::http::rbac::v3::{Rbac, RbacPerRoute};
use envoy_types::pb::envoy::extensions::filters::http::router::v3::Router;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    http_filter, HttpFilter,
};
use envoy_types::pb::envoy::r#type::matcher::v3::{
    string_matcher::MatchPattern, RegexMatcher, StringMatcher,
};
use envoy_types::pb::envoy::r#type::v3::{
    fractional_percent::DenominatorType, FractionalPercent, HttpStatus, TokenBucket,
};
use envoy_types::pb::google::protobuf::{Any, BoolValue, Duration, UInt32Value};
use envoy_types::util::pack_any;

use super::custom_response::CUSTOM_RESPONSE;
use super::external_auth::EXT_AUTHZ;
use crate::translate::model::{BasicAuth, Cidr, Cors, CorsOrigin, RateLimit, SourceRanges};

/// Name of the CORS filter.
pub const CORS: &str = "envoy.filters.http.cors";
/// Name of the RBAC filter (source ranges).
pub const RBAC: &str = "envoy.filters.http.rbac";
/// Name of the local rate limit filter.
pub const LOCAL_RATE_LIMIT: &str = "envoy.filters.http.local_ratelimit";
/// Name of the basic auth filter.
pub const BASIC_AUTH: &str = "envoy.filters.http.basic_auth";
/// Name of the buffer filter (body size).
pub const BUFFER: &str = "envoy.filters.http.buffer";
/// Name of the router.
pub const ROUTER: &str = "envoy.filters.http.router";

/// The filter-wide user list of basic auth, which Envoy requires to be
/// non-empty; never used, since every route that enables the filter brings its
/// own users. The hash is twenty zero bytes, which no known password has.
const NO_USER: &str = "interlock-no-user:{SHA}AAAAAAAAAAAAAAAAAAAAAAAAAAA=";

/// The HCM's HTTP filters: every optional one disabled, then the router.
pub fn http_filters() -> Vec<HttpFilter> {
    vec![
        disabled(CORS, pack_any(CorsFilter::default())),
        disabled(RBAC, pack_any(Rbac::default())),
        disabled(
            LOCAL_RATE_LIMIT,
            pack_any(LocalRateLimit {
                stat_prefix: "route_rate_limit".to_owned(),
                ..LocalRateLimit::default()
            }),
        ),
        disabled(
            BASIC_AUTH,
            pack_any(BasicAuthFilter {
                users: Some(inline(NO_USER.to_owned())),
                ..BasicAuthFilter::default()
            }),
        ),
        disabled(CUSTOM_RESPONSE, super::custom_response::filter()),
        disabled(EXT_AUTHZ, super::external_auth::filter()),
        disabled(
            BUFFER,
            pack_any(Buffer {
                max_request_bytes: Some(UInt32Value { value: u32::MAX }),
            }),
        ),
        HttpFilter {
            name: ROUTER.to_owned(),
            config_type: Some(http_filter::ConfigType::TypedConfig(pack_any(
                Router::default(),
            ))),
            ..HttpFilter::default()
        },
    ]
}

fn disabled(name: &str, config: Any) -> HttpFilter {
    HttpFilter {
        name: name.to_owned(),
        config_type: Some(http_filter::ConfigType::TypedConfig(config)),
        disabled: true,
        ..HttpFilter::default()
    }
}

fn inline(text: String) -> DataSource {
    DataSource {
        specifier: Some(Specifier::InlineString(text)),
        ..DataSource::default()
    }
}

/// Per-route CORS policy.
pub fn cors(cors: &Cors) -> Any {
    pack_any(CorsPolicy {
        allow_origin_string_match: cors.allow_origins.iter().map(origin).collect(),
        allow_methods: cors.allow_methods.clone(),
        allow_headers: cors.allow_headers.clone(),
        expose_headers: cors.expose_headers.clone(),
        max_age: cors.max_age_secs.to_string(),
        allow_credentials: Some(BoolValue {
            value: cors.allow_credentials,
        }),
        ..CorsPolicy::default()
    })
}

fn origin(origin: &CorsOrigin) -> StringMatcher {
    let pattern = match origin {
        CorsOrigin::Any => MatchPattern::SafeRegex(regex(".*")),
        CorsOrigin::Exact(o) => MatchPattern::Exact(o.clone()),
        CorsOrigin::Pattern(p) => MatchPattern::SafeRegex(regex(p)),
    };
    StringMatcher {
        match_pattern: Some(pattern),
        ignore_case: matches!(origin, CorsOrigin::Exact(_)),
    }
}

fn regex(pattern: &str) -> RegexMatcher {
    RegexMatcher {
        regex: pattern.to_owned(),
        ..RegexMatcher::default()
    }
}

/// Per-route RBAC admitting clients in no denied range and (if any are
/// given) in an allowed one; others get 403.
pub fn source_ranges(ranges: &SourceRanges) -> Any {
    let mut all_of = Vec::new();
    if !ranges.allow.is_empty() {
        all_of.push(any_of(&ranges.allow));
    }
    if !ranges.deny.is_empty() {
        all_of.push(Principal {
            identifier: Some(principal::Identifier::NotId(Box::new(any_of(&ranges.deny)))),
        });
    }
    let policy = Policy {
        permissions: vec![Permission {
            rule: Some(permission::Rule::Any(true)),
        }],
        principals: vec![Principal {
            identifier: Some(principal::Identifier::AndIds(principal::Set {
                ids: all_of,
            })),
        }],
        ..Policy::default()
    };
    pack_any(RbacPerRoute {
        rbac: Some(Rbac {
            rules: Some(RbacRules {
                action: RbacAction::Allow as i32,
                // One entry only: a map of one encodes deterministically.
                policies: [("source-ranges".to_owned(), policy)].into_iter().collect(),
                ..RbacRules::default()
            }),
            ..Rbac::default()
        }),
    })
}

fn any_of(ranges: &[Cidr]) -> Principal {
    Principal {
        identifier: Some(principal::Identifier::OrIds(principal::Set {
            ids: ranges
                .iter()
                .map(|c| Principal {
                    identifier: Some(principal::Identifier::RemoteIp(CidrRange {
                        address_prefix: c.address.to_string(),
                        prefix_len: Some(UInt32Value {
                            value: u32::from(c.prefix_len),
                        }),
                    })),
                })
                .collect(),
        })),
    }
}

/// Per-route token bucket, always enforced.
pub fn rate_limit(limit: &RateLimit) -> Any {
    let all = || RuntimeFractionalPercent {
        default_value: Some(FractionalPercent {
            numerator: 100,
            denominator: DenominatorType::Hundred as i32,
        }),
        runtime_key: String::new(),
    };
    pack_any(LocalRateLimit {
        stat_prefix: "route_rate_limit".to_owned(),
        status: Some(HttpStatus {
            code: i32::from(limit.status),
        }),
        token_bucket: Some(TokenBucket {
            max_tokens: limit.burst.max(1),
            tokens_per_fill: Some(UInt32Value {
                value: limit.per_interval.max(1),
            }),
            fill_interval: Some(Duration {
                seconds: i64::try_from(limit.interval.as_secs()).unwrap_or(i64::MAX),
                nanos: 0,
            }),
        }),
        filter_enabled: Some(all()),
        filter_enforced: Some(all()),
        ..LocalRateLimit::default()
    })
}

/// Per-route basic auth users.
pub fn basic_auth(auth: &BasicAuth) -> Any {
    pack_any(BasicAuthPerRoute {
        users: Some(inline(auth.users.clone())),
    })
}

/// Per-route body size limit.
pub fn body_limit(max_bytes: u64) -> Any {
    let value = u32::try_from(max_bytes).unwrap_or(u32::MAX);
    pack_any(BufferPerRoute {
        r#override: Some(buffer_per_route::Override::Buffer(Buffer {
            max_request_bytes: Some(UInt32Value { value }),
        })),
    })
}

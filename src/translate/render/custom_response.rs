//! Envoy's `custom_response` filter: disabled in every HCM (before ext_authz:
//! a local reply goes through the encoders of the filters before the one
//! that sent it), enabled per route with the matchers the route's policy
//! needs: the answers to the auth service's refusals
//! ([`super::auth_responses`]) first, then the custom error pages
//! ([`super::custom_errors`]). Envoy marks the filter as work in
//! progress (it logs a warning once).

use envoy_types::pb::envoy::extensions::filters::http::custom_response::v3::CustomResponse;
use envoy_types::pb::google::protobuf::Any;
use envoy_types::pb::xds::r#type::matcher::v3::{
    matcher::{MatcherList, MatcherType},
    Matcher,
};
use envoy_types::util::pack_any;

use crate::translate::model::RoutePolicy;

/// Name of the custom response filter.
pub const CUSTOM_RESPONSE: &str = "envoy.filters.http.custom_response";

/// The filter-wide configuration: no matcher, so nothing is replaced.
pub fn filter() -> Any {
    pack_any(CustomResponse::default())
}

/// The per-route configuration for `policy`, if it needs one.
pub fn per_route(policy: &RoutePolicy) -> Option<Any> {
    let mut matchers = Vec::new();
    if let Some(auth) = &policy.external_auth {
        if let Some(signin) = &auth.signin {
            matchers.push(super::auth_responses::signin(signin));
        }
        matchers.push(super::auth_responses::other_refusals());
    }
    if let Some(errors) = &policy.custom_errors {
        matchers.extend(super::custom_errors::matchers(errors));
    }
    if matchers.is_empty() {
        return None;
    }
    Some(pack_any(CustomResponse {
        custom_response_matcher: Some(Matcher {
            matcher_type: Some(MatcherType::MatcherList(MatcherList { matchers })),
            ..Matcher::default()
        }),
    }))
}

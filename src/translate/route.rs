//! Single Envoy routes: where one Ingress path (or the default backend) goes.
//!
//! Forwarding routes set `timeout: 0s` (no 15 s cut of long downloads, streams or
//! WebSockets) and `idle_timeout: 3600s`, which overrides the HCM's 5-minute
//! stream idle timeout for the route so idle WebSockets survive an hour. Routes
//! whose Service or port is missing answer 503 with a short body. Each route is
//! named after the Ingress it came from, which the access log prints.

use envoy_types::pb::envoy::config::core::v3::{data_source::Specifier, DataSource};
use envoy_types::pb::envoy::config::route::v3::{
    header_matcher::HeaderMatchSpecifier, route::Action, route_action::ClusterSpecifier,
    route_match::PathSpecifier, DirectResponseAction, HeaderMatcher, Route, RouteAction,
    RouteMatch,
};
use envoy_types::pb::envoy::r#type::matcher::v3::{
    string_matcher::MatchPattern, RegexMatcher, StringMatcher,
};

use super::ads::seconds;
use super::backend::Backend;
use super::path::PathRule;
use crate::world::ObjectKey;

/// The idle timeout of forwarding routes.
pub const ROUTE_IDLE_TIMEOUT_SECS: i64 = 3600;

/// The body of a 503 for a missing Service or port.
pub const UNAVAILABLE_BODY: &str =
    "no healthy backend: the Ingress names a missing Service or port\n";

/// The route for one Ingress path. `authority` is a wildcard host's one-label
/// regex, which the whole `:authority` header must match.
pub fn path_route(
    path: &PathRule,
    authority: Option<&str>,
    backend: &Backend,
    owner: &ObjectKey,
) -> Route {
    let mut r#match = path.route_match();
    if let Some(regex) = authority {
        r#match.headers.push(HeaderMatcher {
            name: ":authority".to_owned(),
            header_match_specifier: Some(HeaderMatchSpecifier::StringMatch(StringMatcher {
                match_pattern: Some(MatchPattern::SafeRegex(RegexMatcher {
                    regex: regex.to_owned(),
                    ..RegexMatcher::default()
                })),
                ..StringMatcher::default()
            })),
            ..HeaderMatcher::default()
        });
    }
    route(r#match, backend, owner)
}

/// The default-backend route: everything no rule took.
pub fn default_route(backend: &Backend, owner: &ObjectKey) -> Route {
    let r#match = RouteMatch {
        path_specifier: Some(PathSpecifier::Prefix("/".to_owned())),
        ..RouteMatch::default()
    };
    route(r#match, backend, owner)
}

fn route(r#match: RouteMatch, backend: &Backend, owner: &ObjectKey) -> Route {
    let action = match backend {
        Backend::Cluster(target) => Action::Route(RouteAction {
            cluster_specifier: Some(ClusterSpecifier::Cluster(target.name.clone())),
            timeout: Some(seconds(0)),
            idle_timeout: Some(seconds(ROUTE_IDLE_TIMEOUT_SECS)),
            ..RouteAction::default()
        }),
        Backend::Unavailable => Action::DirectResponse(DirectResponseAction {
            status: 503,
            body: Some(DataSource {
                specifier: Some(Specifier::InlineString(UNAVAILABLE_BODY.to_owned())),
                ..DataSource::default()
            }),
            ..DirectResponseAction::default()
        }),
    };
    Route {
        name: owner.qualified(),
        r#match: Some(r#match),
        action: Some(action),
        ..Route::default()
    }
}

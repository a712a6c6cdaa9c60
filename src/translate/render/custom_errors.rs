//! Custom error pages ([`CustomErrors`]): one `custom_response` matcher per
//! status, redirecting the request internally to [`ERROR_HOST`] with the
//! headers ingress-nginx sends its error backend; and the [`ERROR_HOST`]
//! virtual host, one route per error backend, matched on
//! [`ERROR_BACKEND_HEADER`].
//!
//! `X-Original-URI` is added by the original route (the redirected request's
//! own path is `/`), so the upstream receives it too.

use std::collections::BTreeSet;

use envoy_types::pb::envoy::config::core::v3::HeaderValueOption;
use envoy_types::pb::envoy::config::route::v3::{
    header_matcher::HeaderMatchSpecifier, route::Action, route_action::ClusterSpecifier,
    route_match::PathSpecifier, HeaderMatcher, Route, RouteAction, RouteMatch, VirtualHost,
};
use envoy_types::pb::envoy::extensions::http::custom_response::redirect_policy::v3::{
    redirect_policy::RedirectActionSpecifier, RedirectPolicy,
};
use envoy_types::pb::envoy::r#type::matcher::v3::{string_matcher::MatchPattern, StringMatcher};
use envoy_types::pb::google::protobuf::Any;
use envoy_types::pb::xds::core::v3::TypedExtensionConfig;
use envoy_types::pb::xds::r#type::matcher::v3::{
    matcher::{
        matcher_list::{predicate, FieldMatcher, Predicate},
        on_match, OnMatch,
    },
    string_matcher, StringMatcher as XdsStringMatcher,
};
use envoy_types::util::pack_any;

use super::ads::seconds;
use super::auth_responses::extension;
use super::policy::overwrite;
use super::route::ROUTE_IDLE_TIMEOUT_SECS;
use crate::translate::model::{self, CustomErrors, Host, ERROR_BACKEND_HEADER, ERROR_HOST};

/// One matcher per status of `errors`.
pub fn matchers(errors: &CustomErrors) -> Vec<FieldMatcher> {
    errors
        .codes
        .iter()
        .map(|code| {
            let headers = [
                ("x-code", code.to_string()),
                ("x-format", "%REQ(accept)%".to_owned()),
                ("x-namespace", literal(&errors.namespace)),
                ("x-ingress-name", literal(&errors.ingress)),
                ("x-service-name", literal(&errors.service)),
                ("x-service-port", literal(&errors.service_port)),
                (ERROR_BACKEND_HEADER, literal(&errors.backend.name)),
            ];
            let redirect = RedirectPolicy {
                request_headers_to_add: headers
                    .into_iter()
                    .map(|(key, value)| overwrite(key, value))
                    .collect(),
                redirect_action_specifier: Some(RedirectActionSpecifier::Uri(format!(
                    "http://{ERROR_HOST}/"
                ))),
                ..RedirectPolicy::default()
            };
            FieldMatcher {
                predicate: Some(Predicate {
                    match_type: Some(predicate::MatchType::SinglePredicate(
                        predicate::SinglePredicate {
                            input: Some(extension(
                                "status",
                                Any {
                                    type_url: "type.googleapis.com/envoy.type.matcher.v3.\
                                               HttpResponseStatusCodeMatchInput"
                                        .to_owned(),
                                    value: Vec::new(),
                                },
                            )),
                            matcher: Some(predicate::single_predicate::Matcher::ValueMatch(
                                XdsStringMatcher {
                                    match_pattern: Some(string_matcher::MatchPattern::Exact(
                                        code.to_string(),
                                    )),
                                    ..XdsStringMatcher::default()
                                },
                            )),
                        },
                    )),
                }),
                on_match: Some(OnMatch {
                    on_match: Some(on_match::OnMatch::Action(TypedExtensionConfig {
                        name: format!("custom-error-{code}"),
                        typed_config: Some(pack_any(redirect)),
                    })),
                    ..OnMatch::default()
                }),
            }
        })
        .collect()
}

/// The header the original route adds for the error backend.
pub fn original_uri_header() -> HeaderValueOption {
    overwrite("x-original-uri", "%REQ(:path)%".to_owned())
}

/// The [`ERROR_HOST`] virtual host for the error backends `hosts`' routes
/// use; none if no route uses one (or, absurdly, an Ingress claims the
/// host).
pub fn error_host(hosts: &[model::VirtualHost<'_>]) -> Option<VirtualHost> {
    let backends: BTreeSet<&str> = hosts
        .iter()
        .flat_map(|h| &h.routes)
        .filter_map(|placed| placed.winner.served.policy.custom_errors.as_deref())
        .map(|errors| errors.backend.name.as_str())
        .collect();
    let claimed = hosts
        .iter()
        .any(|h| h.host.map(Host::as_str) == Some(ERROR_HOST));
    if backends.is_empty() || claimed {
        return None;
    }
    let routes = backends
        .into_iter()
        .map(|cluster| Route {
            name: format!("custom-errors/{cluster}"),
            r#match: Some(RouteMatch {
                path_specifier: Some(PathSpecifier::Prefix("/".to_owned())),
                headers: vec![HeaderMatcher {
                    name: ERROR_BACKEND_HEADER.to_owned(),
                    header_match_specifier: Some(HeaderMatchSpecifier::StringMatch(
                        StringMatcher {
                            match_pattern: Some(MatchPattern::Exact(cluster.to_owned())),
                            ..StringMatcher::default()
                        },
                    )),
                    ..HeaderMatcher::default()
                }],
                ..RouteMatch::default()
            }),
            action: Some(Action::Route(RouteAction {
                cluster_specifier: Some(ClusterSpecifier::Cluster(cluster.to_owned())),
                timeout: Some(seconds(0)),
                idle_timeout: Some(seconds(ROUTE_IDLE_TIMEOUT_SECS)),
                ..RouteAction::default()
            })),
            ..Route::default()
        })
        .collect();
    Some(VirtualHost {
        name: ERROR_HOST.to_owned(),
        domains: vec![ERROR_HOST.to_owned()],
        routes,
        ..VirtualHost::default()
    })
}

/// `text` as a substitution format producing exactly `text`.
fn literal(text: &str) -> String {
    text.replace('%', "%%")
}

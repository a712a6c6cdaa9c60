//! Single Envoy routes: one placed model route.
//!
//! Forwarding routes set `timeout: 0s` (no 15 s cut of long downloads, streams or
//! WebSockets) and `idle_timeout: 3600s`, which overrides the HCM's 5-minute
//! stream idle timeout for the route so idle WebSockets survive an hour. One
//! backend is a plain `cluster`; several are `weighted_clusters`. Routes whose
//! Service or port is missing answer 503 with a short body. Each route is named
//! after the object it came from, which the access log prints.
//!
//! Path matches: `Exact` → `path`; `Prefix` → `path_separated_prefix` (Envoy's
//! element-wise prefix), except `/` → `prefix: "/"`; a regex → `safe_regex`. A
//! route of a wildcard host marked one-label also requires the whole
//! `:authority` to match the host's one-label regex.
//!
//! Policies ([`super::policy`]) add route-action fields and per-route filter
//! configuration; a redirect answers with Envoy's `redirect`; a route whose
//! policy asks for HTTPS answers plain HTTP with a redirect to HTTPS (its
//! path's port is kept out: the client reaches the HTTPS listener on the
//! standard port). A route with a canary becomes several ([`super::canary`]).

use envoy_types::pb::envoy::config::core::v3::{data_source::Specifier, DataSource};
use envoy_types::pb::envoy::config::route::v3::{
    header_matcher::HeaderMatchSpecifier, redirect_action, route::Action as RouteActionKind,
    route_action::ClusterSpecifier, route_match::PathSpecifier, weighted_cluster::ClusterWeight,
    DirectResponseAction, HeaderMatcher, RedirectAction, Route, RouteAction, RouteMatch,
    WeightedCluster,
};
use envoy_types::pb::envoy::r#type::matcher::v3::{
    string_matcher::MatchPattern, RegexMatcher, StringMatcher,
};
use envoy_types::pb::google::protobuf::UInt32Value;

use super::ads::seconds;
use super::policy;
use crate::translate::model::{
    fallback_cluster_name, Action, ClusterTarget, Forward, PathMatch, PathRule, PlacedRoute,
    Redirect, RedirectCode, RoutePolicy, WeightedBackend,
};

/// Which route table a route is rendered for: plain HTTP may answer with a
/// redirect to HTTPS where HTTPS serves.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// The `http` table.
    Http,
    /// The `https` table.
    Https,
}

/// The idle timeout of forwarding routes.
pub const ROUTE_IDLE_TIMEOUT_SECS: i64 = 3600;

/// The body of a 503 for a missing Service or port.
pub const UNAVAILABLE_BODY: &str =
    "no healthy backend: the Ingress names a missing Service or port\n";

/// The Envoy routes for `placed` in the `scheme` table, pushed onto `out`:
/// its canary's routes first, if any, then its own. `authority` is its virtual
/// host's one-label regex, if the host is a wildcard.
pub fn push_routes(
    placed: &PlacedRoute<'_>,
    authority: Option<&str>,
    scheme: Scheme,
    out: &mut Vec<Route>,
) {
    let main = route(placed, authority, scheme);
    match placed.winner.canary {
        Some(canary) => super::canary::push(main, &placed.winner, &canary, scheme, out),
        None => out.push(main),
    }
}

/// The Envoy route for `placed` in the `scheme` table, without its canary.
pub fn route(placed: &PlacedRoute<'_>, authority: Option<&str>, scheme: Scheme) -> Route {
    let mut r#match = match placed.path {
        Some(path) => route_match(path),
        None => RouteMatch {
            path_specifier: Some(PathSpecifier::Prefix("/".to_owned())),
            ..RouteMatch::default()
        },
    };
    if let Some(regex) = authority.filter(|_| placed.one_label) {
        r#match.headers.push(authority_matcher(regex));
    }
    let served = placed.winner.served;
    with_action(
        placed.winner.owner.key.qualified(),
        r#match,
        &served.action,
        &served.policy,
        scheme,
    )
}

/// A route matching `r#match` doing `action` under `policy`.
pub(super) fn with_action(
    name: String,
    r#match: RouteMatch,
    action: &Action,
    policy: &RoutePolicy,
    scheme: Scheme,
) -> Route {
    if let (Scheme::Http, Some(code)) = (scheme, policy.https_redirect) {
        return Route {
            name,
            r#match: Some(r#match),
            action: Some(RouteActionKind::Redirect(RedirectAction {
                scheme_rewrite_specifier: Some(
                    redirect_action::SchemeRewriteSpecifier::HttpsRedirect(true),
                ),
                response_code: response_code(code),
                ..RedirectAction::default()
            })),
            ..Route::default()
        };
    }
    Route {
        name,
        r#match: Some(r#match),
        action: Some(route_action(action, policy)),
        request_headers_to_add: policy::request_headers(policy),
        request_headers_to_remove: policy::removed_request_headers(policy),
        typed_per_filter_config: policy::filter_configs(policy),
        ..Route::default()
    }
}

/// The Envoy route match for `path`.
pub fn route_match(path: &PathRule) -> RouteMatch {
    let specifier = match &path.matcher {
        PathMatch::Exact(p) => PathSpecifier::Path(p.clone()),
        PathMatch::Prefix(p) if p == "/" => PathSpecifier::Prefix(p.clone()),
        PathMatch::Prefix(p) => PathSpecifier::PathSeparatedPrefix(p.clone()),
        PathMatch::Regex(r) => PathSpecifier::SafeRegex(RegexMatcher {
            regex: r.clone(),
            ..RegexMatcher::default()
        }),
    };
    RouteMatch {
        path_specifier: Some(specifier),
        ..RouteMatch::default()
    }
}

pub(super) fn authority_matcher(regex: &str) -> HeaderMatcher {
    HeaderMatcher {
        name: ":authority".to_owned(),
        header_match_specifier: Some(HeaderMatchSpecifier::StringMatch(StringMatcher {
            match_pattern: Some(MatchPattern::SafeRegex(RegexMatcher {
                regex: regex.to_owned(),
                ..RegexMatcher::default()
            })),
            ..StringMatcher::default()
        })),
        ..HeaderMatcher::default()
    }
}

fn route_action(action: &Action, policy: &RoutePolicy) -> RouteActionKind {
    match action {
        Action::Forward(forward) => {
            match cluster_specifier(forward, policy.default_backend.as_deref()) {
                Some(clusters) => {
                    let mut action = RouteAction {
                        cluster_specifier: Some(clusters),
                        timeout: Some(seconds(0)),
                        idle_timeout: Some(seconds(ROUTE_IDLE_TIMEOUT_SECS)),
                        ..RouteAction::default()
                    };
                    policy::apply(policy, &mut action);
                    RouteActionKind::Route(action)
                }
                None => unavailable(),
            }
        }
        Action::Unavailable => unavailable(),
        Action::Redirect(redirect) => RouteActionKind::Redirect(redirect_action(redirect)),
    }
}

/// The Envoy redirect of `redirect`.
pub(super) fn redirect_action(redirect: &Redirect) -> RedirectAction {
    RedirectAction {
        scheme_rewrite_specifier: redirect
            .scheme
            .clone()
            .map(redirect_action::SchemeRewriteSpecifier::SchemeRedirect),
        host_redirect: redirect.host.clone().unwrap_or_default(),
        port_redirect: redirect.port.map_or(0, u32::from),
        path_rewrite_specifier: redirect
            .path
            .clone()
            .map(redirect_action::PathRewriteSpecifier::PathRedirect),
        response_code: response_code(redirect.code),
        strip_query: redirect.strip_query,
    }
}

fn response_code(code: RedirectCode) -> i32 {
    use redirect_action::RedirectResponseCode as C;
    (match code {
        RedirectCode::MovedPermanently => C::MovedPermanently,
        RedirectCode::Found => C::Found,
        RedirectCode::SeeOther => C::SeeOther,
        RedirectCode::TemporaryRedirect => C::TemporaryRedirect,
        RedirectCode::PermanentRedirect => C::PermanentRedirect,
    }) as i32
}

/// One backend: `cluster`; several: `weighted_clusters`; none: `None` (the route
/// then answers 503, as for a missing Service). With a `fallback` (default
/// backend), each backend's cluster is its aggregate with the fallback
/// ([`super::fallback_cluster`]), unless it is the fallback itself.
pub(super) fn cluster_specifier(
    forward: &Forward,
    fallback: Option<&ClusterTarget>,
) -> Option<ClusterSpecifier> {
    let name = |b: &WeightedBackend| match fallback {
        Some(fallback) if fallback.name != b.cluster.name => {
            fallback_cluster_name(&b.cluster.name, &fallback.name)
        }
        _ => b.cluster.name.clone(),
    };
    match forward.backends.as_slice() {
        [] => None,
        [one] => Some(ClusterSpecifier::Cluster(name(one))),
        several => Some(ClusterSpecifier::WeightedClusters(WeightedCluster {
            clusters: several
                .iter()
                .map(|b| ClusterWeight {
                    name: name(b),
                    weight: Some(UInt32Value { value: b.weight }),
                    ..ClusterWeight::default()
                })
                .collect(),
            ..WeightedCluster::default()
        })),
    }
}

fn unavailable() -> RouteActionKind {
    RouteActionKind::DirectResponse(DirectResponseAction {
        status: 503,
        body: Some(DataSource {
            specifier: Some(Specifier::InlineString(UNAVAILABLE_BODY.to_owned())),
            ..DataSource::default()
        }),
        ..DirectResponseAction::default()
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::translate::model::{
        ClusterTarget, PathType, RoutePolicy, Served, WeightedBackend, Winner,
    };
    use crate::world::{Kind, ObjectKey, ObjectRef};

    fn specifier(path_type: PathType, matcher: PathMatch) -> PathSpecifier {
        route_match(&PathRule { path_type, matcher })
            .path_specifier
            .unwrap_or_else(|| panic!("no path specifier"))
    }

    #[test]
    fn path_matches_map_to_envoy_specifiers() {
        use PathType::*;
        assert_eq!(
            specifier(Exact, PathMatch::Exact("/foo/".into())),
            PathSpecifier::Path("/foo/".into())
        );
        assert_eq!(
            specifier(Prefix, PathMatch::Prefix("/foo".into())),
            PathSpecifier::PathSeparatedPrefix("/foo".into())
        );
        assert_eq!(
            specifier(Prefix, PathMatch::Prefix("/".into())),
            PathSpecifier::Prefix("/".into())
        );
        assert!(matches!(
            specifier(ImplementationSpecific, PathMatch::Regex("/v[0-9]+/.*".into())),
            PathSpecifier::SafeRegex(RegexMatcher { regex, .. }) if regex == "/v[0-9]+/.*"
        ));
    }

    #[test]
    fn several_backends_become_weighted_clusters() {
        let backend = |port, weight| WeightedBackend {
            cluster: Arc::new(ClusterTarget::new(ObjectKey::new("ns", "web"), port, None)),
            weight,
        };
        let forward = Forward {
            backends: vec![backend(80, 90), backend(81, 10)],
        };
        let Some(ClusterSpecifier::WeightedClusters(weighted)) = cluster_specifier(&forward, None)
        else {
            panic!("expected weighted clusters");
        };
        let got: Vec<(&str, Option<u32>)> = weighted
            .clusters
            .iter()
            .map(|c| (c.name.as_str(), c.weight.as_ref().map(|w| w.value)))
            .collect();
        assert_eq!(got, [("ns/web:80", Some(90)), ("ns/web:81", Some(10))]);
    }

    #[test]
    fn a_default_backend_wraps_each_other_backend_in_its_aggregate() {
        let target =
            |name: &str| Arc::new(ClusterTarget::new(ObjectKey::new("ns", name), 80, None));
        let errors = target("errors");
        let forward = |name: &str| Forward::to(WeightedBackend::all(target(name)));
        assert_eq!(
            cluster_specifier(&forward("web"), Some(&errors)),
            Some(ClusterSpecifier::Cluster(
                "ns/web:80|default-backend=ns/errors:80".to_owned()
            ))
        );
        assert_eq!(
            cluster_specifier(&forward("errors"), Some(&errors)),
            Some(ClusterSpecifier::Cluster("ns/errors:80".to_owned())),
            "a backend that is its own default backend needs no aggregate"
        );
    }

    #[test]
    fn a_forward_without_backends_answers_503() {
        let served = Served {
            action: Action::Forward(Forward { backends: vec![] }),
            policy: RoutePolicy::default(),
            problem: None,
        };
        let owner = ObjectRef {
            kind: Kind::Ingress,
            key: ObjectKey::new("ns", "web"),
        };
        let placed = PlacedRoute {
            path: None,
            winner: Winner {
                served: &served,
                owner: &owner,
                canary: None,
            },
            one_label: false,
        };
        let rendered = route(&placed, None, Scheme::Https);
        assert_eq!(rendered.name, "ns/web");
        assert!(matches!(
            rendered.action,
            Some(RouteActionKind::DirectResponse(DirectResponseAction {
                status: 503,
                ..
            }))
        ));
    }
}

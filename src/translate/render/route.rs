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

use envoy_types::pb::envoy::config::core::v3::{data_source::Specifier, DataSource};
use envoy_types::pb::envoy::config::route::v3::{
    header_matcher::HeaderMatchSpecifier, route::Action as RouteActionKind,
    route_action::ClusterSpecifier, route_match::PathSpecifier, weighted_cluster::ClusterWeight,
    DirectResponseAction, HeaderMatcher, Route, RouteAction, RouteMatch, WeightedCluster,
};
use envoy_types::pb::envoy::r#type::matcher::v3::{
    string_matcher::MatchPattern, RegexMatcher, StringMatcher,
};
use envoy_types::pb::google::protobuf::UInt32Value;

use super::ads::seconds;
use crate::translate::model::{Action, Forward, PathMatch, PathRule, PlacedRoute};

/// The idle timeout of forwarding routes.
pub const ROUTE_IDLE_TIMEOUT_SECS: i64 = 3600;

/// The body of a 503 for a missing Service or port.
pub const UNAVAILABLE_BODY: &str =
    "no healthy backend: the Ingress names a missing Service or port\n";

/// The Envoy route for `placed`. `authority` is its virtual host's one-label
/// regex, if the host is a wildcard.
pub fn route(placed: &PlacedRoute<'_>, authority: Option<&str>) -> Route {
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
    Route {
        name: placed.winner.owner.key.qualified(),
        r#match: Some(r#match),
        action: Some(action(&placed.winner.served.action)),
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

fn authority_matcher(regex: &str) -> HeaderMatcher {
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

fn action(action: &Action) -> RouteActionKind {
    match action {
        Action::Forward(forward) => match cluster_specifier(forward) {
            Some(clusters) => RouteActionKind::Route(RouteAction {
                cluster_specifier: Some(clusters),
                timeout: Some(seconds(0)),
                idle_timeout: Some(seconds(ROUTE_IDLE_TIMEOUT_SECS)),
                ..RouteAction::default()
            }),
            None => unavailable(),
        },
        Action::Unavailable => unavailable(),
    }
}

/// One backend: `cluster`; several: `weighted_clusters`; none: `None` (the route
/// then answers 503, as for a missing Service).
fn cluster_specifier(forward: &Forward) -> Option<ClusterSpecifier> {
    match forward.backends.as_slice() {
        [] => None,
        [one] => Some(ClusterSpecifier::Cluster(one.cluster.name.clone())),
        several => Some(ClusterSpecifier::WeightedClusters(WeightedCluster {
            clusters: several
                .iter()
                .map(|b| ClusterWeight {
                    name: b.cluster.name.clone(),
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
        let Some(ClusterSpecifier::WeightedClusters(weighted)) = cluster_specifier(&forward) else {
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
            },
            one_label: false,
        };
        let rendered = route(&placed, None);
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

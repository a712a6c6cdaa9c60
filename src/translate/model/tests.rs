//! Precedence, merge and conflict rules of the model, without Kubernetes or
//! protobuf: contributions are built by hand, and the result is read back as text.

use std::sync::Arc;

use super::*;
use crate::translate::diagnostic::{Diagnostic, Diagnostics, Severity};
use crate::world::{Kind, ObjectKey, ObjectRef};

// === fixtures ===

/// An Ingress `ns/<name>` as the owner of a claim (shared by the model's tests).
pub(super) fn owner(name: &str) -> ObjectRef {
    ObjectRef {
        kind: Kind::Ingress,
        key: ObjectKey::new("ns", name),
    }
}

fn target(service: &str) -> Arc<ClusterTarget> {
    Arc::new(ClusterTarget::new(ObjectKey::new("ns", service), 80, None))
}

fn to(service: &str) -> Outcome {
    Outcome::Serve(Served {
        action: Action::Forward(Forward::to(WeightedBackend::all(target(service)))),
        policy: RoutePolicy::default(),
        problem: None,
    })
}

fn unavailable(problem: &str) -> Outcome {
    Outcome::Serve(Served {
        action: Action::Unavailable,
        policy: RoutePolicy::default(),
        problem: Some(problem.to_owned()),
    })
}

fn prefix(path: &str) -> PathRule {
    PathRule {
        path_type: PathType::Prefix,
        matcher: PathMatch::Prefix(path.to_owned()),
    }
}

fn exact(path: &str) -> PathRule {
    PathRule {
        path_type: PathType::Exact,
        matcher: PathMatch::Exact(path.to_owned()),
    }
}

/// A host from a fixture's spelling.
pub(super) fn host(name: &str) -> Host {
    Host::parse(name).unwrap_or_else(|e| panic!("bad fixture host: {e}"))
}

fn rule(on: Option<&str>, paths: Vec<(PathRule, Outcome)>) -> RuleClaim {
    RuleClaim {
        host: on.map(host),
        paths: paths
            .into_iter()
            .map(|(path, outcome)| PathClaim { path, outcome })
            .collect(),
    }
}

fn contribution(name: &str, rules: Vec<RuleClaim>) -> Contribution {
    Contribution {
        rules,
        ..Contribution::new(owner(name))
    }
}

/// Each virtual host as `host: route, route, …`, a route as
/// `<path> -> <service or 503> (<owner>)`, `!` marking a one-label route.
fn layout(contributions: &[Contribution]) -> (Vec<String>, Vec<Diagnostic>) {
    let mut diagnostics = Diagnostics::default();
    let merged = merge_routes(contributions, &mut diagnostics);
    let hosts = virtual_hosts(&merged)
        .iter()
        .map(|vh| {
            let routes: Vec<String> = vh.routes.iter().map(describe).collect();
            let name = vh.host.map_or("*", Host::as_str);
            format!("{name}: {}", routes.join(", "))
        })
        .collect();
    (hosts, diagnostics.finish())
}

fn describe(placed: &PlacedRoute<'_>) -> String {
    let path = placed
        .path
        .map_or_else(|| "default".to_owned(), ToString::to_string);
    let goes = match &placed.winner.served.action {
        Action::Forward(f) => f
            .backends
            .iter()
            .map(|b| b.cluster.service.name.clone())
            .collect::<Vec<_>>()
            .join("+"),
        Action::Unavailable => "503".to_owned(),
        Action::Redirect(r) => format!("{}", r.code.status()),
    };
    let goes = match placed.winner.canary {
        Some(c) => format!("{goes} (canary {})", c.owner.key.name),
        None => goes,
    };
    let guard = if placed.one_label { "!" } else { "" };
    format!("{guard}{path} -> {goes} ({})", placed.winner.owner.key.name)
}

fn messages(diagnostics: &[Diagnostic]) -> Vec<String> {
    diagnostics.iter().map(ToString::to_string).collect()
}

// === precedence ===

#[test]
fn longest_path_first_and_exact_before_prefix_on_a_tie() {
    let (hosts, _) = layout(&[contribution(
        "a",
        vec![rule(
            Some("foo.test"),
            vec![
                (prefix("/"), to("root")),
                (prefix("/api"), to("api")),
                (exact("/api"), to("exact")),
                (prefix("/api/v1"), to("v1")),
            ],
        )],
    )]);
    assert_eq!(
        hosts,
        [
            "foo.test: Prefix /api/v1 -> v1 (a), Exact /api -> exact (a), Prefix /api -> api (a), Prefix / -> root (a)",
            "*: ",
        ]
    );
}

#[test]
fn route_order_does_not_depend_on_the_order_paths_were_written() {
    let paths = || {
        vec![
            (prefix("/a"), to("a")),
            (exact("/b/c"), to("bc")),
            (prefix("/b"), to("b")),
        ]
    };
    let mut reversed = paths();
    reversed.reverse();
    let forward = layout(&[contribution("x", vec![rule(Some("h.test"), paths())])]);
    let backward = layout(&[contribution("x", vec![rule(Some("h.test"), reversed)])]);
    assert_eq!(forward, backward);
}

// === conflicts ===

#[test]
fn the_oldest_contribution_wins_an_identical_path_and_the_newer_is_reported() {
    let older = contribution(
        "old",
        vec![rule(Some("h.test"), vec![(prefix("/"), to("one"))])],
    );
    let newer = contribution(
        "new",
        vec![rule(Some("h.test"), vec![(prefix("/"), to("two"))])],
    );
    let (hosts, diagnostics) = layout(&[older, newer]);
    assert_eq!(hosts, ["h.test: Prefix / -> one (old)", "*: "]);
    assert_eq!(
        messages(&diagnostics),
        ["Ingress ns/new: host h.test: path Prefix / is already served by older Ingress ns/old; ignored here"]
    );
    assert_eq!(diagnostics[0].severity, Severity::Warning);
}

#[test]
fn the_same_path_twice_in_one_object_keeps_the_first() {
    let (hosts, diagnostics) = layout(&[contribution(
        "a",
        vec![
            rule(None, vec![(exact("/x"), to("first"))]),
            rule(None, vec![(exact("/x"), to("second"))]),
        ],
    )]);
    assert_eq!(hosts, ["*: Exact /x -> first (a)"]);
    assert_eq!(
        messages(&diagnostics),
        ["Ingress ns/a: rule without host: path Exact /x appears twice; the first one is used"]
    );
}

#[test]
fn different_path_types_on_one_path_are_different_routes() {
    let (hosts, diagnostics) = layout(&[
        contribution("a", vec![rule(None, vec![(prefix("/x"), to("p"))])]),
        contribution("b", vec![rule(None, vec![(exact("/x"), to("e"))])]),
    ]);
    assert_eq!(hosts, ["*: Exact /x -> e (b), Prefix /x -> p (a)"]);
    assert!(diagnostics.is_empty());
}

#[test]
fn a_refused_claim_leaves_the_path_to_a_newer_object() {
    let refused = Outcome::Refused("host h.test: path Prefix /: no backend; path skipped".into());
    let (hosts, diagnostics) = layout(&[
        contribution(
            "old",
            vec![rule(Some("h.test"), vec![(prefix("/"), refused)])],
        ),
        contribution(
            "new",
            vec![rule(Some("h.test"), vec![(prefix("/"), to("two"))])],
        ),
    ]);
    assert_eq!(hosts, ["h.test: Prefix / -> two (new)", "*: "]);
    assert_eq!(
        messages(&diagnostics),
        ["Ingress ns/old: host h.test: path Prefix /: no backend; path skipped"]
    );
}

#[test]
fn a_claims_problem_is_reported_only_when_it_wins() {
    let (hosts, diagnostics) = layout(&[
        contribution(
            "old",
            vec![rule(None, vec![(prefix("/"), unavailable("old: missing"))])],
        ),
        contribution(
            "new",
            vec![rule(None, vec![(prefix("/"), unavailable("new: missing"))])],
        ),
    ]);
    assert_eq!(hosts, ["*: Prefix / -> 503 (old)"]);
    assert_eq!(
        messages(&diagnostics),
        [
            "Ingress ns/new: rule without host: path Prefix / is already served by older Ingress ns/old; ignored here",
            "Ingress ns/old: old: missing",
        ]
    );
}

#[test]
fn a_host_has_a_virtual_host_even_when_all_its_paths_lose() {
    let (hosts, _) = layout(&[
        contribution(
            "old",
            vec![rule(Some("h.test"), vec![(prefix("/"), to("one"))])],
        ),
        contribution(
            "new",
            vec![rule(
                Some("other.test"),
                vec![(prefix("/"), Outcome::Refused("no".into()))],
            )],
        ),
    ]);
    assert_eq!(
        hosts,
        ["h.test: Prefix / -> one (old)", "other.test: ", "*: "]
    );
}

// === hosts ===

#[test]
fn hostless_paths_apply_to_every_host_and_a_hosts_own_path_wins() {
    let (hosts, _) = layout(&[
        contribution(
            "own",
            vec![rule(Some("h.test"), vec![(prefix("/a"), to("own"))])],
        ),
        contribution(
            "all",
            vec![rule(
                None,
                vec![(prefix("/a"), to("any")), (prefix("/abc"), to("long"))],
            )],
        ),
    ]);
    assert_eq!(
        hosts,
        [
            "h.test: Prefix /abc -> long (all), Prefix /a -> own (own)",
            "*: Prefix /abc -> long (all), Prefix /a -> any (all)",
        ]
    );
}

#[test]
fn a_wildcard_hosts_own_routes_check_one_label_and_hostless_ones_follow_them() {
    let (hosts, _) = layout(&[
        contribution(
            "own",
            vec![rule(Some("*.foo.test"), vec![(prefix("/a"), to("own"))])],
        ),
        contribution("all", vec![rule(None, vec![(prefix("/a"), to("any"))])]),
    ]);
    assert_eq!(
        hosts,
        [
            "*.foo.test: !Prefix /a -> own (own), Prefix /a -> any (all)",
            "*: Prefix /a -> any (all)",
        ]
    );
}

#[test]
fn virtual_hosts_sort_by_name_with_the_catch_all_last() {
    let (hosts, _) = layout(&[
        contribution(
            "a",
            vec![rule(Some("b.test"), vec![(prefix("/"), to("b"))])],
        ),
        contribution(
            "b",
            vec![rule(Some("*.a.test"), vec![(prefix("/"), to("a"))])],
        ),
    ]);
    assert_eq!(
        hosts,
        [
            "*.a.test: !Prefix / -> a (b)",
            "b.test: Prefix / -> b (a)",
            "*: "
        ]
    );
}

// === default backend ===

#[test]
fn the_default_backend_comes_last_everywhere_and_the_oldest_wins() {
    let mut old = contribution(
        "old",
        vec![rule(Some("h.test"), vec![(prefix("/x"), to("x"))])],
    );
    old.default_backend = Some(to("fallback"));
    let mut new = contribution("new", vec![]);
    new.default_backend = Some(to("other"));
    let (hosts, diagnostics) = layout(&[old, new]);
    assert_eq!(
        hosts,
        [
            "h.test: Prefix /x -> x (old), default -> fallback (old)",
            "*: default -> fallback (old)",
        ]
    );
    assert_eq!(
        messages(&diagnostics),
        ["Ingress ns/new: defaultBackend ignored: older Ingress ns/old already sets one"]
    );
}

#[test]
fn a_refused_default_backend_leaves_it_to_a_newer_object() {
    let mut old = contribution("old", vec![]);
    old.default_backend = Some(Outcome::Refused("defaultBackend: bad".into()));
    let mut new = contribution("new", vec![]);
    new.default_backend = Some(to("other"));
    let (hosts, diagnostics) = layout(&[old, new]);
    assert_eq!(hosts, ["*: default -> other (new)"]);
    assert_eq!(
        messages(&diagnostics),
        ["Ingress ns/old: defaultBackend: bad"]
    );
}

// === canaries ===

fn canary(name: &str, rules: Vec<RuleClaim>) -> Contribution {
    Contribution {
        canary: Some(Canary {
            weight: 10,
            total_weight: 100,
            ..Canary::default()
        }),
        ..contribution(name, rules)
    }
}

#[test]
fn a_canary_attaches_to_the_main_path_even_when_older() {
    let (hosts, diagnostics) = layout(&[
        canary(
            "beta",
            vec![rule(Some("a.test"), vec![(prefix("/"), to("v2"))])],
        ),
        contribution(
            "main",
            vec![rule(Some("a.test"), vec![(prefix("/"), to("v1"))])],
        ),
    ]);
    assert_eq!(
        hosts,
        ["a.test: Prefix / -> v1 (canary beta) (main)", "*: "]
    );
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
}

#[test]
fn a_canary_without_main_path_or_after_another_canary_is_reported() {
    let (hosts, diagnostics) = layout(&[
        contribution(
            "main",
            vec![rule(Some("a.test"), vec![(prefix("/"), to("v1"))])],
        ),
        canary(
            "first",
            vec![rule(
                Some("a.test"),
                vec![(prefix("/"), to("v2")), (prefix("/lonely"), to("v2"))],
            )],
        ),
        canary(
            "second",
            vec![rule(Some("a.test"), vec![(prefix("/"), to("v3"))])],
        ),
    ]);
    assert_eq!(
        hosts,
        ["a.test: Prefix / -> v1 (canary first) (main)", "*: "]
    );
    assert_eq!(
        messages(&diagnostics),
        [
            "Ingress ns/first: host a.test: canary path Prefix /lonely has no main Ingress serving it; ignored",
            "Ingress ns/second: host a.test: path Prefix / already has canary Ingress ns/first; ignored here",
        ]
    );
}

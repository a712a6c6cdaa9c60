//! Translator tests for routing: hosts, paths, precedence, merging across
//! Ingresses, default backends, backends that cannot be resolved, and bad input.
//! No runtime: worlds in, Envoy config out.

#[path = "translate_support.rs"]
mod support;

use serde_json::json;
use support::*;

const NS: &str = "default";

fn web() -> interlock::world::Object {
    service(NS, "web", &[(Some("http"), 80)])
}

#[test]
fn only_default_backend_is_the_catch_all() {
    let t = run([
        ingress(
            NS,
            "default-only",
            0,
            json!({"defaultBackend": backend("web", 80)}),
        ),
        web(),
    ]);
    assert_eq!(vhost_names(&t), ["*"]);
    assert_eq!(routes(&t, "*"), ["prefix / -> default/web:80"]);
    assert_eq!(t.clusters.len(), 1);
    assert_eq!(t.endpoints.len(), 1);
    assert!(t.diagnostics.is_empty(), "{:?}", messages(&t));
}

#[test]
fn path_types_become_envoy_matches() {
    let t = run([
        ingress(
            NS,
            "paths",
            0,
            json!({"rules": [rule(Some("a.test"), vec![
                path("Exact", "/exact/", backend("web", 80)),
                path("Prefix", "/prefix/", backend("web", 80)),
                path("Prefix", "/", backend("web", 80)),
                path("ImplementationSpecific", "/static", backend("web", 80)),
                path("ImplementationSpecific", "/v[0-9]+/.*", backend("web", 80)),
            ])]}),
        ),
        web(),
    ]);
    assert_eq!(
        routes(&t, "a.test"),
        [
            "regex /v[0-9]+/.* -> default/web:80",
            "exact /exact/ -> default/web:80",
            // Same length: Prefix before ImplementationSpecific.
            "sep-prefix /prefix -> default/web:80",
            "sep-prefix /static -> default/web:80",
            "prefix / -> default/web:80",
        ]
    );
}

#[test]
fn trailing_slash_prefix_is_the_same_rule() {
    let t = run([
        ingress(
            NS,
            "a",
            0,
            json!({"rules": [rule(Some("a.test"), vec![
                path("Prefix", "/foo/", backend("web", 80)),
                path("Prefix", "/foo", backend("other", 80)),
            ])]}),
        ),
        web(),
    ]);
    assert_eq!(routes(&t, "a.test"), ["sep-prefix /foo -> default/web:80"]);
    assert!(has_diagnostic(&t, &["Prefix /foo", "appears twice"]));
}

#[test]
fn precedence_is_longest_first_then_exact_then_prefix() {
    let t = run([
        ingress(
            NS,
            "order",
            0,
            json!({"rules": [rule(Some("a.test"), vec![
                path("Prefix", "/", backend("web", 80)),
                path("Prefix", "/api", backend("web", 80)),
                path("ImplementationSpecific", "/api", backend("web", 80)),
                path("Exact", "/api", backend("web", 80)),
                path("Prefix", "/api/v1", backend("web", 80)),
                path("Exact", "/ap", backend("web", 80)),
            ])]}),
        ),
        web(),
    ]);
    assert_eq!(
        routes(&t, "a.test"),
        [
            "sep-prefix /api/v1 -> default/web:80",
            "exact /api -> default/web:80",
            "sep-prefix /api -> default/web:80",
            "sep-prefix /api -> default/web:80",
            "exact /ap -> default/web:80",
            "prefix / -> default/web:80",
        ]
    );
}

#[test]
fn hostless_rules_merge_into_every_host_and_the_host_wins_ties() {
    let t = run([
        ingress(
            NS,
            "hosts",
            0,
            json!({
                "rules": [
                    rule(Some("b.test"), vec![path("Prefix", "/shared", backend("web", 80))]),
                    rule(None, vec![
                        path("Prefix", "/shared", backend("other", 81)),
                        path("Prefix", "/common/longer", backend("other", 81)),
                    ]),
                    rule(Some("a.test"), vec![path("Exact", "/x", backend("web", 80))]),
                ],
                "defaultBackend": backend("fallback", 82),
            }),
        ),
        web(),
        service(NS, "other", &[(None, 81)]),
        service(NS, "fallback", &[(None, 82)]),
    ]);
    assert_eq!(vhost_names(&t), ["a.test", "b.test", "*"]);
    assert_eq!(
        routes(&t, "a.test"),
        [
            "sep-prefix /common/longer -> default/other:81",
            "sep-prefix /shared -> default/other:81",
            "exact /x -> default/web:80",
            "prefix / -> default/fallback:82",
        ]
    );
    assert_eq!(
        routes(&t, "b.test"),
        [
            "sep-prefix /common/longer -> default/other:81",
            "sep-prefix /shared -> default/web:80",
            "prefix / -> default/fallback:82",
        ]
    );
    assert_eq!(
        routes(&t, "*"),
        [
            "sep-prefix /common/longer -> default/other:81",
            "sep-prefix /shared -> default/other:81",
            "prefix / -> default/fallback:82",
        ]
    );
    for vh in &table(&t, "http").virtual_hosts {
        assert_eq!(
            vh.domains,
            std::slice::from_ref(&vh.name),
            "one domain per host, no :port variants"
        );
    }
}

#[test]
fn wildcard_routes_check_one_label_and_keep_the_catch_all_reachable() {
    let t = run([
        ingress(
            NS,
            "wild",
            0,
            json!({
                "rules": [
                    rule(Some("*.foo.com"), vec![
                        path("Prefix", "/api", backend("web", 80)),
                        path("Prefix", "/", backend("web", 80)),
                    ]),
                    rule(None, vec![
                        path("Prefix", "/api/v1", backend("other", 81)),
                        path("Prefix", "/api", backend("other", 81)),
                    ]),
                ],
                "defaultBackend": backend("fallback", 82),
            }),
        ),
        web(),
        service(NS, "other", &[(None, 81)]),
        service(NS, "fallback", &[(None, 82)]),
    ]);
    let one_label = "[:authority~[^.]+\\.[^.]+\\.[^.]+(?::[0-9]+)?]";
    assert_eq!(
        routes(&t, "*.foo.com"),
        [
            "sep-prefix /api/v1 -> default/other:81".to_owned(),
            format!("sep-prefix /api {one_label} -> default/web:80"),
            "sep-prefix /api -> default/other:81".to_owned(),
            format!("prefix / {one_label} -> default/web:80"),
            "prefix / -> default/fallback:82".to_owned(),
        ]
    );
    assert_eq!(vhost(&t, "*.foo.com").domains, ["*.foo.com"]);
    // Without the regex-guarded routes, a deeper host sees exactly the catch-all.
    let deep: Vec<String> = routes(&t, "*.foo.com")
        .into_iter()
        .filter(|r| !r.contains(":authority"))
        .collect();
    assert_eq!(deep, routes(&t, "*"));
}

#[test]
fn oldest_ingress_wins_a_shared_host_and_path() {
    // "b-old" is older than "a-new" although it sorts after it by name.
    let t = run([
        ingress(
            NS,
            "a-new",
            20,
            json!({"rules": [rule(Some("shop.test"), vec![
                path("Prefix", "/cart", backend("new", 80)),
                path("Prefix", "/new-only", backend("new", 80)),
            ])]}),
        ),
        ingress(
            NS,
            "b-old",
            10,
            json!({"rules": [rule(Some("shop.test"), vec![
                path("Prefix", "/cart", backend("old", 80)),
            ])]}),
        ),
        service(NS, "new", &[(None, 80)]),
        service(NS, "old", &[(None, 80)]),
    ]);
    assert_eq!(
        routes(&t, "shop.test"),
        [
            "sep-prefix /new-only -> default/new:80",
            "sep-prefix /cart -> default/old:80",
        ]
    );
    assert!(has_diagnostic(
        &t,
        &[
            "Ingress default/a-new:",
            "/cart",
            "older Ingress default/b-old"
        ]
    ));
    assert!(!messages(&t)
        .iter()
        .any(|m| m.starts_with("Ingress default/b-old")));
}

#[test]
fn same_creation_time_falls_back_to_namespace_and_name() {
    let t = run([
        ingress(
            "ns-b",
            "x",
            5,
            json!({"rules": [rule(Some("h.test"), vec![path("Exact", "/", backend("s", 80))])]}),
        ),
        ingress(
            "ns-a",
            "x",
            5,
            json!({"rules": [rule(Some("h.test"), vec![path("Exact", "/", backend("s", 80))])]}),
        ),
        service("ns-a", "s", &[(None, 80)]),
        service("ns-b", "s", &[(None, 80)]),
    ]);
    assert_eq!(routes(&t, "h.test"), ["exact / -> ns-a/s:80"]);
    assert!(has_diagnostic(
        &t,
        &["Ingress ns-b/x:", "older Ingress ns-a/x"]
    ));
}

#[test]
fn oldest_default_backend_wins() {
    let t = run([
        ingress(
            NS,
            "young",
            30,
            json!({"defaultBackend": backend("young", 80)}),
        ),
        ingress(NS, "old", 3, json!({"defaultBackend": backend("old", 80)})),
        service(NS, "young", &[(None, 80)]),
        service(NS, "old", &[(None, 80)]),
    ]);
    assert_eq!(routes(&t, "*"), ["prefix / -> default/old:80"]);
    assert!(has_diagnostic(
        &t,
        &[
            "Ingress default/young:",
            "defaultBackend ignored",
            "default/old"
        ]
    ));
    assert_eq!(
        t.clusters.len(),
        1,
        "the losing default backend gets no cluster"
    );
}

#[test]
fn missing_service_keeps_the_route_answering_503() {
    let t = run([
        ingress(
            NS,
            "gone",
            0,
            json!({"rules": [rule(Some("a.test"), vec![
                path("Prefix", "/", backend("web", 80)),
                path("Prefix", "/missing", backend("nope", 80)),
            ])]}),
        ),
        web(),
    ]);
    assert_eq!(
        routes(&t, "a.test"),
        ["sep-prefix /missing -> 503", "prefix / -> default/web:80"],
        "the 503 route keeps its precedence instead of falling to /"
    );
    assert!(has_diagnostic(
        &t,
        &[
            "Ingress default/gone:",
            "Service default/nope not found",
            "503"
        ]
    ));
    assert_eq!(t.clusters.len(), 1);
}

#[test]
fn unknown_port_name_or_number_answers_503() {
    let by_name = json!({"service": {"name": "web", "port": {"name": "grpc"}}});
    let no_port = json!({"service": {"name": "web"}});
    let t = run([
        ingress(
            NS,
            "ports",
            0,
            json!({"rules": [rule(Some("a.test"), vec![
                path("Exact", "/name", by_name),
                path("Exact", "/number", backend("web", 8080)),
                path("Exact", "/none", no_port),
                path("Exact", "/ok", json!({"service": {"name": "web", "port": {"name": "http"}}})),
            ])]}),
        ),
        web(),
    ]);
    assert_eq!(
        routes(&t, "a.test"),
        [
            "exact /number -> 503",
            "exact /name -> 503",
            "exact /none -> 503",
            "exact /ok -> default/web:80",
        ]
    );
    assert!(has_diagnostic(&t, &["no TCP port \"grpc\""]));
    assert!(has_diagnostic(&t, &["no TCP port 8080"]));
    assert!(has_diagnostic(&t, &["no port number or name"]));
}

#[test]
fn named_and_numbered_references_share_one_cluster() {
    let t = run([
        ingress(
            NS,
            "same",
            0,
            json!({"rules": [rule(Some("a.test"), vec![
                path("Exact", "/a", json!({"service": {"name": "web", "port": {"name": "http"}}})),
                path("Exact", "/b", backend("web", 80)),
            ])]}),
        ),
        web(),
    ]);
    let names: Vec<&str> = t.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["default/web:80"]);
}

#[test]
fn unsupported_backends_skip_only_their_path() {
    let resource =
        json!({"resource": {"apiGroup": "k8s.example.com", "kind": "Bucket", "name": "b"}});
    let both = json!({"service": {"name": "web", "port": {"number": 80}}, "resource": {"kind": "Bucket", "name": "b"}});
    let t = run([
        ingress(
            NS,
            "res",
            0,
            json!({
                "rules": [rule(Some("a.test"), vec![
                    path("Prefix", "/bucket", resource.clone()),
                    path("Prefix", "/both", both),
                    path("Prefix", "/neither", json!({})),
                    path("Prefix", "/", backend("web", 80)),
                ])],
                "defaultBackend": resource,
            }),
        ),
        web(),
    ]);
    assert_eq!(routes(&t, "a.test"), ["prefix / -> default/web:80"]);
    assert_eq!(routes(&t, "*"), Vec::<String>::new());
    assert!(has_diagnostic(
        &t,
        &["/bucket", "resource backends are not supported"]
    ));
    assert!(has_diagnostic(&t, &["/both", "both service and resource"]));
    assert!(has_diagnostic(
        &t,
        &["/neither", "neither service nor resource"]
    ));
    assert!(has_diagnostic(
        &t,
        &["defaultBackend", "resource backends are not supported"]
    ));
}

#[test]
fn bad_hosts_skip_their_rule_only() {
    let t = run([
        ingress(
            NS,
            "hosts",
            0,
            json!({"rules": [
                rule(Some("10.0.0.1"), vec![path("Prefix", "/", backend("web", 80))]),
                rule(Some("Bad_Host.test"), vec![path("Prefix", "/", backend("web", 80))]),
                rule(Some("a.*.test"), vec![path("Prefix", "/", backend("web", 80))]),
                rule(Some("good.test"), vec![path("Prefix", "/", backend("web", 80))]),
            ]}),
        ),
        web(),
    ]);
    assert_eq!(vhost_names(&t), ["good.test", "*"]);
    assert!(has_diagnostic(
        &t,
        &["\"10.0.0.1\" is an IP address", "rule is skipped"]
    ));
    assert!(has_diagnostic(&t, &["\"Bad_Host.test\"", "DNS-1123"]));
    assert!(has_diagnostic(&t, &["\"a.*.test\"", "DNS-1123"]));
}

#[test]
fn bad_paths_skip_only_themselves() {
    let t = run([
        ingress(
            NS,
            "paths",
            0,
            json!({"rules": [rule(Some("a.test"), vec![
                path("ImplementationSpecific", "/(a)\\1", backend("web", 80)),
                path("ImplementationSpecific", "/(?=look)", backend("web", 80)),
                path("ImplementationSpecific", "/a{5000}", backend("web", 80)),
                path("ImplementationSpecific", "/*+", backend("web", 80)),
                path("Prefix", "relative", backend("web", 80)),
                path("Exact", "/q?x=1", backend("web", 80)),
                path("Regex", "/r", backend("web", 80)),
                json!({"pathType": "Exact", "backend": backend("web", 80)}),
                path("Prefix", "/ok", backend("web", 80)),
            ])]}),
        ),
        web(),
    ]);
    assert_eq!(routes(&t, "a.test"), ["sep-prefix /ok -> default/web:80"]);
    for parts in [
        // RE2's own reasons, as Envoy would give them.
        &["/(a)\\\\1", "RE2 rejects", "invalid escape sequence"][..],
        &["/(?=look)", "RE2 rejects", "invalid perl operator"][..],
        &["/a{5000}", "RE2 rejects", "invalid repetition size"][..],
        &["\"/*+\"", "RE2 rejects", "bad repetition operator: *+"][..],
        &["\"relative\"", "does not start with '/'"][..],
        &["\"/q?x=1\"", "'?'"][..],
        &["unknown pathType \"Regex\""][..],
        &["Exact path must not be empty"][..],
    ] {
        assert!(
            has_diagnostic(&t, parts),
            "{parts:?} in {:#?}",
            messages(&t)
        );
    }
}

#[test]
fn missing_path_type_is_prefix_with_a_warning() {
    let t = run([
        ingress(
            NS,
            "lazy",
            0,
            json!({"rules": [rule(Some("a.test"), vec![
                json!({"path": "/docs/", "backend": backend("web", 80)}),
                json!({"pathType": "ImplementationSpecific", "backend": backend("web", 80)}),
            ])]}),
        ),
        web(),
    ]);
    assert_eq!(
        routes(&t, "a.test"),
        [
            "sep-prefix /docs -> default/web:80",
            "prefix / -> default/web:80"
        ]
    );
    assert!(has_diagnostic(
        &t,
        &["\"/docs/\" has no pathType; treated as Prefix"]
    ));
}

#[test]
fn empty_and_partial_ingresses_never_take_others_down() {
    let t = run([
        ingress(NS, "empty-spec", 0, json!({})),
        ingress_raw(
            json!({"namespace": NS, "name": "no-spec", "annotations": {"kubernetes.io/ingress.class": "interlock"}}),
            serde_json::Value::Null,
        ),
        ingress(
            NS,
            "no-http",
            1,
            json!({"rules": [{"host": "nohttp.test"}]}),
        ),
        ingress(
            NS,
            "no-paths",
            2,
            json!({"rules": [{"host": "nopaths.test", "http": {"paths": []}}]}),
        ),
        ingress(NS, "empty-rule", 3, json!({"rules": [{}]})),
        ingress(
            NS,
            "good",
            4,
            json!({"rules": [rule(Some("good.test"), vec![path("Prefix", "/", backend("web", 80))])]}),
        ),
        web(),
    ]);
    assert_eq!(vhost_names(&t), ["good.test", "*"]);
    assert_eq!(routes(&t, "good.test"), ["prefix / -> default/web:80"]);
    for name in [
        "empty-spec",
        "no-spec",
        "no-http",
        "no-paths",
        "empty-rule",
        "good",
    ] {
        assert!(
            t.ingresses
                .contains_key(&interlock::world::ObjectKey::new(NS, name)),
            "{name} is ours, so it is reported"
        );
    }
    assert!(has_diagnostic(
        &t,
        &["Ingress default/no-paths:", "no paths"]
    ));
    assert!(has_diagnostic(
        &t,
        &[
            "Ingress default/empty-spec:",
            "no rules and no defaultBackend"
        ]
    ));
}

#[test]
fn foreign_ingresses_get_nothing_and_no_diagnostics() {
    let bad_rule =
        json!({"rules": [rule(Some("1.2.3.4"), vec![path("Prefix", "/", backend("nope", 80))])]});
    let mut foreign = bad_rule.clone();
    foreign["ingressClassName"] = json!("nginx");
    let mut other_controller = bad_rule.clone();
    other_controller["ingressClassName"] = json!("theirs");
    let t = run([
        ingress(NS, "nginx", 0, foreign),
        ingress(NS, "theirs", 0, other_controller),
        ingress_raw(json!({"namespace": NS, "name": "classless"}), bad_rule),
        ingress_class("theirs", "example.com/other", true),
        // An IngressClass named like our configured class but owned by someone else.
        ingress_class("interlock", "example.com/other", false),
        ingress(
            NS,
            "shadowed",
            0,
            json!({"defaultBackend": backend("web", 80)}),
        ),
    ]);
    assert!(t.diagnostics.is_empty(), "{:?}", messages(&t));
    assert!(t.ingresses.is_empty());
    assert!(t.clusters.is_empty());
    assert_eq!(routes(&t, "*"), Vec::<String>::new());
}

#[test]
fn ingress_class_objects_and_the_configured_name_select_ingresses() {
    let spec =
        |class: &str| json!({"ingressClassName": class, "defaultBackend": backend("web", 80)});
    let t = run([
        ingress_class("edge", "interlock.dev/ingress-controller", false),
        ingress(NS, "by-class-object", 0, spec("edge")),
        ingress(NS, "by-config-name", 1, spec("interlock")),
        ingress(NS, "unknown-class", 2, spec("nobody")),
        web(),
    ]);
    let served: Vec<&str> = t.ingresses.keys().map(|k| k.name.as_str()).collect();
    assert_eq!(served, ["by-class-object", "by-config-name"]);
}

#[test]
fn default_class_annotation_adopts_classless_ingresses() {
    let classless = || {
        ingress_raw(
            json!({"namespace": NS, "name": "classless", "creationTimestamp": timestamp(0)}),
            json!({"defaultBackend": backend("web", 80)}),
        )
    };
    let ours_default = run([
        ingress_class("edge", "interlock.dev/ingress-controller", true),
        classless(),
        web(),
    ]);
    assert_eq!(routes(&ours_default, "*"), ["prefix / -> default/web:80"]);

    let ours_not_default = run([
        ingress_class("edge", "interlock.dev/ingress-controller", false),
        ingress_class("other", "example.com/other", true),
        classless(),
        web(),
    ]);
    assert!(ours_not_default.ingresses.is_empty());
    assert_eq!(routes(&ours_not_default, "*"), Vec::<String>::new());
}

#[test]
fn legacy_class_annotation_selects_ingresses() {
    let meta = |name: &str, class: &str| {
        json!({
            "namespace": NS, "name": name,
            "annotations": {"kubernetes.io/ingress.class": class},
        })
    };
    let spec = json!({"rules": [rule(Some("legacy.test"), vec![path("Prefix", "/", backend("web", 80))])]});
    let t = run([
        ingress_raw(meta("legacy", "interlock"), spec.clone()),
        ingress_raw(meta("legacy-foreign", "nginx"), spec),
        web(),
    ]);
    let served: Vec<&str> = t.ingresses.keys().map(|k| k.name.as_str()).collect();
    assert_eq!(served, ["legacy"]);
    assert_eq!(routes(&t, "legacy.test"), ["prefix / -> default/web:80"]);
}

#[test]
fn ingress_class_name_beats_the_legacy_annotation() {
    let t = run([
        ingress_raw(
            json!({"namespace": NS, "name": "both", "annotations": {"kubernetes.io/ingress.class": "interlock"}}),
            json!({"ingressClassName": "nginx", "defaultBackend": backend("web", 80)}),
        ),
        web(),
    ]);
    assert!(t.ingresses.is_empty());
}

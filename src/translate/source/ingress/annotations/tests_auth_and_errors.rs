//! Table-driven tests of `auth-url` and its options, `default-backend` and
//! `custom-http-errors`: values in, model values and verdicts out, no
//! protobuf.

use std::net::IpAddr;

use serde_json::json;

use super::external_auth::parse_url;
use super::test_fixtures::{read_in, verdict};
use crate::translate::model::{AuthHost, AuthServer};
use crate::world::{Object, World};

fn server(tls: bool, host: AuthHost, port: u16) -> AuthServer {
    AuthServer { tls, host, port }
}

fn name(host: &str) -> AuthHost {
    AuthHost::Name(host.to_owned())
}

fn ip(text: &str) -> AuthHost {
    AuthHost::Ip(text.parse::<IpAddr>().unwrap_or_else(|e| panic!("{e}")))
}

#[test]
fn auth_urls_give_their_server_and_path() {
    let cases = [
        ("http://auth", server(false, name("auth"), 80), "/"),
        (
            "HTTPS://Auth.Example.com/oauth2/auth?x=1#frag",
            server(true, name("auth.example.com"), 443),
            "/oauth2/auth?x=1",
        ),
        (
            "http://10.0.0.1:9000?q",
            server(false, ip("10.0.0.1"), 9000),
            "/?q",
        ),
        ("https://[::1]:8443/v", server(true, ip("::1"), 8443), "/v"),
        (
            "http://auth.ns.svc.cluster.local:8080/verify",
            server(false, name("auth.ns.svc.cluster.local"), 8080),
            "/verify",
        ),
    ];
    for (url, want_server, want_path) in cases {
        assert_eq!(
            parse_url(url),
            Ok((want_server, want_path.to_owned())),
            "{url}"
        );
    }
}

#[test]
fn unusable_auth_urls_are_refused() {
    for url in [
        "https://$host/oauth2/auth",
        "ftp://auth/",
        "auth/verify",
        "http://",
        "http:///path",
        "http://auth:0/",
        "http://auth:99999/",
        "http://auth:x/",
        "http://user@auth/",
        "http://bad_host/",
        "http://a b/",
        "http://[::1/",
    ] {
        assert!(parse_url(url).is_err(), "{url} accepted");
    }
}

#[test]
fn auth_url_and_its_options_fill_the_policy() {
    let a = read_in(
        &World::new(),
        &[
            ("auth-url", "http://auth.test:8080/verify"),
            ("auth-method", "post"),
            ("auth-response-headers", "X-User, x-email,X-User"),
            ("auth-request-redirect", "/after"),
            ("auth-always-set-cookie", "true"),
            ("auth-cache-key", "$remote_user"),
        ],
    );
    let auth = a.policy.external_auth.as_deref().expect("external auth");
    assert_eq!(auth.server, server(false, name("auth.test"), 8080));
    assert_eq!(auth.path, "/verify");
    assert_eq!(auth.response_headers, ["x-user", "x-email"]);
    assert_eq!(auth.request_redirect.as_deref(), Some("/after"));
    assert!(auth.original_uri_headers && auth.always_set_cookie);
    assert_eq!(a.refusal, None);
    assert!(verdict(&a, "auth-method").starts_with("approximated"));
    assert_eq!(verdict(&a, "auth-response-headers"), "honoured");
    assert!(verdict(&a, "auth-cache-key").starts_with("ignored"));
}

#[test]
fn invalid_auth_options_are_ignored_but_auth_stays() {
    let a = read_in(
        &World::new(),
        &[
            ("auth-url", "http://auth.test/"),
            ("auth-method", "FETCH"),
            ("auth-response-headers", "X User"),
            ("auth-always-set-cookie", "maybe"),
        ],
    );
    let auth = a.policy.external_auth.as_deref().expect("external auth");
    assert!(auth.response_headers.is_empty());
    assert!(!auth.original_uri_headers && !auth.always_set_cookie);
    for name in [
        "auth-method",
        "auth-response-headers",
        "auth-always-set-cookie",
    ] {
        assert!(verdict(&a, name).starts_with("invalid"), "{name}");
    }
}

#[test]
fn an_unusable_auth_url_fails_closed() {
    let a = read_in(
        &World::new(),
        &[
            ("auth-url", "https://$host/oauth2/auth"),
            ("auth-response-headers", "X-User"),
        ],
    );
    assert_eq!(a.policy.external_auth, None);
    assert!(a.refusal.as_deref().is_some_and(|r| r.contains("503")));
    assert!(verdict(&a, "auth-url").starts_with("invalid"));
    assert!(verdict(&a, "auth-response-headers").starts_with("ignored"));
}

#[test]
fn auth_servers_name_their_cluster_by_scheme_host_and_port() {
    let plain = server(false, name("auth"), 80);
    let tls = server(true, name("auth"), 80);
    assert_eq!(plain.cluster_name(), "external-auth|http://auth:80");
    assert_ne!(plain.cluster_name(), tls.cluster_name());
    assert_eq!(
        server(false, ip("::1"), 8080).cluster_name(),
        "external-auth|http://[::1]:8080"
    );
    assert_eq!(server(true, name("a"), 443).authority(), "a");
    assert_eq!(server(true, name("a"), 80).authority(), "a:80");
}

fn world_with_services() -> World {
    let mut world = World::new();
    for (svc_ns, svc, ports) in [
        (
            "ns",
            "errors",
            json!([{"port": 53, "protocol": "UDP"}, {"port": 8080}, {"port": 9090}]),
        ),
        ("ns", "portless", json!([])),
        ("other", "errors", json!([{"port": 80}])),
    ] {
        let service = serde_json::from_value(json!({
            "metadata": {"namespace": svc_ns, "name": svc},
            "spec": {"ports": ports},
        }))
        .unwrap_or_else(|e| panic!("bad fixture: {e}"));
        world.upsert(Object::Service(service));
    }
    world
}

#[test]
fn default_backend_is_the_services_first_tcp_port() {
    let world = world_with_services();
    for value in ["errors", "ns/errors"] {
        let a = read_in(&world, &[("default-backend", value)]);
        let target = a.policy.default_backend.as_deref().expect(value);
        assert_eq!(target.name, "ns/errors:8080");
        assert!(verdict(&a, "default-backend").starts_with("approximated"));
    }
}

#[test]
fn an_unusable_default_backend_is_ignored() {
    let world = world_with_services();
    for value in ["missing", "other/errors", "portless", "ns/"] {
        let a = read_in(&world, &[("default-backend", value)]);
        assert_eq!(a.policy.default_backend, None, "{value}");
        assert_eq!(a.refusal, None, "{value}: the routes keep serving");
        assert!(
            verdict(&a, "default-backend").starts_with("invalid"),
            "{value}"
        );
    }
}

#[test]
fn signin_urls_resolve_variables_and_append_the_redirect_parameter() {
    use crate::translate::model::UrlPart::{Host, RequestUri, Scheme, Text};
    let text = |t: &str| Text(t.to_owned());
    let original = || vec![Scheme, text("://"), Host, RequestUri];
    let cases = [
        (
            "https://login.test/start",
            "rd",
            [vec![text("https://login.test/start?rd=")], original()].concat(),
        ),
        (
            "https://login.test/start?x=1",
            "next",
            [vec![text("https://login.test/start?x=1&next=")], original()].concat(),
        ),
        (
            "https://$host/oauth2/start?rd=$escaped_request_uri",
            "rd",
            vec![
                text("https://"),
                Host,
                text("/oauth2/start?rd="),
                RequestUri,
            ],
        ),
        (
            "https://${http_host}/s",
            "rd",
            [vec![text("https://"), Host, text("/s?rd=")], original()].concat(),
        ),
    ];
    for (url, param, want) in cases {
        assert_eq!(
            super::external_auth::signin_url(url, param).map(|s| s.parts),
            Ok(want),
            "{url}"
        );
    }
    for url in [
        "login.test/start",
        "https://$remote_addr/",
        "https://${host/",
        "https://login test/",
    ] {
        assert!(
            super::external_auth::signin_url(url, "rd").is_err(),
            "{url}"
        );
    }
}

#[test]
fn signin_verdicts() {
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut all = vec![("auth-url", "http://auth.test/")];
        all.extend_from_slice(extra);
        read_in(&World::new(), &all)
    };
    let ok = with(&[("auth-signin", "https://login.test/")]);
    assert!(verdict(&ok, "auth-signin").starts_with("approximated"));
    assert!(ok
        .policy
        .external_auth
        .as_deref()
        .is_some_and(|a| a.signin.is_some()));
    let bad = with(&[("auth-signin", "https://$remote_addr/")]);
    assert!(verdict(&bad, "auth-signin").starts_with("invalid"));
    assert!(bad
        .policy
        .external_auth
        .as_deref()
        .is_some_and(|a| a.signin.is_none()));
    assert_eq!(bad.refusal, None, "the 401 still refuses");
    let param = with(&[
        ("auth-signin", "https://login.test/"),
        ("auth-signin-redirect-param", "bad param"),
    ]);
    assert!(verdict(&param, "auth-signin-redirect-param").starts_with("invalid"));
    let alone = read_in(&World::new(), &[("auth-signin", "https://login.test/")]);
    assert!(verdict(&alone, "auth-signin").starts_with("ignored: auth-url"));
}

#[test]
fn custom_http_errors_need_a_default_backend() {
    let world = world_with_services();
    let a = read_in(
        &world,
        &[
            ("custom-http-errors", "503, 404,503"),
            ("default-backend", "errors"),
        ],
    );
    let errors = a.policy.custom_errors.as_deref().expect("custom errors");
    assert_eq!(errors.codes, [404, 503]);
    assert_eq!(errors.backend.name, "ns/errors:8080");
    assert_eq!(
        (errors.namespace.as_str(), errors.ingress.as_str()),
        ("ns", "ing")
    );
    assert!(verdict(&a, "custom-http-errors").starts_with("approximated"));

    let alone = read_in(&world, &[("custom-http-errors", "404")]);
    assert_eq!(alone.policy.custom_errors, None);
    assert!(verdict(&alone, "custom-http-errors").starts_with("ignored"));
    let unusable = read_in(
        &world,
        &[
            ("custom-http-errors", "404"),
            ("default-backend", "missing"),
        ],
    );
    assert_eq!(unusable.policy.custom_errors, None);

    for value in ["abc", "200", "404,600", "", " , "] {
        let bad = read_in(
            &world,
            &[("custom-http-errors", value), ("default-backend", "errors")],
        );
        assert_eq!(bad.policy.custom_errors, None, "{value:?}");
        assert!(
            verdict(&bad, "custom-http-errors").starts_with("invalid"),
            "{value:?}"
        );
        assert!(bad.policy.default_backend.is_some(), "{value:?}");
    }
}

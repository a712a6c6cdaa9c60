//! Table-driven tests of every annotation group: values in, model values and
//! verdicts out, no protobuf.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use serde_json::json;

use super::test_fixtures::{check_verdicts, parse, read_in, verdict, VerdictCase};
use super::*;
use crate::translate::model::{CorsOrigin, HeaderValue, RedirectCode};
use crate::world::{Object, World};

/// `(annotations, annotation whose verdict is checked, verdict prefix)`.
const VERDICTS: &[VerdictCase] = &[
    (&[("rewrite-target", "/$1")], "rewrite-target", "honoured"),
    (&[("use-regex", "maybe")], "use-regex", "invalid"),
    (&[("use-regex", "true")], "use-regex", "approximated"),
    (&[("app-root", "app")], "app-root", "invalid"),
    (&[("ssl-redirect", "yes")], "ssl-redirect", "invalid"),
    (
        &[("force-ssl-redirect", "true")],
        "force-ssl-redirect",
        "honoured",
    ),
    (
        &[("permanent-redirect", "not a url")],
        "permanent-redirect",
        "invalid",
    ),
    (
        &[
            ("permanent-redirect", "https://a.test"),
            ("permanent-redirect-code", "305"),
        ],
        "permanent-redirect-code",
        "invalid",
    ),
    (
        &[
            ("temporal-redirect", "https://a.test"),
            ("permanent-redirect", "https://b.test"),
        ],
        "permanent-redirect",
        "ignored",
    ),
    (&[("canary-weight", "10")], "canary-weight", "ignored"),
    (
        &[("canary", "true"), ("canary-weight", "101")],
        "canary-weight",
        "invalid",
    ),
    (
        &[("canary", "true"), ("canary-weight-total", "0")],
        "canary-weight-total",
        "invalid",
    ),
    (
        &[("canary", "true"), ("canary-by-header", "bad header")],
        "canary-by-header",
        "invalid",
    ),
    (
        &[
            ("canary", "true"),
            ("canary-by-header", "x"),
            ("canary-by-header-pattern", "("),
        ],
        "canary-by-header-pattern",
        "invalid",
    ),
    (
        &[("canary", "true"), ("enable-cors", "true")],
        "enable-cors",
        "ignored",
    ),
    (
        &[("proxy-read-timeout", "ten")],
        "proxy-read-timeout",
        "invalid",
    ),
    (
        &[("proxy-connect-timeout", "5")],
        "proxy-connect-timeout",
        "honoured",
    ),
    (
        &[("proxy-next-upstream", "error bogus")],
        "proxy-next-upstream",
        "invalid",
    ),
    (
        &[("proxy-next-upstream", "error non_idempotent")],
        "proxy-next-upstream",
        "approximated",
    ),
    (
        &[("proxy-next-upstream-tries", "x")],
        "proxy-next-upstream-tries",
        "invalid",
    ),
    (
        &[("backend-protocol", "SPDY")],
        "backend-protocol",
        "invalid",
    ),
    (
        &[("backend-protocol", "GRPC")],
        "backend-protocol",
        "honoured",
    ),
    (
        &[("backend-protocol", "HTTP")],
        "backend-protocol",
        "honoured",
    ),
    (&[("upstream-vhost", "a b")], "upstream-vhost", "invalid"),
    (&[("proxy-body-size", "1x")], "proxy-body-size", "invalid"),
    (
        &[("whitelist-source-range", "10.0.0.0/33")],
        "whitelist-source-range",
        "invalid",
    ),
    (&[("limit-rps", "-1")], "limit-rps", "invalid"),
    (
        &[("limit-connections", "5")],
        "limit-connections",
        "ignored",
    ),
    (
        &[("cors-allow-origin", "*")],
        "cors-allow-origin",
        "ignored",
    ),
    (
        &[("enable-cors", "true"), ("cors-allow-origin", "nope")],
        "cors-allow-origin",
        "invalid",
    ),
    (
        &[("enable-cors", "true"), ("cors-max-age", "-1")],
        "cors-max-age",
        "invalid",
    ),
    (&[("auth-type", "digest")], "auth-type", "ignored"),
    (&[("auth-type", "basic")], "auth-secret", "absent"),
    (&[("auth-url", "http://auth")], "auth-url", "approximated"),
    (&[("auth-url", "https://$host/auth")], "auth-url", "invalid"),
    (
        &[("auth-method", "GET")],
        "auth-method",
        "ignored: auth-url",
    ),
    (
        &[("auth-url", "http://a"), ("auth-method", "FETCH")],
        "auth-method",
        "invalid",
    ),
    (
        &[("auth-url", "http://a"), ("auth-signin", "https://s/")],
        "auth-signin",
        "approximated",
    ),
    (
        &[("default-backend", "missing")],
        "default-backend",
        "invalid",
    ),
    (
        &[("custom-http-errors", "404,503")],
        "custom-http-errors",
        "ignored: needs the default-backend",
    ),
    (
        &[("ssl-passthrough", "true")],
        "ssl-passthrough",
        "honoured",
    ),
    (
        &[("ssl-passthrough", "maybe")],
        "ssl-passthrough",
        "invalid",
    ),
    (
        &[("ssl-passthrough", "true"), ("rewrite-target", "/")],
        "rewrite-target",
        "ignored: ssl-passthrough",
    ),
    (
        &[("auth-tls-verify-client", "on")],
        "auth-tls-verify-client",
        "ignored: auth-tls-secret is not set",
    ),
    (
        &[("auth-tls-secret", "ns/missing")],
        "auth-tls-secret",
        "invalid: Secret ns/missing not found",
    ),
    (
        &[("auth-tls-secret", "a/b/c")],
        "auth-tls-secret",
        "invalid",
    ),
    (
        &[
            ("auth-tls-secret", "ns/missing"),
            ("auth-tls-verify-client", "sometimes"),
        ],
        "auth-tls-verify-client",
        "invalid",
    ),
    (
        &[
            ("auth-tls-secret", "ns/missing"),
            ("auth-tls-verify-depth", "deep"),
        ],
        "auth-tls-verify-depth",
        "invalid",
    ),
    (
        &[
            ("auth-tls-secret", "ns/missing"),
            ("auth-tls-pass-certificate-to-upstream", "yes"),
        ],
        "auth-tls-pass-certificate-to-upstream",
        "invalid",
    ),
    (
        &[
            ("auth-tls-secret", "ns/missing"),
            ("auth-tls-error-page", "https://e.test"),
        ],
        "auth-tls-error-page",
        "honoured",
    ),
    (
        &[
            ("auth-tls-secret", "ns/missing"),
            ("auth-tls-error-page", "/relative"),
        ],
        "auth-tls-error-page",
        "invalid",
    ),
    (
        &[
            ("auth-tls-secret", "ns/missing"),
            ("auth-tls-match-cn", "CN=client"),
        ],
        "auth-tls-match-cn",
        "ignored",
    ),
    (
        &[("configuration-snippet", "x")],
        "configuration-snippet",
        "ignored",
    ),
    (
        &[("made-up-annotation", "x")],
        "made-up-annotation",
        "ignored: not supported",
    ),
];

#[test]
fn every_annotation_gets_the_verdict_its_value_deserves() {
    check_verdicts(VERDICTS);
}

#[test]
fn other_prefixes_are_not_read() {
    let map = BTreeMap::from([
        ("example.com/rewrite-target".to_owned(), "/".to_owned()),
        (
            "nginx.ingress.kubernetes.io.evil/use-regex".to_owned(),
            "true".to_owned(),
        ),
    ]);
    let world = World::new();
    let mut lookups = Lookups::new(&world);
    let a = read(
        DEFAULT_PREFIX,
        &ObjectKey::new("ns", "i"),
        Some(&map),
        &mut lookups,
    );
    assert_eq!(a, IngressAnnotations::default());
    let custom = read(
        "example.com",
        &ObjectKey::new("ns", "i"),
        Some(&map),
        &mut lookups,
    );
    assert_eq!(custom.paths.rewrite_target.as_deref(), Some("/"));
}

#[test]
fn path_and_redirect_values() {
    let a = parse(&[
        ("rewrite-target", "/$2"),
        ("app-root", "/app"),
        ("x-forwarded-prefix", "/api"),
        ("ssl-redirect", "true"),
        ("from-to-www-redirect", "true"),
        ("permanent-redirect", "https://new.test/x"),
        ("permanent-redirect-code", "308"),
    ]);
    assert!(a.paths.regex);
    assert_eq!(a.paths.app_root.as_deref(), Some("/app"));
    assert_eq!(a.policy.forwarded_prefix.as_deref(), Some("/api"));
    assert!(a.redirect.ssl_redirect && !a.redirect.force_ssl_redirect);
    assert!(a.redirect.from_to_www);
    let redirect = a.redirect.redirect.expect("redirect");
    assert_eq!(redirect.code, RedirectCode::PermanentRedirect);
    assert_eq!(redirect.host.as_deref(), Some("new.test"));
    let temporal = parse(&[("temporal-redirect", "http://t.test")]);
    assert_eq!(
        temporal.redirect.redirect.map(|r| r.code),
        Some(RedirectCode::Found)
    );
}

#[test]
fn canary_values() {
    let c = parse(&[
        ("canary", "true"),
        ("canary-weight", "30"),
        ("canary-weight-total", "1000"),
        ("canary-by-header", "X-Canary"),
        ("canary-by-header-value", "yes"),
        ("canary-by-cookie", "beta"),
        ("rewrite-target", "/"),
    ]);
    let canary = c.canary.expect("canary");
    assert_eq!((canary.weight, canary.total_weight), (30, 1000));
    let header = canary.by_header.expect("header");
    assert_eq!(header.name, "x-canary");
    assert_eq!(header.value, HeaderValue::Exact("yes".into()));
    assert_eq!(canary.by_cookie.as_deref(), Some("beta"));
    assert_eq!(
        c.paths.rewrite_target, None,
        "a canary's other annotations are ignored"
    );
    let plain = parse(&[("canary", "true"), ("canary-by-header", "x")])
        .canary
        .expect("canary");
    assert_eq!((plain.weight, plain.total_weight), (0, 100));
    assert_eq!(
        plain.by_header.map(|h| h.value),
        Some(HeaderValue::AlwaysNever)
    );
    assert_eq!(
        parse(&[("canary", "false"), ("canary-weight", "5")]).canary,
        None
    );
}

#[test]
fn upstream_values() {
    let a = parse(&[
        ("upstream-vhost", "internal.test"),
        ("proxy-read-timeout", "2"),
        ("proxy-next-upstream", "error http_503 http_502"),
        ("proxy-next-upstream-tries", "4"),
    ]);
    assert_eq!(a.policy.upstream_host.as_deref(), Some("internal.test"));
    assert_eq!(a.policy.read_timeout, Some(Duration::from_secs(2)));
    let retry = a.policy.retry.expect("retry");
    assert!(retry.on_error && !retry.on_timeout);
    assert_eq!(retry.statuses, [502, 503]);
    assert_eq!(retry.retries, 3);
    assert_eq!(parse(&[("proxy-next-upstream", "off")]).policy.retry, None);
    let tries_only = parse(&[("proxy-next-upstream-tries", "2")])
        .policy
        .retry
        .expect("retry");
    assert!(tries_only.on_error && tries_only.on_timeout && tries_only.retries == 1);
}

#[test]
fn limit_values() {
    let a = parse(&[
        ("proxy-body-size", "8k"),
        ("whitelist-source-range", "10.0.0.0/8"),
        ("denylist-source-range", "10.1.0.0/16"),
        ("limit-rps", "5"),
        ("limit-rpm", "100"),
    ]);
    assert_eq!(a.policy.max_body_bytes, Some(8192));
    let ranges = a.policy.source_ranges.expect("ranges");
    assert_eq!((ranges.allow.len(), ranges.deny.len()), (1, 1));
    let limit = a.policy.rate_limit.expect("limit");
    assert_eq!(
        (limit.per_interval, limit.burst, limit.status),
        (5, 25, 503)
    );
    assert_eq!(
        parse(&[("proxy-body-size", "0")]).policy.max_body_bytes,
        None
    );
    let bad = parse(&[("allowlist-source-range", "garbage")]);
    assert!(bad.refusal.is_some(), "an invalid allowlist fails closed");
    let rpm = parse(&[("limit-rpm", "60"), ("limit-burst-multiplier", "2")]);
    let limit = rpm.policy.rate_limit.expect("limit");
    assert_eq!(
        (limit.per_interval, limit.interval, limit.burst),
        (60, Duration::from_secs(60), 120)
    );
}

#[test]
fn cors_values_default_to_ingress_nginx() {
    let a = parse(&[("enable-cors", "true")]);
    let cors = a.policy.cors.expect("cors");
    assert_eq!(cors.allow_origins, [CorsOrigin::Any]);
    assert!(cors.allow_credentials);
    assert_eq!(cors.max_age_secs, 1_728_000);
    assert!(cors.allow_methods.contains("PATCH"));
    let custom = parse(&[
        ("enable-cors", "true"),
        ("cors-allow-origin", "https://a.test"),
        ("cors-allow-credentials", "false"),
        ("cors-expose-headers", "X-Total"),
    ]);
    let cors = custom.policy.cors.expect("cors");
    assert_eq!(
        cors.allow_origins,
        [CorsOrigin::Exact("https://a.test".into())]
    );
    assert!(!cors.allow_credentials);
    assert_eq!(cors.expose_headers, "X-Total");
    assert_eq!(parse(&[("enable-cors", "false")]).policy.cors, None);
}

fn auth_world(data: serde_json::Value) -> World {
    let mut world = World::new();
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"namespace": "ns", "name": "users"},
        "stringData": data,
    }))
    .unwrap_or_else(|e| panic!("bad fixture: {e}"));
    world.upsert(Object::Secret(secret));
    world
}

#[test]
fn basic_auth_keeps_sha_users_and_fails_closed_without_any() {
    let sha = "{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=";
    let world = auth_world(json!({"auth": format!("alice:{sha}\nbob:$apr1$x$y\n")}));
    let a = read_in(&world, &[("auth-type", "basic"), ("auth-secret", "users")]);
    let auth = a.policy.basic_auth.as_ref().expect("basic auth");
    assert_eq!(auth.users, format!("alice:{sha}"));
    assert!(verdict(&a, "auth-secret").starts_with("approximated: 1 user"));
    assert_eq!(a.refusal, None);

    let map_world = auth_world(json!({"carol": sha}));
    let map = read_in(
        &map_world,
        &[
            ("auth-type", "basic"),
            ("auth-secret", "ns/users"),
            ("auth-secret-type", "auth-map"),
        ],
    );
    assert_eq!(
        map.policy.basic_auth.map(|a| a.users),
        Some(format!("carol:{sha}"))
    );

    for annotations in [
        &[("auth-type", "basic"), ("auth-secret", "missing")][..],
        &[("auth-type", "basic")][..],
        &[("auth-type", "basic"), ("auth-secret", "other/users")][..],
    ] {
        let a = read_in(&world, annotations);
        assert!(a.refusal.is_some(), "{annotations:?} must fail closed");
        assert_eq!(a.policy.basic_auth, None);
    }
    let only_apr = auth_world(json!({"auth": "bob:$apr1$x$y"}));
    let a = read_in(
        &only_apr,
        &[("auth-type", "basic"), ("auth-secret", "users")],
    );
    assert!(a.refusal.is_some());
}

const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

fn ca_world(name: &str, data: serde_json::Value) -> World {
    let mut world = World::new();
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"namespace": "certs", "name": name},
        "type": "Opaque",
        "stringData": data,
    }))
    .unwrap_or_else(|e| panic!("bad fixture: {e}"));
    world.upsert(Object::Secret(secret));
    world
}

#[test]
fn auth_tls_values_default_to_ingress_nginx_and_fail_closed_without_a_ca() {
    use crate::translate::model::ClientVerify;
    let world = ca_world("ca", json!({"ca.crt": CA}));
    let a = read_in(&world, &[("auth-tls-secret", "certs/ca")]);
    let auth = a.client_auth.as_ref().expect("client auth");
    assert_eq!(
        (
            auth.ca.name.as_str(),
            auth.verify,
            auth.depth,
            a.policy.client_certificate.map(|h| h.certificate)
        ),
        ("ca:certs/ca", ClientVerify::On, 1, Some(false)),
        "defaults: on, depth 1, not forwarded"
    );
    assert_eq!(auth.ca.certificates, CA.as_bytes());
    assert_eq!(a.refusal, None);

    let a = read_in(
        &world,
        &[
            ("auth-tls-secret", "certs/ca"),
            ("auth-tls-verify-client", "optional_no_ca"),
            ("auth-tls-verify-depth", "3"),
            ("auth-tls-pass-certificate-to-upstream", "true"),
        ],
    );
    let auth = a.client_auth.as_ref().expect("client auth");
    assert_eq!(
        (
            auth.verify,
            auth.depth,
            a.policy.client_certificate.map(|h| h.certificate)
        ),
        (ClientVerify::OptionalNoCa, 3, Some(true))
    );
    let a = read_in(
        &world,
        &[
            ("auth-tls-secret", "certs/ca"),
            ("auth-tls-verify-client", "optional"),
        ],
    );
    assert_eq!(
        a.client_auth.map(|c| c.verify),
        Some(ClientVerify::Optional)
    );

    // A refused client is redirected (302) to the error page.
    let a = read_in(
        &world,
        &[
            ("auth-tls-secret", "certs/ca"),
            ("auth-tls-error-page", "https://errors.test/cert"),
        ],
    );
    let page = a.client_auth.and_then(|c| c.error_page.clone());
    assert_eq!(
        page.map(|p| (p.host, p.path, p.code)),
        Some((
            Some("errors.test".to_owned()),
            Some("/cert".to_owned()),
            crate::translate::model::RedirectCode::Found
        ))
    );

    // An invalid mode is read as `on`, the strict default.
    let a = read_in(
        &world,
        &[
            ("auth-tls-secret", "certs/ca"),
            ("auth-tls-verify-client", "maybe"),
        ],
    );
    assert_eq!(a.client_auth.map(|c| c.verify), Some(ClientVerify::On));

    // `off`: nothing asked, nothing refused.
    let a = read_in(
        &world,
        &[
            ("auth-tls-secret", "certs/ca"),
            ("auth-tls-verify-client", "off"),
        ],
    );
    assert_eq!((a.client_auth, a.refusal), (None, None));

    // A missing Secret, or one without a PEM ca.crt: the routes answer 503.
    let no_ca = ca_world("ca", json!({"tls.crt": CA}));
    let not_pem = ca_world("ca", json!({"ca.crt": "garbage"}));
    for (world, annotation) in [
        (&world, "certs/missing"),
        (&no_ca, "certs/ca"),
        (&not_pem, "certs/ca"),
    ] {
        let a = read_in(world, &[("auth-tls-secret", annotation)]);
        assert!(a.refusal.is_some(), "{annotation} must fail closed");
        assert_eq!(a.client_auth, None);
    }
}

#[test]
fn ssl_passthrough_ignores_the_other_annotations() {
    let a = parse(&[
        ("ssl-passthrough", "true"),
        ("proxy-body-size", "1k"),
        ("auth-tls-secret", "ns/ca"),
    ]);
    assert!(a.passthrough);
    assert_eq!(a.policy, crate::translate::model::RoutePolicy::default());
    assert_eq!((&a.client_auth, &a.refusal), (&None, &None));
    assert!(verdict(&a, "proxy-body-size").starts_with("ignored: ssl-passthrough"));
    assert!(!parse(&[("ssl-passthrough", "false")]).passthrough);
}

//! Table-driven tests of the cluster annotations (`backend-protocol`,
//! `load-balance`, `affinity` + `session-cookie-*`, `service-upstream`,
//! `proxy-connect-timeout`; `proxy-ssl-*` in `proxy_ssl_tests.rs`): values
//! in, upstream settings and verdicts out, no protobuf.

use std::time::Duration;

use super::test_fixtures::{check_verdicts, parse, verdict, VerdictCase};
use crate::translate::model::{Balance, SessionCookie, UpstreamProtocol, UpstreamTls};

/// `(annotations, annotation whose verdict is checked, verdict prefix)`.
const VERDICTS: &[VerdictCase] = &[
    (
        &[("backend-protocol", "HTTPS")],
        "backend-protocol",
        "honoured",
    ),
    (
        &[("backend-protocol", "grpcs")],
        "backend-protocol",
        "honoured",
    ),
    (
        &[("backend-protocol", "H2C")],
        "backend-protocol",
        "honoured",
    ),
    (
        &[("backend-protocol", "AUTO_HTTP")],
        "backend-protocol",
        "ignored",
    ),
    (
        &[("backend-protocol", "FCGI")],
        "backend-protocol",
        "ignored",
    ),
    (
        &[("backend-protocol", "SPDY")],
        "backend-protocol",
        "invalid",
    ),
    (
        &[("load-balance", "round_robin")],
        "load-balance",
        "honoured",
    ),
    (&[("load-balance", "ewma")], "load-balance", "approximated"),
    (&[("load-balance", "least_conn")], "load-balance", "invalid"),
    (
        &[("load-balance", "ewma"), ("affinity", "cookie")],
        "load-balance",
        "ignored",
    ),
    (&[("affinity", "cookie")], "affinity", "honoured"),
    (&[("affinity", "ip")], "affinity", "invalid"),
    (
        &[("affinity", "ip"), ("session-cookie-name", "S")],
        "session-cookie-name",
        "ignored",
    ),
    (
        &[("session-cookie-name", "S")],
        "session-cookie-name",
        "ignored",
    ),
    (
        &[("affinity", "cookie"), ("session-cookie-name", "a b")],
        "session-cookie-name",
        "invalid",
    ),
    (
        &[("affinity", "cookie"), ("session-cookie-max-age", "-1")],
        "session-cookie-max-age",
        "invalid",
    ),
    (
        &[("affinity", "cookie"), ("session-cookie-expires", "60")],
        "session-cookie-expires",
        "approximated",
    ),
    (
        &[
            ("affinity", "cookie"),
            ("session-cookie-samesite", "Sometimes"),
        ],
        "session-cookie-samesite",
        "invalid",
    ),
    (
        &[("affinity", "cookie"), ("session-cookie-path", "no-slash")],
        "session-cookie-path",
        "invalid",
    ),
    (
        &[("affinity", "cookie"), ("affinity-mode", "persistent")],
        "affinity-mode",
        "approximated",
    ),
    (
        &[("affinity", "cookie"), ("affinity-mode", "sticky")],
        "affinity-mode",
        "invalid",
    ),
    (
        &[
            ("affinity", "cookie"),
            ("session-cookie-change-on-failure", "true"),
        ],
        "session-cookie-change-on-failure",
        "ignored",
    ),
    (
        &[("service-upstream", "true")],
        "service-upstream",
        "honoured",
    ),
    (
        &[("service-upstream", "yes")],
        "service-upstream",
        "invalid",
    ),
    (
        &[("proxy-connect-timeout", "10s")],
        "proxy-connect-timeout",
        "honoured",
    ),
    (
        &[("proxy-connect-timeout", "0")],
        "proxy-connect-timeout",
        "invalid",
    ),
    (
        &[("proxy-connect-timeout", "soon")],
        "proxy-connect-timeout",
        "invalid",
    ),
    (&[("proxy-ssl-verify", "on")], "proxy-ssl-verify", "ignored"),
    (
        &[("backend-protocol", "HTTPS"), ("proxy-ssl-verify", "on")],
        "proxy-ssl-verify",
        "ignored",
    ),
    (
        &[
            ("backend-protocol", "HTTPS"),
            ("proxy-ssl-secret", "missing"),
        ],
        "proxy-ssl-secret",
        "invalid",
    ),
    (
        &[
            ("backend-protocol", "HTTPS"),
            ("proxy-ssl-secret", "other/ca"),
        ],
        "proxy-ssl-secret",
        "invalid",
    ),
];

#[test]
fn every_cluster_annotation_gets_the_verdict_its_value_deserves() {
    check_verdicts(VERDICTS);
}

#[test]
fn backend_protocol_chooses_http_version_and_tls() {
    let cases: &[(&str, UpstreamProtocol, bool)] = &[
        ("HTTP", UpstreamProtocol::Http1, false),
        ("HTTPS", UpstreamProtocol::Http1, true),
        ("GRPC", UpstreamProtocol::Http2, false),
        ("H2C", UpstreamProtocol::Http2, false),
        ("GRPCS", UpstreamProtocol::Http2, true),
        ("FCGI", UpstreamProtocol::Http1, false),
        ("bogus", UpstreamProtocol::Http1, false),
    ];
    for (value, protocol, tls) in cases {
        let settings = parse(&[("backend-protocol", value)]).cluster.settings;
        assert_eq!(settings.protocol, *protocol, "{value}");
        assert_eq!(settings.tls.is_some(), *tls, "{value}");
    }
    // Without proxy-ssl-secret: TLS with nginx's defaults (no SNI, no check).
    let https = parse(&[("backend-protocol", "HTTPS")]).cluster.settings;
    assert_eq!(https.tls.as_deref(), Some(&UpstreamTls::default()));
    assert!(parse(&[("backend-protocol", "HTTP")])
        .cluster
        .settings
        .is_default());
}

#[test]
fn load_balance_and_connect_timeout_values() {
    let balance = |v: &str| parse(&[("load-balance", v)]).cluster.settings.balance;
    assert_eq!(balance("round_robin"), Balance::RoundRobin);
    assert_eq!(balance("ewma"), Balance::LeastRequest);
    assert_eq!(balance("bogus"), Balance::RoundRobin);
    let timeout = |v: &str| {
        parse(&[("proxy-connect-timeout", v)])
            .cluster
            .settings
            .connect_timeout
    };
    assert_eq!(timeout("10"), Some(Duration::from_secs(10)));
    assert_eq!(timeout("1m"), Some(Duration::from_secs(60)));
    assert_eq!(timeout("0"), None);
    assert_eq!(timeout("x"), None);
    assert!(
        parse(&[("service-upstream", "true")])
            .cluster
            .service_upstream
    );
    assert!(
        !parse(&[("service-upstream", "nope")])
            .cluster
            .service_upstream
    );
}

#[test]
fn cookie_affinity_hashes_on_a_generated_cookie() {
    let a = parse(&[("affinity", "cookie")]);
    assert_eq!(a.cluster.settings.balance, Balance::RingHash);
    let defaults = SessionCookie {
        name: "INGRESSCOOKIE".to_owned(),
        path: None,
        max_age: None,
        attributes: Vec::new(),
    };
    assert_eq!(a.policy.session_cookie.as_deref(), Some(&defaults));
    let a = parse(&[
        ("affinity", "cookie"),
        ("session-cookie-name", "route"),
        ("session-cookie-path", "/app"),
        ("session-cookie-max-age", "3600"),
        ("session-cookie-expires", "60"),
        ("session-cookie-samesite", "Lax"),
        ("session-cookie-secure", "true"),
        ("session-cookie-domain", "a.test"),
        ("load-balance", "ewma"),
    ]);
    assert_eq!(a.cluster.settings.balance, Balance::RingHash);
    assert_eq!(
        a.policy.session_cookie.as_deref(),
        Some(&SessionCookie {
            name: "route".to_owned(),
            path: Some("/app".to_owned()),
            max_age: Some(Duration::from_secs(3600)),
            attributes: vec![
                ("SameSite".to_owned(), "Lax".to_owned()),
                ("Domain".to_owned(), "a.test".to_owned()),
                ("Secure".to_owned(), String::new()),
            ],
        })
    );
    // Expires alone gives the same lifetime as Max-Age.
    let expires = parse(&[("affinity", "cookie"), ("session-cookie-expires", "60")]);
    assert_eq!(
        expires.policy.session_cookie.and_then(|c| c.max_age),
        Some(Duration::from_secs(60))
    );
    // Invalid values fall back to the defaults, affinity stays.
    let bad = parse(&[
        ("affinity", "cookie"),
        ("session-cookie-name", "a;b"),
        ("session-cookie-samesite", "Often"),
    ]);
    assert_eq!(bad.policy.session_cookie.as_deref(), Some(&defaults));
    // No affinity without `affinity: cookie`.
    let none = parse(&[("affinity", "ip"), ("session-cookie-name", "x")]);
    assert_eq!(none.policy.session_cookie, None);
    assert_eq!(none.cluster.settings.balance, Balance::RoundRobin);
}

#[test]
fn a_canary_keeps_its_own_cluster_annotations_and_ignores_the_rest() {
    let a = parse(&[
        ("canary", "true"),
        ("canary-weight", "10"),
        ("backend-protocol", "GRPC"),
        ("load-balance", "ewma"),
        ("affinity", "cookie"),
        ("proxy-connect-timeout", "never"),
        ("enable-cors", "true"),
    ]);
    assert_eq!(a.cluster.settings.protocol, UpstreamProtocol::Http2);
    assert_eq!(a.cluster.settings.balance, Balance::RingHash);
    assert_eq!(
        a.cluster.session_cookie, None,
        "the route's cookie is the main's"
    );
    assert_eq!(a.policy, Default::default());
    for (name, expected) in [
        ("backend-protocol", "approximated"),
        ("load-balance", "ignored"),
        ("affinity", "approximated"),
        ("proxy-connect-timeout", "invalid"),
        ("enable-cors", "ignored: a canary Ingress uses the main"),
    ] {
        let got = verdict(&a, name);
        assert!(got.starts_with(expected), "{name}: {got}");
    }
}

//! Translator tests for TLS and listeners: SNI filter chains over SDS, Secret
//! validation (a bad Secret costs only its hosts' HTTPS), and the listener and
//! HTTP connection manager settings operators rely on.

#[path = "translate_support.rs"]
mod support;

use envoy_types::pb::envoy::config::core::v3::{
    address, data_source::Specifier, socket_address::PortSpecifier, transport_socket,
};
use envoy_types::pb::envoy::config::listener::v3::listener_filter;
use envoy_types::pb::envoy::config::route::v3::route::Action;
use envoy_types::pb::envoy::extensions::access_loggers::stream::v3::{
    stdout_access_log::AccessLogFormat, StdoutAccessLog,
};
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::http_connection_manager::{
    RouteSpecifier, StripPortMode,
};
use envoy_types::pb::envoy::config::accesslog::v3::access_log;
use envoy_types::pb::envoy::config::core::v3::substitution_format_string::Format;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{secret, DownstreamTlsContext};
use interlock::translate::{translate, TranslateConfig};
use prost::Message;
use serde_json::json;
use support::*;

const NS: &str = "default";

fn tls_ingress(name: &str, created: u32, hosts: &[&str], secret: &str) -> interlock::world::Object {
    ingress(
        NS,
        name,
        created,
        json!({
            "tls": [{"hosts": hosts, "secretName": secret}],
            "rules": [rule(Some("app.test"), vec![path("Prefix", "/", backend("web", 80))])],
        }),
    )
}

fn web() -> interlock::world::Object {
    service(NS, "web", &[(None, 80)])
}

/// `(secret name, server names)` of every HTTPS filter chain.
fn chains(t: &interlock::translate::Translation) -> Vec<(String, Vec<String>)> {
    let Some(l) = listener(t, "https") else {
        return Vec::new();
    };
    l.filter_chains
        .iter()
        .map(|c| {
            let socket = c.transport_socket.as_ref().expect("TLS chain");
            let Some(transport_socket::ConfigType::TypedConfig(any)) = &socket.config_type else {
                panic!("no typed config");
            };
            let tls: DownstreamTlsContext = unpack(any);
            let common = tls.common_tls_context.expect("common context");
            assert_eq!(common.tls_certificate_sds_secret_configs.len(), 1);
            let sds = &common.tls_certificate_sds_secret_configs[0];
            assert!(sds.sds_config.is_some(), "certificates come over SDS");
            let names = c
                .filter_chain_match
                .as_ref()
                .expect("SNI match")
                .server_names
                .clone();
            (sds.name.clone(), names)
        })
        .collect()
}

#[test]
fn tls_hosts_get_sni_chains_with_sds_certificates() {
    let t = run([
        tls_ingress("a", 0, &["b.test", "app.test", "*.wild.test"], "cert-a"),
        ingress(
            NS,
            "b",
            1,
            json!({"tls": [{"hosts": ["other.test"], "secretName": "cert-b"}]}),
        ),
        tls_secret(NS, "cert-a"),
        tls_secret(NS, "cert-b"),
        web(),
    ]);
    assert_eq!(
        chains(&t),
        [
            (
                "default/cert-a".to_owned(),
                vec![
                    "*.wild.test".to_owned(),
                    "app.test".to_owned(),
                    "b.test".to_owned()
                ]
            ),
            ("default/cert-b".to_owned(), vec!["other.test".to_owned()]),
        ]
    );
    let names: Vec<&str> = t.secrets.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["default/cert-a", "default/cert-b"]);
    let Some(secret::Type::TlsCertificate(cert)) = &t.secrets[0].r#type else {
        panic!("not a TLS certificate");
    };
    let inline = |ds: &Option<envoy_types::pb::envoy::config::core::v3::DataSource>| match ds
        .as_ref()
        .and_then(|d| d.specifier.clone())
    {
        Some(Specifier::InlineBytes(b)) => b,
        other => panic!("{other:?}"),
    };
    assert_eq!(inline(&cert.certificate_chain), TEST_CERT.as_bytes());
    assert_eq!(inline(&cert.private_key), TEST_KEY.as_bytes());

    let https = listener(&t, "https").expect("https listener");
    assert_eq!(https.listener_filters.len(), 1);
    let Some(listener_filter::ConfigType::TypedConfig(any)) =
        &https.listener_filters[0].config_type
    else {
        panic!("tls inspector needs a typed config");
    };
    assert!(any.type_url.ends_with("tls_inspector.v3.TlsInspector"));
    for i in 0..https.filter_chains.len() {
        let h = hcm(https, i);
        assert_eq!(h.stat_prefix, "https");
        assert!(
            matches!(h.route_specifier, Some(RouteSpecifier::Rds(ref r)) if r.route_config_name == "https")
        );
    }
    // Both tables carry the full set of virtual hosts.
    assert_eq!(
        table(&t, "http").virtual_hosts,
        table(&t, "https").virtual_hosts
    );
    // Hosts only in tls[] get no virtual host of their own: they fall to the catch-all.
    assert_eq!(vhost_names(&t), ["app.test", "*"]);
    let a = &t.ingresses[&interlock::world::ObjectKey::new(NS, "a")];
    assert_eq!(a.secrets.iter().collect::<Vec<_>>(), ["default/cert-a"]);
    assert_eq!(a.routes.iter().collect::<Vec<_>>(), ["http", "https"]);
}

#[test]
fn no_tls_means_no_https_listener_and_no_https_table() {
    let t = run([tls_ingress("a", 0, &[], "unused"), web()]);
    // `hosts: []` means the Ingress's own rule hosts, but the Secret is missing.
    assert!(listener(&t, "https").is_none());
    assert_eq!(t.routes.len(), 1);
    assert!(t.secrets.is_empty());
    assert_eq!(routes(&t, "app.test"), ["prefix / -> default/web:80"]);
}

#[test]
fn bad_secrets_cost_only_https_for_their_hosts() {
    let garbled_cert =
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";
    let t = run([
        tls_ingress("missing", 0, &["missing.test"], "nope"),
        tls_ingress("wrong-type", 1, &["opaque.test"], "opaque"),
        tls_ingress("garbled", 2, &["garbled.test"], "garbled"),
        tls_ingress("no-key", 3, &["nokey.test"], "nokey"),
        tls_ingress("bad-key", 4, &["badkey.test"], "badkey"),
        tls_ingress("good", 5, &["good.test"], "good"),
        secret(
            NS,
            "opaque",
            "Opaque",
            &[("tls.crt", TEST_CERT), ("tls.key", TEST_KEY)],
        ),
        secret(
            NS,
            "garbled",
            "kubernetes.io/tls",
            &[("tls.crt", garbled_cert), ("tls.key", TEST_KEY)],
        ),
        secret(NS, "nokey", "kubernetes.io/tls", &[("tls.crt", TEST_CERT)]),
        secret(
            NS,
            "badkey",
            "kubernetes.io/tls",
            &[("tls.crt", TEST_CERT), ("tls.key", TEST_CERT)],
        ),
        tls_secret(NS, "good"),
        web(),
    ]);
    assert_eq!(
        chains(&t),
        [("default/good".to_owned(), vec!["good.test".to_owned()])]
    );
    assert!(has_diagnostic(
        &t,
        &[
            "Ingress default/missing:",
            "Secret default/nope not found",
            "missing.test"
        ]
    ));
    assert!(has_diagnostic(
        &t,
        &["Ingress default/wrong-type:", "type \"Opaque\""]
    ));
    assert!(has_diagnostic(
        &t,
        &[
            "Ingress default/garbled:",
            "tls.crt is not a PEM certificate chain"
        ]
    ));
    assert!(has_diagnostic(
        &t,
        &["Ingress default/no-key:", "no \"tls.key\""]
    ));
    assert!(has_diagnostic(
        &t,
        &["Ingress default/bad-key:", "tls.key is not"]
    ));
    // HTTP is unaffected for every one of them.
    assert_eq!(routes(&t, "app.test"), ["prefix / -> default/web:80"]);
    // Nothing of the key material leaks into diagnostics or Debug output.
    let key_body = TEST_KEY.lines().nth(1).expect("key line");
    assert!(messages(&t)
        .iter()
        .all(|m| !m.contains(key_body) && !m.contains("MIIB")));
    assert!(!format!("{t:?}").contains(key_body));
}

#[test]
fn a_host_keeps_the_oldest_ingresses_certificate() {
    let t = run([
        tls_ingress("young", 9, &["shared.test"], "young-cert"),
        tls_ingress("old", 1, &["shared.test"], "old-cert"),
        tls_secret(NS, "young-cert"),
        tls_secret(NS, "old-cert"),
        web(),
    ]);
    assert_eq!(
        chains(&t),
        [(
            "default/old-cert".to_owned(),
            vec!["shared.test".to_owned()]
        )]
    );
    assert!(has_diagnostic(
        &t,
        &[
            "Ingress default/young:",
            "shared.test",
            "default/old-cert",
            "older Ingress default/old"
        ]
    ));
    let names: Vec<&str> = t.secrets.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["default/old-cert"],
        "an unused Secret is not served"
    );
}

#[test]
fn an_unusable_older_secret_does_not_block_a_usable_newer_one() {
    let t = run([
        tls_ingress("old", 1, &["shared.test"], "broken"),
        tls_ingress("young", 9, &["shared.test"], "fine"),
        tls_secret(NS, "fine"),
        web(),
    ]);
    assert_eq!(
        chains(&t),
        [("default/fine".to_owned(), vec!["shared.test".to_owned()])]
    );
}

#[test]
fn tls_entry_without_hosts_covers_the_ingress_rule_hosts() {
    let t = run([
        ingress(
            NS,
            "implicit",
            0,
            json!({
                "tls": [{"secretName": "cert"}],
                "rules": [
                    rule(Some("b.test"), vec![path("Prefix", "/", backend("web", 80))]),
                    rule(Some("a.test"), vec![path("Prefix", "/", backend("web", 80))]),
                    rule(None, vec![path("Prefix", "/", backend("web", 80))]),
                    rule(Some("1.2.3.4"), vec![path("Prefix", "/", backend("web", 80))]),
                ],
            }),
        ),
        ingress(
            NS,
            "nothing",
            1,
            json!({"tls": [{"secretName": "cert"}], "defaultBackend": backend("web", 80)}),
        ),
        ingress(
            NS,
            "no-secret-name",
            2,
            json!({"tls": [{"hosts": ["x.test"]}]}),
        ),
        tls_secret(NS, "cert"),
        web(),
    ]);
    assert_eq!(
        chains(&t),
        [(
            "default/cert".to_owned(),
            vec!["a.test".to_owned(), "b.test".to_owned()]
        )]
    );
    assert!(has_diagnostic(
        &t,
        &["Ingress default/nothing:", "no hosts"]
    ));
    assert!(has_diagnostic(
        &t,
        &["Ingress default/no-secret-name:", "no secretName"]
    ));
}

#[test]
fn invalid_tls_hosts_are_skipped() {
    let t = run([
        tls_ingress("a", 0, &["10.1.1.1", "UPPER.test", "ok.test"], "cert"),
        tls_secret(NS, "cert"),
        web(),
    ]);
    assert_eq!(
        chains(&t),
        [("default/cert".to_owned(), vec!["ok.test".to_owned()])]
    );
    assert!(has_diagnostic(
        &t,
        &["tls:", "\"10.1.1.1\" is an IP address"]
    ));
    assert!(has_diagnostic(&t, &["tls:", "\"UPPER.test\""]));
}

#[test]
fn string_data_secrets_are_accepted() {
    let mut s: k8s_openapi::api::core::v1::Secret = serde_json::from_value(json!({
        "metadata": {"namespace": NS, "name": "cert"},
        "type": "kubernetes.io/tls",
        "stringData": {"tls.crt": TEST_CERT, "tls.key": TEST_KEY},
    }))
    .expect("secret");
    s.data = None;
    let t = run([
        tls_ingress("a", 0, &["a.test"], "cert"),
        interlock::world::Object::Secret(s),
        web(),
    ]);
    assert_eq!(chains(&t).len(), 1, "{:?}", messages(&t));
}

#[test]
fn http_listener_is_stable_and_configured_for_operators() {
    let config = TranslateConfig {
        listen_address: "127.0.0.1".into(),
        http_port: 8080,
        ..TranslateConfig::default()
    };
    let small = translate(&world([web()]), &config);
    let big = translate(
        &world([
            ingress(
                NS,
                "a",
                0,
                json!({"rules": [rule(Some("a.test"), vec![path("Prefix", "/", backend("web", 80))])]}),
            ),
            tls_ingress("b", 1, &["b.test"], "cert"),
            tls_secret(NS, "cert"),
            web(),
        ]),
        &config,
    );
    let http = listener(&small, "http").expect("http listener always exists");
    assert_eq!(
        http.encode_to_vec(),
        listener(&big, "http").expect("http").encode_to_vec(),
        "routes and TLS never change the http listener's bytes"
    );
    let Some(address::Address::SocketAddress(sa)) =
        http.address.as_ref().and_then(|a| a.address.clone())
    else {
        panic!("no socket address");
    };
    assert_eq!(sa.address, "127.0.0.1");
    assert_eq!(sa.port_specifier, Some(PortSpecifier::PortValue(8080)));
    assert_eq!(http.filter_chains.len(), 1);

    let h = hcm(http, 0);
    assert_eq!(h.stat_prefix, "http");
    assert!(
        matches!(&h.route_specifier, Some(RouteSpecifier::Rds(r)) if r.route_config_name == "http")
    );
    assert_eq!(h.upgrade_configs.len(), 1);
    assert_eq!(h.upgrade_configs[0].upgrade_type, "websocket");
    assert_eq!(h.use_remote_address.map(|b| b.value), Some(true));
    assert_eq!(h.xff_num_trusted_hops, 0);
    assert_eq!(
        h.strip_port_mode,
        Some(StripPortMode::StripAnyHostPort(true))
    );
    assert_eq!(
        h.http_filters.last().map(|f| f.name.as_str()),
        Some("envoy.filters.http.router")
    );
    assert_eq!(h.access_log.len(), 1);
    assert_eq!(h.access_log[0].name, "envoy.access_loggers.stdout");
    let Some(access_log::ConfigType::TypedConfig(any)) = &h.access_log[0].config_type else {
        panic!("access log without typed config");
    };
    assert_eq!(
        any.type_url,
        "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog"
    );
    let log: StdoutAccessLog = unpack(any);
    let Some(AccessLogFormat::LogFormat(f)) = log.access_log_format else {
        panic!("no log format");
    };
    let Some(Format::TextFormatSource(src)) = f.format else {
        panic!("no text format");
    };
    let Some(Specifier::InlineString(text)) = src.specifier else {
        panic!("no inline format");
    };
    for field in [
        "%RESPONSE_FLAGS%",
        "%RESPONSE_CODE%",
        "%REQ(:AUTHORITY)%",
        "PATH)%",
        "%UPSTREAM_CLUSTER%",
        "%UPSTREAM_HOST%",
    ] {
        assert!(text.contains(field), "access log lacks {field}");
    }

    let https = listener(&big, "https").expect("https listener");
    let Some(address::Address::SocketAddress(sa)) =
        https.address.as_ref().and_then(|a| a.address.clone())
    else {
        panic!("no socket address");
    };
    assert_eq!(sa.port_specifier, Some(PortSpecifier::PortValue(10443)));
}

#[test]
fn forwarding_routes_never_time_out_long_lived_connections() {
    let t = run([
        ingress(
            NS,
            "a",
            0,
            json!({"rules": [rule(Some("a.test"), vec![path("Prefix", "/", backend("web", 80))])]}),
        ),
        web(),
    ]);
    let route = &vhost(&t, "a.test").routes[0];
    let Some(Action::Route(action)) = &route.action else {
        panic!("not a forwarding route");
    };
    assert_eq!(action.timeout.map(|d| (d.seconds, d.nanos)), Some((0, 0)));
    assert!(action.idle_timeout.is_some_and(|d| d.seconds >= 3600));
    assert_eq!(
        route.name, "default/a",
        "routes are named after their Ingress"
    );
}

//! Differential test of the translator against Envoy itself: whatever Interlock
//! sends, Envoy accepts. Invariant 8 says bad input is skipped piece by piece (with
//! a diagnostic) and never takes other routes down; one path, host or certificate
//! Envoy rejects would make it refuse a whole route table or listener, so anything
//! `envoy --mode validate` rejects is a translator bug.
//!
//! Each case generates 8–20 Ingresses from a nasty grammar (all three pathTypes,
//! regex fragments RE2 refuses or reads differently, odd and oversized hosts, TLS
//! entries naming good, broken and missing Secrets, backends by port number or
//! name, missing Services, resource backends, defaultBackends, Ingresses sharing
//! hosts), puts them into ONE world next to a fixed set of Services,
//! EndpointSlices and Secrets ([`fixed_objects`]), translates it, and has ONE
//! `envoy --mode validate` run check the result as a static bootstrap
//! (`static_bootstrap` in `translate_support.rs`, shared with
//! `translate_envoy.rs`). A missing Envoy is installed (via `envoy_binary`), never
//! skipped.
//!
//! Knobs (environment variables):
//! - `INTERLOCK_DIFFERENTIAL_CASES`: number of cases (default 48, a few seconds in
//!   a debug build; each case costs one Envoy run, about 0.1–1 s). E.g.
//!   `INTERLOCK_DIFFERENTIAL_CASES=1000 cargo test --test translate_differential`
//!   (about 1.5 minutes here).
//! - `PROPTEST_RNG_SEED`: the seed. Each run draws a new one otherwise; a failure
//!   prints the seed that reproduces it.
//!
//! Nothing is written into the repository (no proptest failure files). A failure
//! shows the shrunk counterexample as YAML Ingresses, Envoy's output and
//! Interlock's diagnostics.

#[path = "translate_support.rs"]
mod support;

#[allow(dead_code)]
#[path = "support/tls.rs"]
mod tls;

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::OnceLock;

use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use interlock::translate::{translate, TranslateConfig, Translation};
use interlock::world::{Kind, Object};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};
use serde_json::{json, Map, Value};
use support::*;

/// Cases per run unless `INTERLOCK_DIFFERENTIAL_CASES` says otherwise.
const DEFAULT_CASES: u32 = 48;

/// The namespaces generated Ingresses live in; each holds the same fixed objects.
const NAMESPACES: [&str; 2] = ["default", "team"];

const TLS_TYPE: &str = "kubernetes.io/tls";

// ---------------------------------------------------------------------------
// The grammar. Every list starts with its tamest entries: proptest shrinks a
// `select` towards the front, so counterexamples come out as plain as possible.

/// Path pieces without regex metacharacters.
const PLAIN: &[&str] = &[
    "a", "api", "v1", "app.js", ".", "..", "%2F", "~u", "-", "_", ":", "@", "&=", "!", ",", "'",
    "\"", "<>", "`", "%", ";x", "ü", "日本", "😀", "/", "//",
];

/// Regex pieces: fine ones, ones RE2 rejects, and ones only other engines know.
const REGEX: &[&str] = &[
    "[0-9]+",
    ".*",
    "[^/]+",
    "\\d+",
    "\\w",
    "\\s",
    "(?:a|b)",
    "(?i)",
    "(?s)",
    "(?m)",
    "(?U)",
    "(?-i)",
    "\\.",
    "\\/",
    "\\-",
    "\\b",
    "\\B",
    "\\A",
    "\\z",
    "^",
    "$",
    "|",
    "a+?",
    "a??",
    "a{,5}",
    "a{5,}",
    "(|a)",
    "()",
    "[]a]",
    "[\\d-z]",
    "\\x41",
    "\\x{41}",
    "\\Q.*\\E",
    "\\t",
    "\\n",
    "\\f",
    "\\a",
    "[\\n]",
    "(?P<x>a)",
    "*+",
    "*",
    "+",
    "?",
    "a**",
    "a*+",
    "a++",
    "x{2}{3}",
    "(?P<x>",
    "(?<x>a)",
    "(?P<x>a)(?P<x>b)",
    "(?P<1>a)",
    "(?P<>a)",
    "\\C",
    "[[:alpha:]]",
    "[[:^digit:]]",
    "[[:word:]]",
    "\\pN",
    "\\pN+",
    "\\p{Greek}",
    "\\PL",
    "\\pZ",
    "\\p{L}",
    "{2,1}",
    "a{2,1}",
    "a{1000}",
    "a{1001}",
    "(a)\\1",
    "\\1",
    "\\k<x>",
    "(?=a)",
    "(?!a)",
    "(?<=a)",
    "(?<!a)",
    "(?>a)",
    "(?#c)",
    "(?x)",
    "(?u)",
    "(?R)",
    "\\Z",
    "\\G",
    "\\X",
    "\\R",
    "\\h",
    "\\v",
    "\\e",
    "\\cA",
    "\\N",
    "\\0",
    "\\012",
    "\\ ",
    "\\<",
    "\\>",
    "\\b{start}",
    "\\x{263a}",
    "\\u0041",
    "\\x{80}",
    "[a&&b]",
    "[a--b]",
    "[a~~b]",
    "[[a]]",
    "[z-a]",
    "[ü]",
    "ü+",
    "(?i)ü",
    "[\\x00-\\x{10FFFF}]",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "\\",
    "\\#",
    "\\!",
];

/// Characters no path may carry as is.
const WEIRD: &[&str] = &[
    "%00",
    " ",
    "\t",
    "\n",
    "\r",
    "\0",
    "#",
    "?",
    "\u{7f}",
    "\u{a0}",
    "\u{200b}",
    "\u{feff}",
    "\u{2028}",
    "\u{fffd}",
    "\u{10ffff}",
];

/// What a path starts with.
const LEADS: &[&str] = &["/", "", "//", "./", "*"];

/// Fixed hosts, so Ingresses often share one.
const HOSTS: &[&str] = &[
    "a.test",
    "b.test",
    "*.a.test",
    "x.a.test",
    "*.test",
    "test",
    "xn--bcher-kva.test",
    "localhost",
    "A.test",
    "a.test:80",
    "a.test.",
    "*",
    "*.",
    "",
    ".",
    "bücher.test",
    "1.2.3.4",
    "999.1.1.1",
    "[::1]",
    "::1",
    "a..test",
    " a.test",
    "a.test\n",
];

/// DNS labels for composed hosts.
const LABELS: &[&str] = &[
    "a",
    "test",
    "x-y",
    "1",
    "xn--bcher-kva",
    "Foo",
    "UPPER",
    "bücher",
    "日本語",
    "😀",
    "-a",
    "a-",
    "",
    "a_b",
    "0x",
    "*",
    "a*b",
    "%41",
    "a b",
];

/// What precedes and follows a composed host.
const HOST_PREFIXES: &[&str] = &["", "*.", "*", ".", "-"];
const HOST_SUFFIXES: &[&str] = &["", ".", ":80", ":", ":0", ":99999", "..", " "];

const PATH_TYPES: &[&str] = &["Prefix", "Exact", "ImplementationSpecific", "", "prefix"];

/// Service names: existing ([`fixed_objects`]) and not.
const SERVICES: &[&str] = &[
    "web",
    "api",
    "nope",
    "odd",
    "ext",
    "udp",
    "Weird_Ü.name",
    "",
];
const PORT_NUMBERS: &[i32] = &[80, 8080, 9090, 53, 0, -1, 65535, 65536, 70000, i32::MAX];
const PORT_NAMES: &[&str] = &["http", "grpc", "", "nope", "dns", "zero", "big"];

/// Secret names: those of [`secrets`], plus missing and malformed ones.
const SECRET_NAMES: &[&str] = &[
    "good",
    "fresh",
    "chain",
    "ec-params",
    "trailing",
    "mismatch",
    "bogus-cert",
    "bogus-key",
    "garbage",
    "opaque",
    "no-key",
    "missing",
    "",
    "Bad_Name",
];

fn pick(items: &'static [&'static str]) -> impl Strategy<Value = String> + Clone {
    select(items).prop_map(str::to_owned)
}

/// A long piece: long literals, many groups, nested and huge repetitions, and
/// counted repetitions whose RE2 program lands around Envoy's size limit of 100.
fn arb_big() -> impl Strategy<Value = String> {
    let atoms = select(&["a", ".", "[a-z]", "\\d", "[^/]", "(ab)", "ü"][..]);
    prop_oneof![
        (atoms, 1usize..=120).prop_map(|(atom, n)| format!("{atom}{{{n}}}")),
        select(&[100usize, 300, 2000][..]).prop_map(|n| "a".repeat(n)),
        select(&[10usize, 30][..]).prop_map(|n| "(a|b)".repeat(n)),
        select(&[20usize, 60][..]).prop_map(|n| "[a-z]".repeat(n)),
        select(&[20usize, 60][..]).prop_map(|n| ".*".repeat(n)),
        pick(&[
            "((((((((((a))))))))))",
            "[a-z]{100}",
            "\\d{1,1000}",
            "(a{10}){10}",
            "((a{10}){10}){10}",
            "(?:a{2}){600}",
            "(.*){1000}",
            "((a{1000}){1000}){1000}",
        ]),
    ]
}

fn arb_fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => pick(PLAIN),
        4 => pick(REGEX),
        1 => pick(WEIRD),
        1 => arb_big(),
    ]
}

/// A path: missing, or a lead followed by fragments, some separated by `/`.
fn arb_path_text() -> impl Strategy<Value = Option<String>> {
    let composed = (
        prop_oneof![8 => Just("/"), 1 => select(LEADS)],
        prop::collection::vec(
            (prop_oneof![1 => Just(""), 2 => Just("/")], arb_fragment()),
            0..5,
        ),
    )
        .prop_map(|(lead, parts)| {
            let mut path = lead.to_owned();
            for (sep, part) in parts {
                path.push_str(sep);
                path.push_str(&part);
            }
            path
        });
    prop_oneof![12 => composed.prop_map(Some), 1 => Just(None)]
}

/// A host: from [`HOSTS`], composed from [`LABELS`], or very long.
fn arb_host() -> impl Strategy<Value = String> {
    let composed = (
        pick(HOST_PREFIXES),
        prop::collection::vec(pick(LABELS), 1..4),
        pick(HOST_SUFFIXES),
    )
        .prop_map(|(pre, labels, post)| format!("{pre}{}{post}", labels.join(".")));
    let long = prop_oneof![
        Just(format!("{}.test", "a".repeat(63))),
        Just(format!("{}.test", "a".repeat(64))),
        Just(format!("{}y", "x.".repeat(126))), // 253 characters
        Just(format!("{}yz", "x.".repeat(126))), // 254
        // Envoy's regex size limit allows the one-label check of about 23 labels.
        (18usize..=26).prop_map(|n| format!("*.{}test", "a.".repeat(n - 2))),
        Just(format!("*.{}test", "a.".repeat(40))),
        Just(format!(
            "*.{}",
            [
                "b".repeat(63),
                "c".repeat(63),
                "d".repeat(63),
                "e".repeat(59)
            ]
            .join(".")
        )),
    ];
    prop_oneof![6 => pick(HOSTS), 3 => composed, 1 => long]
}

fn arb_port() -> impl Strategy<Value = Option<Value>> + Clone {
    let number = select(PORT_NUMBERS);
    prop_oneof![
        4 => number.clone().prop_map(|n| Some(json!({"number": n}))),
        3 => pick(PORT_NAMES).prop_map(|n| Some(json!({"name": n}))),
        1 => (number, pick(PORT_NAMES)).prop_map(|(n, s)| Some(json!({"number": n, "name": s}))),
        1 => Just(Some(json!({}))),
        1 => Just(None),
    ]
}

/// Service backends that resolve to a cluster ([`fixed_objects`]).
const RESOLVABLE: &[(&str, &str)] = &[
    ("web", "80"),
    ("web", "http"),
    ("web", "8080"),
    ("api", "http"),
    ("api", "grpc"),
    ("api", "9090"),
    ("odd", "zero"),
    ("odd", "70000"),
    ("Weird_Ü.name", "80"),
];

fn arb_backend() -> impl Strategy<Value = Value> {
    let resolvable = select(RESOLVABLE).prop_map(|(name, port)| match port.parse::<i32>() {
        Ok(number) => json!({"name": name, "port": {"number": number}}),
        Err(_) => json!({"name": name, "port": {"name": port}}),
    });
    let any = (pick(SERVICES), arb_port()).prop_map(|(name, port)| {
        let mut service = json!({"name": name});
        if let Some(port) = port {
            service["port"] = port;
        }
        service
    });
    let resource = Just(json!({"apiGroup": "k8s.example.com", "kind": "Bucket", "name": "b"}));
    prop_oneof![
        8 => resolvable.prop_map(|s| json!({"service": s})),
        6 => any.clone().prop_map(|s| json!({"service": s})),
        1 => resource.clone().prop_map(|r| json!({"resource": r})),
        1 => (any, resource).prop_map(|(s, r)| json!({"service": s, "resource": r})),
        1 => Just(json!({})),
    ]
}

fn arb_http_path() -> impl Strategy<Value = Value> {
    (arb_path_text(), pick(PATH_TYPES), arb_backend()).prop_map(|(path, path_type, backend)| {
        let mut p = json!({"pathType": path_type, "backend": backend});
        if let Some(path) = path {
            p["path"] = json!(path);
        }
        p
    })
}

fn arb_ingress_rule() -> impl Strategy<Value = Value> {
    (
        prop_oneof![5 => arb_host().prop_map(Some), 1 => Just(None)],
        prop_oneof![
            10 => prop::collection::vec(arb_http_path(), 0..5).prop_map(Some),
            1 => Just(None),
        ],
    )
        .prop_map(|(host, paths)| {
            let mut rule = Map::new();
            if let Some(host) = host {
                rule.insert("host".into(), json!(host));
            }
            if let Some(paths) = paths {
                rule.insert("http".into(), json!({"paths": paths}));
            }
            Value::Object(rule)
        })
}

fn arb_tls_entry() -> impl Strategy<Value = Value> {
    (
        prop_oneof![
            4 => prop::collection::vec(arb_host(), 1..4).prop_map(Some),
            1 => Just(Some(Vec::new())),
            1 => Just(None),
        ],
        prop_oneof![8 => pick(SECRET_NAMES).prop_map(Some), 1 => Just(None)],
    )
        .prop_map(|(hosts, secret)| {
            let mut entry = Map::new();
            if let Some(hosts) = hosts {
                entry.insert("hosts".into(), json!(hosts));
            }
            if let Some(secret) = secret {
                entry.insert("secretName".into(), json!(secret));
            }
            Value::Object(entry)
        })
}

/// How an Ingress picks its class: ours by name, none (ours is the default
/// class), the legacy annotation, or another controller's.
#[derive(Clone, Copy, Debug)]
enum Class {
    Ours,
    Unset,
    Annotation,
    Other,
}

/// One generated Ingress: metadata and spec as they would appear in a manifest.
#[derive(Clone, Debug)]
struct GeneratedIngress {
    metadata: Value,
    spec: Value,
}

fn arb_generated_ingress() -> impl Strategy<Value = GeneratedIngress> {
    (
        select(&NAMESPACES[..]),
        prop_oneof![6 => (0u32..4).prop_map(Some), 1 => Just(None)],
        prop_oneof![
            8 => Just(Class::Ours),
            2 => Just(Class::Unset),
            1 => Just(Class::Annotation),
            1 => Just(Class::Other),
        ],
        prop::collection::vec(arb_ingress_rule(), 0..4),
        prop_oneof![3 => Just(None), 1 => arb_backend().prop_map(Some)],
        prop_oneof![2 => Just(Vec::new()), 1 => prop::collection::vec(arb_tls_entry(), 1..3)],
    )
        .prop_map(|(ns, created, class, rules, default, tls)| {
            let mut metadata = json!({"namespace": ns});
            if let Some(age) = created {
                metadata["creationTimestamp"] = json!(timestamp(age));
            }
            let mut spec = Map::new();
            match class {
                Class::Ours => {
                    spec.insert("ingressClassName".into(), json!("interlock"));
                }
                Class::Other => {
                    spec.insert("ingressClassName".into(), json!("other"));
                }
                Class::Annotation => {
                    metadata["annotations"] = json!({"kubernetes.io/ingress.class": "interlock"});
                }
                Class::Unset => {}
            }
            if !rules.is_empty() {
                spec.insert("rules".into(), json!(rules));
            }
            if let Some(default) = default {
                spec.insert("defaultBackend".into(), default);
            }
            if !tls.is_empty() {
                spec.insert("tls".into(), json!(tls));
            }
            GeneratedIngress {
                metadata,
                spec: Value::Object(spec),
            }
        })
}

/// One case: Ingresses named `ing-<index>`, translated together. A `None` is an
/// Ingress shrunk away: each one shrinks to `None`, so a counterexample shows only
/// the Ingresses it needs, while every case is generated with at least 8.
#[derive(Clone)]
struct Case(Vec<Option<GeneratedIngress>>);

fn arb_case() -> impl Strategy<Value = Case> {
    let ingress = prop::option::weighted(0.999, arb_generated_ingress());
    prop::collection::vec(ingress, 8..=20).prop_map(|mut ingresses| {
        for (i, ing) in ingresses.iter_mut().enumerate() {
            if let Some(ing) = ing {
                ing.metadata["name"] = json!(format!("ing-{i}"));
            }
        }
        Case(ingresses)
    })
}

impl Case {
    fn ingresses(&self) -> impl Iterator<Item = &GeneratedIngress> {
        self.0.iter().flatten()
    }

    fn objects(&self) -> impl Iterator<Item = Object> + '_ {
        self.ingresses()
            .map(|i| ingress_raw(i.metadata.clone(), i.spec.clone()))
    }
}

/// The Ingresses as a multi-document YAML manifest.
impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "(next to the Services, EndpointSlices and Secrets of fixed_objects())"
        )?;
        for i in self.ingresses() {
            let doc = json!({
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": i.metadata,
                "spec": i.spec,
            });
            let yaml = serde_saphyr::to_string(&doc).map_err(|_| fmt::Error)?;
            write!(f, "---\n{yaml}")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// The fixed part of every world.

/// A certificate and key made for this run with openssl, unrelated to `TEST_CERT`.
fn fresh_pair() -> &'static (String, String) {
    static PAIR: OnceLock<(String, String)> = OnceLock::new();
    PAIR.get_or_init(|| tls::certificate("fresh.test"))
}

/// The Secrets of [`SECRET_NAMES`] in namespace `ns`: usable ones, ones Interlock
/// must reject, and ones that only look usable (well-formed PEM around a key that
/// does not match, or DER that is a SEQUENCE but no certificate or key).
fn secrets(ns: &str) -> Vec<Object> {
    let (fresh_cert, fresh_key) = fresh_pair();
    let tiny_der = vec![0x30, 0x03, 0x02, 0x01, 0x00];
    let bogus_cert = pem::encode(&pem::Pem::new("CERTIFICATE", tiny_der.clone()));
    let bogus_key = pem::encode(&pem::Pem::new("PRIVATE KEY", tiny_der));
    // The prime256v1 curve, as `openssl ecparam -name prime256v1` writes it.
    let ec_params =
        "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n";
    let chain = format!("{fresh_cert}{TEST_CERT}");
    let with_params = format!("{ec_params}{TEST_KEY}");
    let trailing = format!("{TEST_CERT}trailing text\n");
    let tls = |name: &str, cert: &str, key: &str| {
        secret(ns, name, TLS_TYPE, &[("tls.crt", cert), ("tls.key", key)])
    };
    vec![
        tls_secret(ns, "good"),
        tls("fresh", fresh_cert, fresh_key),
        tls("chain", &chain, fresh_key),
        tls("ec-params", TEST_CERT, &with_params),
        tls("trailing", &trailing, TEST_KEY),
        tls("mismatch", TEST_CERT, fresh_key),
        tls("bogus-cert", &bogus_cert, TEST_KEY),
        tls("bogus-key", TEST_CERT, &bogus_key),
        tls("garbage", "garbage", "garbage"),
        secret(
            ns,
            "opaque",
            "Opaque",
            &[("tls.crt", TEST_CERT), ("tls.key", TEST_KEY)],
        ),
        secret(ns, "no-key", TLS_TYPE, &[("tls.crt", TEST_CERT)]),
    ]
}

/// What every case's world holds besides its Ingresses: our IngressClass (the
/// default class), and in each namespace the same Services (with odd ports, an
/// ExternalName and a UDP-only one), EndpointSlices (with bad addresses and port
/// numbers) and [`secrets`].
fn fixed_objects() -> Vec<Object> {
    let mut objects = vec![
        ingress_class("interlock", "interlock.dev/ingress-controller", true),
        ingress_class("other", "example.com/other", false),
    ];
    for ns in NAMESPACES {
        objects.extend([
            service(ns, "web", &[(Some("http"), 80), (None, 8080)]),
            service(ns, "api", &[(Some("http"), 8080), (Some("grpc"), 9090)]),
            service(
                ns,
                "odd",
                &[(Some("zero"), 0), (Some("big"), 70000), (Some("neg"), -1)],
            ),
            service(ns, "Weird_Ü.name", &[(Some("http"), 80)]),
            service_raw(json!({
                "metadata": {"namespace": ns, "name": "ext"},
                "spec": {"type": "ExternalName", "externalName": "example.com", "ports": [{"port": 80}]},
            })),
            service_raw(json!({
                "metadata": {"namespace": ns, "name": "udp"},
                "spec": {"ports": [{"name": "dns", "port": 53, "protocol": "UDP"}]},
            })),
            slice(
                ns,
                "web",
                "a",
                Some("http"),
                8080,
                &[
                    ("10.1.0.1", Some(true)),
                    ("10.1.0.2", None),
                    ("10.1.0.3", Some(false)),
                    ("not-an-ip", Some(true)),
                    ("10.1.0.256", Some(true)),
                ],
            ),
            slice(ns, "web", "b", None, 8081, &[("10.1.0.4", None)]),
            slice_typed(
                ns,
                "web",
                "v6",
                "IPv6",
                Some("http"),
                8080,
                &[("fd00::1", None), ("10.0.0.1", None), ("fe80::1%eth0", None)],
            ),
            slice_typed(
                ns,
                "web",
                "fqdn",
                "FQDN",
                Some("http"),
                8080,
                &[("web.example.com", None)],
            ),
            slice(ns, "api", "a", Some("grpc"), 0, &[("10.2.0.1", None)]),
            slice(ns, "api", "b", Some("http"), 70000, &[("10.2.0.2", None)]),
            slice(ns, "odd", "a", Some("zero"), 8080, &[("10.3.0.1", None)]),
            slice(
                ns,
                "Weird_Ü.name",
                "a",
                Some("http"),
                80,
                &[("10.4.0.1", None)],
            ),
        ]);
        objects.extend(secrets(ns));
    }
    objects
}

// ---------------------------------------------------------------------------
// The tests.

fn config() -> Config {
    let cases = match std::env::var("INTERLOCK_DIFFERENTIAL_CASES") {
        Ok(n) => n
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("INTERLOCK_DIFFERENTIAL_CASES={n:?} is not a number")),
        Err(_) => DEFAULT_CASES,
    };
    let mut config = Config {
        cases,
        failure_persistence: None,
        // Each shrink step is an Envoy run: bound shrinking by steps and time.
        max_shrink_iters: 400,
        max_shrink_time: 240_000,
        ..Config::default()
    };
    if config.rng_seed == RngSeed::Random {
        // Proptest's default (a new seed each run), but one we can print.
        config.rng_seed = RngSeed::Fixed(RandomState::new().hash_one("seed"));
    }
    config
}

#[test]
fn every_translation_of_nasty_ingresses_passes_envoy_validation() {
    let fixed = fixed_objects();
    let config = config();
    let seed = config.rng_seed;
    let mut runner = TestRunner::new(config);
    let result = runner.run(&arb_case(), |case| {
        let w = world(fixed.iter().cloned().chain(case.objects()));
        let t = translate(&w, &TranslateConfig::default());
        envoy_validates(&t).map_err(|output| {
            TestCaseError::fail(format!(
                "Envoy rejects what Interlock sends:\n{output}\n\
                 Interlock's diagnostics about Ingresses:\n{}",
                ingress_diagnostics(&t)
            ))
        })
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, case)) => {
            let seed = match seed {
                RngSeed::Fixed(s) => s.to_string(),
                RngSeed::Random => "random".to_owned(),
            };
            panic!(
                "Envoy rejects the translation of these Ingresses \
                 (shrunk; rerun with PROPTEST_RNG_SEED={seed}):\n{case:?}\n{reason}"
            );
        }
        Err(TestError::Abort(reason)) => panic!("proptest aborted: {reason}"),
    }
}

/// Diagnostics about Ingresses (those about the fixed objects are the same in
/// every case), one a line.
fn ingress_diagnostics(t: &Translation) -> String {
    let lines: Vec<String> = t
        .diagnostics
        .iter()
        .filter(|d| d.object.kind == Kind::Ingress)
        .map(ToString::to_string)
        .collect();
    lines.join("\n")
}

/// Every route of every table, described.
fn all_routes(tables: &[RouteConfiguration]) -> Vec<String> {
    tables
        .iter()
        .flat_map(|t| &t.virtual_hosts)
        .flat_map(|v| &v.routes)
        .map(describe)
        .collect()
}

/// `/*+` is no regex RE2 accepts (`bad repetition operator: *+`); Interlock used to
/// send it, and Envoy then refused the whole route table.
#[test]
fn the_regex_envoy_rejects_is_skipped_not_sent() {
    let t = run([
        ingress(
            "default",
            "re",
            0,
            json!({"rules": [rule(Some("a.test"), vec![
                path("ImplementationSpecific", "/*+", backend("web", 80)),
                path("Prefix", "/ok", backend("web", 80)),
            ])]}),
        ),
        service("default", "web", &[(None, 80)]),
    ]);
    assert!(
        has_diagnostic(&t, &["/*+"]),
        "no diagnostic for /*+: {:#?}",
        messages(&t)
    );
    let routes = all_routes(&t.routes);
    assert!(
        !routes.iter().any(|r| r.contains("/*+")),
        "a route carries /*+: {routes:#?}"
    );
    assert!(
        routes.contains(&"sep-prefix /ok -> default/web:80".to_owned()),
        "the good path is served: {routes:#?}"
    );
    if let Err(output) = envoy_validates(&t) {
        panic!("Envoy rejected the translation:\n{output}");
    }
}

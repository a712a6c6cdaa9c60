//! `interlock migrate-check` on a directory: the report names every Ingress,
//! whether the class flags would serve it, and each annotation's verdict (text
//! and JSON), from the same parsers translation uses; and against a cluster
//! (the fake API server of `tests/support`), the same report for the same
//! objects.

mod support;

use std::path::Path;
use std::process::Command;

use interlock::sources::file::parse_manifests;
use interlock::world::Object;
use serde_json::{json, Value};
use support::fake_kube::FakeApiServer;
use support::kube_objects::base64;

const MIGRATE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/migrate");

fn migrate_check(args: &[&str]) -> String {
    run_check(&[&[MIGRATE_DIR], args].concat())
}

/// `interlock migrate-check <args>`'s stdout; it must succeed.
fn run_check(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_interlock"))
        .arg("migrate-check")
        .args(args)
        .output()
        .expect("run interlock");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

const TAKE_OVER: [&str; 4] = [
    "--ingress-class",
    "nginx",
    "--controller-name",
    "k8s.io/ingress-nginx",
];

#[test]
fn directory_report_gives_each_annotation_its_verdict() {
    let expected = include_str!("data/migrate/expected.txt");
    assert_eq!(migrate_check(&TAKE_OVER), expected);
}

#[test]
fn json_report_carries_the_same_verdicts_and_totals() {
    let mut args = TAKE_OVER.to_vec();
    args.push("--json");
    let report: serde_json::Value =
        serde_json::from_str(&migrate_check(&args)).expect("JSON output");
    let totals = &report["totals"];
    assert_eq!(totals["ingresses"], 3);
    assert_eq!(totals["honoured"], 4);
    assert_eq!(totals["invalid"], 1);
    let shop = &report["ingresses"][1];
    assert_eq!(shop["ingress"], "web/shop");
    assert_eq!(shop["served"], true);
    let rewrite = shop["annotations"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["annotation"] == "rewrite-target"))
        .expect("rewrite-target in the report");
    assert_eq!(rewrite["verdict"]["verdict"], "honoured");
}

#[test]
fn without_the_class_flags_nginx_ingresses_are_reported_as_not_served() {
    let text = migrate_check(&[]);
    assert!(
        text.contains("web/shop (not served with these class flags)"),
        "{text}"
    );
}

/// The objects of `tests/data/migrate`, plus an Ingress whose basic-auth and
/// client-CA Secrets are Opaque (one in another namespace), and an unnamed
/// Opaque Secret (a Helm release) that must never be read.
fn cluster_objects() -> Vec<Value> {
    let yaml = std::fs::read_to_string(Path::new(MIGRATE_DIR).join("ingresses.yaml"))
        .expect("read fixture");
    let mut objects: Vec<Value> = parse_manifests(&yaml)
        .expect("parse fixture")
        .into_iter()
        .map(|o| match o {
            Object::Ingress(i) => serde_json::to_value(i),
            Object::IngressClass(c) => serde_json::to_value(c),
            Object::Service(s) => serde_json::to_value(s),
            Object::EndpointSlice(e) => serde_json::to_value(e),
            Object::Secret(s) => serde_json::to_value(s),
        })
        .collect::<Result<_, _>>()
        .expect("serialize fixture");
    let ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    let opaque = |ns: &str, name: &str, key: &str, value: &str| {
        json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
               "metadata": {"namespace": ns, "name": name},
               "data": {key: base64(value.as_bytes())}})
    };
    objects.extend([
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
               "metadata": {"namespace": "web", "name": "secure", "annotations": {
                   "nginx.ingress.kubernetes.io/auth-type": "basic",
                   "nginx.ingress.kubernetes.io/auth-secret": "users",
                   "nginx.ingress.kubernetes.io/auth-tls-secret": "certs/client-ca",
                   "nginx.ingress.kubernetes.io/auth-tls-verify-client": "optional_no_ca",
                   "nginx.ingress.kubernetes.io/ssl-passthrough": "false",
               }},
               "spec": {"ingressClassName": "nginx", "rules": [{"host": "secure.example.com",
                   "http": {"paths": [{"path": "/", "pathType": "Prefix",
                       "backend": {"service": {"name": "api", "port": {"number": 80}}}}]}}]}}),
        opaque(
            "web",
            "users",
            "auth",
            "alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n",
        ),
        opaque("certs", "client-ca", "ca.crt", ca),
        opaque(
            "web",
            "sh.helm.release.v1.shop.v1",
            "release",
            "a large blob",
        ),
    ]);
    objects
}

/// `objects` as one YAML file (JSON documents) in a new temp dir.
fn as_directory(objects: &[Value]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let text: Vec<String> = objects.iter().map(Value::to_string).collect();
    std::fs::write(dir.path().join("objects.yaml"), text.join("\n---\n")).expect("write");
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_report_matches_the_directory_report_for_the_same_objects() {
    let objects = cluster_objects();
    let api = FakeApiServer::start().await;
    for object in &objects {
        api.apply(object.clone());
    }
    let scratch = tempfile::tempdir().expect("temp dir");
    let kubeconfig = scratch.path().join("kubeconfig");
    api.write_kubeconfig(&kubeconfig);
    let kubeconfig = kubeconfig.to_str().expect("utf-8 path").to_owned();
    let dir = as_directory(&objects);
    let dir = dir.path().to_str().expect("utf-8 path").to_owned();

    let report = |source: Vec<&str>, json: bool| {
        let mut args = source;
        args.extend(TAKE_OVER);
        if json {
            args.push("--json");
        }
        let args: Vec<String> = args.into_iter().map(str::to_owned).collect();
        async move {
            tokio::task::spawn_blocking(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                run_check(&args)
            })
            .await
            .expect("migrate-check ran")
        }
    };
    let cluster = vec!["--kubeconfig", &kubeconfig];
    let from_cluster = report(cluster.clone(), false).await;
    assert_eq!(from_cluster, report(vec![&dir], false).await);
    let from_cluster_json = report(cluster.clone(), true).await;
    assert_eq!(from_cluster_json, report(vec![&dir], true).await);

    // The Opaque Secrets arrived: neither auth annotation is invalid ("Secret
    // not found").
    let parsed: Value = serde_json::from_str(&from_cluster_json).expect("JSON output");
    let secure = parsed["ingresses"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["ingress"] == "web/secure"))
        .expect("web/secure in the report");
    for (name, verdict) in [
        ("auth-secret", "honoured"),
        ("auth-tls-secret", "approximated"),
    ] {
        let finding = secure["annotations"]
            .as_array()
            .and_then(|a| a.iter().find(|f| f["annotation"] == name))
            .expect("annotation in the report");
        assert_eq!(finding["verdict"]["verdict"], verdict, "{name}: {finding}");
    }
    // Secrets were only ever read by name: never listed whole.
    let secret_reads: Vec<String> = api
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/secrets"))
        .map(|r| format!("{} {:?}", r.path, r.query_param("fieldSelector")))
        .collect();
    assert_eq!(
        secret_reads.len(),
        4,
        "two runs, two named Secrets each: {secret_reads:?}"
    );
    assert!(
        secret_reads.iter().all(|r| r.contains("metadata.name=")),
        "{secret_reads:?}"
    );
    assert!(
        !secret_reads.iter().any(|r| r.contains("helm")),
        "{secret_reads:?}"
    );

    // --namespace narrows the Ingresses read.
    let narrowed = report(
        vec!["--kubeconfig", &kubeconfig, "--namespace", "other"],
        false,
    )
    .await;
    assert!(
        narrowed.contains("0 Ingresses") && !narrowed.contains("web/"),
        "{narrowed}"
    );
}

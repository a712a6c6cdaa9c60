//! The manifests in `examples/kubernetes/` are what users apply: they must
//! parse, the flags they pass must exist, Envoy must accept the bootstrap, and
//! the RBAC must allow exactly what Interlock does.

use std::path::Path;
use std::process::Command;

use interlock::local_gateway::validate_config;
use serde_json::Value;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/kubernetes");

/// Every document of every YAML file, as JSON.
fn documents() -> Vec<(String, Value)> {
    let mut files: Vec<_> = std::fs::read_dir(DIR)
        .expect("examples/kubernetes")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    let mut docs = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("read manifest");
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let value: Value = serde::Deserialize::deserialize(doc)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            if !value.is_null() {
                docs.push((file_name(&path), value));
            }
        }
    }
    docs
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn find<'a>(docs: &'a [(String, Value)], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .map(|(_, d)| d)
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in examples/kubernetes"))
}

#[test]
fn every_manifest_parses_and_names_its_kind() {
    for (file, doc) in documents() {
        assert!(
            doc["apiVersion"].is_string() && doc["kind"].is_string(),
            "{file}: {doc}"
        );
        assert!(doc["metadata"]["name"].is_string(), "{file}: {doc}");
    }
}

#[test]
fn the_deployment_passes_flags_interlock_accepts() {
    let docs = documents();
    let deployment = find(&docs, "Deployment", "interlock");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let args: Vec<&str> = container["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("string arg"))
        .collect();
    assert_eq!(args.first(), Some(&"serve"));
    // Everything but the cluster: the flags parse, then it stops at the kubeconfig.
    let out = Command::new(env!("CARGO_BIN_EXE_interlock"))
        .args(&args)
        .args(["--kubeconfig", "/nonexistent/kubeconfig"])
        .output()
        .expect("run interlock");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot read kubeconfig"), "{stderr}");
    let probe = &container["readinessProbe"]["httpGet"];
    assert_eq!(probe["path"], "/readyz");
    // --peer-service finds the replicas' admin ports by the Service port name.
    let peers = args
        .iter()
        .find_map(|a| a.strip_prefix("--peer-service="))
        .expect("--peer-service");
    let (ns, name) = peers.split_once('/').expect("NAMESPACE/NAME");
    let service = find(&docs, "Service", name);
    assert_eq!(service["metadata"]["namespace"], ns);
    let ports = service["spec"]["ports"].as_array().expect("ports");
    assert!(ports.iter().any(|p| p["name"] == "admin"), "{service}");
}

#[test]
fn envoy_accepts_the_gateway_bootstrap() {
    let docs = documents();
    let config_map = find(&docs, "ConfigMap", "envoy-bootstrap");
    let bootstrap = config_map["data"]["bootstrap.yaml"]
        .as_str()
        .expect("bootstrap");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bootstrap.yaml");
    std::fs::write(&path, bootstrap).expect("write bootstrap");
    if let Err(e) = validate_config(&path, &["--service-node", "envoy-abc"]) {
        panic!("Envoy rejects the bootstrap in 40-envoy.yaml:\n{e}");
    }
}

#[test]
fn rbac_grants_what_interlock_uses_and_no_writes_beyond_status_and_its_lease() {
    let docs = documents();
    let role = find(&docs, "ClusterRole", "interlock");
    let mut granted = Vec::new();
    for rule in role["rules"].as_array().expect("rules") {
        for group in rule["apiGroups"].as_array().expect("apiGroups") {
            for resource in rule["resources"].as_array().expect("resources") {
                for verb in rule["verbs"].as_array().expect("verbs") {
                    granted.push(format!(
                        "{}/{} {}",
                        group.as_str().unwrap_or_default(),
                        resource.as_str().unwrap_or_default(),
                        verb.as_str().unwrap_or_default()
                    ));
                }
            }
        }
    }
    for resource in [
        "networking.k8s.io/ingresses",
        "networking.k8s.io/ingressclasses",
        "/services",
        "/secrets",
        "discovery.k8s.io/endpointslices",
    ] {
        for verb in ["list", "watch"] {
            let want = format!("{resource} {verb}");
            assert!(granted.contains(&want), "missing {want}: {granted:?}");
        }
    }
    assert!(granted.contains(&"networking.k8s.io/ingresses/status patch".to_owned()));
    for grant in &granted {
        let read = ["get", "list", "watch"]
            .iter()
            .any(|v| grant.ends_with(&format!(" {v}")));
        assert!(
            read || grant == "networking.k8s.io/ingresses/status patch",
            "more than needed: {grant}"
        );
    }
    let lease_role = docs
        .iter()
        .map(|(_, d)| d)
        .find(|d| d["kind"] == "Role")
        .expect("a Role for the Lease");
    assert_eq!(lease_role["metadata"]["namespace"], "interlock-system");
    let text = lease_role["rules"].to_string();
    assert!(text.contains("leases") && text.contains("update"), "{text}");
}

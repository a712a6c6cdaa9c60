//! The manifests in `examples/kubernetes/` are what users apply: they must
//! parse, the flags they pass must exist, Envoy must accept the bootstrap, and
//! the RBAC must allow exactly what Interlock does.

use std::path::Path;
use std::process::Command;

use interlock::local_gateway::validate_config;

#[path = "support/tls.rs"]
#[allow(dead_code)]
mod tls;
use serde_json::Value;
use tls::certgen_output;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/kubernetes");

/// Every document of every YAML file (cert-manager's included), as JSON.
fn documents() -> Vec<(String, Value)> {
    let yaml_in = |dir: &Path| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(dir)
            .expect("manifest dir")
            .map(|e| e.expect("dir entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect()
    };
    let mut files = yaml_in(Path::new(DIR));
    files.extend(yaml_in(&Path::new(DIR).join("cert-manager")));
    files.sort();
    assert!(files.len() >= 7, "{files:?}");
    let mut docs = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("read manifest");
        // Empty documents are skipped by the parser.
        let values: Vec<Value> = serde_saphyr::from_multiple(&text)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for value in values {
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
    // The TLS directory is the server Secret's mount.
    let tls_dir = flag(&args, "--xds-tls-dir");
    assert_eq!(
        mounted_secret(&deployment["spec"]["template"]["spec"], tls_dir),
        "interlock-xds-server"
    );
    // Everything but the cluster: the flags parse and the (certgen) TLS files
    // load, then it stops at the kubeconfig.
    let (_keep, pki) = certgen_output();
    let server_dir = pki.join("server");
    let tls_arg = format!("--xds-tls-dir={}", server_dir.display());
    let args: Vec<&str> = args
        .iter()
        .map(|a| {
            if a.starts_with("--xds-tls-dir=") {
                tls_arg.as_str()
            } else {
                a
            }
        })
        .collect();
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
    let peers = flag(&args, "--peer-service");
    let (ns, name) = peers.split_once('/').expect("NAMESPACE/NAME");
    let service = find(&docs, "Service", name);
    assert_eq!(service["metadata"]["namespace"], ns);
    let ports = service["spec"]["ports"].as_array().expect("ports");
    assert!(ports.iter().any(|p| p["name"] == "admin"), "{service}");
}

/// The value of `--NAME=VALUE` in `args`.
fn flag<'a>(args: &[&'a str], name: &str) -> &'a str {
    args.iter()
        .find_map(|a| a.strip_prefix(name)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("{name} not among {args:?}"))
}

/// The Secret a pod spec mounts at `path`.
fn mounted_secret(pod: &Value, path: &str) -> String {
    let mount = pod["containers"][0]["volumeMounts"]
        .as_array()
        .expect("volumeMounts")
        .iter()
        .find(|m| m["mountPath"] == path)
        .unwrap_or_else(|| panic!("nothing mounted at {path}"));
    let volume = pod["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the mounted volume");
    volume["secret"]["secretName"]
        .as_str()
        .expect("a Secret volume")
        .to_owned()
}

#[test]
fn envoy_accepts_the_gateway_bootstrap() {
    let docs = documents();
    let config_map = find(&docs, "ConfigMap", "envoy-bootstrap");
    let envoy = find(&docs, "Deployment", "envoy");
    let pod = &envoy["spec"]["template"]["spec"];
    // The client certificate is the gateway Secret, where the SDS files say.
    assert_eq!(
        mounted_secret(pod, "/etc/interlock/xds-client"),
        "interlock-xds-client-envoy"
    );
    // Paths as they are in the pod, rewritten to a certgen output and the
    // ConfigMap's files on this machine (validate mode checks they exist).
    let (_keep, pki) = certgen_output();
    let certs = pki.join("envoy");
    let dir = tempfile::tempdir().expect("temp dir");
    let local = |text: &str| {
        text.replace("/etc/interlock/xds-client", &certs.display().to_string())
            .replace("/etc/envoy", &dir.path().display().to_string())
    };
    let data = config_map["data"].as_object().expect("data");
    for (name, text) in data {
        let text = local(text.as_str().expect("text"));
        std::fs::write(dir.path().join(name), text).expect("write ConfigMap file");
    }
    let path = dir.path().join("bootstrap.yaml");
    assert!(path.exists(), "bootstrap.yaml in the ConfigMap");
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

#[test]
fn certificates_and_network_policy_fit_the_deployments() {
    let docs = documents();
    // cert-manager writes the Secrets the Deployments mount.
    let server = find(&docs, "Certificate", "interlock-xds-server");
    assert_eq!(server["spec"]["secretName"], "interlock-xds-server");
    let names = server["spec"]["dnsNames"].to_string();
    assert!(
        names.contains("interlock.interlock-system.svc.cluster.local"),
        "{names}"
    );
    let client = find(&docs, "Certificate", "interlock-xds-client-envoy");
    assert_eq!(client["spec"]["secretName"], "interlock-xds-client-envoy");
    assert_eq!(
        client["spec"]["uris"][0],
        interlock::certs::identity::gateway_identity(
            interlock::certs::identity::DEFAULT_TRUST_DOMAIN,
            "envoy"
        )
    );
    // Only the Envoy pods reach xDS.
    let policy = find(&docs, "NetworkPolicy", "interlock");
    let rules = policy["spec"]["ingress"].as_array().expect("ingress rules");
    let xds: Vec<&Value> = rules
        .iter()
        .filter(|r| r["ports"].to_string().contains("18000"))
        .collect();
    assert_eq!(xds.len(), 1, "{rules:?}");
    assert_eq!(
        xds[0]["from"],
        serde_json::json!([{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "envoy"}}}])
    );
}

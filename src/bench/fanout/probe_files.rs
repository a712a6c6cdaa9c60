//! The change a fan-out run makes, the way an operator makes it: one new Ingress
//! (with its Service and EndpointSlice) written into the directory `serve` watches,
//! in one rename so that the file source reads it at once, and removed when the
//! run ends, however it ends.

use std::path::{Path, PathBuf};

/// Probe manifests start with this, so a run only ever removes its own files.
const PREFIX: &str = "interlock-bench-fanout-";

/// One probe Ingress on disk.
#[derive(Debug)]
pub struct ProbeFile {
    path: PathBuf,
}

/// The namespace probe objects live in.
pub const NAMESPACE: &str = "interlock-bench";

/// The host probe `id` of run `run` routes.
pub fn probe_host(run: u32, id: u64) -> String {
    format!("fanout-{run}-{id}.bench.invalid")
}

// === impl ProbeFile ===

impl ProbeFile {
    /// Writes probe `id`'s Ingress for `host`, of IngressClass `class`, backed by
    /// one endpoint at `127.0.0.1:9` (the clients check config, not traffic).
    pub fn write(dir: &Path, run: u32, id: u64, host: &str, class: &str) -> std::io::Result<Self> {
        let name = format!("fanout-{run}-{id}");
        let path = dir.join(format!("{PREFIX}{run}-{id}.yaml"));
        let tmp = dir.join(format!(".{PREFIX}{run}-{id}.yaml.tmp"));
        std::fs::write(&tmp, manifest(&name, host, class))?;
        std::fs::rename(&tmp, &path)?;
        Ok(ProbeFile { path })
    }
}

impl Drop for ProbeFile {
    /// The Ingress goes away with its file; one that cannot be removed is named.
    fn drop(&mut self) {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                tracing::warn!(path = %self.path.display(), error = %e, "could not remove a probe file; remove it by hand");
            }
            _ => {}
        }
    }
}

fn manifest(name: &str, host: &str, class: &str) -> String {
    format!(
        "apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: {NAMESPACE}
spec:
  ports:
  - name: http
    port: 80
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {name}-1
  namespace: {NAMESPACE}
  labels:
    kubernetes.io/service-name: {name}
addressType: IPv4
ports:
- name: http
  port: 9
endpoints:
- addresses: [\"127.0.0.1\"]
  conditions:
    ready: true
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {name}
  namespace: {NAMESPACE}
spec:
  ingressClassName: {class}
  rules:
  - host: {host}
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: {name}
            port:
              name: http
"
    )
}

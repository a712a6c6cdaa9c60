//! A probe: one Ingress the bench writes, with a host of its own and a backend
//! that names itself, so every answer through the gateway can be attributed.

use std::fmt;

/// Label every object the bench writes carries, so cleanup finds them all,
/// including those of a run that was killed.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Value of [`MANAGED_BY_LABEL`].
pub const MANAGED_BY: &str = "interlock-bench-push";
/// Label naming the run that wrote an object.
pub const RUN_LABEL: &str = "interlock.dev/bench-run";

/// One probe of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// Position in the run (0-based), also its row in the report.
    pub index: usize,
    /// The run it belongs to (short, unique enough across runs on one gateway).
    pub run: String,
    /// Namespace of its objects.
    pub namespace: String,
}

// === impl Probe ===

impl Probe {
    /// Probe `index` of run `run`, in `namespace`.
    pub fn new(run: &str, namespace: &str, index: usize) -> Self {
        Probe {
            index,
            run: run.to_owned(),
            namespace: namespace.to_owned(),
        }
    }

    /// Name of its Ingress, Service and upstream (`push-<run>-<index>`).
    pub fn name(&self) -> String {
        format!("push-{}-{}", self.run, self.index)
    }

    /// The host its Ingress routes; `.invalid` so it can never be a real name.
    pub fn host(&self) -> String {
        format!("{}.bench.invalid", self.name())
    }

    /// "namespace/name", as the admin API names Ingresses.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name())
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// A run id: the low bits of the clock and the process id, in base 36, so two
/// runs against one gateway do not collide and names stay short.
pub fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mixed = (nanos as u64 / 1000) ^ (u64::from(std::process::id()) << 40);
    base36(mixed % 36u64.pow(6))
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_names_are_dns_labels_under_an_invalid_domain() {
        let probe = Probe::new("k3x9", "bench", 12);
        assert_eq!(probe.name(), "push-k3x9-12");
        assert_eq!(probe.host(), "push-k3x9-12.bench.invalid");
        assert_eq!(probe.key(), "bench/push-k3x9-12");
        let id = run_id();
        assert!(!id.is_empty() && id.len() <= 6, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
    }
}

//! What the Kubernetes source watches.

/// Secrets are watched only when they can hold a certificate for an Ingress:
/// Interlock never lists (nor keeps in memory) service-account tokens, Helm
/// releases or other Opaque secrets. The Secrets an annotation names
/// (`auth-secret`, `auth-tls-secret`) are watched one by one by name instead,
/// whatever their type.
pub const TLS_SECRET_FIELD_SELECTOR: &str = "type=kubernetes.io/tls";

/// Settings of the Kubernetes source (flags of `interlock serve`).
#[derive(Clone, Debug, Default)]
pub struct KubeSourceConfig {
    /// Watch only this namespace (IngressClasses are cluster-scoped and always
    /// watched); `None` watches every namespace.
    pub namespace: Option<String>,
    /// Narrows the watched Secrets further (TLS and named by annotations),
    /// e.g. `interlock.dev/tls=true`.
    pub secret_label_selector: Option<String>,
}

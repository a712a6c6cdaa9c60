//! The resource types the fake serves, described by the same (group, version, plural,
//! scope) tuple the real API server routes by. Objects themselves are plain JSON, so a
//! new kind is one more constant here, not new code.

/// One served resource type.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ResourceKind {
    /// API group; `""` for the core group (served under `/api/v1`).
    pub group: &'static str,
    pub version: &'static str,
    /// `kind` of a single object, e.g. `Ingress`.
    pub kind: &'static str,
    /// The URL segment, e.g. `ingresses`.
    pub plural: &'static str,
    pub namespaced: bool,
    /// Whether `.status` is a subresource: then writes to the main resource leave status
    /// alone and writes to `/status` change nothing else, as on a real server.
    pub has_status: bool,
    /// Field selector labels the real server supports beyond `metadata.name` and
    /// `metadata.namespace`; anything else is rejected with 400 like the real one.
    pub extra_field_labels: &'static [&'static str],
}

impl ResourceKind {
    /// `apiVersion` as written in objects: `v1` or `group/version`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `plural.group` (or just `plural` for core), as the real server names the
    /// resource in error messages, e.g. `ingresses.networking.k8s.io`.
    pub fn qualified_plural(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// Path of the collection, across all namespaces when `namespace` is `None`.
    pub fn collection_path(&self, namespace: Option<&str>) -> String {
        let prefix = if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        match namespace {
            Some(ns) if self.namespaced => format!("{prefix}/namespaces/{ns}/{}", self.plural),
            _ => format!("{prefix}/{}", self.plural),
        }
    }
}

pub const INGRESS: ResourceKind = ResourceKind {
    group: "networking.k8s.io",
    version: "v1",
    kind: "Ingress",
    plural: "ingresses",
    namespaced: true,
    has_status: true,
    extra_field_labels: &[],
};

pub const INGRESS_CLASS: ResourceKind = ResourceKind {
    group: "networking.k8s.io",
    version: "v1",
    kind: "IngressClass",
    plural: "ingressclasses",
    namespaced: false,
    has_status: false,
    extra_field_labels: &[],
};

pub const SERVICE: ResourceKind = ResourceKind {
    group: "",
    version: "v1",
    kind: "Service",
    plural: "services",
    namespaced: true,
    has_status: true,
    extra_field_labels: &["spec.clusterIP", "spec.type"],
};

pub const ENDPOINT_SLICE: ResourceKind = ResourceKind {
    group: "discovery.k8s.io",
    version: "v1",
    kind: "EndpointSlice",
    plural: "endpointslices",
    namespaced: true,
    has_status: false,
    extra_field_labels: &[],
};

pub const SECRET: ResourceKind = ResourceKind {
    group: "",
    version: "v1",
    kind: "Secret",
    plural: "secrets",
    namespaced: true,
    has_status: false,
    extra_field_labels: &["type"],
};

pub const LEASE: ResourceKind = ResourceKind {
    group: "coordination.k8s.io",
    version: "v1",
    kind: "Lease",
    plural: "leases",
    namespaced: true,
    has_status: false,
    extra_field_labels: &[],
};

pub const NAMESPACE: ResourceKind = ResourceKind {
    group: "",
    version: "v1",
    kind: "Namespace",
    plural: "namespaces",
    namespaced: false,
    has_status: true,
    extra_field_labels: &["status.phase"],
};

/// Every kind the fake serves. A request for any other resource gets 404, as a real
/// server without that API would answer.
pub const ALL: [&ResourceKind; 7] = [
    &INGRESS,
    &INGRESS_CLASS,
    &SERVICE,
    &ENDPOINT_SLICE,
    &SECRET,
    &LEASE,
    &NAMESPACE,
];

/// The kind served at `group/version/plural`.
pub fn by_path(group: &str, version: &str, plural: &str) -> Option<&'static ResourceKind> {
    ALL.into_iter()
        .find(|k| k.group == group && k.version == version && k.plural == plural)
}

/// The kind an object declares with `apiVersion` and `kind`.
pub fn by_type(api_version: &str, kind: &str) -> Option<&'static ResourceKind> {
    ALL.into_iter()
        .find(|k| k.api_version() == api_version && k.kind == kind)
}

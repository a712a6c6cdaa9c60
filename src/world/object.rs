//! The Kubernetes objects Interlock reads, as one sum type so every source feeds
//! the world the same way.

use std::fmt;

use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// Which kind of object.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// networking.k8s.io/v1 Ingress.
    Ingress,
    /// networking.k8s.io/v1 IngressClass (cluster-scoped).
    IngressClass,
    /// v1 Service.
    Service,
    /// discovery.k8s.io/v1 EndpointSlice.
    EndpointSlice,
    /// v1 Secret.
    Secret,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 5] = [
        Kind::Ingress,
        Kind::IngressClass,
        Kind::Service,
        Kind::EndpointSlice,
        Kind::Secret,
    ];

    /// `apiVersion` and `kind` as they appear in manifests.
    pub const fn type_meta(self) -> (&'static str, &'static str) {
        match self {
            Kind::Ingress => ("networking.k8s.io/v1", "Ingress"),
            Kind::IngressClass => ("networking.k8s.io/v1", "IngressClass"),
            Kind::Service => ("v1", "Service"),
            Kind::EndpointSlice => ("discovery.k8s.io/v1", "EndpointSlice"),
            Kind::Secret => ("v1", "Secret"),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.type_meta().1)
    }
}

/// Namespace and name; the namespace is empty for cluster-scoped objects.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ObjectKey {
    /// Namespace ("" for IngressClass).
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ObjectKey {
    /// A key from parts.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ObjectKey {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// The key of an object's metadata; objects without a name have none.
    /// Namespaced objects without a namespace are in `default`, as kubectl does.
    pub fn of(meta: &ObjectMeta, namespaced: bool) -> Option<ObjectKey> {
        let name = meta.name.clone().filter(|n| !n.is_empty())?;
        let namespace = if namespaced {
            meta.namespace
                .clone()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "default".to_owned())
        } else {
            String::new()
        };
        Some(ObjectKey { namespace, name })
    }
}

impl ObjectKey {
    /// `namespace/name` (just `name` when cluster-scoped), as shown by
    /// [`Display`](fmt::Display), but in one exact allocation without the
    /// formatting machinery: translation names a route after its Ingress for
    /// each of tens of thousands of paths.
    pub fn qualified(&self) -> String {
        if self.namespace.is_empty() {
            return self.name.clone();
        }
        let mut s = String::with_capacity(self.namespace.len() + 1 + self.name.len());
        s.push_str(&self.namespace);
        s.push('/');
        s.push_str(&self.name);
        s
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}/{}", self.namespace, self.name)
        }
    }
}

/// A reference to one object, for diagnostics and change reports.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectRef {
    /// The object's kind.
    pub kind: Kind,
    /// The object's key.
    pub key: ObjectKey,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.key)
    }
}

/// One object of a kind Interlock watches. Variants differ in size; objects are
/// moved once from a source into the world, so boxing would buy nothing.
/// `Debug` shows a Secret's name and keys, never its data.
#[derive(Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum Object {
    /// An Ingress.
    Ingress(Ingress),
    /// An IngressClass.
    IngressClass(IngressClass),
    /// A Service.
    Service(Service),
    /// An EndpointSlice.
    EndpointSlice(EndpointSlice),
    /// A Secret.
    Secret(Secret),
}

impl fmt::Debug for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Object::Ingress(o) => f.debug_tuple("Ingress").field(o).finish(),
            Object::IngressClass(o) => f.debug_tuple("IngressClass").field(o).finish(),
            Object::Service(o) => f.debug_tuple("Service").field(o).finish(),
            Object::EndpointSlice(o) => f.debug_tuple("EndpointSlice").field(o).finish(),
            Object::Secret(o) => f.debug_tuple("Secret").field(&RedactedSecret(o)).finish(),
        }
    }
}

/// A Secret for `Debug`: its name, type and the names of its entries.
pub(crate) struct RedactedSecret<'a>(pub(crate) &'a Secret);

impl fmt::Debug for RedactedSecret<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<&String> = self
            .0
            .data
            .iter()
            .flat_map(|d| d.keys())
            .chain(self.0.string_data.iter().flat_map(|d| d.keys()))
            .collect();
        f.debug_struct("Secret")
            .field("namespace", &self.0.metadata.namespace)
            .field("name", &self.0.metadata.name)
            .field("type", &self.0.type_)
            .field("keys", &keys)
            .finish_non_exhaustive()
    }
}

impl Object {
    /// The object's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Object::Ingress(_) => Kind::Ingress,
            Object::IngressClass(_) => Kind::IngressClass,
            Object::Service(_) => Kind::Service,
            Object::EndpointSlice(_) => Kind::EndpointSlice,
            Object::Secret(_) => Kind::Secret,
        }
    }

    /// The object's metadata.
    pub fn meta(&self) -> &ObjectMeta {
        match self {
            Object::Ingress(o) => &o.metadata,
            Object::IngressClass(o) => &o.metadata,
            Object::Service(o) => &o.metadata,
            Object::EndpointSlice(o) => &o.metadata,
            Object::Secret(o) => &o.metadata,
        }
    }

    /// The object's metadata, to change (sources drop what translation ignores).
    pub fn meta_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Object::Ingress(o) => &mut o.metadata,
            Object::IngressClass(o) => &mut o.metadata,
            Object::Service(o) => &mut o.metadata,
            Object::EndpointSlice(o) => &mut o.metadata,
            Object::Secret(o) => &mut o.metadata,
        }
    }

    /// The object's reference; `None` when it has no name.
    pub fn reference(&self) -> Option<ObjectRef> {
        let kind = self.kind();
        let key = ObjectKey::of(self.meta(), kind != Kind::IngressClass)?;
        Some(ObjectRef { kind, key })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_is_the_display_form() {
        for key in [
            ObjectKey::new("ns", "web"),
            ObjectKey::new("", "interlock"),
            ObjectKey::new("a-long-namespace", "x"),
        ] {
            assert_eq!(key.qualified(), key.to_string());
        }
    }
}

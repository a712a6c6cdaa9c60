//! Kubernetes YAML to objects: the pure half of the file source, usable without
//! a directory (tests, the Kubernetes-free quickstart).

use std::fmt;

use k8s_openapi::api::core::v1::Secret;
use serde_json::Value;

use super::documents::{documents, Document};
use super::error::ParseError;
use super::locate::locate;
use super::string_data::merge_string_data;
use crate::world::{Kind, Object};

/// Everything one manifest text held: the objects Interlock watches, and the
/// documents it passed over (so the caller can say which file they were in).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Manifests {
    /// Objects, in document order.
    pub objects: Vec<Object>,
    /// Documents that were valid but not used.
    pub skipped: Vec<Skipped>,
}

/// A document that was valid YAML but not an object Interlock uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// 1-based position of the document in the text.
    pub document: usize,
    /// 1-based position in the `items` of a `kind: List`, if inside one.
    pub item: Option<usize>,
    /// Why it was skipped.
    pub reason: SkipReason,
}

/// Why a document was skipped rather than loaded. Skips are warnings, not
/// errors: a directory may hold Deployments next to Ingresses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SkipReason {
    /// A kind (or apiVersion of a known kind) that Interlock does not watch.
    #[error("{api_version} {kind} is not a kind Interlock reads")]
    UnknownKind {
        /// The document's `apiVersion`.
        api_version: String,
        /// The document's `kind`.
        kind: String,
    },
    /// An object without `metadata.name` cannot be keyed.
    #[error("{kind} has no metadata.name")]
    NoName {
        /// The object's kind.
        kind: Kind,
    },
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "document {}", self.document)?;
        if let Some(item) = self.item {
            write!(f, ", item {item}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// The objects in a multi-document (`---` separated) manifest text; `kind: List`
/// documents contribute their items. Skipped documents are logged as warnings;
/// use [`Manifests::parse`] to get them instead.
pub fn parse_manifests(text: &str) -> Result<Vec<Object>, ParseError> {
    let manifests = Manifests::parse(text)?;
    for skipped in &manifests.skipped {
        tracing::warn!("skipping manifest {skipped}");
    }
    Ok(manifests.objects)
}

// === impl Manifests ===

impl Manifests {
    /// Parses a multi-document manifest text. Empty documents are ignored; any
    /// document that is not a well-formed object fails the whole text, so a
    /// half-written file is never mistaken for a smaller valid one.
    ///
    /// A document is read as the API server reads it: YAML to a JSON value
    /// (merge keys applied), then the JSON value to the object.
    pub fn parse(text: &str) -> Result<Manifests, ParseError> {
        let mut manifests = Manifests::default();
        for document in documents(text)? {
            let value = document
                .deserialize::<Value>()
                .map_err(|e| document.error(None, &e))?;
            manifests.add_document(document, value)?;
        }
        Ok(manifests)
    }

    fn add_document(
        &mut self,
        document: Document<'_>,
        value: Option<Value>,
    ) -> Result<(), ParseError> {
        let Some(value) = value.filter(|v| !v.is_null()) else {
            return Ok(());
        };
        let (api_version, kind) =
            type_meta(&value).map_err(|m| ParseError::invalid(document.number, None, m))?;
        if kind != "List" {
            return self.add_object(document, None, api_version, kind, value);
        }
        let items = match value {
            Value::Object(mut mapping) => mapping.remove("items"),
            _ => None,
        };
        let items = match items {
            None | Some(Value::Null) => return Ok(()),
            Some(Value::Array(items)) => items,
            Some(other) => {
                return Err(ParseError::invalid(
                    document.number,
                    None,
                    format!(
                        "`items` of a List must be a sequence, found {}",
                        describe(&other)
                    ),
                ))
            }
        };
        for (index, item) in items.into_iter().enumerate() {
            let number = Some(index + 1);
            if item.is_null() {
                continue;
            }
            let (api_version, kind) =
                type_meta(&item).map_err(|m| ParseError::invalid(document.number, number, m))?;
            self.add_object(document, number, api_version, kind, item)?;
        }
        Ok(())
    }

    fn add_object(
        &mut self,
        document: Document<'_>,
        item: Option<usize>,
        api_version: String,
        kind: String,
        value: Value,
    ) -> Result<(), ParseError> {
        let known = Kind::ALL
            .into_iter()
            .find(|k| k.type_meta() == (api_version.as_str(), kind.as_str()));
        let Some(known) = known else {
            self.skipped.push(Skipped {
                document: document.number,
                item,
                reason: SkipReason::UnknownKind { api_version, kind },
            });
            return Ok(());
        };
        let object = object_from_value(known, value).map_err(|error| {
            // Values forget positions; ask the text again for a line number.
            match locate(document, item, known) {
                Some(located) => document.error(item, &located),
                None => ParseError::invalid(document.number, item, error.to_string()),
            }
        })?;
        if object.reference().is_none() {
            self.skipped.push(Skipped {
                document: document.number,
                item,
                reason: SkipReason::NoName { kind: known },
            });
            return Ok(());
        }
        self.objects.push(object);
        Ok(())
    }
}

/// Deserializes a document already known to be of `kind`.
fn object_from_value(kind: Kind, value: Value) -> Result<Object, serde_json::Error> {
    Ok(match kind {
        Kind::Ingress => Object::Ingress(serde_json::from_value(value)?),
        Kind::IngressClass => Object::IngressClass(serde_json::from_value(value)?),
        Kind::Service => Object::Service(serde_json::from_value(value)?),
        Kind::EndpointSlice => Object::EndpointSlice(serde_json::from_value(value)?),
        Kind::Secret => {
            let mut secret: Secret = serde_json::from_value(value)?;
            merge_string_data(&mut secret);
            Object::Secret(secret)
        }
    })
}

/// `apiVersion` and `kind`, or why the document is not a Kubernetes object.
fn type_meta(value: &Value) -> Result<(String, String), String> {
    let Value::Object(mapping) = value else {
        return Err(format!(
            "expected a Kubernetes object (a mapping with apiVersion and kind), found {}",
            describe(value)
        ));
    };
    let field = |name: &str| match mapping.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        None | Some(Value::Null) | Some(Value::String(_)) => {
            Err(format!("not a Kubernetes object: `{name}` is missing"))
        }
        Some(other) => Err(format!(
            "`{name}` must be a string, found {}",
            describe(other)
        )),
    };
    Ok((field("apiVersion")?, field("kind")?))
}

/// A YAML value's shape, for messages.
fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a sequence",
        Value::Object(_) => "a mapping",
    }
}

//! Reading and writing single objects over HTTP: GET, POST (create), PUT (replace, on
//! the object or its `/status`) and DELETE, with the real server's rules:
//! - a `metadata.resourceVersion` in a PUT body is a precondition: a stale one is
//!   409 Conflict (optimistic concurrency, what Lease-based leader election relies on);
//! - for kinds with a status subresource, writes to the object keep the stored
//!   `.status`, and writes to `/status` change nothing but `.status`;
//! - a write that changes nothing keeps the version and sends no watch event.

use serde_json::Value;

use super::kinds::ResourceKind;
use super::routes::Route;
use super::status::ApiError;
use super::store::{object_key, Key};
use super::State;

pub fn get(state: &State, route: &Route) -> Result<Value, ApiError> {
    let key = route_key(route);
    state
        .store
        .get(route.kind, &key)
        .cloned()
        .ok_or_else(|| ApiError::not_found(route.kind, &key.1))
}

/// POST to a collection.
pub fn create(state: &mut State, route: &Route, body: &[u8]) -> Result<Value, ApiError> {
    let kind = route.kind;
    let mut obj = parse_object(kind, body)?;
    if kind.namespaced {
        let ns = route.namespace.as_deref().ok_or_else(|| {
            ApiError::bad_request("the namespace of the object is required: POST to its namespace")
        })?;
        set_namespace(&mut obj, ns)?;
    }
    if !obj["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_default()
        .is_empty()
    {
        return Err(ApiError::bad_request(
            "resourceVersion should not be set on objects to be created",
        ));
    }
    let key = object_key(kind, &obj)?;
    if state.store.get(kind, &key).is_some() {
        return Err(ApiError::already_exists(kind, &key.1));
    }
    if kind.has_status {
        // Status is written through the subresource only, even at creation.
        set_status(&mut obj, None);
    }
    Ok(state.put(kind, obj))
}

/// PUT to an object (`status_only == false`) or to its `/status`.
pub fn replace(
    state: &mut State,
    route: &Route,
    body: &[u8],
    status_only: bool,
) -> Result<Value, ApiError> {
    let kind = route.kind;
    let mut obj = parse_object(kind, body)?;
    let key = route_key(route);
    if let Some(ns) = &route.namespace {
        set_namespace(&mut obj, ns)?;
    }
    match obj["metadata"]["name"].as_str() {
        Some(name) if name == key.1 => {}
        other => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({})",
                other.unwrap_or_default(),
                key.1
            )))
        }
    }
    let existing = existing(state, kind, &key)?;
    check_precondition(kind, &key, &existing, &obj)?;
    let new = apply_subresource_rules(kind, &existing, obj, status_only);
    Ok(state.put(kind, new))
}

pub fn delete(state: &mut State, route: &Route) -> Result<Value, ApiError> {
    let key = route_key(route);
    state
        .remove(route.kind, &key)
        .ok_or_else(|| ApiError::not_found(route.kind, &key.1))
}

/// The stored object at `key`, or 404.
pub fn existing(state: &State, kind: &'static ResourceKind, key: &Key) -> Result<Value, ApiError> {
    state
        .store
        .get(kind, key)
        .cloned()
        .ok_or_else(|| ApiError::not_found(kind, &key.1))
}

/// 409 if `update` names a resourceVersion other than the stored one. An update
/// without one is unconditional, as the real server allows for these kinds.
pub fn check_precondition(
    kind: &ResourceKind,
    key: &Key,
    existing: &Value,
    update: &Value,
) -> Result<(), ApiError> {
    let wanted = update["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_default();
    if !wanted.is_empty() && Some(wanted) != existing["metadata"]["resourceVersion"].as_str() {
        return Err(ApiError::conflict(kind, &key.1));
    }
    Ok(())
}

/// The object to store when `update` is written over `existing`: through `/status`
/// only its status is taken; through the object itself, everything but its status
/// (for kinds with a status subresource). Name and namespace never change.
pub fn apply_subresource_rules(
    kind: &ResourceKind,
    existing: &Value,
    update: Value,
    status_only: bool,
) -> Value {
    let mut new = if status_only {
        let mut new = existing.clone();
        set_status(&mut new, update.get("status").cloned());
        new
    } else {
        let mut new = update;
        if kind.has_status {
            set_status(&mut new, existing.get("status").cloned());
        }
        new
    };
    new["metadata"]["name"] = existing["metadata"]["name"].clone();
    if kind.namespaced {
        new["metadata"]["namespace"] = existing["metadata"]["namespace"].clone();
    }
    new
}

/// The key addressed by an object route.
pub fn route_key(route: &Route) -> Key {
    let ns = route.namespace.clone().unwrap_or_default();
    (ns, route.name.clone().unwrap_or_default())
}

/// A request body that must be a JSON object of `kind` (if it says which).
pub fn parse_object(kind: &ResourceKind, body: &[u8]) -> Result<Value, ApiError> {
    let obj: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("request body is not JSON: {e}")))?;
    if !obj.is_object() || !(obj["metadata"].is_object() || obj["metadata"].is_null()) {
        return Err(ApiError::bad_request(
            "request body must be a JSON object with an object as metadata",
        ));
    }
    let declared = (obj["apiVersion"].as_str(), obj["kind"].as_str());
    let matches = declared.0.is_none_or(|v| v == kind.api_version())
        && declared.1.is_none_or(|k| k == kind.kind);
    if !matches {
        return Err(ApiError::bad_request(format!(
            "the body is a {}/{}, not a {}/{}",
            declared.0.unwrap_or_default(),
            declared.1.unwrap_or_default(),
            kind.api_version(),
            kind.kind
        )));
    }
    Ok(obj)
}

fn set_namespace(obj: &mut Value, ns: &str) -> Result<(), ApiError> {
    match obj["metadata"]["namespace"].as_str() {
        Some(own) if !own.is_empty() && own != ns => Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
        _ => {
            obj["metadata"]["namespace"] = Value::from(ns);
            Ok(())
        }
    }
}

fn set_status(obj: &mut Value, status: Option<Value>) {
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    match status.filter(|s| !s.is_null()) {
        Some(s) => map.insert("status".into(), s),
        None => map.remove("status"),
    };
}

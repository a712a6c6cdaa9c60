//! PATCH of an object or of its `/status`, as JSON merge patch (RFC 7386,
//! `application/merge-patch+json`: what kube-rs sends for `Patch::Merge`).
//!
//! The other patch types the real server knows (`application/apply-patch+yaml` for
//! server-side apply, `application/strategic-merge-patch+json`, `application/json-patch+json`)
//! are answered 415 with a message saying so, rather than approximated: a client
//! built against this fake then uses merge patches, whose effect here is exact.
//!
//! A `metadata.resourceVersion` in the patch is a precondition (409 if stale). Through
//! `/status` only `.status` changes; through the object, `.status` of a kind with a
//! status subresource does not. A patch that changes nothing keeps the version.

use serde_json::Value;

use super::crud::{apply_subresource_rules, check_precondition, existing, parse_object, route_key};
use super::routes::Route;
use super::status::ApiError;
use super::State;

pub const MERGE_PATCH: &str = "application/merge-patch+json";

pub fn patch(
    state: &mut State,
    route: &Route,
    content_type: Option<&str>,
    body: &[u8],
    status_only: bool,
) -> Result<Value, ApiError> {
    let media_type = content_type
        .and_then(|ct| ct.split(';').next())
        .map(str::trim)
        .unwrap_or_default();
    if media_type != MERGE_PATCH {
        return Err(ApiError::unsupported_media_type(format!(
            "the fake Kubernetes API server only implements {MERGE_PATCH} patches, not {media_type:?}"
        )));
    }
    let kind = route.kind;
    let patch = parse_object(kind, body)?;
    let key = route_key(route);
    let existing = existing(state, kind, &key)?;
    check_precondition(kind, &key, &existing, &patch)?;
    let mut patched = existing.clone();
    merge_patch(&mut patched, &patch);
    let new = apply_subresource_rules(kind, &existing, patched, status_only);
    Ok(state.put(kind, new))
}

/// RFC 7386: objects merge key by key, `null` deletes a key, anything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    let target = target.as_object_mut().expect("made an object above");
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            merge_patch(target.entry(key.as_str()).or_insert(Value::Null), value);
        }
    }
}

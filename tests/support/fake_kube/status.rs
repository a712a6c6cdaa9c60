//! `meta/v1 Status` objects: what the real server answers on failure, and what it puts
//! in a watch `ERROR` event. kube-rs parses them into `kube::Error::Api(Status)` and
//! matches on `code` (410 triggers a re-list), so code and reason must be exact.

use serde_json::{json, Value};

use super::kinds::ResourceKind;

/// A failed request, answered as a `Status` with HTTP status `code`.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: u16,
    /// The machine-readable reason, e.g. `NotFound`, `Conflict`, `Expired`.
    pub reason: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn not_found(kind: &ResourceKind, name: &str) -> Self {
        let message = format!("{} \"{name}\" not found", kind.qualified_plural());
        Self::new(404, "NotFound", message)
    }

    pub fn already_exists(kind: &ResourceKind, name: &str) -> Self {
        let message = format!("{} \"{name}\" already exists", kind.qualified_plural());
        Self::new(409, "AlreadyExists", message)
    }

    /// The optimistic-concurrency failure: the caller's `resourceVersion` is stale.
    pub fn conflict(kind: &ResourceKind, name: &str) -> Self {
        let message = format!(
            "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; \
             please apply your changes to the latest version and try again",
            kind.qualified_plural()
        );
        Self::new(409, "Conflict", message)
    }

    /// A resourceVersion older than the last compaction: the client must re-list.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(422, "Invalid", message)
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(415, "UnsupportedMediaType", message)
    }

    /// The `Status` object, as in an error response body or a watch `ERROR` event.
    pub fn to_status(&self) -> Value {
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        })
    }
}

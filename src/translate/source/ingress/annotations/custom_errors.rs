//! `custom-http-errors`: upstream statuses answered by the default backend
//! (the `default-backend` annotation's Service) instead, as ingress-nginx's
//! `proxy_intercept_errors` + `error_page <code> = @custom_<code>`.
//!
//! Envoy's `custom_response` filter, enabled per route, redirects the request
//! internally to the error backend's route (a virtual host of its own, see
//! [`crate::translate::model::custom_errors`]) with `X-Code`, `X-Format`,
//! `X-Original-URI`, `X-Namespace`, `X-Ingress-Name`, `X-Service-Name`,
//! `X-Service-Port` (and the request's `X-Request-ID`); the error backend's
//! status is answered, as with ingress-nginx. Interlock has no global default
//! backend: without `default-backend` the annotation is ignored.

use std::sync::Arc;

use super::reader::Reader;
use crate::translate::model::{ClusterTarget, CustomErrors};
use crate::world::ObjectKey;

/// Reads `custom-http-errors` of the Ingress `key`, answered by `backend`.
/// The service headers are filled per path.
pub fn read(
    r: &mut Reader<'_>,
    key: &ObjectKey,
    backend: Option<&Arc<ClusterTarget>>,
) -> Option<CustomErrors> {
    let codes = r.parse("custom-http-errors", codes)?;
    let Some(backend) = backend else {
        r.ignored(
            "custom-http-errors",
            "needs the default-backend annotation: Interlock has no global default backend",
        );
        return None;
    };
    r.approximated(
        "custom-http-errors",
        "Envoy's custom_response filter redirects internally to the default backend; \
         X-Original-URI is also sent to the upstream",
    );
    Some(CustomErrors {
        codes,
        backend: Arc::clone(backend),
        namespace: key.namespace.clone(),
        ingress: key.name.clone(),
        service: String::new(),
        service_port: String::new(),
    })
}

/// Status codes (300–599) separated by commas.
fn codes(value: &str) -> Result<Vec<u16>, String> {
    let mut codes = Vec::new();
    for code in value.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        match code.parse::<u16>() {
            Ok(c) if (300..=599).contains(&c) => codes.push(c),
            _ => return Err(format!("{code:?} is not an HTTP error status")),
        }
    }
    if codes.is_empty() {
        return Err("no status code".to_owned());
    }
    codes.sort_unstable();
    codes.dedup();
    Ok(codes)
}

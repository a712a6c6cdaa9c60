//! Ingress backends: which Service port a path (or the default backend) goes to.
//!
//! Only `service` backends are supported. A `resource` backend, or a backend with
//! neither or both, is refused ([`BackendError`]): the path is skipped, with a
//! diagnostic if it would have been served. A Service backend always keeps its
//! route: when the Service or its port cannot be resolved the route answers 503
//! ([`Unavailable`]) so the path keeps its place in the precedence order instead
//! of falling through to a shorter one or a 404.

use std::fmt;

use k8s_openapi::api::networking::v1::IngressBackend;

use std::sync::Arc;

use super::annotations::cluster::ClusterOptions;
use crate::translate::model::{
    Action, Addresses, ClusterTarget, Forward, Outcome, RoutePolicy, Served, WeightedBackend,
};
use crate::translate::source::service::{ServicePortRef, Unavailable};
use crate::translate::source::Lookups;

/// A backend that cannot be served at all: its path is skipped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// `resource` backends are not supported.
    #[error("resource backends are not supported; only service backends are")]
    Resource,
    /// Neither `service` nor `resource`.
    #[error("backend has neither service nor resource")]
    Neither,
    /// Both `service` and `resource`.
    #[error("backend sets both service and resource")]
    Both,
}

/// What serving `backend` of an Ingress in `namespace` means, reaching it as
/// `cluster` asks. `context` says where it is written (it begins each
/// message); `skipped` says what a refusal skips.
pub(super) fn outcome<'w>(
    lookups: &mut Lookups<'w>,
    namespace: &'w str,
    backend: &'w IngressBackend,
    cluster: &ClusterOptions,
    context: impl fmt::Display,
    skipped: &str,
) -> Outcome {
    let service = match (&backend.service, &backend.resource) {
        (Some(service), None) => service,
        (None, Some(_)) => return refused(BackendError::Resource, context, skipped),
        (None, None) => return refused(BackendError::Neither, context, skipped),
        (Some(_), Some(_)) => return refused(BackendError::Both, context, skipped),
    };
    let port = service.port.as_ref();
    let reference = ServicePortRef {
        namespace,
        service: &service.name,
        number: port.and_then(|p| p.number),
        name: port.and_then(|p| p.name.as_deref()),
    };
    let (action, problem) = match lookups.service(reference) {
        Ok(target) => {
            let (target, problem) = with_options(lookups, target, cluster, &context);
            (
                Action::Forward(Forward::to(WeightedBackend::all(target))),
                problem,
            )
        }
        Err(reason) => (Action::Unavailable, Some(unavailable(reason, context))),
    };
    Outcome::Serve(Served {
        action,
        policy: RoutePolicy::default(),
        problem,
    })
}

/// `target` reached as `options` ask (itself when they ask nothing), and the
/// problem to report when `service-upstream` cannot be honoured.
fn with_options(
    lookups: &mut Lookups<'_>,
    target: Arc<ClusterTarget>,
    options: &ClusterOptions,
    context: &impl fmt::Display,
) -> (Arc<ClusterTarget>, Option<String>) {
    if options.settings.is_default() && !options.service_upstream {
        return (target, None);
    }
    let mut settings = options.settings.clone();
    let mut problem = None;
    if options.service_upstream {
        match lookups.cluster_ip(&target.service) {
            Some(ip) => settings.addresses = Addresses::ClusterIp(ip),
            None => {
                problem = Some(format!(
                    "{context}: service-upstream: Service {} has no cluster IP (headless); its endpoints are used",
                    target.service
                ))
            }
        }
    }
    if settings.is_default() {
        return (target, problem);
    }
    (Arc::new(target.with_settings(settings)), problem)
}

fn refused(error: BackendError, context: impl fmt::Display, skipped: &str) -> Outcome {
    Outcome::Refused(format!("{context}: {error}; {skipped}"))
}

fn unavailable(reason: Unavailable, context: impl fmt::Display) -> String {
    format!("{context}: {reason}")
}

//! Reading the passthrough claims of an Ingress with `ssl-passthrough: "true"`:
//! each rule host goes to the backend of its `/` path (other paths play no
//! part: the connection is never read as HTTP), as in ingress-nginx.
//!
//! A host without a `/` path, or whose `/` backend cannot be resolved to a
//! Service port, is not passed through, with a diagnostic.

use k8s_openapi::api::networking::v1::IngressSpec;

use super::annotations::cluster::ClusterOptions;
use super::backend::outcome;
use crate::translate::diagnostic::Diagnostics;
use crate::translate::model::{Action, Contribution, Host, Outcome, PassthroughClaim};
use crate::translate::source::Lookups;
use crate::world::ObjectKey;

/// Reads the passthrough claims of `spec` (the Ingress `key`) into `contribution`.
pub(super) fn read<'w>(
    key: &'w ObjectKey,
    spec: &'w IngressSpec,
    lookups: &mut Lookups<'w>,
    contribution: &mut Contribution,
    diagnostics: &mut Diagnostics,
) {
    for rule in spec.rules.iter().flatten() {
        let Some(host) = rule.host.as_deref().filter(|h| !h.is_empty()) else {
            diagnostics.warning(
                key,
                "ssl-passthrough: a rule without host cannot be routed by SNI; not passed through",
            );
            continue;
        };
        let Ok(host) = Host::parse(host) else {
            continue; // reported with its rule
        };
        let root = rule
            .http
            .iter()
            .flat_map(|h| &h.paths)
            .find(|p| matches!(p.path.as_deref(), None | Some("") | Some("/")));
        let Some(root) = root else {
            diagnostics.warning(
                key,
                format!("ssl-passthrough: host {host} has no / path; not passed through"),
            );
            continue;
        };
        let context = format_args!("ssl-passthrough: host {host}");
        let served = outcome(
            lookups,
            &key.namespace,
            &root.backend,
            // The Ingress's other annotations are ignored, as ingress-nginx
            // does: the plain cluster of the Service port.
            &ClusterOptions::default(),
            context,
            "not passed through",
        );
        let cluster = match served {
            Outcome::Serve(served) => match (served.action, served.problem) {
                (Action::Forward(forward), _) => forward
                    .backends
                    .into_iter()
                    .next()
                    .map(|backend| backend.cluster),
                (_, problem) => {
                    let problem = problem.unwrap_or_else(|| "no backend".to_owned());
                    diagnostics.error(key, format!("{problem}; not passed through"));
                    None
                }
            },
            Outcome::Refused(message) => {
                diagnostics.error(key, message);
                None
            }
        };
        if let Some(cluster) = cluster {
            contribution
                .passthrough
                .push(PassthroughClaim { host, cluster });
        }
    }
}

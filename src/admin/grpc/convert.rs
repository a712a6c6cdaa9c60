//! The unary calls' answers, built from the store, the tracker and the pipeline
//! status.

use std::collections::{BTreeMap, BTreeSet};
use std::time::UNIX_EPOCH;

use crate::admin::programmed::IngressState;
use crate::pipeline::PipelineStatus;
use crate::snapshot::{ResourceType, Snapshot};
use crate::translate::Severity;
use crate::world::ObjectKey;
use crate::xds::{Nack, NodeStatus, TypeStatus};

use super::pb;

/// `GetSnapshot`: every type in push order, with its resources unless `summary_only`.
pub(super) fn snapshot(snapshot: Option<&Snapshot>, summary_only: bool) -> pb::GetSnapshotResponse {
    let interlock_version = env!("CARGO_PKG_VERSION").to_owned();
    let Some(snapshot) = snapshot else {
        return pb::GetSnapshotResponse {
            interlock_version,
            ..pb::GetSnapshotResponse::default()
        };
    };
    let types = ResourceType::ALL
        .into_iter()
        .map(|kind| {
            let resources = snapshot.resources(kind);
            pb::ResourceTypeSummary {
                r#type: kind.short_name().to_owned(),
                type_url: kind.type_url().to_owned(),
                version: snapshot.type_version(kind).to_owned(),
                count: resources.len() as u64,
                resources: if summary_only {
                    Vec::new()
                } else {
                    resources
                        .iter()
                        .map(|(name, r)| pb::ResourceSummary {
                            name: name.clone(),
                            version: r.version().to_owned(),
                        })
                        .collect()
                },
            }
        })
        .collect();
    pb::GetSnapshotResponse {
        published: true,
        version: snapshot.version().to_owned(),
        types,
        interlock_version,
    }
}

/// `ListNodes`: every node ever seen, sorted by id.
pub(super) fn nodes(nodes: &BTreeMap<String, NodeStatus>) -> pb::ListNodesResponse {
    let nodes = nodes
        .iter()
        .map(|(id, node)| pb::Node {
            id: id.clone(),
            streams: u32::try_from(node.streams).unwrap_or(u32::MAX),
            types: ResourceType::ALL
                .into_iter()
                .map(|kind| node_type(kind, &node.types[kind]))
                .collect(),
        })
        .collect();
    pb::ListNodesResponse { nodes }
}

fn node_type(kind: ResourceType, status: &TypeStatus) -> pb::NodeType {
    pb::NodeType {
        r#type: kind.short_name().to_owned(),
        acked_version: status.acked_version.clone().unwrap_or_default(),
        acked_resources: status.acked.len() as u64,
        responses_sent: status.responses_sent,
        nacks: status.nacks,
        last_nack: status.last_nack.as_ref().map(nack),
        last_ack_age_ms: status
            .last_acked_at
            .map(|at| at.elapsed().as_secs_f64() * 1e3),
    }
}

fn nack(nack: &Nack) -> pb::Nack {
    let at = nack
        .at
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default();
    pb::Nack {
        version: nack.rejected_version.clone(),
        error: nack.error.clone(),
        at_unix_ms: at,
    }
}

/// `GetDiagnostics`: the latest translation's diagnostics, in its (sorted) order.
pub(super) fn diagnostics(status: &PipelineStatus) -> pb::GetDiagnosticsResponse {
    let diagnostics = status
        .diagnostics
        .iter()
        .map(|d| pb::Diagnostic {
            kind: d.object.kind.to_string(),
            object: d.object.key.to_string(),
            severity: severity(d.severity) as i32,
            message: d.message.clone(),
        })
        .collect();
    pb::GetDiagnosticsResponse {
        diagnostics,
        last_error: status.last_error.clone().unwrap_or_default(),
        synced: status.synced,
    }
}

fn severity(severity: Severity) -> pb::Severity {
    match severity {
        Severity::Warning => pb::Severity::Warning,
        Severity::Error => pb::Severity::Error,
    }
}

/// `GetIngresses`: the states of `wanted` (every served Ingress when `None`),
/// and which of `wanted` are not served at all.
pub(super) fn ingresses(
    states: &BTreeMap<ObjectKey, IngressState>,
    wanted: Option<&BTreeSet<ObjectKey>>,
    status: &PipelineStatus,
    snapshot: Option<&Snapshot>,
    nodes: &BTreeMap<String, NodeStatus>,
) -> pb::GetIngressesResponse {
    let (ingresses, unknown) = match wanted {
        None => (
            states.iter().map(|(k, s)| ingress(k, s)).collect(),
            Vec::new(),
        ),
        Some(wanted) => {
            let mut found = Vec::new();
            let mut unknown = Vec::new();
            for key in wanted {
                match states.get(key) {
                    Some(state) => found.push(ingress(key, state)),
                    None => unknown.push(key.to_string()),
                }
            }
            (found, unknown)
        }
    };
    pb::GetIngressesResponse {
        ingresses,
        unknown,
        synced: status.synced,
        version: snapshot.map(|s| s.version().to_owned()).unwrap_or_default(),
        connected_nodes: nodes
            .iter()
            .filter(|(_, n)| n.streams > 0)
            .map(|(id, _)| id.clone())
            .collect(),
    }
}

fn ingress(key: &ObjectKey, state: &IngressState) -> pb::Ingress {
    pb::Ingress {
        name: key.to_string(),
        programmed: state.programmed,
        programmed_on: state.programmed_on.to_vec(),
        pending_on: state.pending_on.to_vec(),
        rejected: state.rejected.as_ref().map(|(node, error)| pb::Rejection {
            node: node.clone(),
            error: error.clone(),
        }),
        diagnostics: state.diagnostics.clone(),
        version: state.version.clone().unwrap_or_default(),
    }
}

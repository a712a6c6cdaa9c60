//! [`AdminEvent`] → `pb::Event`.

use crate::admin::events::AdminEvent;
use crate::xds::{Mode, XdsEvent};

use super::pb;
use super::pb::event::Event;

/// The wire form of an admin event; `None` for events the API does not carry.
pub(super) fn to_pb(event: &AdminEvent) -> Option<pb::Event> {
    let event = match event {
        AdminEvent::SnapshotPublished {
            version,
            publishes,
            changed,
        } => Event::SnapshotPublished(pb::SnapshotPublished {
            version: version.clone(),
            publishes: *publishes,
            changed: changed.clone(),
        }),
        AdminEvent::Xds(xds) => xds_to_pb(xds)?,
        AdminEvent::IngressProgrammed {
            ingress,
            version,
            nodes,
        } => Event::IngressProgrammed(pb::IngressProgrammed {
            ingress: ingress.to_string(),
            version: version.clone(),
            nodes: nodes.to_vec(),
        }),
        AdminEvent::IngressRejected {
            ingress,
            node,
            error,
        } => Event::IngressRejected(pb::IngressRejected {
            ingress: ingress.to_string(),
            node: node.clone(),
            error: error.clone(),
        }),
    };
    Some(pb::Event { event: Some(event) })
}

fn xds_to_pb(event: &XdsEvent) -> Option<Event> {
    let event = match event {
        XdsEvent::StreamOpened { node, mode } => Event::StreamOpened(pb::StreamOpened {
            node: node.clone(),
            mode: mode_name(*mode).to_owned(),
        }),
        XdsEvent::StreamClosed { node, mode } => Event::StreamClosed(pb::StreamClosed {
            node: node.clone(),
            mode: mode_name(*mode).to_owned(),
        }),
        XdsEvent::Pushed {
            node,
            kind,
            version,
        } => Event::NodePushed(pb::NodePushed {
            node: node.clone(),
            r#type: kind.short_name().to_owned(),
            version: version.clone(),
        }),
        XdsEvent::Acked {
            node,
            kind,
            version,
            latency,
        } => Event::NodeAcked(pb::NodeAcked {
            node: node.clone(),
            r#type: kind.short_name().to_owned(),
            version: version.clone(),
            latency_ms: latency.map(|l| l.as_secs_f64() * 1e3),
        }),
        XdsEvent::Nacked {
            node,
            kind,
            version,
            error,
        } => Event::NodeNacked(pb::NodeNacked {
            node: node.clone(),
            r#type: kind.short_name().to_owned(),
            version: version.clone(),
            error: error.clone(),
        }),
        XdsEvent::NodeForgotten { .. } => return None,
    };
    Some(event)
}

/// "sotw" or "delta", as the proto documents.
fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Sotw => "sotw",
        Mode::Delta => "delta",
    }
}

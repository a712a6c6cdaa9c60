//! `WatchEvents`: the hub's broadcast as a gRPC stream, filtered by Ingress.

use std::collections::BTreeSet;
use std::pin::Pin;

use tokio::sync::broadcast;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::{Stream, StreamExt};
use tonic::Status;

use crate::admin::events::AdminEvent;
use crate::world::ObjectKey;

use super::event::to_pb;
use super::pb;

/// The stream a `WatchEvents` call returns; it ends when the client goes away
/// or the hub stops.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<pb::Event, Status>> + Send>>;

/// Streams `events`, keeping Ingress events only for `ingresses` (all when `None`).
/// Events a slow client lost to the broadcast buffer are skipped; the stream
/// goes on with the next ones.
pub(super) fn events(
    events: broadcast::Receiver<AdminEvent>,
    ingresses: Option<BTreeSet<ObjectKey>>,
) -> EventStream {
    let stream = BroadcastStream::new(events).filter_map(move |item| match item {
        Ok(event) if wanted(&event, ingresses.as_ref()) => to_pb(&event).map(Ok),
        Ok(_) | Err(BroadcastStreamRecvError::Lagged(_)) => None,
    });
    Box::pin(stream)
}

/// Ingress events pass only for the Ingresses asked for; everything else passes.
fn wanted(event: &AdminEvent, ingresses: Option<&BTreeSet<ObjectKey>>) -> bool {
    let Some(ingresses) = ingresses else {
        return true;
    };
    match event {
        AdminEvent::IngressProgrammed { ingress, .. }
        | AdminEvent::IngressRejected { ingress, .. } => ingresses.contains(ingress),
        AdminEvent::SnapshotPublished { .. } | AdminEvent::Xds(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn programmed(ns: &str, name: &str) -> AdminEvent {
        AdminEvent::IngressProgrammed {
            ingress: ObjectKey::new(ns, name),
            version: "v1".into(),
            nodes: vec!["n".to_owned()].into(),
        }
    }

    #[tokio::test]
    async fn filters_ingress_events_and_survives_lag() {
        let (tx, rx) = broadcast::channel(2);
        let only = BTreeSet::from([ObjectKey::new("app", "x")]);
        let mut stream = events(rx, Some(only));
        // Four sends into a buffer of two: the first two are lost (Lagged).
        tx.send(programmed("app", "lost")).ok();
        tx.send(programmed("app", "x")).ok();
        tx.send(programmed("app", "other")).ok();
        tx.send(AdminEvent::SnapshotPublished {
            version: "v2".into(),
            publishes: 2,
            changed: vec!["Ingress app/x".into()],
        })
        .ok();
        tx.send(programmed("app", "x")).ok();
        drop(tx);
        let mut got = Vec::new();
        while let Some(item) = stream.next().await {
            got.push(item.map(|e| e.event).ok().flatten());
        }
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(matches!(
            got[0],
            Some(pb::event::Event::SnapshotPublished(_))
        ));
        match &got[1] {
            Some(pb::event::Event::IngressProgrammed(p)) => assert_eq!(p.ingress, "app/x"),
            other => panic!("unexpected {other:?}"),
        }
    }
}

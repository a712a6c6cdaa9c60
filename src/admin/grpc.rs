//! The admin API over gRPC (`proto/interlock/admin/v1/admin.proto`): a layer that
//! only converts and streams. It reads the event hub, the snapshot store, the ACK
//! tracker and the pipeline status; it changes nothing in them.

mod convert;
mod event;
mod names;
mod watch;

use std::sync::Arc;
use std::time::Duration;

use tonic::{Request, Response, Status};

use crate::pipeline::{PipelineStatus, StatusHandle};
use crate::snapshot::{Snapshot, SnapshotStore};
use crate::xds::AckTracker;

use super::events::EventHub;
use super::programmed::ingress_states;

pub use names::{parse_ingress_name, BadIngressName};

/// How many times (1 ms apart) `GetIngresses` re-reads a status that lags the
/// published snapshot.
const CONSISTENT_TRIES: u32 = 50;

/// Code generated from the admin proto by `build.rs` (server and client).
#[allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    clippy::nursery,
    rustdoc::all
)]
pub mod pb {
    tonic::include_proto!("interlock.admin.v1");
}

/// The `interlock.admin.v1.Admin` service: cheap to clone, one per server.
#[derive(Clone)]
pub struct AdminGrpc {
    hub: EventHub,
    store: SnapshotStore,
    tracker: AckTracker,
    pipeline: StatusHandle,
}

/// The admin service, ready to mount on a tonic server (or a router that
/// shares the admin listener with plain HTTP).
pub fn grpc_service(
    hub: EventHub,
    store: SnapshotStore,
    tracker: AckTracker,
    pipeline: StatusHandle,
) -> pb::admin_server::AdminServer<AdminGrpc> {
    pb::admin_server::AdminServer::new(AdminGrpc {
        hub,
        store,
        tracker,
        pipeline,
    })
}

// === impl AdminGrpc ===

impl AdminGrpc {
    /// The pipeline status and the snapshot it describes. The pipeline
    /// publishes a snapshot an instant before its status: an Ingress map read in
    /// between belongs to the previous snapshot, so wait (briefly) for the pair
    /// to match. Gives up after [`CONSISTENT_TRIES`], for stores fed without a
    /// pipeline.
    async fn consistent(&self) -> (Arc<PipelineStatus>, Option<Arc<Snapshot>>) {
        let mut tries = 0;
        loop {
            let snapshot = self.store.current();
            let status = self.pipeline.get();
            tries += 1;
            if status.version.as_deref() == snapshot.as_deref().map(Snapshot::version)
                || tries >= CONSISTENT_TRIES
            {
                return (status, snapshot);
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

#[tonic::async_trait]
impl pb::admin_server::Admin for AdminGrpc {
    type WatchEventsStream = watch::EventStream;

    async fn watch_events(
        &self,
        request: Request<pb::WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        let filter = names::parse_all(&request.get_ref().ingresses)?;
        Ok(Response::new(watch::events(self.hub.subscribe(), filter)))
    }

    async fn get_snapshot(
        &self,
        request: Request<pb::GetSnapshotRequest>,
    ) -> Result<Response<pb::GetSnapshotResponse>, Status> {
        let snapshot = self.store.current();
        Ok(Response::new(convert::snapshot(
            snapshot.as_deref(),
            request.get_ref().summary_only,
        )))
    }

    async fn list_nodes(
        &self,
        _request: Request<pb::ListNodesRequest>,
    ) -> Result<Response<pb::ListNodesResponse>, Status> {
        Ok(Response::new(convert::nodes(&self.tracker.nodes())))
    }

    async fn get_diagnostics(
        &self,
        _request: Request<pb::GetDiagnosticsRequest>,
    ) -> Result<Response<pb::GetDiagnosticsResponse>, Status> {
        Ok(Response::new(convert::diagnostics(&self.pipeline.get())))
    }

    async fn get_ingresses(
        &self,
        request: Request<pb::GetIngressesRequest>,
    ) -> Result<Response<pb::GetIngressesResponse>, Status> {
        let wanted = names::parse_all(&request.get_ref().names)?;
        // Computed afresh rather than read from the hub, which only catches up
        // on its next event: a caller that subscribed first misses nothing.
        let (status, snapshot) = self.consistent().await;
        let nodes = self.tracker.nodes();
        let states = ingress_states(&status, snapshot.as_deref(), &nodes);
        Ok(Response::new(convert::ingresses(
            &states,
            wanted.as_ref(),
            &status,
            snapshot.as_deref(),
            &nodes,
        )))
    }
}

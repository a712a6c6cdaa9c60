//! The admin stage: what operators and scripts use to see Interlock — which
//! Ingresses are programmed on which Envoys, and a stream of events. It reads
//! the pipeline's status, the snapshot store and the ACK tracker; it changes
//! nothing in them.

pub mod client;
mod events;
pub mod grpc;
mod health;
pub mod http;
mod metrics;
mod programmed;
mod server;

pub use events::{AdminEvent, EventHub};
pub use health::{Health, Supervised, TaskEnd, TaskFailure};
pub use http::{public_router, router, AdminState};
pub use metrics::{Metrics, LATENCY_BUCKETS};
pub use programmed::{ingress_states, IngressState};
pub use server::{
    admin_router, bind_admin, remote_router, serve_admin, serve_admin_with, AdminLimits,
    AdminServerError,
};

use std::sync::Arc;

use crate::pipeline::StatusHandle;
use crate::snapshot::SnapshotStore;
use crate::xds::{AckTracker, Drain};

/// Everything the admin listener serves, wired from the three handles it reads
/// (so `serve` and tests assemble it the same way).
pub struct AdminServices {
    /// The plain HTTP routes (probes, metrics, debug views, UI).
    pub http: axum::Router,
    /// The routes anyone who reaches the admin port may use (probes, metrics,
    /// the Ingress states peers ask for).
    pub public: axum::Router,
    /// The gRPC admin API.
    pub grpc: tonic::service::Routes,
    /// The event stream both feed from.
    pub hub: EventHub,
}

impl AdminServices {
    /// Starts the event hub and the metrics feed, and builds both services.
    /// Call it before the ADS server accepts, so every stream is seen.
    pub fn new(store: SnapshotStore, tracker: AckTracker, pipeline: StatusHandle) -> Self {
        AdminServices::with_drain(store, tracker, pipeline, Drain::default())
    }

    /// [`AdminServices::new`] whose `/readyz` turns false when `drain` starts.
    pub fn with_drain(
        store: SnapshotStore,
        tracker: AckTracker,
        pipeline: StatusHandle,
        drain: Drain,
    ) -> Self {
        let hub = EventHub::spawn(store.clone(), tracker.clone(), pipeline.clone());
        let metrics = Metrics::new();
        tracker.observe(Arc::new(metrics.clone()));
        metrics.spawn(&hub, store.clone(), pipeline.clone());
        let state = AdminState {
            store: store.clone(),
            tracker: tracker.clone(),
            pipeline: pipeline.clone(),
            metrics,
            drain,
        };
        let public = public_router(state.clone());
        let http = router(state);
        let grpc =
            tonic::service::Routes::new(grpc::grpc_service(hub.clone(), store, tracker, pipeline));
        AdminServices {
            http,
            public,
            grpc,
            hub,
        }
    }
}

//! What the admin listener parses from a request: the request target (path and
//! query), the `?summary` flag of the debug views, and Ingress names of the
//! form `namespace/name` (the admin API's name filters).
//!
//! The input's first byte picks the variant (bit 0: a gRPC content type; bit 1:
//! a client not on loopback, served by `remote_router`); the rest is the
//! request target, and, as text, an Ingress name. Checked:
//! - [`wants_summary`] is true only when the query has a `summary` pair, gives
//!   the same answer for the URI printed and parsed again, and is true once a
//!   `&summary` pair is appended;
//! - the admin router answers every request without panicking and without a
//!   500; a client not on loopback gets only the public routes (`/healthz`,
//!   `/readyz`, `/metrics`, `/peer/ingresses`) and a 403 (gRPC:
//!   `PERMISSION_DENIED`) for everything else;
//! - an Ingress name parses exactly when it is `namespace/name` with both parts
//!   non-empty and one `/`, and then prints back as written.

#![no_main]

use axum::body::Body;
use axum::Router;
use http::{header, Request, StatusCode, Uri};
use interlock::admin::grpc::parse_ingress_name;
use interlock::admin::{admin_router, public_router, remote_router, router, AdminState, Metrics};
use interlock::fuzzing::wants_summary;
use interlock::pipeline::StatusHandle;
use interlock::snapshot::SnapshotStore;
use interlock::xds::{AckTracker, Drain};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

const PUBLIC: [&str; 4] = ["/healthz", "/readyz", "/metrics", "/peer/ingresses"];

struct Admin {
    runtime: tokio::runtime::Runtime,
    local: Router,
    remote: Router,
}

thread_local! {
    static ADMIN: Admin = {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let state = AdminState {
            store: SnapshotStore::new(),
            tracker: AckTracker::new(),
            pipeline: StatusHandle::default(),
            metrics: Metrics::new(),
            drain: Drain::default(),
        };
        Admin {
            runtime,
            local: admin_router(router(state.clone()), None),
            remote: remote_router(public_router(state)),
        }
    };
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, target)) = data.split_first() else {
        return;
    };
    check_name(&String::from_utf8_lossy(target));
    let Ok(uri) = Uri::try_from(target) else {
        return;
    };
    check_summary(&uri);
    let (grpc, remote) = (flags & 1 != 0, flags & 2 != 0);
    let mut request = Request::get(uri.clone());
    if grpc {
        request = request.header(header::CONTENT_TYPE, "application/grpc");
    }
    let Ok(request) = request.body(Body::empty()) else {
        return;
    };
    let (status, grpc_status) = ADMIN.with(|admin| {
        let app = if remote { &admin.remote } else { &admin.local };
        let response = admin
            .runtime
            .block_on(app.clone().oneshot(request))
            .expect("infallible");
        let grpc_status = response
            .headers()
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (response.status(), grpc_status)
    });
    assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{uri}");
    if remote && !PUBLIC.contains(&uri.path()) {
        // gRPC carries its status in a header of an HTTP 200.
        let refused = match grpc_status.as_deref() {
            Some(code) => grpc && code == PERMISSION_DENIED,
            None => status == StatusCode::FORBIDDEN,
        };
        assert!(
            refused,
            "{uri}: served off loopback ({status}, grpc-status {grpc_status:?})"
        );
    }
});

/// gRPC's `PERMISSION_DENIED`.
const PERMISSION_DENIED: &str = "7";

fn check_summary(uri: &Uri) {
    let summary = wants_summary(uri);
    if summary {
        let query = uri.query().unwrap_or_default();
        assert!(query.contains("summary"), "{uri}");
    }
    if let Ok(again) = Uri::try_from(uri.to_string()) {
        assert_eq!(wants_summary(&again), summary, "{uri} printed as {again}");
    }
    let with_flag = match uri.query() {
        Some(query) => format!("{}?{query}&summary", uri.path()),
        None => format!("{}?summary", uri.path()),
    };
    if let Ok(with_flag) = Uri::try_from(with_flag) {
        assert!(wants_summary(&with_flag), "{with_flag}");
    }
}

fn check_name(name: &str) {
    let well_formed = match name.split_once('/') {
        Some((namespace, rest)) => !namespace.is_empty() && !rest.is_empty() && !rest.contains('/'),
        None => false,
    };
    match parse_ingress_name(name) {
        Ok(key) => {
            assert!(well_formed, "{name:?}");
            assert_eq!(key.qualified(), name);
        }
        Err(error) => {
            assert!(!well_formed, "{name:?}");
            let _ = error.to_string();
        }
    }
}

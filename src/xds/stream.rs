//! The task that drives one ADS stream: requests and snapshot wake-ups go into the
//! [`StreamState`], planned responses go out. One task per Envoy stream; a slow
//! Envoy only slows its own task (invariant 5).

use std::sync::Arc;

use envoy_types::pb::envoy::config::core::v3::Node;
use tokio::sync::mpsc;
use tonic::Status;
use tracing::{debug, info, warn};

use prost::bytes::Bytes;

use crate::snapshot::{ResourceMap, SnapshotStore, Verdict};

use super::ack_tracker::AckTracker;
use super::drain::Drain;
use super::initial_sync::InitialSyncs;
use super::limits::{clean, Limit, OnceLog, StreamSlot, XdsLimits};
use super::request_codec::NamedRequest;
use super::request_stream::Requests;
use super::scoped_target::ScopedTarget;
use super::stream_state::{Mode, Outcome, Planned, StreamState};
use super::tls::{NodeIdRules, SecretScopes, XdsPeer};
use super::whole_types::WholeTypes;
use super::wire::WireMessage;

/// What a stream needs from the server: where snapshots come from and where ACKs go.
#[derive(Clone)]
pub(crate) struct StreamContext {
    pub store: SnapshotStore,
    pub tracker: AckTracker,
    pub drain: Drain,
    /// With mutual TLS: which node ids each client identity may use.
    pub auth: Option<Arc<NodeIdRules>>,
    /// With mutual TLS: which namespaces' Secrets each identity may receive.
    pub scopes: Arc<SecretScopes>,
    /// What a client may make a stream hold or wait for.
    pub limits: Arc<XdsLimits>,
    /// Which clients have been logged going over a limit.
    pub breaches: OnceLog,
    /// Whole type sets encoded once for every stream.
    pub whole_types: Arc<WholeTypes>,
    /// Turns for streams' first full config.
    pub initial_syncs: InitialSyncs,
}

/// The wire form of one ADS flavour.
pub(crate) trait Protocol: Send + 'static {
    type Request: NamedRequest;
    type Response: WireMessage + Send + 'static;
    const MODE: Mode;

    /// The node, sent on (at least) the first request.
    fn node(request: &Self::Request) -> Option<&Node>;
    /// Refuses a request that would subscribe the stream to more than
    /// `max_names` names of its type, before any of them is kept.
    fn admit(state: &StreamState, request: &Self::Request, max_names: usize) -> Result<(), Status>;
    /// Feeds a request into the state; `None` for types Interlock does not serve.
    fn apply(
        state: &mut StreamState,
        request: &Self::Request,
        limits: &XdsLimits,
    ) -> Option<Outcome>;
    /// A whole type set as response fields, shared by the streams sending it.
    fn encode_whole(map: &ResourceMap) -> Bytes;
    /// Renders a planned response; `encoded` is its resources' fields when
    /// they are a whole set ([`Planned::whole`]).
    fn render(planned: Planned, encoded: Option<Bytes>) -> Self::Response;
}

/// Runs one stream until Envoy hangs up or the response channel closes. `slot`
/// is the stream's place under the global cap, freed when this ends; `client`
/// names the peer in limit logs.
pub(crate) async fn run<P: Protocol>(
    mut requests: Requests<P::Request>,
    responses: mpsc::Sender<Result<P::Response, Status>>,
    ctx: StreamContext,
    peer: Option<XdsPeer>,
    client: String,
    slot: StreamSlot,
) {
    let _slot = slot;
    let limits = Arc::clone(&ctx.limits);
    let first = match tokio::time::timeout(limits.first_request_timeout, requests.message()).await {
        Ok(Ok(Some(first))) => first,
        Ok(Ok(None)) => return,
        Ok(Err(status)) => {
            refuse_undecodable(&ctx, &client, &responses, status).await;
            return;
        }
        Err(_) => {
            let timeout = limits.first_request_timeout;
            ctx.breaches.breach(
                Limit::FirstRequest,
                &client,
                &format!("no request within {timeout:?} of opening a stream (--xds-first-request-timeout)"),
            );
            let status = Status::deadline_exceeded(format!(
                "no DiscoveryRequest within {timeout:?} of opening the stream"
            ));
            let _ = responses.send(Err(status)).await;
            return;
        }
    };
    let node_id = P::node(&first)
        .map(|n| n.id.as_str())
        .filter(|id| !id.is_empty());
    let key = match node_id {
        Some(id) if !node_id_fits(id, limits.max_node_id_bytes) => {
            ctx.breaches.breach(
                Limit::NodeId,
                &client,
                &format!(
                    "node.id of {} bytes (at most {}, no control characters): {}",
                    id.len(),
                    limits.max_node_id_bytes,
                    clean(id, 64)
                ),
            );
            Err(Status::invalid_argument(format!(
                "node.id must be at most {} bytes without control characters",
                limits.max_node_id_bytes
            )))
        }
        Some(id) => node_key(&ctx, peer.as_ref(), id.to_owned()),
        None => Err(Status::invalid_argument("first request must carry node.id")),
    };
    let key = match key {
        Ok(key) => key,
        Err(status) => {
            let _ = responses.send(Err(status)).await;
            return;
        }
    };
    ctx.tracker.stream_opened(&key, P::MODE);
    ctx.store.report(Verdict::Connected { node: key.clone() });
    let guard = StreamGuard {
        tracker: ctx.tracker.clone(),
        store: ctx.store.clone(),
        node_id: key.clone(),
        mode: P::MODE,
    };
    let scope = peer
        .and_then(|p| p.identity)
        .and_then(|identity| ctx.scopes.for_identity(&identity));
    ctx.tracker.secret_scope(&key, scope.clone());
    info!(node = %key, mode = ?P::MODE, secret_namespaces = ?scope, "xDS stream opened");
    drive::<P>(
        first,
        requests,
        responses,
        &ctx,
        (&key, &client),
        ScopedTarget::new(scope),
    )
    .await;
    drop(guard);
    info!(node = %key, "xDS stream closed");
}

/// True when `id` may be a node id: not longer than `max` bytes, and without
/// control characters (it is logged and shown as it is).
fn node_id_fits(id: &str, max: usize) -> bool {
    id.len() <= max && !id.chars().any(char::is_control)
}

/// Answers a request that was refused before it was decoded: one over
/// `--xds-max-message-bytes` (tonic says `OUT_OF_RANGE`) or naming more than
/// `--xds-max-names` resources (counted on the wire), both with
/// `RESOURCE_EXHAUSTED`, logged once per client; anything else ends the stream
/// quietly (the client has gone).
async fn refuse_undecodable<R>(
    ctx: &StreamContext,
    client: &str,
    responses: &mpsc::Sender<Result<R, Status>>,
    status: Status,
) {
    let status = match status.code() {
        tonic::Code::OutOfRange => {
            let max = ctx.limits.max_message_bytes;
            ctx.breaches.breach(
                Limit::MessageSize,
                client,
                &format!("a request over {max} bytes (--xds-max-message-bytes)"),
            );
            Status::resource_exhausted(format!(
                "request larger than the {max} bytes this server accepts"
            ))
        }
        tonic::Code::ResourceExhausted => {
            ctx.breaches.breach(Limit::Names, client, status.message());
            status
        }
        _ => {
            debug!(%client, %status, "stream ended with an error");
            return;
        }
    };
    let _ = responses.send(Err(status)).await;
}

/// The name a stream's node is tracked by: its `node.id`, and with mutual TLS
/// also its verified identity (`node.id@identity`), so no client can speak
/// for another. A node id the identity may not use is refused.
fn node_key(
    ctx: &StreamContext,
    peer: Option<&XdsPeer>,
    node_id: String,
) -> Result<String, Status> {
    let Some(rules) = &ctx.auth else {
        return Ok(node_id);
    };
    let addr = peer.map(|p| p.addr.to_string()).unwrap_or_default();
    match peer.and_then(|p| p.identity.as_ref()) {
        Some(identity) if rules.allows(identity, &node_id) => Ok(format!("{node_id}@{identity}")),
        Some(identity) => {
            warn!(%addr, %identity, node = %node_id, "xDS client refused: its certificate's identity may not use this node id (see --node-id-rule)");
            Err(Status::permission_denied(format!(
                "identity {identity} may not use node id {node_id:?}"
            )))
        }
        None => {
            warn!(%addr, node = %node_id, "xDS client refused: its certificate has no URI or DNS SAN to identify it");
            Err(Status::permission_denied(
                "the client certificate names no identity (URI or DNS SAN)",
            ))
        }
    }
}

/// Marks the node's stream closed however the task ends.
struct StreamGuard {
    tracker: AckTracker,
    store: SnapshotStore,
    node_id: String,
    mode: Mode,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.tracker.stream_closed(&self.node_id, self.mode);
        self.store.report(Verdict::Disconnected {
            node: self.node_id.clone(),
        });
    }
}

async fn drive<P: Protocol>(
    first: P::Request,
    mut requests: Requests<P::Request>,
    responses: mpsc::Sender<Result<P::Response, Status>>,
    ctx: &StreamContext,
    (node_id, client): (&str, &str),
    mut scoped: ScopedTarget,
) {
    let mut state = StreamState::new(P::MODE);
    let mut published = ctx.store.subscribe();
    // One wait for the whole stream, not a new subscription per loop turn.
    let closed = ctx.drain.closed();
    tokio::pin!(closed);
    let mut next = Some(first);
    let mut turn = ctx.initial_syncs.stream();
    loop {
        if let Some(request) = next.take() {
            if let Err(status) = P::admit(&state, &request, ctx.limits.max_names) {
                ctx.breaches.breach(Limit::Names, client, status.message());
                debug!(node = %node_id, %client, "refused a subscription over --xds-max-names; ending the stream");
                let _ = responses.send(Err(status)).await;
                return;
            }
            match P::apply(&mut state, &request, &ctx.limits) {
                Some(outcome) => record(ctx, node_id, outcome, &scoped),
                None => debug!(node = %node_id, "request for a type Interlock does not serve"),
            }
        }
        let target = ctx.store.current().and_then(|p| scoped.target(p));
        let has_target = target.is_some();
        if let Some(target) = target.filter(|_| turn.may_send()) {
            let planned = state.plan(&target);
            for resumed in state.take_resumed() {
                record(ctx, node_id, resumed, &scoped);
            }
            for mut planned in planned {
                ctx.tracker.sent(node_id, planned.kind, &planned.version);
                debug!(node = %node_id, kind = %planned.kind, version = %planned.version,
                       nonce = %planned.nonce, resources = planned.resources.len(),
                       removed = planned.removed.len(), "sending");
                let encoded = planned
                    .whole
                    .take()
                    .map(|map| ctx.whole_types.get(&map, P::MODE, P::encode_whole));
                if responses
                    .send(Ok(P::render(planned, encoded)))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            if let Some(snapshot) = state.take_in_sync(&target) {
                turn.finish();
                debug!(node = %node_id, %snapshot, "in sync with the snapshot");
                ctx.store.report(Verdict::InSync {
                    node: node_id.to_owned(),
                    snapshot: scoped.published_version(&snapshot),
                });
            } else if let Some((kind, error)) = state.take_known_rejection(&target) {
                turn.finish();
                debug!(node = %node_id, %kind, snapshot = %target.version(), "carries a view this Envoy rejected before");
                ctx.store.report(Verdict::Rejected {
                    node: node_id.to_owned(),
                    snapshot: scoped.published_version(target.version()),
                    kind,
                    error,
                });
            }
        }
        tokio::select! {
            message = requests.message() => match message {
                Ok(Some(request)) => next = Some(request),
                Ok(None) => return,
                Err(status) => {
                    debug!(node = %node_id, "request not decoded");
                    refuse_undecodable(ctx, client, &responses, status).await;
                    return;
                }
            },
            changed = published.changed() => if changed.is_err() { return },
            // A turn granted (or run out): plan again.
            () = turn.advance(), if has_target || turn.may_send() => {}
            () = &mut closed => {
                info!(node = %node_id, "drain timeout over: ending the stream");
                return;
            }
        }
    }
}

/// Hands `outcome` to the tracker, and a NACK also to the store as a verdict
/// (NACK containment).
fn record(ctx: &StreamContext, node_id: &str, outcome: Outcome, scoped: &ScopedTarget) {
    let tracker = &ctx.tracker;
    match outcome {
        Outcome::Ack {
            kind,
            version,
            acked,
            whole_view,
            ..
        } => {
            debug!(node = %node_id, %kind, %version, "ACK");
            tracker.acked(node_id, kind, version, Arc::clone(&acked), whole_view);
        }
        Outcome::Nack {
            kind,
            version,
            error,
            snapshot,
        } => {
            let shown = clean(&error, ctx.limits.max_error_detail_bytes);
            warn!(node = %node_id, %kind, %version, error = %shown, "NACK: Envoy rejected config; this version will not be re-sent");
            ctx.store.report(Verdict::Rejected {
                node: node_id.to_owned(),
                snapshot: scoped.published_version(&snapshot),
                kind,
                error: error.clone(),
            });
            tracker.nacked(node_id, kind, version, error);
        }
        Outcome::Released { kind, acked } => tracker.released(node_id, kind, acked),
        Outcome::Resumed {
            kind,
            version,
            acked,
        } => {
            debug!(node = %node_id, %kind, %version, "holds it from before the reconnect");
            tracker.resumed(node_id, kind, version, acked);
        }
        Outcome::Subscribed | Outcome::Stale => {}
    }
}

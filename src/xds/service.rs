//! The ADS gRPC service, routed by hand so responses can use the pre-encoded
//! wire types of [`super::wire`] (the generated service fixes the response type
//! to the prost message, which would force a copy of every resource per stream).

use std::convert::Infallible;
use std::task::{Context, Poll};

use envoy_types::pb::envoy::service::discovery::v3::{DeltaDiscoveryRequest, DiscoveryRequest};
use tonic::body::Body;
use tonic::codegen::{http, BoxFuture, Service, StdError};
use tonic::server::{Grpc, NamedService, StreamingService};
use tonic::{Request, Response, Status, Streaming};

use super::delta::Delta;
use super::request_codec::CountingCodec;
use super::server::{AdsServer, ResponseStream};
use super::sotw::Sotw;
use super::tls::XdsPeer;
use super::wire::{DeltaResponse, SotwResponse};

const SOTW_PATH: &str =
    "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources";
const DELTA_PATH: &str =
    "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources";

/// `envoy.service.discovery.v3.AggregatedDiscoveryService`, both methods.
#[derive(Clone)]
pub struct AdsService {
    server: AdsServer,
}

impl AdsService {
    pub(crate) fn new(server: AdsServer) -> Self {
        AdsService { server }
    }
}

impl NamedService for AdsService {
    const NAME: &'static str = "envoy.service.discovery.v3.AggregatedDiscoveryService";
}

struct SotwMethod(AdsServer);
struct DeltaMethod(AdsServer);

impl StreamingService<DiscoveryRequest> for SotwMethod {
    type Response = SotwResponse;
    type ResponseStream = ResponseStream<SotwResponse>;
    type Future = BoxFuture<Response<Self::ResponseStream>, Status>;

    fn call(&mut self, request: Request<Streaming<DiscoveryRequest>>) -> Self::Future {
        let peer = request.extensions().get::<XdsPeer>().cloned();
        let remote = request.remote_addr();
        let stream = self.0.spawn::<Sotw>(request.into_inner(), peer, remote);
        Box::pin(async move { stream.map(Response::new) })
    }
}

impl StreamingService<DeltaDiscoveryRequest> for DeltaMethod {
    type Response = DeltaResponse;
    type ResponseStream = ResponseStream<DeltaResponse>;
    type Future = BoxFuture<Response<Self::ResponseStream>, Status>;

    fn call(&mut self, request: Request<Streaming<DeltaDiscoveryRequest>>) -> Self::Future {
        let peer = request.extensions().get::<XdsPeer>().cloned();
        let remote = request.remote_addr();
        let stream = self.0.spawn::<Delta>(request.into_inner(), peer, remote);
        Box::pin(async move { stream.map(Response::new) })
    }
}

impl<B> Service<http::Request<B>> for AdsService
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let server = self.server.clone();
        // Larger requests, and requests naming more resources than the names cap,
        // are refused before they are decoded (RESOURCE_EXHAUSTED, see
        // `stream::refuse_undecodable`).
        let max_message = server.limits().max_message_bytes;
        let max_names = server.limits().max_names;
        match req.uri().path() {
            SOTW_PATH => Box::pin(async move {
                let mut grpc = Grpc::new(CountingCodec::<SotwResponse, DiscoveryRequest>::new(
                    max_names,
                ))
                .max_decoding_message_size(max_message);
                Ok(grpc.streaming(SotwMethod(server), req).await)
            }),
            DELTA_PATH => Box::pin(async move {
                let codec = CountingCodec::<DeltaResponse, DeltaDiscoveryRequest>::new(max_names);
                let mut grpc = Grpc::new(codec).max_decoding_message_size(max_message);
                Ok(grpc.streaming(DeltaMethod(server), req).await)
            }),
            _ => Box::pin(async move { Ok(Status::unimplemented("unknown method").into_http()) }),
        }
    }
}

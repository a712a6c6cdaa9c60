//! The ADS gRPC service, routed by hand: requests are decoded by tonic (names
//! counted first, see [`super::request_codec`]), and responses are written by
//! [`ResponseBody`] from the snapshot's shared bytes (tonic's encoder would copy
//! every resource into every stream's buffer).

use std::convert::Infallible;
use std::task::{Context, Poll};

use tonic::body::Body;
use tonic::codegen::{http, BoxFuture, Service, StdError};
use tonic::server::NamedService;
use tonic::transport::server::TcpConnectInfo;
use tonic::Status;

use super::delta::Delta;
use super::request_codec::NamedRequest;
use super::request_stream::Requests;
use super::response_body::ResponseBody;
use super::server::AdsServer;
use super::sotw::Sotw;
use super::stream::Protocol;
use super::tls::XdsPeer;

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

/// Opens one ADS stream of flavour `P`: its requests are decoded from `req`'s
/// body, its responses are the returned body.
fn stream<P, B>(server: &AdsServer, req: http::Request<B>) -> http::Response<Body>
where
    P: Protocol,
    P::Request: NamedRequest,
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    // Interlock accepts no request compression, as tonic without a codec
    // feature would not.
    let compressed = req
        .headers()
        .get("grpc-encoding")
        .is_some_and(|e| e.as_bytes() != b"identity");
    if compressed {
        return Status::unimplemented("request compression is not supported").into_http();
    }
    let (parts, body) = req.into_parts();
    let peer = parts.extensions.get::<XdsPeer>().cloned();
    let remote = parts
        .extensions
        .get::<TcpConnectInfo>()
        .and_then(|i| i.remote_addr());
    let limits = server.limits();
    // Larger requests, and requests naming more resources than the names cap,
    // are refused before they are decoded (RESOURCE_EXHAUSTED, see
    // `stream::refuse_undecodable`).
    let requests = Requests::<P::Request>::new(body, limits.max_message_bytes, limits.max_names);
    match server.spawn::<P>(requests, peer, remote) {
        Ok(responses) => {
            let mut response = http::Response::new(Body::new(ResponseBody::new(responses)));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/grpc"),
            );
            response
        }
        Err(status) => status.into_http(),
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
        let response = match req.uri().path() {
            SOTW_PATH => stream::<Sotw, _>(&self.server, req),
            DELTA_PATH => stream::<Delta, _>(&self.server, req),
            _ => Status::unimplemented("unknown method").into_http(),
        };
        Box::pin(async move { Ok(response) })
    }
}

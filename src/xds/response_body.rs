//! ADS responses as HTTP/2 body frames that share the snapshot's bytes.
//!
//! tonic's encoder copies every message into a per-stream buffer, so a thousand
//! streams sent one route table held a thousand copies of it until written: at
//! 1,000 Ingresses that was most of the server's memory during a connect storm.
//! Here each response becomes a gRPC message laid out as chunks: framing and
//! small resources are copied into one buffer, and each large resource is a
//! reference to the bytes the snapshot already holds.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http_body::{Body, Frame};
use prost::bytes::{BufMut, Bytes, BytesMut};
use tokio::sync::mpsc;
use tonic::codegen::http::HeaderMap;
use tonic::Status;

use super::wire::{WireMessage, WireSink};

/// Resources at least this large are referenced rather than copied: below it
/// a copy costs less than a frame and a write of its own.
const SHARE_MIN: usize = 4096;

/// Copied bytes are cut into chunks of about this size, so one response does
/// not sit in one buffer as large as itself.
const CHUNK: usize = 16 * 1024;

/// A response stream's body: gRPC messages from `responses`, then the status as
/// trailers (`OK` when the stream task ends, its error otherwise).
pub(crate) struct ResponseBody<R> {
    responses: mpsc::Receiver<Result<R, Status>>,
    chunks: VecDeque<Bytes>,
    ended: bool,
}

/// [`WireSink`] laying a message out as chunks.
#[derive(Default)]
struct Chunks {
    copied: BytesMut,
    out: VecDeque<Bytes>,
}

// === impl ResponseBody ===

impl<R: WireMessage> ResponseBody<R> {
    /// The body for the responses a stream task sends into `responses`.
    pub(crate) fn new(responses: mpsc::Receiver<Result<R, Status>>) -> Self {
        ResponseBody {
            responses,
            chunks: VecDeque::new(),
            ended: false,
        }
    }
}

/// One gRPC message (uncompressed flag, big-endian length, message) as chunks.
fn grpc_message(message: &impl WireMessage) -> Result<VecDeque<Bytes>, Status> {
    let len = u32::try_from(message.encoded_len())
        .map_err(|_| Status::internal("response larger than 4 GiB"))?;
    let mut chunks = Chunks::default();
    let mut prefix = [0u8; 5];
    prefix[1..].copy_from_slice(&len.to_be_bytes());
    chunks.put(&prefix);
    message.write(&mut chunks);
    Ok(chunks.finish())
}

fn trailers(status: &Status) -> HeaderMap {
    let mut map = HeaderMap::new();
    if let Err(unencodable) = status.add_header(&mut map) {
        map.clear();
        // Only a message that cannot be a header value fails; the code stands.
        let _ = Status::new(unencodable.code(), "").add_header(&mut map);
    }
    map
}

impl<R: WireMessage + Send + 'static> Body for ResponseBody<R> {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = self.get_mut();
        loop {
            if let Some(chunk) = this.chunks.pop_front() {
                return Poll::Ready(Some(Ok(Frame::data(chunk))));
            }
            if this.ended {
                return Poll::Ready(None);
            }
            let status = match ready!(this.responses.poll_recv(cx)) {
                Some(Ok(response)) => match grpc_message(&response) {
                    Ok(chunks) => {
                        this.chunks = chunks;
                        continue;
                    }
                    Err(status) => status,
                },
                Some(Err(status)) => status,
                None => Status::ok(""),
            };
            this.ended = true;
            this.responses.close();
            return Poll::Ready(Some(Ok(Frame::trailers(trailers(&status)))));
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended && self.chunks.is_empty()
    }
}

// === impl Chunks ===

impl Chunks {
    fn cut(&mut self) {
        if !self.copied.is_empty() {
            self.out.push_back(self.copied.split().freeze());
        }
    }

    fn finish(mut self) -> VecDeque<Bytes> {
        self.cut();
        self.out
    }
}

impl WireSink for Chunks {
    fn put(&mut self, bytes: &[u8]) {
        if self.copied.len() + bytes.len() > CHUNK {
            self.cut();
        }
        self.copied.put_slice(bytes);
    }

    fn put_shared(&mut self, bytes: &Bytes) {
        if bytes.len() < SHARE_MIN {
            self.put(bytes);
        } else {
            self.cut();
            self.out.push_back(bytes.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use envoy_types::pb::envoy::config::route::v3::{RouteConfiguration, VirtualHost};
    use envoy_types::pb::envoy::service::discovery::v3::DiscoveryResponse;
    use http_body_util::BodyExt;
    use prost::Message;

    use super::*;
    use crate::snapshot::{ResourceType, Snapshot};
    use crate::xds::wire::SotwResponse;

    /// A snapshot with one large route table and a few small clusters.
    fn snapshot() -> Snapshot {
        let hosts = (0..200)
            .map(|i| VirtualHost {
                name: format!("host-{i}"),
                domains: vec![format!("app-{i}.example")],
                ..VirtualHost::default()
            })
            .collect();
        Snapshot::builder()
            .route(RouteConfiguration {
                name: "http".into(),
                virtual_hosts: hosts,
                ..RouteConfiguration::default()
            })
            .build()
            .expect("consistent")
    }

    fn response(snapshot: &Snapshot, nonce: &str) -> SotwResponse {
        SotwResponse {
            version_info: "v1".into(),
            resources: snapshot
                .resources(ResourceType::Route)
                .values()
                .cloned()
                .collect(),
            encoded: None,
            type_url: ResourceType::Route.type_url().into(),
            nonce: nonce.into(),
        }
    }

    /// Splits a body's data into gRPC messages.
    fn messages(mut data: &[u8]) -> Vec<DiscoveryResponse> {
        let mut out = Vec::new();
        while !data.is_empty() {
            assert_eq!(data[0], 0, "uncompressed");
            let len = u32::from_be_bytes([data[1], data[2], data[3], data[4]]) as usize;
            out.push(DiscoveryResponse::decode(&data[5..5 + len]).expect("decodes"));
            data = &data[5 + len..];
        }
        out
    }

    #[tokio::test]
    async fn responses_become_grpc_messages_then_ok_trailers() {
        let snapshot = snapshot();
        let (tx, rx) = mpsc::channel(4);
        tx.send(Ok(response(&snapshot, "1"))).await.expect("open");
        tx.send(Ok(response(&snapshot, "2"))).await.expect("open");
        drop(tx);
        let collected = ResponseBody::new(rx).collect().await.expect("no error");
        let trailers = collected.trailers().cloned().expect("trailers");
        assert_eq!(
            trailers.get("grpc-status").map(|v| v.as_bytes()),
            Some(&b"0"[..])
        );
        let messages = messages(&collected.to_bytes());
        let nonces: Vec<&str> = messages.iter().map(|m| m.nonce.as_str()).collect();
        assert_eq!(nonces, ["1", "2"]);
        assert_eq!(
            messages[0].encode_to_vec(),
            response(&snapshot, "1").encode_to_vec(),
            "the same bytes prost would write"
        );
    }

    #[test]
    fn a_large_resource_is_referenced_not_copied() {
        let snapshot = snapshot();
        let table = Arc::clone(
            snapshot
                .resources(ResourceType::Route)
                .values()
                .next()
                .expect("a table"),
        );
        assert!(
            table.wire_any().len() >= SHARE_MIN,
            "test needs a large table"
        );
        let chunks = grpc_message(&response(&snapshot, "1")).expect("framed");
        let shared = chunks.iter().any(|c| {
            c.as_ptr() == table.wire_bytes().as_ptr() && c.len() == table.wire_any().len()
        });
        assert!(shared, "the table's own bytes are a chunk");
    }

    #[tokio::test]
    async fn an_error_ends_the_body_with_its_status() {
        let (tx, rx) = mpsc::channel::<Result<SotwResponse, Status>>(1);
        tx.send(Err(Status::resource_exhausted("too many names")))
            .await
            .expect("open");
        let collected = ResponseBody::new(rx).collect().await.expect("no error");
        let trailers = collected.trailers().cloned().expect("trailers");
        assert_eq!(
            trailers.get("grpc-status").map(|v| v.as_bytes()),
            Some(&b"8"[..])
        );
        assert!(collected.to_bytes().is_empty());
    }
}

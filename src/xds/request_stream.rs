//! An ADS stream's requests, read from the HTTP/2 body and decoded one gRPC
//! message at a time. tonic's reader keeps a buffer as large as the largest
//! request it has seen (an Envoy subscribing to a thousand clusters sends one of
//! tens of kilobytes) for the life of the stream; at a thousand streams that
//! was a fifth of the server's memory. Here a message's bytes are freed as soon
//! as it is decoded.

use std::marker::PhantomData;

use http_body::Body;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;
use prost::bytes::{Buf, Bytes, BytesMut};
use tonic::codegen::StdError;
use tonic::Status;

use super::request_codec::{decode_counted, NamedRequest};

/// gRPC's message prefix: a compression flag and a big-endian length.
const PREFIX: usize = 5;

/// A buffer larger than this is not kept once its message is decoded.
const KEEP: usize = 4096;

/// The requests of one stream.
pub(crate) struct Requests<T> {
    body: UnsyncBoxBody<Bytes, Status>,
    /// Bytes received and not yet decoded.
    buf: BytesMut,
    ended: bool,
    max_message: usize,
    max_names: usize,
    _message: PhantomData<fn() -> T>,
}

// === impl Requests ===

impl<T: NamedRequest> Requests<T> {
    /// Reads `body`; a message over `max_message` bytes is refused with
    /// `OUT_OF_RANGE` (as tonic does), one naming over `max_names` resources
    /// with `RESOURCE_EXHAUSTED`, before either is decoded.
    pub(crate) fn new<B>(body: B, max_message: usize, max_names: usize) -> Self
    where
        B: Body + Send + 'static,
        B::Error: Into<StdError> + Send + 'static,
    {
        let body = body
            .map_frame(|frame| frame.map_data(|mut data| data.copy_to_bytes(data.remaining())))
            .map_err(|e| Status::from_error(e.into()))
            .boxed_unsync();
        Requests {
            body,
            buf: BytesMut::new(),
            ended: false,
            max_message,
            max_names,
            _message: PhantomData,
        }
    }

    /// The next request; `None` once the client has half-closed the stream.
    pub(crate) async fn message(&mut self) -> Result<Option<T>, Status> {
        loop {
            if let Some(message) = self.decode_next()? {
                return Ok(Some(message));
            }
            if self.ended {
                return match self.buf.is_empty() {
                    true => Ok(None),
                    false => Err(Status::internal("the stream ended inside a message")),
                };
            }
            match self.body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buf.extend_from_slice(&data);
                    }
                }
                Some(Err(status)) => return Err(status),
                None => self.ended = true,
            }
        }
    }

    /// Decodes the message at the front of the buffer, once all of it is there.
    fn decode_next(&mut self) -> Result<Option<T>, Status> {
        if self.buf.len() < PREFIX {
            return Ok(None);
        }
        if self.buf[0] != 0 {
            return Err(Status::internal(
                "a compressed request, and no compression was negotiated",
            ));
        }
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]);
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len > self.max_message {
            return Err(Status::out_of_range(format!(
                "a request of {len} bytes, over the {} this server accepts",
                self.max_message
            )));
        }
        let Some(total) = len.checked_add(PREFIX).filter(|t| *t <= self.buf.len()) else {
            // Room for exactly the rest of this message, no more.
            self.buf.reserve(len + PREFIX - self.buf.len());
            return Ok(None);
        };
        let message = self.buf.split_to(total).freeze().slice(PREFIX..);
        let decoded = decode_counted(message, self.max_names);
        if self.buf.capacity() > KEEP && self.buf.len() <= KEEP {
            // What is left (the start of the next message, if anything) moves
            // to a buffer of its own size.
            self.buf = BytesMut::from(&self.buf[..]);
        }
        decoded.map(Some)
    }
}

#[cfg(test)]
mod tests {
    use envoy_types::pb::envoy::service::discovery::v3::DiscoveryRequest;

    use super::super::sotw_request::SotwRequest;
    use http_body_util::StreamBody;
    use prost::Message;
    use tonic::Code;

    use super::*;

    fn framed(message: &impl Message) -> Vec<u8> {
        let bytes = message.encode_to_vec();
        let mut out = vec![0];
        out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        out.extend_from_slice(&bytes);
        out
    }

    /// A body delivering `data` in chunks of `chunk` bytes.
    fn body(data: Vec<u8>, chunk: usize) -> impl Body<Data = Bytes, Error = Status> {
        let frames: Vec<Result<http_body::Frame<Bytes>, Status>> = data
            .chunks(chunk)
            .map(|c| Ok(http_body::Frame::data(Bytes::copy_from_slice(c))))
            .collect();
        StreamBody::new(tokio_stream::iter(frames))
    }

    fn request(names: usize) -> DiscoveryRequest {
        DiscoveryRequest {
            type_url: "t".into(),
            resource_names: (0..names).map(|i| format!("cluster-{i}")).collect(),
            ..DiscoveryRequest::default()
        }
    }

    #[tokio::test]
    async fn messages_split_across_frames_are_decoded_in_order() {
        let mut data = framed(&request(1000));
        data.extend(framed(&request(2)));
        let mut requests = Requests::<SotwRequest>::new(body(data, 1000), 1 << 20, 10_000);
        let first = requests.message().await.expect("decodes").expect("one");
        assert_eq!(first.resource_names.len(), 1000);
        assert!(requests.buf.capacity() <= KEEP, "the large buffer is freed");
        let second = requests.message().await.expect("decodes").expect("two");
        assert_eq!(second.resource_names.len(), 2);
        assert!(requests.message().await.expect("clean end").is_none());
    }

    #[tokio::test]
    async fn oversized_and_over_named_requests_are_refused_before_decoding() {
        let data = framed(&request(100));
        let mut requests = Requests::<SotwRequest>::new(body(data.clone(), 64), 100, 10_000);
        let refused = requests.message().await.expect_err("too large");
        assert_eq!(refused.code(), Code::OutOfRange);
        let mut requests = Requests::<SotwRequest>::new(body(data, 64), 1 << 20, 10);
        let refused = requests.message().await.expect_err("too many names");
        assert_eq!(refused.code(), Code::ResourceExhausted);
    }

    #[tokio::test]
    async fn a_stream_cut_inside_a_message_is_an_error() {
        let mut data = framed(&request(10));
        data.truncate(data.len() - 3);
        let mut requests = Requests::<SotwRequest>::new(body(data, 16), 1 << 20, 10_000);
        assert!(requests.message().await.is_err());
    }
}

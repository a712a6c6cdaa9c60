//! The in-test upstreams: an HTTP/1.1 echo, an h2c-only gRPC server, an
//! HTTPS server reporting the SNI it got; and the clients that call them
//! through Envoy.

use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use hyper::body::{Bytes, Frame};
use hyper_util::rt::{TokioExecutor, TokioIo};

// === HTTP/1.1 echo ===

/// An HTTP/1.1 upstream on 127.0.0.1 answering 200 with `upstream=<name>`.
pub(crate) fn echo(name: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind echo");
    let port = listener.local_addr().expect("echo addr").port();
    thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            thread::spawn(move || {
                if read_head(&mut conn).is_none() {
                    return;
                }
                let body = format!("upstream={name}\n");
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    port
}

/// Reads up to the end of a message head (requests and responses here have
/// no body beyond `content-length`, which the caller reads).
pub(crate) fn read_head(s: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).into_owned();
            return Some((head, raw[end + 4..].to_vec()));
        }
        let n = s.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
    }
}

/// `GET /` to Envoy on a new connection: the response head and body.
pub(crate) fn get(port: u16, host: &str, headers: &[&str]) -> (String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to Envoy");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut request = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for h in headers {
        request.push_str(h);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    s.write_all(request.as_bytes()).expect("write request");
    let (head, mut body) = read_head(&mut s).expect("a response");
    let _ = s.read_to_end(&mut body);
    (head, String::from_utf8_lossy(&body).into_owned())
}

pub(crate) fn header<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

// === gRPC over h2c ===

/// A gRPC upstream speaking only HTTP/2 cleartext (prior knowledge): every
/// call answers the request message prefixed with `pong:`, and
/// `grpc-status: 0` in the trailers.
pub(crate) async fn grpc_upstream() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind gRPC upstream");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    |req: hyper::Request<hyper::body::Incoming>| async move {
                        use http_body_util::BodyExt;
                        let body = req
                            .into_body()
                            .collect()
                            .await
                            .map(|c| c.to_bytes())
                            .unwrap_or_default();
                        let message = body.get(5..).unwrap_or_default();
                        let mut reply = b"pong:".to_vec();
                        reply.extend_from_slice(message);
                        let mut frame = vec![0u8];
                        frame.extend_from_slice(
                            &u32::try_from(reply.len()).unwrap_or(0).to_be_bytes(),
                        );
                        frame.extend_from_slice(&reply);
                        let mut trailers = hyper::HeaderMap::new();
                        trailers
                            .insert("grpc-status", hyper::header::HeaderValue::from_static("0"));
                        let frames: Vec<Result<Frame<Bytes>, Infallible>> = vec![
                            Ok(Frame::data(Bytes::from(frame))),
                            Ok(Frame::trailers(trailers)),
                        ];
                        let body = http_body_util::StreamBody::new(tokio_stream::iter(frames));
                        let response = hyper::Response::builder()
                            .header("content-type", "application/grpc")
                            .body(body)
                            .unwrap_or_else(|e| panic!("response: {e}"));
                        Ok::<_, Infallible>(response)
                    },
                );
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    port
}

/// One unary gRPC call over HTTP/2 (prior knowledge) to Envoy for `host`:
/// the `grpc-status` (trailers, or headers of a trailers-only answer) and
/// the response message.
pub(crate) async fn grpc_call(port: u16, host: &str, message: &[u8]) -> (Option<String>, Vec<u8>) {
    use http_body_util::BodyExt;
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to Envoy");
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2 handshake with Envoy");
    tokio::spawn(conn);
    let mut frame = vec![0u8];
    frame.extend_from_slice(&u32::try_from(message.len()).unwrap_or(0).to_be_bytes());
    frame.extend_from_slice(message);
    let request = hyper::Request::builder()
        .method("POST")
        .uri(format!("http://{host}/test.Echo/Ping"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(http_body_util::Full::new(Bytes::from(frame)))
        .expect("request");
    let response = sender.send_request(request).await.expect("a response");
    let status_header = response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let collected = response.into_body().collect().await.expect("body");
    let trailer = collected
        .trailers()
        .and_then(|t| t.get("grpc-status"))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = collected.to_bytes();
    (
        trailer.or(status_header),
        body.get(5..).unwrap_or_default().to_vec(),
    )
}

// === HTTPS upstream ===

/// An HTTPS (HTTP/1.1) upstream on 127.0.0.1 serving `cert_pem`/`key_pem`:
/// answers `upstream=tls sni=<the SNI the client sent, or none>`.
pub(crate) async fn tls_upstream(cert_pem: &str, key_pem: &str) -> u16 {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let chain: Vec<CertificateDer<'static>> = pem::parse_many(cert_pem)
        .expect("server certificate PEM")
        .into_iter()
        .map(|b| CertificateDer::from(b.into_contents()))
        .collect();
    let key = pem::parse(key_pem).expect("server key PEM");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.into_contents()));
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .expect("server certificate");
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind TLS upstream");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let sni = tls.get_ref().1.server_name().unwrap_or("none").to_owned();
                let mut raw = Vec::new();
                let mut buf = [0u8; 4096];
                while !raw.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => raw.extend_from_slice(&buf[..n]),
                    }
                }
                let body = format!("upstream=tls sni={sni}\n");
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(reply.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

//! The HTTP/1.1 side: accepting connections, dispatching requests to the handlers,
//! answering JSON or a streamed watch body, and recording every request so tests can
//! assert what a client did (e.g. that it only ever PATCHed `/status`).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::{Bytes, Frame, Incoming, SizeHint};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Sleep;

use super::routes::{parse_path, Query, Target};
use super::status::ApiError;
use super::{crud, list, patch, watch, Shared};

/// One request as the server saw it, with the status it answered.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub content_type: Option<String>,
    /// The request body (lossy UTF-8).
    pub body: String,
    pub status: u16,
}

impl RecordedRequest {
    pub fn query_param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn is_watch(&self) -> bool {
        matches!(self.query_param("watch"), Some("true" | "1"))
    }

    /// The body as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// Accepts connections until the task is aborted (when the server is dropped).
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let conn_shared = shared.clone();
        let service = service_fn(move |req| {
            let shared = conn_shared.clone();
            async move { Ok::<_, Infallible>(handle(&shared, req).await) }
        });
        let task = tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            let _ = conn.await;
        });
        shared.track_connection(task.abort_handle());
    }
}

async fn handle(shared: &Shared, req: Request<Incoming>) -> Response<Body> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = Query::parse(req.uri().query());
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return error_response(&ApiError::bad_request(format!("reading body: {e}"))),
    };
    let response = match dispatch(
        shared,
        &method,
        &path,
        &query,
        content_type.as_deref(),
        &body,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => error_response(&e),
    };
    shared.record(RecordedRequest {
        method: method.to_string(),
        path,
        query: query.0,
        content_type,
        body: String::from_utf8_lossy(&body).into_owned(),
        status: response.status().as_u16(),
    });
    response
}

async fn dispatch(
    shared: &Shared,
    method: &Method,
    path: &str,
    query: &Query,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Response<Body>, ApiError> {
    let route = match parse_path(path)? {
        Target::Version => return Ok(json_response(200, &version())),
        Target::Resource(route) => route,
    };
    let status_only = match route.subresource.as_deref() {
        None => false,
        Some("status") if route.kind.has_status => true,
        Some(_) => {
            return Err(ApiError::new(
                404,
                "NotFound",
                format!("no such subresource: {path}"),
            ))
        }
    };
    let collection = route.name.is_none();
    if method != Method::GET {
        let mut state = shared.state();
        if state.failing_writes > 0 {
            state.failing_writes -= 1;
            return Err(ApiError::new(
                409,
                "Conflict",
                format!("injected conflict for {method} {path}"),
            ));
        }
    }
    let (code, obj) = match (method.as_str(), collection) {
        ("GET", true) if query.flag("watch") => {
            let stream = watch::handle(shared, &route, query).await?;
            return Ok(with_json_content_type(Response::new(stream)));
        }
        ("GET", true) => (200, list::handle(shared, &route, query).await?),
        ("GET", false) => (200, crud::get(&shared.state(), &route)?),
        ("POST", true) => (201, crud::create(&mut shared.state(), &route, body)?),
        ("PUT", false) => (
            200,
            crud::replace(&mut shared.state(), &route, body, status_only)?,
        ),
        ("PATCH", false) => {
            let mut state = shared.state();
            (
                200,
                patch::patch(&mut state, &route, content_type, body, status_only)?,
            )
        }
        ("DELETE", false) if !status_only => (200, crud::delete(&mut shared.state(), &route)?),
        _ => {
            return Err(ApiError::new(
                405,
                "MethodNotAllowed",
                format!("the fake API server does not serve {method} {path}"),
            ))
        }
    };
    Ok(json_response(code, &obj))
}

/// What `GET /version` answers.
fn version() -> Value {
    json!({
        "major": "1", "minor": "35", "gitVersion": "v1.35.0-fake", "gitCommit": "fake",
        "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.25",
        "compiler": "gc", "platform": "linux/amd64",
    })
}

fn json_response(code: u16, body: &Value) -> Response<Body> {
    let bytes = serde_json::to_vec(body).expect("a JSON value serializes");
    let mut response = Response::new(Body::Full(Some(Bytes::from(bytes))));
    *response.status_mut() = hyper::StatusCode::from_u16(code).expect("a valid status code");
    with_json_content_type(response)
}

fn error_response(error: &ApiError) -> Response<Body> {
    json_response(error.code, &error.to_status())
}

fn with_json_content_type(mut response: Response<Body>) -> Response<Body> {
    let value = HeaderValue::from_static("application/json");
    response.headers_mut().insert(CONTENT_TYPE, value);
    response
}

/// A response body: a whole JSON document, or a watch stream of lines that ends when
/// its sender is dropped or its timeout passes.
pub enum Body {
    Full(Option<Bytes>),
    Watch {
        lines: UnboundedReceiver<Bytes>,
        deadline: Pin<Box<Sleep>>,
    },
}

impl Body {
    pub fn watch(lines: UnboundedReceiver<Bytes>, timeout: Duration) -> Self {
        let deadline = Box::pin(tokio::time::sleep(timeout));
        Self::Watch { lines, deadline }
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Body::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Body::Watch { lines, deadline } => {
                if deadline.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
                lines
                    .poll_recv(cx)
                    .map(|line| line.map(|b| Ok(Frame::data(b))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Body::Full(None))
    }

    /// Exact for a whole document, so it is sent with a Content-Length; a watch is
    /// sent chunked.
    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            Body::Full(None) => SizeHint::with_exact(0),
            Body::Watch { .. } => SizeHint::default(),
        }
    }
}

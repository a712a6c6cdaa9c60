//! The fake Kubernetes API server speaks the list/watch protocol kube-rs relies on:
//! checked here over raw HTTP, so the Kubernetes source's tests can trust it.

#[path = "support/fake_kube/mod.rs"]
mod fake_kube;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use fake_kube::{FakeApiServer, INGRESS, LEASE, SECRET, SERVICE};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpStream;

const INGRESSES: &str = "/apis/networking.k8s.io/v1/ingresses";
const MERGE: &str = "application/merge-patch+json";
/// Long enough for an event that is coming; short enough to assert one is not.
const EVENT_WAIT: Duration = Duration::from_secs(5);
const QUIET: Duration = Duration::from_millis(300);

fn ns_ingresses(ns: &str) -> String {
    format!("/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses")
}

fn ingress(ns: &str, name: &str, labels: Value) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": { "namespace": ns, "name": name, "labels": labels },
        "spec": {
            "ingressClassName": "interlock",
            "rules": [{ "host": format!("{name}.example"), "http": { "paths": [{
                "path": "/", "pathType": "Prefix",
                "backend": { "service": { "name": "web", "port": { "number": 80 } } },
            }] } }],
        },
    })
}

fn rv(obj: &Value) -> u64 {
    obj["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_else(|| panic!("no resourceVersion in {obj}"))
        .parse()
        .expect("numeric resourceVersion")
}

fn names(items: &Value) -> Vec<String> {
    items
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

// ---- a raw HTTP client ----

async fn connect(addr: SocketAddr) -> SendRequest<Full<Bytes>> {
    let stream = TcpStream::connect(addr)
        .await
        .expect("connect to fake API server");
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    sender
}

async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: Option<Value>,
) -> (u16, Incoming) {
    let mut sender = connect(addr).await;
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "fake");
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
    let resp = sender
        .send_request(req.body(Full::new(body)).unwrap())
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    (resp.status().as_u16(), resp.into_body())
}

/// One request with a JSON answer.
async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let (status, body) = send(addr, method, path, content_type, body).await;
    let bytes = tokio::time::timeout(EVENT_WAIT, body.collect())
        .await
        .unwrap_or_else(|_| panic!("{method} {path}: no complete answer"))
        .expect("read body")
        .to_bytes();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {bytes:?}"));
    (status, json)
}

async fn get(addr: SocketAddr, path: &str) -> (u16, Value) {
    call(addr, "GET", path, None, None).await
}

/// An open watch stream, read event by event.
struct Watch {
    body: Incoming,
    buf: Vec<u8>,
}

impl Watch {
    async fn open(addr: SocketAddr, path: &str) -> Self {
        let (status, body) = send(addr, "GET", path, None, None).await;
        assert_eq!(status, 200, "watch {path}");
        Self {
            body,
            buf: Vec::new(),
        }
    }

    /// The next event, `None` once the server ended the stream; panics after `wait`.
    async fn try_next(&mut self, wait: Duration) -> Result<Option<Value>, ()> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=end).collect();
                return Ok(Some(
                    serde_json::from_slice(&line).expect("an event is one JSON line"),
                ));
            }
            match tokio::time::timeout_at(deadline, self.body.frame()).await {
                Err(_) => return Err(()),
                Ok(None) => {
                    assert!(self.buf.is_empty(), "stream ended mid-line");
                    return Ok(None);
                }
                Ok(Some(frame)) => {
                    if let Ok(data) = frame.expect("watch body").into_data() {
                        self.buf.extend_from_slice(&data);
                    }
                }
            }
        }
    }

    async fn next(&mut self) -> Value {
        match self.try_next(EVENT_WAIT).await {
            Ok(Some(event)) => event,
            Ok(None) => panic!("watch ended, expected an event"),
            Err(()) => panic!("no watch event within {EVENT_WAIT:?}"),
        }
    }

    async fn expect_end(&mut self) {
        match self.try_next(EVENT_WAIT).await {
            Ok(None) => {}
            Ok(Some(e)) => panic!("expected the end of the watch, got {e}"),
            Err(()) => panic!("watch still open after {EVENT_WAIT:?}"),
        }
    }

    async fn expect_quiet(&mut self) {
        if let Ok(e) = self.try_next(QUIET).await {
            panic!("expected no watch event, got {e:?}");
        }
    }
}

fn event_summary(event: &Value) -> (String, String, u64) {
    let obj = &event["object"];
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (event["type"].as_str().unwrap().to_string(), name, rv(obj))
}

// ---- lists ----

#[tokio::test]
async fn list_returns_items_in_key_order_with_the_collection_resource_version() {
    let server = FakeApiServer::start().await;
    server.apply(ingress("b", "one", json!({})));
    server.apply(ingress("a", "two", json!({})));
    server.apply(ingress("a", "one", json!({})));

    let (status, list) = get(server.addr(), INGRESSES).await;
    assert_eq!(status, 200);
    assert_eq!(list["kind"], "IngressList");
    assert_eq!(list["apiVersion"], "networking.k8s.io/v1");
    assert_eq!(rv(&list), server.resource_version());
    assert_eq!(names(&list["items"]), ["one", "two", "one"]);
    let first = &list["items"][0];
    assert_eq!(first["metadata"]["namespace"], "a");
    assert!(
        first.get("kind").is_none(),
        "list items carry no kind, as on a real server"
    );
    assert!(
        first["metadata"]["uid"].is_string() && first["metadata"]["creationTimestamp"].is_string()
    );

    let (_, in_b) = get(server.addr(), &ns_ingresses("b")).await;
    assert_eq!(names(&in_b["items"]), ["one"]);
}

#[tokio::test]
async fn paginated_list_serves_every_page_as_of_the_first_page_version() {
    let server = FakeApiServer::start().await;
    for name in ["a", "b", "c"] {
        server.apply(ingress("default", name, json!({})));
    }
    let (_, page1) = get(server.addr(), &format!("{INGRESSES}?limit=2")).await;
    assert_eq!(names(&page1["items"]), ["a", "b"]);
    let token = page1["metadata"]["continue"]
        .as_str()
        .expect("a continue token")
        .to_string();

    // Changes after the first page must not show in the second.
    server.delete(&INGRESS, Some("default"), "c");
    server.apply(ingress("default", "d", json!({})));

    let (status, page2) = get(
        server.addr(),
        &format!("{INGRESSES}?limit=2&continue={token}"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(names(&page2["items"]), ["c"]);
    assert_eq!(
        page2["metadata"]["resourceVersion"],
        page1["metadata"]["resourceVersion"]
    );
    assert!(
        page2["metadata"].get("continue").is_none(),
        "last page has no token"
    );
}

#[tokio::test]
async fn continue_token_from_before_a_compaction_is_410_gone() {
    let server = FakeApiServer::start().await;
    for name in ["a", "b"] {
        server.apply(ingress("default", name, json!({})));
    }
    let (_, page1) = get(server.addr(), &format!("{INGRESSES}?limit=1")).await;
    let token = page1["metadata"]["continue"].as_str().unwrap().to_string();
    server.apply(ingress("default", "c", json!({})));
    server.compact();

    let (status, err) = get(
        server.addr(),
        &format!("{INGRESSES}?limit=1&continue={token}"),
    )
    .await;
    assert_eq!(status, 410);
    assert_eq!(
        (
            err["kind"].as_str(),
            err["reason"].as_str(),
            err["code"].as_u64()
        ),
        (Some("Status"), Some("Expired"), Some(410))
    );
}

#[tokio::test]
async fn list_delay_holds_only_lists_of_that_kind() {
    let server = FakeApiServer::start().await;
    server.set_list_delay(&INGRESS, Duration::from_millis(600));

    let started = Instant::now();
    get(server.addr(), "/api/v1/services").await;
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "services are not delayed"
    );

    let started = Instant::now();
    let (status, _) = get(server.addr(), INGRESSES).await;
    assert_eq!(status, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "ingress list answered early"
    );

    server.set_list_delay(&INGRESS, Duration::ZERO);
    let started = Instant::now();
    get(server.addr(), INGRESSES).await;
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "delay removed"
    );
}

#[tokio::test]
async fn paused_list_answers_after_resume_with_the_state_at_that_time() {
    let server = FakeApiServer::start().await;
    server.pause_lists(&INGRESS);
    let addr = server.addr();
    let list = tokio::spawn(async move { get(addr, INGRESSES).await });

    tokio::time::sleep(QUIET).await;
    assert!(!list.is_finished(), "a paused list must not be answered");
    server.apply(ingress("default", "late", json!({})));
    server.resume_lists(&INGRESS);

    let (status, list) = tokio::time::timeout(EVENT_WAIT, list)
        .await
        .expect("answered after resume")
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(names(&list["items"]), ["late"]);
}

// ---- selectors ----

#[tokio::test]
async fn label_selectors_filter_lists_with_equality_set_and_existence_requirements() {
    let server = FakeApiServer::start().await;
    server.apply(ingress(
        "default",
        "web",
        json!({ "app": "web", "tier": "front" }),
    ));
    server.apply(ingress("default", "api", json!({ "app": "api" })));
    server.apply(ingress("default", "bare", json!({})));

    let cases = [
        ("app%3Dweb", vec!["web"]),
        ("app%3D%3Dapi", vec!["api"]),
        ("app!%3Dweb", vec!["api", "bare"]),
        ("app+in+(web,api),tier", vec!["web"]),
        ("app+notin+(web)", vec!["api", "bare"]),
        ("!app", vec!["bare"]),
    ];
    for (selector, want) in cases {
        let (status, list) = get(
            server.addr(),
            &format!("{INGRESSES}?labelSelector={selector}"),
        )
        .await;
        assert_eq!(status, 200, "{selector}");
        let mut got = names(&list["items"]);
        got.sort();
        let mut want: Vec<String> = want.into_iter().map(String::from).collect();
        want.sort();
        assert_eq!(got, want, "labelSelector={selector}");
    }
}

#[tokio::test]
async fn field_selectors_match_name_and_namespace_and_reject_unsupported_fields() {
    let server = FakeApiServer::start().await;
    server.apply(ingress("a", "x", json!({})));
    server.apply(ingress("b", "x", json!({})));
    server.apply(ingress("b", "y", json!({})));

    let (_, list) = get(
        server.addr(),
        &format!("{INGRESSES}?fieldSelector=metadata.name%3Dx"),
    )
    .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    let (_, list) = get(
        server.addr(),
        &format!("{INGRESSES}?fieldSelector=metadata.namespace%3Db,metadata.name!%3Dx"),
    )
    .await;
    assert_eq!(names(&list["items"]), ["y"]);

    let (status, err) = get(
        server.addr(),
        &format!("{INGRESSES}?fieldSelector=spec.ingressClassName%3Dx"),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(err["reason"], "BadRequest");

    server.apply(
        json!({ "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": { "namespace": "a", "name": "tls" } }),
    );
    server.apply(
        json!({ "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": { "namespace": "a", "name": "other" } }),
    );
    let (_, list) = get(
        server.addr(),
        "/api/v1/secrets?fieldSelector=type%3Dkubernetes.io/tls",
    )
    .await;
    assert_eq!(names(&list["items"]), ["tls"]);
    assert!(server.get(&SECRET, Some("a"), "tls").is_some());
}

// ---- watches ----

#[tokio::test]
async fn watch_from_the_list_version_streams_later_changes_in_order() {
    let server = FakeApiServer::start().await;
    server.apply(ingress("default", "existing", json!({})));
    let (_, list) = get(server.addr(), INGRESSES).await;
    let list_rv = rv(&list);

    // Changes between the list and the watch are replayed; later ones stream live.
    server.apply(ingress("default", "a", json!({})));
    let path = format!("{INGRESSES}?watch=true&timeoutSeconds=290&allowWatchBookmarks=true&resourceVersion={list_rv}");
    let mut watch = Watch::open(server.addr(), &path).await;
    server.wait_for_watches(&INGRESS, 1, EVENT_WAIT).await;
    server.apply(ingress("default", "a", json!({ "changed": "yes" })));
    let deleted = server.delete(&INGRESS, Some("default"), "a").unwrap();

    let events = [watch.next().await, watch.next().await, watch.next().await];
    let summary: Vec<_> = events.iter().map(event_summary).collect();
    assert_eq!(
        summary
            .iter()
            .map(|(t, n, _)| (t.as_str(), n.as_str()))
            .collect::<Vec<_>>(),
        [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]
    );
    assert!(
        summary.windows(2).all(|w| w[0].2 < w[1].2),
        "versions increase: {summary:?}"
    );
    assert!(summary[0].2 > list_rv);
    assert_eq!(
        summary[2].2,
        rv(&deleted),
        "DELETED carries the deletion's version"
    );
    assert_eq!(events[1]["object"]["metadata"]["labels"]["changed"], "yes");
    assert_eq!(
        events[0]["object"]["kind"], "Ingress",
        "watch objects carry their type"
    );
    watch.expect_quiet().await;
}

#[tokio::test]
async fn watch_without_version_starts_with_the_current_objects() {
    let server = FakeApiServer::start().await;
    server.apply(ingress("default", "a", json!({})));
    let mut watch = Watch::open(server.addr(), &format!("{INGRESSES}?watch=true")).await;
    assert_eq!(event_summary(&watch.next().await).0, "ADDED");
    watch.expect_quiet().await;
}

#[tokio::test]
async fn bookmarks_reach_only_watches_that_allowed_them() {
    let server = FakeApiServer::start().await;
    server.apply(ingress("default", "a", json!({})));
    let now = server.resource_version();
    let mut with = Watch::open(
        server.addr(),
        &format!("{INGRESSES}?watch=true&allowWatchBookmarks=true&resourceVersion={now}"),
    )
    .await;
    let mut without = Watch::open(
        server.addr(),
        &format!("{INGRESSES}?watch=true&resourceVersion={now}"),
    )
    .await;
    server.wait_for_watches(&INGRESS, 2, EVENT_WAIT).await;

    server.apply(
        json!({ "apiVersion": "v1", "kind": "Service", "metadata": { "name": "other-kind" } }),
    );
    server.send_bookmarks();

    let bookmark = with.next().await;
    assert_eq!(bookmark["type"], "BOOKMARK");
    assert_eq!(bookmark["object"]["kind"], "Ingress");
    assert_eq!(
        rv(&bookmark["object"]),
        server.resource_version(),
        "bookmark at the current version"
    );
    without.expect_quiet().await;
}

#[tokio::test]
async fn streaming_list_sends_initial_objects_then_the_initial_events_end_bookmark() {
    let server = FakeApiServer::start().await;
    server.apply(ingress("default", "a", json!({})));
    server.apply(ingress("default", "b", json!({})));
    let path = format!(
        "{INGRESSES}?watch=true&timeoutSeconds=290&allowWatchBookmarks=true\
         &sendInitialEvents=true&resourceVersionMatch=NotOlderThan&resourceVersion=0"
    );
    let mut watch = Watch::open(server.addr(), &path).await;
    assert_eq!(event_summary(&watch.next().await).0, "ADDED");
    assert_eq!(event_summary(&watch.next().await).0, "ADDED");
    let end = watch.next().await;
    assert_eq!(end["type"], "BOOKMARK");
    assert_eq!(
        end["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    assert_eq!(rv(&end["object"]), server.resource_version());

    server.apply(ingress("default", "c", json!({})));
    assert_eq!(event_summary(&watch.next().await).1, "c");

    let (status, err) = get(
        server.addr(),
        &format!("{INGRESSES}?watch=true&sendInitialEvents=true"),
    )
    .await;
    assert_eq!(
        (status, err["reason"].as_str()),
        (422, Some("Invalid")),
        "needs resourceVersionMatch=NotOlderThan"
    );
}

#[tokio::test]
async fn watch_from_a_compacted_version_gets_an_expired_error_event_and_ends() {
    let server = FakeApiServer::start().await;
    let old = rv(&server.apply(ingress("default", "a", json!({}))));
    server.apply(ingress("default", "b", json!({})));
    server.compact();

    let mut watch = Watch::open(
        server.addr(),
        &format!("{INGRESSES}?watch=true&resourceVersion={old}"),
    )
    .await;
    let error = watch.next().await;
    assert_eq!(error["type"], "ERROR");
    assert_eq!(error["object"]["kind"], "Status");
    assert_eq!(error["object"]["code"], 410);
    assert_eq!(error["object"]["reason"], "Expired");
    watch.expect_end().await;

    // From the compaction point on, watching works.
    let now = server.resource_version();
    let mut watch = Watch::open(
        server.addr(),
        &format!("{INGRESSES}?watch=true&resourceVersion={now}"),
    )
    .await;
    watch.expect_quiet().await;
}

#[tokio::test]
async fn expiring_watches_ends_open_streams_with_410_so_clients_relist() {
    let server = FakeApiServer::start().await;
    let now = server.resource_version();
    let mut watch = Watch::open(
        server.addr(),
        &format!("{INGRESSES}?watch=true&resourceVersion={now}"),
    )
    .await;
    server.wait_for_watches(&INGRESS, 1, EVENT_WAIT).await;

    assert_eq!(server.expire_watches(), 1);
    let error = watch.next().await;
    assert_eq!(
        (error["type"].as_str(), error["object"]["code"].as_u64()),
        (Some("ERROR"), Some(410))
    );
    watch.expect_end().await;
    assert_eq!(server.open_watches(&INGRESS), 0);
}

#[tokio::test]
async fn expiring_the_watches_of_one_kind_leaves_the_others_open() {
    let server = FakeApiServer::start().await;
    let now = server.resource_version();
    let mut ingresses = Watch::open(
        server.addr(),
        &format!("{INGRESSES}?watch=true&resourceVersion={now}"),
    )
    .await;
    let mut services = Watch::open(
        server.addr(),
        &format!("/api/v1/services?watch=true&resourceVersion={now}"),
    )
    .await;
    server.wait_for_watches(&INGRESS, 1, EVENT_WAIT).await;
    server.wait_for_watches(&SERVICE, 1, EVENT_WAIT).await;

    assert_eq!(server.expire_watches_of(&INGRESS), 1);
    assert_eq!(ingresses.next().await["object"]["code"], 410);
    ingresses.expect_end().await;
    server.apply(json!({ "apiVersion": "v1", "kind": "Service", "metadata": { "name": "web" } }));
    assert_eq!(event_summary(&services.next().await).1, "web");
    assert_eq!(server.open_watches(&SERVICE), 1);
}

#[tokio::test]
async fn closing_watches_ends_streams_without_error_and_resuming_misses_nothing() {
    let server = FakeApiServer::start().await;
    let now = server.resource_version();
    let mut watch = Watch::open(
        server.addr(),
        &format!("{INGRESSES}?watch=true&resourceVersion={now}"),
    )
    .await;
    server.wait_for_watches(&INGRESS, 1, EVENT_WAIT).await;
    server.close_watches();
    watch.expect_end().await;

    // A change while no watch is open is replayed on resuming from the last version.
    server.apply(ingress("default", "meanwhile", json!({})));
    let mut resumed = Watch::open(
        server.addr(),
        &format!("{INGRESSES}?watch=true&resourceVersion={now}"),
    )
    .await;
    assert_eq!(event_summary(&resumed.next().await).1, "meanwhile");
}

#[tokio::test]
async fn watch_ends_after_its_timeout_seconds() {
    let server = FakeApiServer::start().await;
    let now = server.resource_version();
    let mut watch = Watch::open(
        server.addr(),
        &format!("{INGRESSES}?watch=true&timeoutSeconds=1&resourceVersion={now}"),
    )
    .await;
    let started = Instant::now();
    watch.expect_end().await;
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[tokio::test]
async fn watch_through_a_label_selector_sees_objects_enter_and_leave_it() {
    let server = FakeApiServer::start().await;
    server.apply(ingress("default", "x", json!({ "app": "web" })));
    let now = server.resource_version();
    let mut watch = Watch::open(
        server.addr(),
        &format!("{INGRESSES}?watch=true&labelSelector=app%3Dweb&resourceVersion={now}"),
    )
    .await;
    server.wait_for_watches(&INGRESS, 1, EVENT_WAIT).await;

    server.apply(ingress("default", "other", json!({ "app": "api" })));
    server.apply(ingress("default", "x", json!({ "app": "api" })));
    server.apply(ingress("default", "x", json!({ "app": "web" })));
    let types: Vec<_> = [watch.next().await, watch.next().await]
        .iter()
        .map(event_summary)
        .map(|(t, n, _)| (t, n))
        .collect();
    assert_eq!(
        types,
        [("DELETED".into(), "x".into()), ("ADDED".into(), "x".into())]
    );
    watch.expect_quiet().await;
}

// ---- writes ----

#[tokio::test]
async fn merge_patching_status_changes_only_status_and_bumps_the_version() {
    let server = FakeApiServer::start().await;
    let mut original = ingress("default", "web", json!({ "team": "a" }));
    original["metadata"]["annotations"] = json!({ "note": "keep" });
    let before = server.apply(original);
    let now = server.resource_version();
    let mut watch = Watch::open(
        server.addr(),
        &format!("{INGRESSES}?watch=true&resourceVersion={now}"),
    )
    .await;
    server.wait_for_watches(&INGRESS, 1, EVENT_WAIT).await;

    // Everything but status in the patch is ignored by the status subresource.
    let patch = json!({
        "metadata": { "labels": { "team": "b" }, "annotations": null },
        "spec": { "rules": null },
        "status": { "loadBalancer": { "ingress": [{ "ip": "192.0.2.1" }] } },
    });
    let path = format!("{}/web/status", ns_ingresses("default"));
    let (status, answered) = call(
        server.addr(),
        "PATCH",
        &path,
        Some(MERGE),
        Some(patch.clone()),
    )
    .await;
    assert_eq!(status, 200, "{answered}");

    let after = server.get(&INGRESS, Some("default"), "web").unwrap();
    assert_eq!(after, answered, "the answer is the stored object");
    assert!(rv(&after) > rv(&before));
    assert_eq!(
        after["status"]["loadBalancer"]["ingress"][0]["ip"],
        "192.0.2.1"
    );
    let without_status_and_version = |o: &Value| {
        let mut o = o.clone();
        o.as_object_mut().unwrap().remove("status");
        o["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("resourceVersion");
        o
    };
    assert_eq!(
        without_status_and_version(&after),
        without_status_and_version(&before)
    );
    assert_eq!(event_summary(&watch.next().await).0, "MODIFIED");

    // The same patch again changes nothing: same version, no event.
    let (_, again) = call(server.addr(), "PATCH", &path, Some(MERGE), Some(patch)).await;
    assert_eq!(rv(&again), rv(&after));
    watch.expect_quiet().await;
}

#[tokio::test]
async fn writes_to_the_object_keep_its_status() {
    let server = FakeApiServer::start().await;
    let mut with_status = ingress("default", "web", json!({}));
    with_status["status"] =
        json!({ "loadBalancer": { "ingress": [{ "hostname": "lb.example" }] } });
    server.apply(with_status);

    let path = format!("{}/web", ns_ingresses("default"));
    let patch = json!({ "metadata": { "labels": { "new": "label" } }, "status": null });
    let (status, patched) = call(server.addr(), "PATCH", &path, Some(MERGE), Some(patch)).await;
    assert_eq!(status, 200);
    assert_eq!(patched["metadata"]["labels"]["new"], "label");
    assert_eq!(
        patched["status"]["loadBalancer"]["ingress"][0]["hostname"],
        "lb.example"
    );

    // A test re-applying the Ingress without status (like kubectl apply) keeps it too.
    let reapplied = server.apply(ingress("default", "web", json!({ "edited": "true" })));
    assert_eq!(
        reapplied["status"]["loadBalancer"]["ingress"][0]["hostname"],
        "lb.example"
    );
}

#[tokio::test]
async fn patch_types_other_than_merge_patch_are_rejected_with_415() {
    let server = FakeApiServer::start().await;
    server.apply(ingress("default", "web", json!({})));
    let path = format!("{}/web/status", ns_ingresses("default"));
    for content_type in [
        "application/apply-patch+yaml",
        "application/strategic-merge-patch+json",
        "application/json-patch+json",
    ] {
        let (status, err) = call(
            server.addr(),
            "PATCH",
            &path,
            Some(content_type),
            Some(json!({ "status": {} })),
        )
        .await;
        assert_eq!(status, 415, "{content_type}");
        assert!(err["message"].as_str().unwrap().contains(MERGE), "{err}");
    }
}

#[tokio::test]
async fn lease_writes_with_a_stale_resource_version_conflict() {
    let server = FakeApiServer::start().await;
    let leases = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases";
    let lease = fake_kube::lease("kube-system", "interlock", "replica-a", 15);

    let (status, created) = call(
        server.addr(),
        "POST",
        leases,
        Some("application/json"),
        Some(lease.clone()),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let (status, err) = call(
        server.addr(),
        "POST",
        leases,
        Some("application/json"),
        Some(lease),
    )
    .await;
    assert_eq!(
        (status, err["reason"].as_str()),
        (409, Some("AlreadyExists"))
    );

    let path = format!("{leases}/interlock");
    let mut renewed = created.clone();
    renewed["spec"]["holderIdentity"] = json!("replica-b");
    let (status, replaced) = call(
        server.addr(),
        "PUT",
        &path,
        Some("application/json"),
        Some(renewed.clone()),
    )
    .await;
    assert_eq!(status, 200, "{replaced}");
    assert!(rv(&replaced) > rv(&created));
    assert_eq!(
        server.lease_holder("kube-system", "interlock").as_deref(),
        Some("replica-b")
    );

    // Same body, now stale: both PUT and a PATCH naming the old version conflict.
    renewed["spec"]["holderIdentity"] = json!("replica-c");
    let (status, err) = call(
        server.addr(),
        "PUT",
        &path,
        Some("application/json"),
        Some(renewed),
    )
    .await;
    assert_eq!(
        (status, err["reason"].as_str()),
        (409, Some("Conflict")),
        "{err}"
    );
    let stale = json!({ "metadata": { "resourceVersion": created["metadata"]["resourceVersion"] },
        "spec": { "holderIdentity": "replica-c" } });
    let (status, _) = call(server.addr(), "PATCH", &path, Some(MERGE), Some(stale)).await;
    assert_eq!(status, 409);
    assert_eq!(
        server.lease_holder("kube-system", "interlock").as_deref(),
        Some("replica-b")
    );

    let (status, got) = get(server.addr(), &path).await;
    assert_eq!((status, rv(&got)), (200, rv(&replaced)));
    assert!(server
        .get(&LEASE, Some("kube-system"), "interlock")
        .is_some());
}

#[tokio::test]
async fn missing_objects_and_unserved_resources_are_404_statuses() {
    let server = FakeApiServer::start().await;
    let (status, err) = get(server.addr(), &format!("{}/nope", ns_ingresses("default"))).await;
    assert_eq!((status, err["reason"].as_str()), (404, Some("NotFound")));
    assert_eq!(
        err["message"],
        "ingresses.networking.k8s.io \"nope\" not found"
    );
    let (status, _) = get(server.addr(), "/apis/apps/v1/deployments").await;
    assert_eq!(status, 404);
    let (status, version) = get(server.addr(), "/version").await;
    assert_eq!((status, version["major"].as_str()), (200, Some("1")));
}

// ---- test controls ----

#[tokio::test]
async fn request_log_records_what_clients_did() {
    let server = FakeApiServer::start().await;
    server.apply(json!({ "apiVersion": "v1", "kind": "Service", "metadata": { "name": "web" } }));
    get(server.addr(), "/api/v1/services?limit=500").await;
    call(
        server.addr(),
        "PATCH",
        "/api/v1/namespaces/default/services/web/status",
        Some(MERGE),
        Some(json!({ "status": { "loadBalancer": {} } })),
    )
    .await;

    let log = server.requests();
    assert_eq!(log.len(), 2, "test-side applies are not requests: {log:?}");
    assert_eq!(
        (
            log[0].method.as_str(),
            log[0].path.as_str(),
            log[0].query_param("limit")
        ),
        ("GET", "/api/v1/services", Some("500"))
    );
    assert_eq!(
        (
            log[1].method.as_str(),
            log[1].status,
            log[1].content_type.as_deref()
        ),
        ("PATCH", 200, Some(MERGE))
    );
    assert_eq!(log[1].json()["status"]["loadBalancer"], json!({}));
    assert!(server.get(&SERVICE, Some("default"), "web").is_some());
    server.clear_requests();
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn kubeconfig_points_at_the_server_without_auth() {
    let server = FakeApiServer::start().await;
    let config: Value = serde_saphyr::from_str(&server.kubeconfig_yaml()).expect("valid YAML");
    assert_eq!(config["current-context"], "fake");
    assert_eq!(config["clusters"][0]["cluster"]["server"], server.url());
    assert!(server.url().starts_with("http://127.0.0.1:"));
}

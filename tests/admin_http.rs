//! The admin listener end to end: probes follow the sync gate, `/metrics` is
//! valid Prometheus (OpenMetrics) text carrying the control plane's series,
//! the debug views show what a real Envoy holds, and the gRPC admin API
//! answers on the same port.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use interlock::admin::grpc::pb::admin_client::AdminClient;
use interlock::admin::grpc::pb::{GetSnapshotRequest, WatchEventsRequest};
use interlock::admin::{self, AdminServices};
use interlock::debounce::DebounceConfig;
use interlock::pipeline::{Pipeline, PipelineConfig, StatusHandle};
use interlock::snapshot::SnapshotStore;
use interlock::sources::file::FileSource;
use interlock::translate::TranslateConfig;
use interlock::world::WorldEvent;
use interlock::xds::AckTracker;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use support::gateway::{service_yaml, simple_ingress};
use support::{free_port, get, wait_for, ControlPlane, Envoy, EnvoyOptions, Upstream};

/// A running admin server on a free loopback port.
struct Admin {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Admin {
    /// Serves the HTTP routes and the gRPC admin API for these handles.
    async fn start(store: SnapshotStore, tracker: AckTracker, status: StatusHandle) -> Admin {
        let AdminServices { http, grpc, .. } = AdminServices::new(store, tracker, status);
        let listener = admin::bind_admin(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind admin");
        let addr = listener.local_addr().expect("admin address");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            if let Err(e) = admin::serve_admin(listener, http, Some(grpc), None, shutdown).await {
                panic!("admin server failed: {e}");
            }
        });
        Admin { addr, stop, task }
    }

    /// Asks the server to stop; returns how long it took to finish.
    async fn shut_down(self) -> Duration {
        let started = std::time::Instant::now();
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("admin server stops within 10 s")
            .expect("admin server task");
        started.elapsed()
    }

    async fn get(&self, path: &str) -> support::Response {
        get(self.addr, "admin", path)
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    async fn json(&self, path: &str) -> Value {
        let resp = self.get(path).await;
        assert_eq!(resp.status, 200, "GET {path}: {}", resp.body);
        serde_json::from_str(&resp.body)
            .unwrap_or_else(|e| panic!("GET {path}: {e}: {}", resp.body))
    }
}

fn pipeline_config(http_port: u16, https_port: u16) -> PipelineConfig {
    PipelineConfig {
        translate: TranslateConfig {
            listen_address: "127.0.0.1".into(),
            http_port,
            https_port,
            ..TranslateConfig::default()
        },
        debounce: DebounceConfig {
            quiet: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
        },
        secret_refetch: None,
    }
}

/// `/readyz` is 503 naming the pending source until that source's Synced
/// event (which only this test sends) opens the gate; `/healthz` is 200 all along.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_the_sync_gate() {
    let store = SnapshotStore::new();
    let pipeline = Pipeline::new(pipeline_config(10080, 10443), store.clone(), ["file"]);
    let status = pipeline.status();
    let (events, received) = mpsc::channel(16);
    tokio::spawn(pipeline.run(received));
    let admin = Admin::start(store.clone(), AckTracker::new(), status).await;

    let health = admin.get("/healthz").await;
    assert_eq!((health.status, health.body.trim()), (200, "ok"));
    let ready = admin.get("/readyz").await;
    assert_eq!(ready.status, 503, "ready before sync: {}", ready.body);
    assert!(
        ready.body.contains("file"),
        "names the pending source: {}",
        ready.body
    );
    let snapshot = admin.json("/debug/snapshot").await;
    assert_eq!(snapshot["version"], Value::Null, "{snapshot}");
    assert_eq!(snapshot["synced"], false, "{snapshot}");

    events
        .send(WorldEvent::Synced {
            source: "file".into(),
        })
        .await
        .expect("pipeline alive");
    wait_for(Duration::from_secs(10), "/readyz to turn 200", || async {
        admin.get("/readyz").await.status == 200
    })
    .await;
    let version = store.current().expect("published").version().to_owned();
    assert!(admin.get("/readyz").await.body.contains(&version));
    assert_eq!(admin.get("/healthz").await.status, 200);
    let missing = admin.get("/no/such/page").await;
    assert_eq!(missing.status, 404, "{}", missing.body);
}

/// File source → pipeline → ADS → real Envoy, with the admin server started
/// before Envoy connects: the debug views, the metrics and the gRPC API all
/// describe what Envoy holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_describes_a_real_envoy() {
    let upstream = Upstream::start("a").await;
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("svc.yaml"),
        service_yaml("default", "a", Some(upstream.addr)),
    )
    .expect("write");
    std::fs::write(
        dir.path().join("a.yaml"),
        simple_ingress("default", "a", "a.test", "a"),
    )
    .expect("write");
    let store = SnapshotStore::new();
    let pipeline = Pipeline::new(
        pipeline_config(free_port(), free_port()),
        store.clone(),
        ["file"],
    );
    let status = pipeline.status();
    let (events, received) = mpsc::channel(1024);
    tokio::spawn(pipeline.run(received));
    let source = FileSource::new(dir.path()).expect("file source");
    tokio::spawn(async move {
        if let Err(e) = source.run(events).await {
            panic!("file source failed: {e}");
        }
    });
    let plane = ControlPlane::start_on(0, store.clone());
    let admin = Admin::start(store.clone(), plane.tracker.clone(), status.clone()).await;
    let envoy = Envoy::start(EnvoyOptions::new(plane.port, false)).await;
    let node = envoy.options().node_id.clone();

    wait_programmed(&admin, "default/a", &node).await;
    // A second change once Envoy is connected: pushes, ACKs and a publish the
    // metrics must all have seen.
    std::fs::write(
        dir.path().join("b.yaml"),
        simple_ingress("default", "b", "b.test", "a"),
    )
    .expect("write");
    wait_programmed(&admin, "default/b", &node).await;

    // /debug/ingresses
    let ingresses = admin.json("/debug/ingresses").await;
    assert_eq!(
        ingresses["connected_nodes"],
        serde_json::json!([node]),
        "{ingresses}"
    );
    assert_eq!(ingresses["total"], 2, "{ingresses}");
    assert_eq!(ingresses["programmed"], 2, "{ingresses}");
    let summary = admin.json("/debug/ingresses?summary").await;
    assert_eq!(
        summary["ingresses"],
        serde_json::json!([]),
        "all programmed: {summary}"
    );

    // /debug/snapshot
    let current = store.current().expect("published");
    let snapshot = admin.json("/debug/snapshot").await;
    assert_eq!(snapshot["version"], current.version(), "{snapshot}");
    let routes = &snapshot["types"]["RDS"];
    assert!(
        routes["resources"].as_array().is_some_and(|r| r
            .iter()
            .any(|r| r["name"] == "http" && r["bytes"].as_u64() > Some(0))),
        "route table http listed: {routes}"
    );

    // /debug/nodes
    let nodes = admin.json("/debug/nodes").await;
    let me = nodes["nodes"]
        .as_array()
        .and_then(|n| n.iter().find(|n| n["id"] == node.as_str()))
        .unwrap_or_else(|| panic!("node {node} listed: {nodes}"));
    assert_eq!(me["connected"], true, "{me}");
    assert_eq!(me["streams"], 1, "{me}");
    for kind in ["CDS", "EDS", "LDS", "RDS"] {
        let t = &me["types"][kind];
        assert!(t["acked_version"].is_string(), "{kind} ACKed: {t}");
        assert!(t["responses_sent"].as_u64() >= Some(1), "{kind}: {t}");
        assert_eq!(t["last_nack"], Value::Null, "{kind}: {t}");
    }
    wait_for(
        Duration::from_secs(10),
        "RDS in sync on the node",
        || async {
            admin.json("/debug/nodes").await["nodes"][0]["types"]["RDS"]["in_sync"] == true
        },
    )
    .await;

    // /metrics
    let resp = admin.get("/metrics").await;
    assert_eq!(resp.status, 200);
    assert!(
        resp.header("content-type")
            .is_some_and(|c| c.starts_with("application/openmetrics-text")),
        "{:?}",
        resp.headers
    );
    let metrics = prom::parse(&resp.body).unwrap_or_else(|e| panic!("{e}\n{}", resp.body));
    for (family, kind) in [
        ("interlock_snapshot_build_seconds", "histogram"),
        ("interlock_change_to_publish_seconds", "histogram"),
        ("interlock_push_to_ack_seconds", "histogram"),
        ("interlock_connected_streams", "gauge"),
        ("interlock_nacks", "counter"),
        ("interlock_resources", "gauge"),
        ("interlock_snapshots_published", "counter"),
    ] {
        assert_eq!(
            metrics.families.get(family).map(String::as_str),
            Some(kind),
            "{family}"
        );
    }
    let acks = metrics.value(
        "interlock_push_to_ack_seconds_count",
        &[("node", &node), ("type", "RDS")],
    );
    assert!(acks >= Some(2.0), "RDS ACK latencies of {node}: {acks:?}");
    assert_eq!(
        metrics.value("interlock_connected_streams", &[("mode", "sotw")]),
        Some(1.0)
    );
    assert_eq!(
        metrics.value("interlock_connected_streams", &[("mode", "delta")]),
        Some(0.0)
    );
    assert_eq!(
        metrics.value("interlock_nacks_total", &[("type", "RDS")]),
        Some(0.0)
    );
    let published = status.get().publishes as f64;
    assert!(published >= 2.0);
    assert_eq!(
        metrics.value("interlock_snapshots_published_total", &[]),
        Some(published)
    );
    for kind in ["CDS", "EDS", "LDS", "RDS", "SDS"] {
        let expected = current.resources(kind_of(kind)).len() as f64;
        assert_eq!(
            metrics.value("interlock_resources", &[("type", kind)]),
            Some(expected),
            "{kind}"
        );
    }
    // The pipeline's timings, once it reports them (None = no sample).
    let latest = status.get();
    for (family, sample) in [
        ("interlock_snapshot_build_seconds_count", latest.last_build),
        (
            "interlock_change_to_publish_seconds_count",
            latest.change_to_publish,
        ),
    ] {
        let count = metrics.value(family, &[]);
        assert!(count.is_some(), "{family} present");
        if sample.is_some() {
            assert!(count >= Some(1.0), "{family}: {count:?}");
        }
    }

    // The page for people.
    let page = admin.get("/").await;
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/html")));
    assert!(page.body.contains("/debug/nodes") && !page.body.contains("https://"));

    // gRPC on the same port (HTTP/2 prior knowledge).
    let mut client = AdminClient::connect(format!("http://{}", admin.addr))
        .await
        .expect("gRPC connect to the admin port");
    let reply = client
        .get_snapshot(GetSnapshotRequest { summary_only: true })
        .await
        .expect("GetSnapshot")
        .into_inner();
    assert!(reply.published);
    assert_eq!(reply.version, current.version());
    drop(envoy);
}

/// Shutdown is prompt when idle, and bounded (about two seconds of drain)
/// when a `WatchEvents` stream, which never ends by itself, is open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_is_prompt_and_bounded() {
    let store = SnapshotStore::new();
    let idle = Admin::start(store.clone(), AckTracker::new(), StatusHandle::default()).await;
    assert_eq!(idle.get("/healthz").await.status, 200);
    let took = idle.shut_down().await;
    assert!(
        took < Duration::from_millis(500),
        "idle shutdown took {took:?}"
    );

    let busy = Admin::start(store, AckTracker::new(), StatusHandle::default()).await;
    let mut client = AdminClient::connect(format!("http://{}", busy.addr))
        .await
        .expect("gRPC connect");
    let mut watch = client
        .watch_events(WatchEventsRequest::default())
        .await
        .expect("WatchEvents")
        .into_inner();
    let took = busy.shut_down().await;
    assert!(
        took < Duration::from_secs(4),
        "shutdown with an open watch took {took:?}"
    );
    // The server has returned, so its connections are gone: the stream ends
    // at once (an error or end of stream, never a hang or another event).
    let ended = tokio::time::timeout(Duration::from_secs(1), watch.message()).await;
    assert!(
        matches!(ended, Ok(Err(_) | Ok(None))),
        "the watch ends with the server: {ended:?}"
    );
}

fn kind_of(short: &str) -> interlock::snapshot::ResourceType {
    interlock::snapshot::ResourceType::ALL
        .into_iter()
        .find(|k| k.short_name() == short)
        .unwrap_or_else(|| panic!("no type {short}"))
}

async fn wait_programmed(admin: &Admin, ingress: &str, node: &str) {
    wait_for(
        Duration::from_secs(30),
        &format!("{ingress} programmed on {node}"),
        || async {
            let view = admin.json("/debug/ingresses").await;
            view["ingresses"].as_array().is_some_and(|all| {
                all.iter().any(|i| {
                    i["ingress"] == ingress
                        && i["programmed"] == true
                        && i["programmed_on"] == serde_json::json!([node])
                        && i["pending_on"] == serde_json::json!([])
                })
            })
        },
    )
    .await;
}

/// A small, strict parser of the OpenMetrics / Prometheus text format: every
/// line must be a known comment or a well-formed sample of a declared family.
mod prom {
    use std::collections::BTreeMap;

    /// One sample line.
    #[derive(Debug)]
    pub struct Sample {
        pub name: String,
        pub labels: BTreeMap<String, String>,
        pub value: f64,
    }

    /// A parsed exposition.
    #[derive(Debug, Default)]
    pub struct Exposition {
        /// Family name → type.
        pub families: BTreeMap<String, String>,
        pub samples: Vec<Sample>,
    }

    impl Exposition {
        /// The value of the sample `name` whose labels include `labels`
        /// (`le` excluded unless asked), when exactly one matches.
        pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
            let found: Vec<&Sample> = self
                .samples
                .iter()
                .filter(|s| {
                    s.name == name
                        && labels
                            .iter()
                            .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
                })
                .collect();
            match found.as_slice() {
                [one] => Some(one.value),
                _ => None,
            }
        }
    }

    fn valid_name(name: &str) -> bool {
        let mut chars = name.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    }

    fn valid_label(name: &str) -> bool {
        valid_name(name) && !name.contains(':')
    }

    fn number(text: &str) -> Result<f64, String> {
        match text {
            "+Inf" | "Inf" => Ok(f64::INFINITY),
            "-Inf" => Ok(f64::NEG_INFINITY),
            "NaN" => Ok(f64::NAN),
            _ => text
                .parse::<f64>()
                .map_err(|e| format!("bad number {text:?}: {e}")),
        }
    }

    /// Suffixes a sample of a family of type `kind` may carry.
    fn suffixes(kind: &str) -> &'static [&'static str] {
        match kind {
            "counter" => &["_total", "_created"],
            "histogram" | "gaugehistogram" => {
                &["_bucket", "_sum", "_count", "_created", "_gcount", "_gsum"]
            }
            "summary" => &["", "_sum", "_count", "_created"],
            "info" => &["_info"],
            _ => &[""],
        }
    }

    /// `{k="v",...}` → map; returns the rest of the line after `}`.
    fn labels(text: &str) -> Result<(BTreeMap<String, String>, &str), String> {
        let mut out = BTreeMap::new();
        let mut rest = text;
        loop {
            if let Some(after) = rest.strip_prefix('}') {
                return Ok((out, after));
            }
            let eq = rest.find('=').ok_or("label without =")?;
            let key = &rest[..eq];
            if !valid_label(key) {
                return Err(format!("bad label name {key:?}"));
            }
            let mut chars = rest[eq + 1..].char_indices();
            if chars.next().map(|c| c.1) != Some('"') {
                return Err(format!("label {key} value not quoted"));
            }
            let mut value = String::new();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => match chars.next().map(|c| c.1) {
                        Some('\\') => value.push('\\'),
                        Some('"') => value.push('"'),
                        Some('n') => value.push('\n'),
                        other => return Err(format!("bad escape {other:?} in label {key}")),
                    },
                    '"' => {
                        end = Some(eq + 1 + i + 1);
                        break;
                    }
                    '\n' => return Err("newline in label value".into()),
                    c => value.push(c),
                }
            }
            let end = end.ok_or_else(|| format!("unterminated label {key}"))?;
            if out.insert(key.to_owned(), value).is_some() {
                return Err(format!("duplicate label {key}"));
            }
            rest = &rest[end..];
            rest = rest.strip_prefix(',').unwrap_or(rest);
        }
    }

    /// Parses `text`, checking names, numbers, declared families and histogram shape.
    pub fn parse(text: &str) -> Result<Exposition, String> {
        let mut exp = Exposition::default();
        let mut eof = false;
        for (n, line) in text.lines().enumerate() {
            let at = |e: String| format!("line {}: {e}: {line:?}", n + 1);
            if eof {
                return Err(at("content after # EOF".into()));
            }
            if let Some(comment) = line.strip_prefix('#') {
                let mut parts = comment.trim_start().splitn(3, ' ');
                match (parts.next(), parts.next(), parts.next()) {
                    (Some("EOF"), None, None) => eof = true,
                    (Some("HELP" | "UNIT"), Some(name), _) if valid_name(name) => {}
                    (Some("TYPE"), Some(name), Some(kind)) if valid_name(name) => {
                        let known = [
                            "counter",
                            "gauge",
                            "histogram",
                            "gaugehistogram",
                            "summary",
                            "untyped",
                            "unknown",
                            "info",
                            "stateset",
                        ];
                        if !known.contains(&kind) {
                            return Err(at(format!("unknown type {kind}")));
                        }
                        if exp.families.insert(name.into(), kind.into()).is_some() {
                            return Err(at("family declared twice".into()));
                        }
                    }
                    _ => return Err(at("unknown comment".into())),
                }
                continue;
            }
            let name_end = line.find(['{', ' ']).ok_or_else(|| at("no value".into()))?;
            let name = &line[..name_end];
            if !valid_name(name) {
                return Err(at(format!("bad metric name {name:?}")));
            }
            let (labels, rest) = match line[name_end..].strip_prefix('{') {
                Some(inner) => labels(inner).map_err(at)?,
                None => (BTreeMap::new(), &line[name_end..]),
            };
            let mut fields = rest
                .strip_prefix(' ')
                .ok_or_else(|| at("no space before value".into()))?
                .split(' ');
            let value = number(fields.next().unwrap_or_default()).map_err(at)?;
            if let Some(ts) = fields.next() {
                number(ts).map_err(at)?;
            }
            if fields.next().is_some() {
                return Err(at("trailing fields".into()));
            }
            let declared = exp.families.iter().any(|(family, kind)| {
                suffixes(kind)
                    .iter()
                    .any(|s| name.strip_suffix(s) == Some(family.as_str()))
            });
            if !declared {
                return Err(at(format!("sample {name} of no declared family")));
            }
            exp.samples.push(Sample {
                name: name.into(),
                labels,
                value,
            });
        }
        if !eof {
            return Err("no # EOF at the end".into());
        }
        check_histograms(&exp)?;
        Ok(exp)
    }

    /// A series' labels, `le` excluded.
    type Labels = Vec<(String, String)>;

    /// Buckets are cumulative, end with `+Inf`, and `+Inf` equals `_count`.
    fn check_histograms(exp: &Exposition) -> Result<(), String> {
        for (family, kind) in &exp.families {
            if kind != "histogram" {
                continue;
            }
            let mut series: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
            for s in exp
                .samples
                .iter()
                .filter(|s| s.name == format!("{family}_bucket"))
            {
                let le = s
                    .labels
                    .get("le")
                    .ok_or(format!("{family} bucket without le"))?;
                let key = s
                    .labels
                    .iter()
                    .filter(|(k, _)| *k != "le")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                series.entry(key).or_default().push((number(le)?, s.value));
            }
            for (key, buckets) in series {
                let ordered = buckets
                    .windows(2)
                    .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1);
                if !ordered {
                    return Err(format!(
                        "{family}{key:?}: buckets not cumulative: {buckets:?}"
                    ));
                }
                let inf = buckets.last().filter(|b| b.0.is_infinite()).map(|b| b.1);
                let count = exp.samples.iter().find(|s| {
                    s.name == format!("{family}_count")
                        && s.labels
                            .iter()
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect::<Vec<_>>()
                            == key
                });
                if inf.is_none() || inf != count.map(|c| c.value) {
                    return Err(format!("{family}{key:?}: +Inf bucket {inf:?} != count"));
                }
            }
        }
        Ok(())
    }

    #[test]
    fn rejects_malformed_text() {
        assert!(parse("# TYPE a gauge\na 1\n# EOF\n").is_ok());
        assert!(parse("# TYPE a gauge\na 1\n").is_err(), "no EOF");
        assert!(parse("a 1\n# EOF\n").is_err(), "undeclared");
        assert!(
            parse("# TYPE a gauge\na x\n# EOF\n").is_err(),
            "not a number"
        );
        assert!(
            parse("# TYPE a gauge\na{b=\"c} 1\n# EOF\n").is_err(),
            "unterminated"
        );
        assert!(parse("# TYPE 1a gauge\n# EOF\n").is_err(), "bad name");
        assert!(parse("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n# EOF\n").is_err(), "not cumulative");
    }
}

/// A client not on loopback gets the probes, `/metrics` and `/peer/ingresses`,
/// and a 403 (gRPC: PERMISSION_DENIED) for the debug views and the admin API.
#[tokio::test]
async fn only_loopback_clients_reach_the_debug_views_and_the_admin_api() {
    use axum::body::Body;
    use axum::http::Request;
    use tonic::codegen::Service;

    let services = AdminServices::new(
        SnapshotStore::new(),
        AckTracker::new(),
        StatusHandle::default(),
    );
    let mut remote = admin::remote_router(services.public);
    let mut status_of = |path: &str, grpc: bool| {
        let mut request = Request::get(path);
        if grpc {
            request = request.header("content-type", "application/grpc");
        }
        let future = remote.call(request.body(Body::empty()).expect("request"));
        async move {
            let response = future.await.expect("infallible");
            let grpc_status = response
                .headers()
                .get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            (response.status().as_u16(), grpc_status)
        }
    };
    assert_eq!(status_of("/healthz", false).await.0, 200);
    assert_eq!(status_of("/metrics", false).await.0, 200);
    assert_eq!(status_of("/peer/ingresses", false).await.0, 200);
    for path in [
        "/",
        "/debug/snapshot",
        "/debug/nodes",
        "/debug/ingresses",
        "/debug/quarantine",
    ] {
        assert_eq!(status_of(path, false).await.0, 403, "{path}");
    }
    let grpc = status_of("/interlock.admin.v1.Admin/GetSnapshot", true).await;
    assert_eq!(grpc.1.as_deref(), Some("7"), "PERMISSION_DENIED");
}

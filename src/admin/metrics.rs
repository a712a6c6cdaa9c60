//! Prometheus metrics: how fast changes reach Envoy and what it holds, fed by
//! the admin event stream and the pipeline's status, exposed on `/metrics`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::pipeline::{PipelineStatus, StatusHandle};
use crate::snapshot::{ResourceType, Snapshot, SnapshotStore};
use crate::sources::health::SourceState;
use crate::xds::{Mode, XdsEvent, XdsObserver};

use super::events::{AdminEvent, EventHub};

/// Bucket bounds (seconds) for every latency histogram: sub-millisecond
/// builds up to multi-second stalls, dense around the 15 ms / 50 ms targets.
pub const LATENCY_BUCKETS: [f64; 15] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The content type of [`Metrics::encode`]'s output (OpenMetrics text, which
/// Prometheus scrapes natively).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Labels of per-node, per-type series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NodeType {
    node: String,
    r#type: String,
}

/// Labels of per-type series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TypeLabel {
    r#type: String,
}

/// Labels of per-source-kind series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: String,
}

/// Labels of per-mode series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModeLabel {
    mode: String,
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

fn type_label(kind: ResourceType) -> TypeLabel {
    TypeLabel {
        r#type: kind.short_name().to_owned(),
    }
}

fn mode_label(mode: Mode) -> ModeLabel {
    let mode = match mode {
        Mode::Sotw => "sotw",
        Mode::Delta => "delta",
    };
    ModeLabel { mode: mode.into() }
}

/// The control plane's metrics registry. Cheap to clone; all clones share series.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    build: Histogram,
    change_to_publish: Histogram,
    push_to_ack: Family<NodeType, Histogram, fn() -> Histogram>,
    connected: Family<ModeLabel, Gauge>,
    nacks: Family<TypeLabel, Counter>,
    resources: Family<TypeLabel, Gauge>,
    published: Counter,
    coalesced: Counter,
    quarantined: Gauge,
    lagged: Counter,
    source_last_sync: Family<KindLabel, Gauge>,
    /// Highest `PipelineStatus::publishes` already accounted for, so each
    /// publish's build and latency samples are observed exactly once.
    seen_publishes: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A registry with every Interlock series registered (and empty).
    pub fn new() -> Self {
        let build = latency_histogram();
        let change_to_publish = latency_histogram();
        let push_to_ack: Family<NodeType, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        let connected = Family::<ModeLabel, Gauge>::default();
        let nacks = Family::<TypeLabel, Counter>::default();
        let resources = Family::<TypeLabel, Gauge>::default();
        let published = Counter::default();
        let coalesced = Counter::default();
        let quarantined = Gauge::default();
        let lagged = Counter::default();
        let source_last_sync = Family::<KindLabel, Gauge>::default();
        // Every mode and type is present from the start, so dashboards and
        // alerts see zeros rather than missing series.
        for mode in [Mode::Sotw, Mode::Delta] {
            let _ = connected.get_or_create(&mode_label(mode));
        }
        for kind in ResourceType::ALL {
            let _ = nacks.get_or_create(&type_label(kind));
            let _ = resources.get_or_create(&type_label(kind));
        }

        let mut registry = Registry::default();
        registry.register(
            "interlock_snapshot_build_seconds",
            "Time to translate, validate and encode a published snapshot",
            build.clone(),
        );
        registry.register(
            "interlock_change_to_publish_seconds",
            "From the first change a snapshot covers to its publish (debounce included)",
            change_to_publish.clone(),
        );
        registry.register(
            "interlock_push_to_ack_seconds",
            "From sending an xDS response to the node's ACK of it",
            push_to_ack.clone(),
        );
        registry.register(
            "interlock_connected_streams",
            "Open ADS streams by mode",
            connected.clone(),
        );
        // OpenMetrics appends `_total` to counters.
        registry.register(
            "interlock_nacks",
            "xDS responses rejected by Envoy, by type",
            nacks.clone(),
        );
        registry.register(
            "interlock_resources",
            "Resources in the current snapshot, by type",
            resources.clone(),
        );
        registry.register(
            "interlock_snapshots_published",
            "Snapshots published by the pipeline",
            published.clone(),
        );
        registry.register(
            "interlock_debounce_coalesced",
            "Changes that rode along in a publish they did not trigger",
            coalesced.clone(),
        );
        registry.register(
            "interlock_quarantined_objects",
            "Objects Envoy rejected, left out or served at their last accepted version until they change",
            quarantined.clone(),
        );
        registry.register(
            "interlock_source_last_sync_timestamp_seconds",
            "When each source last finished a full list (Unix seconds; an alert on its age finds a source that stopped syncing)",
            source_last_sync.clone(),
        );
        registry.register(
            "interlock_admin_events_lagged",
            "Admin events a slow consumer of the event stream missed (the metrics feed re-reads state, so it loses no sample)",
            lagged.clone(),
        );
        Metrics {
            inner: Arc::new(Inner {
                registry,
                build,
                change_to_publish,
                push_to_ack,
                connected,
                nacks,
                resources,
                published,
                coalesced,
                quarantined,
                lagged,
                source_last_sync,
                seen_publishes: AtomicU64::new(0),
            }),
        }
    }

    /// Accounts for one admin event (xDS streams, ACK latencies, NACKs).
    pub fn record(&self, event: &AdminEvent) {
        if let AdminEvent::Xds(event) = event {
            self.record_xds(event);
        }
    }

    fn record_xds(&self, event: &XdsEvent) {
        let m = &self.inner;
        match event {
            XdsEvent::StreamOpened { mode, .. } => {
                m.connected.get_or_create(&mode_label(*mode)).inc();
            }
            XdsEvent::StreamClosed { mode, .. } => {
                let gauge = m.connected.get_or_create(&mode_label(*mode));
                // A stream opened before this registry subscribed must not
                // drive the gauge negative.
                if gauge.get() > 0 {
                    gauge.dec();
                }
            }
            XdsEvent::Acked {
                node,
                kind,
                latency: Some(latency),
                ..
            } => {
                let labels = NodeType {
                    node: node.clone(),
                    r#type: kind.short_name().to_owned(),
                };
                m.push_to_ack
                    .get_or_create(&labels)
                    .observe(latency.as_secs_f64());
            }
            XdsEvent::Nacked { kind, .. } => {
                m.nacks.get_or_create(&type_label(*kind)).inc();
            }
            XdsEvent::NodeForgotten { node } => {
                for kind in ResourceType::ALL {
                    m.push_to_ack.remove(&NodeType {
                        node: node.clone(),
                        r#type: kind.short_name().to_owned(),
                    });
                }
            }
            XdsEvent::Acked { latency: None, .. } | XdsEvent::Pushed { .. } => {}
        }
    }

    /// Catches up with the pipeline: counts new publishes, observes the latest
    /// build and change-to-publish samples once each, and sets the resource
    /// gauges from `snapshot`. Safe to call from several tasks at once.
    pub fn sync(&self, status: &PipelineStatus, snapshot: Option<&Snapshot>) {
        let m = &self.inner;
        let before = m
            .seen_publishes
            .fetch_max(status.publishes, Ordering::AcqRel);
        if status.publishes > before {
            m.published.inc_by(status.publishes - before);
            observe(&m.build, status.last_build);
            observe(&m.change_to_publish, status.change_to_publish);
        }
        let counted = m.coalesced.get();
        if status.debounce_coalesced > counted {
            m.coalesced.inc_by(status.debounce_coalesced - counted);
        }
        m.quarantined
            .set(i64::try_from(status.quarantined.len()).unwrap_or(i64::MAX));
        if let Some(snapshot) = snapshot {
            for kind in ResourceType::ALL {
                let count = i64::try_from(snapshot.resources(kind).len()).unwrap_or(i64::MAX);
                m.resources.get_or_create(&type_label(kind)).set(count);
            }
        }
    }

    /// Sets each source's last full list from `states` (keyed by source name,
    /// e.g. `kube/Ingress`; the label is the part after the last `/`).
    pub fn sync_sources(&self, states: &BTreeMap<String, SourceState>) {
        for (source, state) in states {
            let Some(at) = state.last_sync else {
                continue;
            };
            let seconds = at
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            let kind = source.rsplit('/').next().unwrap_or(source).to_owned();
            self.inner
                .source_last_sync
                .get_or_create(&KindLabel { kind })
                .set(seconds);
        }
    }

    /// The whole registry in OpenMetrics text format (see [`CONTENT_TYPE`]).
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.inner.registry)?;
        Ok(out)
    }

    /// Starts the task that feeds this registry from `hub`, re-reading the
    /// pipeline status and the current snapshot after every event. It ends
    /// when the hub does.
    pub fn spawn(
        &self,
        hub: &EventHub,
        store: SnapshotStore,
        pipeline: StatusHandle,
    ) -> JoinHandle<()> {
        let metrics = self.clone();
        let mut events = hub.subscribe();
        tokio::spawn(async move {
            metrics.sync(&pipeline.get(), store.current().as_deref());
            loop {
                // xDS events are observed at the source (see `XdsObserver`);
                // this loop only re-reads the pipeline status.
                match events.recv().await {
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        metrics.inner.lagged.inc_by(missed);
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
                metrics.sync(&pipeline.get(), store.current().as_deref());
            }
        })
    }
}

impl XdsObserver for Metrics {
    /// Every stream, ACK latency and NACK, counted as it happens.
    fn observe(&self, event: &XdsEvent) {
        self.record_xds(event);
    }
}

fn observe(histogram: &Histogram, sample: Option<Duration>) {
    if let Some(sample) = sample {
        histogram.observe(sample.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn each_publish_is_observed_once() {
        let metrics = Metrics::new();
        let status = PipelineStatus {
            publishes: 3,
            last_build: Some(Duration::from_millis(2)),
            change_to_publish: Some(Duration::from_millis(30)),
            ..PipelineStatus::default()
        };
        metrics.sync(&status, None);
        metrics.sync(&status, None);
        let text = metrics.encode().expect("encode");
        assert_eq!(
            sample(&text, "interlock_snapshots_published_total"),
            Some(3.0)
        );
        assert_eq!(
            sample(&text, "interlock_snapshot_build_seconds_count"),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &text,
                "interlock_snapshot_build_seconds_bucket{le=\"0.0025\"}"
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &text,
                "interlock_change_to_publish_seconds_bucket{le=\"0.025\"}"
            ),
            Some(0.0)
        );
    }

    #[test]
    fn streams_acks_and_nacks_are_counted() {
        let metrics = Metrics::new();
        let node = || "n1".to_owned();
        for event in [
            XdsEvent::StreamClosed {
                node: node(),
                mode: Mode::Delta,
            },
            XdsEvent::StreamOpened {
                node: node(),
                mode: Mode::Sotw,
            },
            XdsEvent::Acked {
                node: node(),
                kind: ResourceType::Route,
                version: "v".into(),
                latency: Some(Duration::from_millis(4)),
            },
            XdsEvent::Nacked {
                node: node(),
                kind: ResourceType::Cluster,
                version: "v".into(),
                error: "bad".into(),
            },
        ] {
            metrics.record(&AdminEvent::Xds(event));
        }
        let text = metrics.encode().expect("encode");
        assert_eq!(
            sample(&text, "interlock_connected_streams{mode=\"sotw\"}"),
            Some(1.0)
        );
        // A close without a seen open never drives the gauge negative.
        assert_eq!(
            sample(&text, "interlock_connected_streams{mode=\"delta\"}"),
            Some(0.0)
        );
        assert_eq!(
            sample(&text, "interlock_nacks_total{type=\"CDS\"}"),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &text,
                "interlock_push_to_ack_seconds_bucket{le=\"0.005\",node=\"n1\",type=\"RDS\"}"
            ),
            Some(1.0)
        );
    }

    #[test]
    fn each_source_reports_when_it_last_synced() {
        let metrics = Metrics::new();
        let health = crate::sources::health::SourceHealth::default();
        health.synced("kube/Ingress");
        metrics.sync_sources(&health.states());
        let text = metrics.encode().expect("encode");
        let at = sample(
            &text,
            "interlock_source_last_sync_timestamp_seconds{kind=\"Ingress\"}",
        )
        .expect("the series");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs_f64();
        assert!((now - at).abs() < 60.0, "{at} vs {now}");
    }
}

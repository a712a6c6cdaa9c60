//! One run, start to cleanup: subscribe to Interlock's events, start the
//! probes' backends, write the probes (at a rate or in one burst), probe each
//! through the gateway, optionally churn them, and always remove every probe
//! object, whether the run completed, failed, was interrupted or lost its
//! gateway.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::sleep_until;

use crate::admin::client::AdminClient;
use crate::local_gateway::DemoUpstream;

use super::events::{EventFeed, EventsError};
use super::manifest::{probe_objects, Backend};
use super::plan::{Ending, Outcome, PushPlan};
use super::probe::Probe;
use super::prober;
use super::progress::Progress;
use super::record::Recorder;
use super::sink::{ProbeSink, SinkError};

/// How often the run checks on its probes and redraws the progress.
const TICK: Duration = Duration::from_millis(50);
/// Cleanup (API calls, file removals) gives up after this.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a run could not take place at all.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The event subscription failed before the first write.
    #[error(transparent)]
    Events(#[from] EventsError),
    /// A demo upstream could not start.
    #[error(transparent)]
    Upstream(#[from] crate::local_gateway::LocalGatewayError),
}

/// Runs `plan` against the gateway, writing probes into `sink` and reading
/// Interlock through `admin`, until done or until `shutdown` completes (Ctrl-C).
/// Cleanup happens in every case; its result is part of the outcome.
pub async fn run<S: ProbeSink>(
    plan: PushPlan,
    sink: Arc<S>,
    admin: AdminClient,
    shutdown: impl Future<Output = ()>,
) -> Result<Outcome, PushError> {
    let probes: Vec<Probe> = (0..plan.probes)
        .map(|i| Probe::new(&plan.run, sink.namespace(), i))
        .collect();
    let recorder = Recorder::new(probes.iter().map(|p| (p.key(), p.host())));
    let mut progress = Progress::new();
    let prepared = async {
        let feed = EventFeed::subscribe(admin, probes.iter().map(Probe::key).collect()).await?;
        let (backends, upstreams) = backends(&plan, sink.as_ref(), &probes).await?;
        Ok::<_, PushError>((feed, backends, upstreams))
    };
    let (feed, backends, upstreams) = match prepared.await {
        Ok(prepared) => prepared,
        Err(e) => {
            // The sink may have created its namespace: it goes too.
            let _ = cleanup(sink.as_ref()).await;
            return Err(e);
        }
    };
    let (stop, stopped) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let body = Body {
        plan: &plan,
        sink: sink.as_ref(),
        recorder: &recorder,
        probes: &probes,
        backends: &backends,
        stopped,
    };
    let ending = tokio::select! {
        ending = body.run(feed, &mut tasks, &mut progress) => ending,
        () = shutdown => Ending::Interrupted,
    };
    let _ = stop.send(true);
    tasks.shutdown().await;
    progress.finish();
    let cleanup = cleanup(sink.as_ref()).await;
    drop(upstreams);
    let log = recorder.lock();
    Ok(Outcome {
        ending,
        cleanup,
        probes: log.probes.clone(),
        publishes: log.publish_count(),
        requests: log.requests,
        duration_ms: recorder.now_ms(),
    })
}

/// Removes every probe object, bounded in time.
async fn cleanup<S: ProbeSink>(sink: &S) -> Result<usize, String> {
    match tokio::time::timeout(CLEANUP_TIMEOUT, sink.cleanup()).await {
        Ok(Ok(removed)) => Ok(removed),
        Ok(Err(e)) => Err(error_chain(&e)),
        Err(_) => Err(format!("cleanup of {} timed out", sink.describe())),
    }
}

/// Each probe's backend and what its answers must name: a demo upstream per
/// probe (named after it) when the sink has no backend of its own.
async fn backends<S: ProbeSink>(
    plan: &PushPlan,
    sink: &S,
    probes: &[Probe],
) -> Result<(Vec<(Backend, Option<String>)>, Vec<DemoUpstream>), PushError> {
    if let Some(shared) = sink.shared_backend() {
        let expect = plan.expect_upstream.clone();
        return Ok((vec![(shared, expect); probes.len()], Vec::new()));
    }
    let mut upstreams = Vec::with_capacity(probes.len());
    let mut backends = Vec::with_capacity(probes.len());
    for probe in probes {
        let any = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
        let upstream = DemoUpstream::bind(any, &probe.name()).await?;
        let backend = Backend {
            addresses: vec![upstream.addr().ip()],
            port: upstream.addr().port(),
        };
        backends.push((backend, Some(probe.name())));
        upstreams.push(upstream);
    }
    Ok((backends, upstreams))
}

/// The run between subscribing and cleanup.
struct Body<'a, S> {
    plan: &'a PushPlan,
    sink: &'a S,
    recorder: &'a Recorder,
    probes: &'a [Probe],
    backends: &'a [(Backend, Option<String>)],
    stopped: watch::Receiver<bool>,
}

// === impl Body ===

impl<S: ProbeSink> Body<'_, S> {
    async fn run(
        self,
        feed: EventFeed,
        tasks: &mut JoinSet<Result<(), EventsError>>,
        progress: &mut Progress,
    ) -> Ending {
        tasks.spawn(feed.run(self.recorder.clone(), self.stopped.clone()));
        if let Err(ending) = self.write_all(1, tasks, progress).await {
            return ending;
        }
        let deadline = Instant::now() + self.plan.timeout;
        let all_answered = |s: &Self| {
            let log = s.recorder.lock();
            log.probes
                .iter()
                .all(|p| p.first_200_ms.is_some() && p.programmed_ms.is_some())
        };
        match self
            .wait("waiting", tasks, progress, deadline.into(), all_answered)
            .await
        {
            Ok(true) => {}
            Ok(false) => return Ending::TimedOut,
            Err(ending) => return ending,
        }
        if let Err(ending) = self.hold("holding", tasks, progress).await {
            return ending;
        }
        if self.plan.churn {
            if let Err(ending) = self.write_all(2, tasks, progress).await {
                return ending;
            }
            if let Err(ending) = self.hold("updated", tasks, progress).await {
                return ending;
            }
            if let Err(ending) = self.delete_all(tasks, progress).await {
                return ending;
            }
        }
        Ending::Completed
    }

    /// Writes every probe at `generation`, at the plan's rate; a new probe
    /// gets its prober right after its write.
    async fn write_all(
        &self,
        generation: u32,
        tasks: &mut JoinSet<Result<(), EventsError>>,
        progress: &mut Progress,
    ) -> Result<(), Ending> {
        let phase = if generation == 1 {
            "writing"
        } else {
            "updating"
        };
        let start = Instant::now();
        for (probe, (backend, expect)) in self.probes.iter().zip(self.backends) {
            if let Some(interval) = self.plan.interval() {
                let due = start + interval.mul_f64(probe.index as f64);
                self.wait(phase, tasks, progress, due.into(), |_| false)
                    .await?;
            }
            let objects = probe_objects(probe, backend, &self.plan.class, generation);
            let at = self
                .sink
                .write(probe, &objects)
                .await
                .map_err(|e| Ending::SinkFailed(error_chain(&e)))?;
            if generation == 1 {
                self.recorder.lock().probes[probe.index].written_ms =
                    Some(self.recorder.offset(at));
                let (recorder, stop) = (self.recorder.clone(), self.stopped.clone());
                let (gateway, timing) = (self.plan.gateway, self.plan.timing.clone());
                let (index, expect) = (probe.index, expect.clone());
                tasks.spawn(async move {
                    prober::probe(recorder, index, gateway, expect, timing, stop).await;
                    Ok(())
                });
            }
        }
        Ok(())
    }

    /// The churn's deletes: probing of each stops at its delete.
    async fn delete_all(
        &self,
        tasks: &mut JoinSet<Result<(), EventsError>>,
        progress: &mut Progress,
    ) -> Result<(), Ending> {
        let start = Instant::now();
        for probe in self.probes {
            if let Some(interval) = self.plan.interval() {
                let due = start + interval.mul_f64(probe.index as f64);
                self.wait("deleting", tasks, progress, due.into(), |_| false)
                    .await?;
            }
            self.recorder.lock().probes[probe.index].deleted_ms = Some(self.recorder.now_ms());
            self.sink
                .delete(probe)
                .await
                .map_err(|e| Ending::SinkFailed(error_chain(&e)))?;
        }
        Ok(())
    }

    /// Keeps probing for the plan's hold time.
    async fn hold(
        &self,
        phase: &str,
        tasks: &mut JoinSet<Result<(), EventsError>>,
        progress: &mut Progress,
    ) -> Result<(), Ending> {
        let until = Instant::now() + self.plan.hold;
        self.wait(phase, tasks, progress, until.into(), |_| false)
            .await
            .map(drop)
    }

    /// Ticks until `done` (`Ok(true)`), `deadline` (`Ok(false)`), or a failure
    /// (`Err`): the event feed ended, or the gateway has not answered for too long.
    async fn wait(
        &self,
        phase: &str,
        tasks: &mut JoinSet<Result<(), EventsError>>,
        progress: &mut Progress,
        deadline: tokio::time::Instant,
        done: impl Fn(&Self) -> bool,
    ) -> Result<bool, Ending> {
        loop {
            progress.update(phase, &self.recorder.lock());
            if done(self) {
                return Ok(true);
            }
            if let Some(since) = self.recorder.lock().unreachable_since {
                if since.elapsed() >= self.plan.gateway_dead_after {
                    return Err(Ending::GatewayDied);
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(false);
            }
            let tick = (tokio::time::Instant::now() + TICK).min(deadline);
            tokio::select! {
                () = sleep_until(tick) => {}
                Some(ended) = tasks.join_next() => {
                    if let Ok(Err(e)) = ended {
                        return Err(Ending::AdminLost(e.to_string()));
                    }
                }
            }
        }
    }
}

/// An error and its causes on one line.
fn error_chain(error: &SinkError) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text += &format!(": {cause}");
        source = cause.source();
    }
    text
}

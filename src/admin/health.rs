//! Liveness and supervision: the long-running tasks `serve` starts are
//! spawned through [`Health::spawn`], and one that ends while Interlock is not
//! shutting down (returns, fails or panics) is a failure: it is logged with its
//! cause, `/healthz` answers 503 naming it (so the kubelet restarts the pod),
//! and [`Health::failed`] wakes `serve`, which drains and exits non-zero.
//! Source outages (see [`SourceHealth`]) feed `/readyz`.

use std::fmt::Display;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinHandle};
use tracing::{debug, error};

use crate::sources::health::{Outage, SourceHealth};

/// A supervised task that ended while it should have been running.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskFailure {
    /// The task's name (e.g. `pipeline`).
    pub task: String,
    /// How it ended: `ended`, `failed: ...`, `panicked: ...`, `was aborted`.
    pub cause: String,
}

impl std::fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "task {} {}", self.task, self.cause)
    }
}

/// Shared, cheap to clone: failed tasks, whether shutdown has started, and
/// the sources' health with the `/readyz` outage threshold.
#[derive(Clone, Debug)]
pub struct Health {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    failures: watch::Sender<Vec<TaskFailure>>,
    stopping: AtomicBool,
    sources: SourceHealth,
    outage_threshold: Option<Duration>,
}

impl Default for Health {
    fn default() -> Self {
        Health::new(SourceHealth::default(), None)
    }
}

/// A supervised task's handles.
pub struct Supervised {
    /// Completes once the task has ended (and its end was recorded).
    pub done: JoinHandle<()>,
    /// Aborts the task itself.
    pub abort: AbortHandle,
}

/// What a supervised task's output says about its end.
pub trait TaskEnd {
    /// The error it failed with, if it did.
    fn error(self) -> Option<String>;
}

impl TaskEnd for () {
    fn error(self) -> Option<String> {
        None
    }
}

impl<E: Display> TaskEnd for Result<(), E> {
    fn error(self) -> Option<String> {
        self.err().map(|e| format!("{e:#}"))
    }
}

impl Health {
    /// `/readyz` turns false when a source in `sources` that has synced once
    /// has been failing for longer than `outage_threshold` (`None`: never).
    pub fn new(sources: SourceHealth, outage_threshold: Option<Duration>) -> Self {
        Health {
            inner: Arc::new(Inner {
                failures: watch::channel(Vec::new()).0,
                stopping: AtomicBool::new(false),
                sources,
                outage_threshold,
            }),
        }
    }

    /// Spawns `task` as `name`. If it ends before [`Health::stopping`] was
    /// called, that is a failure (see the module docs).
    pub fn spawn<F>(&self, name: &str, task: F) -> Supervised
    where
        F: Future + Send + 'static,
        F::Output: TaskEnd + Send + 'static,
    {
        let inner = tokio::spawn(task);
        let abort = inner.abort_handle();
        let health = self.clone();
        let name = name.to_owned();
        let done = tokio::spawn(async move {
            let cause = match inner.await {
                Ok(output) => match output.error() {
                    Some(e) => format!("failed: {e}"),
                    None => "ended".to_owned(),
                },
                Err(e) if e.is_panic() => format!("panicked: {}", panic_message(e.into_panic())),
                Err(_) => "was aborted".to_owned(),
            };
            health.ended(name, cause);
        });
        Supervised { done, abort }
    }

    /// Records that `task` ended with `cause`: a failure unless stopping.
    pub fn ended(&self, task: String, cause: String) {
        if self.is_stopping() {
            debug!(%task, %cause, "task ended during shutdown");
            return;
        }
        error!(%task, %cause, "a supervised task ended unexpectedly; /healthz fails and interlock exits");
        self.inner
            .failures
            .send_modify(|f| f.push(TaskFailure { task, cause }));
    }

    /// Shutdown has started: tasks ending from now on are expected to.
    pub fn stopping(&self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
    }

    /// True once [`Health::stopping`] was called.
    pub fn is_stopping(&self) -> bool {
        self.inner.stopping.load(Ordering::SeqCst)
    }

    /// The tasks that failed so far, in order.
    pub fn failures(&self) -> Vec<TaskFailure> {
        self.inner.failures.borrow().clone()
    }

    /// Completes with the first failure (at once if there already is one).
    pub async fn failed(&self) -> TaskFailure {
        let mut failures = self.inner.failures.subscribe();
        let failures = failures
            .wait_for(|f| !f.is_empty())
            .await
            .expect("the sender lives in self");
        failures[0].clone()
    }

    /// The sources' health.
    pub fn sources(&self) -> &SourceHealth {
        &self.inner.sources
    }

    /// Sources that make `/readyz` false: synced once, and failing for
    /// longer than the threshold.
    pub fn outages(&self) -> Vec<Outage> {
        match self.inner.outage_threshold {
            Some(threshold) => self.inner.sources.outages_longer_than(threshold),
            None => Vec::new(),
        }
    }
}

fn panic_message(panic: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explode() {
        panic!("oops")
    }

    #[tokio::test]
    async fn a_task_ending_before_shutdown_is_a_failure_with_its_cause() {
        let health = Health::default();
        let ok = health.spawn("quiet", async {});
        ok.done.await.unwrap();
        let failed = health.spawn("failing", async { Err::<(), _>("boom") });
        failed.done.await.unwrap();
        let panicked = health.spawn("panicking", async { explode() });
        panicked.done.await.unwrap();
        let aborted = health.spawn("aborted", std::future::pending::<()>());
        aborted.abort.abort();
        aborted.done.await.unwrap();
        let failures: Vec<String> = health.failures().iter().map(|f| f.to_string()).collect();
        assert_eq!(
            failures,
            [
                "task quiet ended",
                "task failing failed: boom",
                "task panicking panicked: oops",
                "task aborted was aborted"
            ]
        );
        assert_eq!(health.failed().await.task, "quiet");
    }

    #[tokio::test]
    async fn a_task_ending_during_shutdown_is_not_a_failure() {
        let health = Health::default();
        health.stopping();
        health.spawn("writer", async {}).done.await.unwrap();
        assert!(health.failures().is_empty());
    }
}

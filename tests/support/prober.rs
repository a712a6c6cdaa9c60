//! Probes every host the Envoy has ACKed, continuously, while a test changes
//! config; any answer but 200 from the expected upstream is a violation.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::http::HttpClient;

/// A running prober.
pub struct Prober {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    report: Arc<Mutex<ProbeReport>>,
}

/// What a prober saw.
#[derive(Debug, Default, Clone)]
pub struct ProbeReport {
    pub requests: u64,
    pub violations: Vec<String>,
}

impl Prober {
    /// Probes `addr`. `live` lists (host, expected body) pairs that must answer; it
    /// is read before each round, so an ACK always precedes the requests it
    /// licenses. `excused(host, status)` may forgive a failure (e.g. a removal
    /// already published).
    pub fn start<L, E>(addr: SocketAddr, live: L, excused: E) -> Prober
    where
        L: Fn() -> Vec<(String, String)> + Send + 'static,
        E: Fn(&str, u16) -> bool + Send + 'static,
    {
        let live = move || {
            live()
                .into_iter()
                .map(|(host, body)| (host, Some(body)))
                .collect()
        };
        Prober::start_matching(addr, live, excused, |_| true)
    }

    /// Like [`Prober::start`], where a `None` expected body means "any body that
    /// `accept` accepts" (e.g. an Ingress whose backend is being changed).
    pub fn start_matching<L, E, A>(addr: SocketAddr, live: L, excused: E, accept: A) -> Prober
    where
        L: Fn() -> Vec<(String, Option<String>)> + Send + 'static,
        E: Fn(&str, u16) -> bool + Send + 'static,
        A: Fn(&str) -> bool + Send + 'static,
    {
        let (stop, mut stopped) = watch::channel(false);
        let report = Arc::new(Mutex::new(ProbeReport::default()));
        let shared = Arc::clone(&report);
        let task = tokio::spawn(async move {
            let mut client = HttpClient::new(addr);
            while !*stopped.borrow() {
                for (host, body) in live() {
                    let outcome = client.get(&host, "/").await;
                    let mut report = shared.lock().expect("probe report");
                    report.requests += 1;
                    match outcome {
                        Ok(r)
                            if r.status == 200
                                && body.as_ref().map_or(accept(&r.body), |b| *b == r.body) => {}
                        Ok(r) if excused(&host, r.status) => {}
                        Ok(r) => report.violations.push(format!(
                            "{host}: status {} body {:?} flags {:?}",
                            r.status,
                            r.body,
                            r.header("x-envoy-response-flags")
                        )),
                        Err(e) => report.violations.push(format!("{host}: {e}")),
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(2)) => {}
                    _ = stopped.changed() => {}
                }
            }
        });
        Prober { stop, task, report }
    }

    /// Stops probing and returns what was seen.
    pub async fn finish(self) -> ProbeReport {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        let report = self.report.lock().expect("probe report").clone();
        report
    }
}

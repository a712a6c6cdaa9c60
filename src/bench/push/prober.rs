//! Probing one probe's host through the gateway until the run stops: quickly
//! until its first 200 (that time is measured), then at a steady pace to
//! catch any later failure. Only answers to requests sent after the probe was
//! programmed (plus a grace for Envoy's workers, see DESIGN.md) count against
//! the promise; before that a 404 is expected.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::http_client::{Answer, HttpClient};
use super::record::{BadAnswer, BadKind, Recorder};

/// How to probe.
#[derive(Clone, Debug)]
pub struct ProbeTiming {
    /// Pause between requests until the first 200.
    pub fast: Duration,
    /// Pause between requests after it.
    pub steady: Duration,
    /// After programmed, answers to requests sent within this are not counted:
    /// Envoy ACKs from its main thread, its workers switch an instant later.
    pub grace: Duration,
    /// A request (connect included) that takes longer fails.
    pub timeout: Duration,
}

/// What an answer means for the probe expecting backend `expect` (`None`: any
/// backend is the probe's, e.g. a shared Service in a cluster).
pub fn judge(answer: &Answer, expect: Option<&str>) -> Result<(), (BadKind, String)> {
    match answer.status {
        200 => match (expect, answer.upstream.as_deref()) {
            (Some(want), got) if got != Some(want) => Err((
                BadKind::WrongBackend,
                format!("200 from {}", got.unwrap_or("a backend without x-upstream")),
            )),
            _ => Ok(()),
        },
        404 if !answer.upstream_time => Err((BadKind::NotFoundNoRoute, "404 NR".into())),
        404 => Err((BadKind::NotFound, "404 from upstream".into())),
        503 => Err((BadKind::Unavailable, "503".into())),
        other => Err((BadKind::OtherStatus, other.to_string())),
    }
}

/// Probes `index` (host `host`, backend `expect`) through `gateway` until `stop`
/// turns true or the probe is deleted.
pub async fn probe(
    recorder: Recorder,
    index: usize,
    gateway: SocketAddr,
    expect: Option<String>,
    timing: ProbeTiming,
    mut stop: watch::Receiver<bool>,
) {
    let host = recorder.lock().probes[index].host.clone();
    let mut client = HttpClient::new(gateway, timing.timeout);
    let grace_ms = timing.grace.as_secs_f64() * 1e3;
    loop {
        if *stop.borrow() {
            return;
        }
        let sent = Instant::now();
        let sent_ms = recorder.offset(sent);
        let result = client.get(&host, "/").await;
        let verdict = match &result {
            Ok(answer) => judge(answer, expect.as_deref()),
            Err(error) => Err((BadKind::Unreachable, error.clone())),
        };
        let answered = {
            let mut log = recorder.lock();
            log.requests += 1;
            match result {
                Ok(_) => log.unreachable_since = None,
                Err(_) => {
                    log.unreachable_since.get_or_insert(sent);
                }
            }
            let now_ms = recorder.now_ms();
            let record = &mut log.probes[index];
            if record.deleted_ms.is_some_and(|d| d <= sent_ms) {
                return;
            }
            match verdict {
                Ok(()) => {
                    record.first_200_ms.get_or_insert(now_ms);
                }
                Err((kind, detail)) => {
                    if record.programmed_ms.is_some_and(|p| sent_ms > p + grace_ms) {
                        record.bad.push(BadAnswer {
                            at_ms: sent_ms,
                            kind,
                            detail,
                        });
                    }
                }
            }
            record.first_200_ms.is_some()
        };
        let pause = if answered { timing.steady } else { timing.fast };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            _ = stop.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, upstream: Option<&str>, upstream_time: bool) -> Answer {
        Answer {
            status,
            upstream: upstream.map(str::to_owned),
            upstream_time,
        }
    }

    #[test]
    fn only_the_probes_own_200_is_good() {
        assert_eq!(judge(&answer(200, Some("p1"), true), Some("p1")), Ok(()));
        assert_eq!(judge(&answer(200, None, true), None), Ok(()));
        let kind = |a: Answer| judge(&a, Some("p1")).unwrap_err().0;
        assert_eq!(kind(answer(200, Some("p2"), true)), BadKind::WrongBackend);
        assert_eq!(kind(answer(200, None, true)), BadKind::WrongBackend);
        assert_eq!(kind(answer(404, None, false)), BadKind::NotFoundNoRoute);
        assert_eq!(kind(answer(404, Some("p1"), true)), BadKind::NotFound);
        assert_eq!(kind(answer(503, None, false)), BadKind::Unavailable);
        assert_eq!(kind(answer(502, None, false)), BadKind::OtherStatus);
    }
}

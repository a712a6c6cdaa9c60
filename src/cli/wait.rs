//! `interlock wait NAMESPACE/NAME...`: blocks until the named Ingresses are
//! programmed on every connected Envoy, for scripts right after `kubectl apply`.
//!
//! It subscribes to the admin API's `WatchEvents` first and only then asks
//! `GetIngresses`, so no transition can fall between the two. Exits 0 once every
//! Ingress is programmed; fails with a clear message on timeout (what is pending
//! where, and the diagnostics), when Envoy rejects config an Ingress needs, or
//! when an Ingress is not served at all.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::bail;
use clap::Args;
use interlock::admin::client::{self, AdminClient as Client, Lost, RETRY};
use interlock::admin::grpc::{parse_ingress_name, pb};
use interlock::world::ObjectKey;
use tokio::time::{sleep, sleep_until, Instant};
use tonic::Status;
/// Re-read the state at least this often (events make it sooner).
const POLL: Duration = Duration::from_secs(1);
/// After an event that may change the state, re-read it no sooner than this.
const POLL_SOON: Duration = Duration::from_millis(100);
/// A rejection read from the state (not announced by an event) may be a NACK
/// that an already-pushed fix is about to clear; it is final once it lasts this long.
const REJECT_GRACE: Duration = Duration::from_secs(2);

/// Flags of `interlock wait`.
#[derive(Args, Debug, Clone)]
pub struct WaitArgs {
    /// Ingresses to wait for.
    #[arg(required = true, value_name = "NAMESPACE/NAME", value_parser = parse_ingress_name)]
    pub ingresses: Vec<ObjectKey>,
    /// Interlock's admin address (host:port or URL).
    #[arg(long, default_value = "127.0.0.1:18001")]
    pub admin_address: String,
    /// Give up (and fail) after this long.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

/// Runs `interlock wait`: Ok once every Ingress is programmed.
pub async fn run(args: WaitArgs) -> anyhow::Result<()> {
    let deadline = Instant::now() + args.timeout;
    let endpoint = client::endpoint(&args.admin_address)?;
    let mut waiting = Waiting::new(&args.ingresses);
    loop {
        let mut client = client::connect(&endpoint, deadline, args.timeout).await?;
        let ended = tokio::time::timeout_at(deadline, session(&mut client, &mut waiting)).await;
        let Ok(ended) = ended else {
            bail!(waiting.timeout_report(args.timeout));
        };
        match ended? {
            Ended::Done => {
                println!("all {} programmed", waiting.ingresses.len());
                return Ok(());
            }
            Ended::Lost(why) => {
                eprintln!("lost the admin API ({why}); reconnecting");
                sleep(RETRY).await;
            }
        }
    }
}

/// How a session with the admin API ended.
enum Ended {
    /// Every Ingress is programmed.
    Done,
    /// The connection or stream broke; try again.
    Lost(String),
}

/// Watches events and the state until everything is programmed, an Ingress is
/// rejected (error) or the connection breaks. The caller bounds it in time.
async fn session(client: &mut Client, waiting: &mut Waiting) -> anyhow::Result<Ended> {
    let names = waiting.names();
    let request = pb::WatchEventsRequest {
        ingresses: names.clone(),
    };
    let mut events = match client.watch_events(request).await {
        Ok(response) => response.into_inner(),
        Err(status) => return lost(status),
    };
    let mut dirty = true;
    let mut last_poll: Option<Instant> = None;
    loop {
        if waiting.done() {
            return Ok(Ended::Done);
        }
        let next_poll = match last_poll {
            None => Instant::now(),
            Some(at) if dirty => at + POLL_SOON,
            Some(at) => at + POLL,
        };
        tokio::select! {
            message = events.message() => match message {
                Ok(Some(event)) => dirty |= waiting.on_event(event)?,
                Ok(None) => return Ok(Ended::Lost("the event stream ended".into())),
                Err(status) => return lost(status),
            },
            () = sleep_until(next_poll) => {
                let request = pb::GetIngressesRequest { names: names.clone() };
                match client.get_ingresses(request).await {
                    Ok(response) => waiting.on_state(response.into_inner())?,
                    Err(status) => return lost(status),
                }
                last_poll = Some(Instant::now());
                dirty = false;
            },
        }
    }
}

/// A failed call: fatal when the server is not Interlock's admin API, else retried.
fn lost(status: Status) -> anyhow::Result<Ended> {
    let Lost(why) = client::classify(status)?;
    Ok(Ended::Lost(why))
}

// === impl Waiting ===

/// What is known about each Ingress waited for, by "namespace/name".
struct Waiting {
    ingresses: BTreeMap<String, Tracked>,
    synced: bool,
    connected: Vec<String>,
}

#[derive(Default)]
struct Tracked {
    /// Seen programmed (at this version): done, whatever happens next.
    programmed: Option<String>,
    /// Its latest state; `None` while it is not served.
    state: Option<pb::Ingress>,
    /// Since when its state has shown a rejection.
    rejected_since: Option<Instant>,
    /// The progress line printed last, so each change is printed once.
    line: String,
}

impl Waiting {
    fn new(keys: &[ObjectKey]) -> Self {
        Waiting {
            ingresses: keys
                .iter()
                .map(|k| (k.to_string(), Tracked::default()))
                .collect(),
            synced: false,
            connected: Vec::new(),
        }
    }

    fn names(&self) -> Vec<String> {
        self.ingresses.keys().cloned().collect()
    }

    fn done(&self) -> bool {
        self.ingresses.values().all(|t| t.programmed.is_some())
    }

    /// Handles an event; true when the state may have changed and is worth re-reading.
    fn on_event(&mut self, event: pb::Event) -> anyhow::Result<bool> {
        use pb::event::Event;
        match event.event {
            Some(Event::IngressProgrammed(p)) => {
                if let Some(tracked) = self.ingresses.get_mut(&p.ingress) {
                    if tracked.programmed.is_none() {
                        tracked.programmed = Some(p.version.clone());
                        let n = p.nodes.len();
                        tracked.print(
                            &p.ingress,
                            format!("programmed on {n}/{n} nodes (version {})", p.version),
                        );
                    }
                }
                Ok(false)
            }
            Some(Event::IngressRejected(r)) => match self.ingresses.get(&r.ingress) {
                Some(tracked) if tracked.programmed.is_none() => {
                    bail!(rejected(&r.ingress, &r.node, &r.error))
                }
                _ => Ok(false),
            },
            Some(_) => Ok(true),
            None => Ok(false),
        }
    }

    /// Takes in a `GetIngresses` answer.
    fn on_state(&mut self, response: pb::GetIngressesResponse) -> anyhow::Result<()> {
        self.synced = response.synced;
        self.connected = response.connected_nodes;
        let now = Instant::now();
        let mut served: BTreeMap<String, pb::Ingress> = response
            .ingresses
            .into_iter()
            .map(|i| (i.name.clone(), i))
            .collect();
        for (name, tracked) in &mut self.ingresses {
            if tracked.programmed.is_some() {
                continue;
            }
            tracked.state = served.remove(name);
            let Some(state) = &tracked.state else {
                tracked.rejected_since = None;
                let line = if self.synced {
                    "not served (yet)".to_owned()
                } else {
                    "waiting for Interlock to load its sources".to_owned()
                };
                tracked.print(name, line);
                continue;
            };
            if state.programmed {
                tracked.programmed = Some(state.version.clone());
            }
            match (&state.rejected, state.programmed) {
                (Some(r), false) => {
                    let since = *tracked.rejected_since.get_or_insert(now);
                    if now.duration_since(since) >= REJECT_GRACE {
                        bail!(rejected(name, &r.node, &r.error));
                    }
                }
                _ => tracked.rejected_since = None,
            }
            let line = progress(state);
            tracked.print(name, line);
        }
        Ok(())
    }

    /// Why the wait failed at the deadline, Ingress by Ingress.
    fn timeout_report(&self, timeout: Duration) -> String {
        let pending: Vec<_> = self
            .ingresses
            .iter()
            .filter(|(_, t)| t.programmed.is_none())
            .collect();
        let mut report = format!(
            "timed out after {} waiting for {} of {} Ingress(es):",
            humantime::format_duration(timeout),
            pending.len(),
            self.ingresses.len()
        );
        for (name, tracked) in pending {
            report += &format!("\n  {name}: ");
            match &tracked.state {
                None if !self.synced => {
                    report += "unknown: Interlock has not finished loading its sources"
                }
                None => {
                    report += "not served by Interlock: no such Ingress of its class \
                               (wrong ingressClassName? typo in the namespace or name?)"
                }
                Some(state) if self.connected.is_empty() => {
                    report += &format!(
                        "no Envoy is connected to Interlock (version {})",
                        state.version
                    )
                }
                Some(state) => report += &progress(state),
            }
            for diagnostic in tracked.state.iter().flat_map(|s| &s.diagnostics) {
                report += &format!("\n    diagnostic: {diagnostic}");
            }
        }
        report
    }
}

impl Tracked {
    fn print(&mut self, name: &str, line: String) {
        if line != self.line {
            println!("{name}: {line}");
            self.line = line;
        }
    }
}

/// "programmed on 1/2 nodes, pending on b (version v)".
fn progress(state: &pb::Ingress) -> String {
    let done = state.programmed_on.len();
    let total = done + state.pending_on.len();
    if total == 0 {
        return format!(
            "waiting for an Envoy to connect (version {})",
            state.version
        );
    }
    let mut line = format!("programmed on {done}/{total} nodes");
    if !state.pending_on.is_empty() {
        line += &format!(", pending on {}", state.pending_on.join(", "));
    }
    if let Some(r) = &state.rejected {
        line += &format!(", rejected by {}", r.node);
    }
    line + &format!(" (version {})", state.version)
}

fn rejected(name: &str, node: &str, error: &str) -> String {
    format!("{name} was rejected by Envoy node {node}; Envoy said:\n{error}")
}

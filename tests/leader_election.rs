//! Leader election against the fake API server: the Lease protocol as kube-rs speaks
//! it over HTTP, with real (short) timings. Timing assertions are lower bounds that the
//! protocol guarantees, or generous upper bounds; the rest asserts behaviour.

#[path = "support/fake_kube/mod.rs"]
mod fake_kube;

use std::time::{Duration, Instant};

use fake_kube::FakeApiServer;
use interlock::leader::{LeaderElector, LeaderError, LeaseConfig};
use k8s_openapi::api::coordination::v1::Lease;
use serde_json::Value;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

const NS: &str = "interlock-system";
const NAME: &str = "interlock-leader";
const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/interlock-system/leases";

/// Lease 2 s, renew deadline 1.5 s, retry 200 ms.
const SHORT: Timings = Timings {
    lease: Duration::from_secs(2),
    renew: Duration::from_millis(1500),
    retry: Duration::from_millis(200),
};

/// A lease long enough that "before it expires" is clearly distinguishable from "at once",
/// and a renew deadline no scheduling hiccup on a loaded machine reaches.
const LONG: Timings = Timings {
    lease: Duration::from_secs(10),
    renew: Duration::from_secs(8),
    retry: Duration::from_millis(200),
};

/// Slack for "eventually" on a loaded two-core machine.
const SLACK: Duration = Duration::from_secs(3);

#[derive(Clone, Copy)]
struct Timings {
    lease: Duration,
    renew: Duration,
    retry: Duration,
}

fn config(identity: &str, t: Timings) -> LeaseConfig {
    LeaseConfig {
        namespace: NS.to_string(),
        name: NAME.to_string(),
        identity: identity.to_string(),
        lease_duration: t.lease,
        renew_deadline: t.renew,
        retry_period: t.retry,
    }
}

fn lease_api(server: &FakeApiServer) -> kube::Api<Lease> {
    let url = server.url().parse().expect("fake server URL");
    let client = kube::Client::try_from(kube::Config::new(url)).expect("kube client");
    kube::Api::namespaced(client, NS)
}

/// One replica running the election in a task.
struct Candidate {
    leadership: watch::Receiver<bool>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), LeaderError>>,
}

impl Candidate {
    fn start(server: &FakeApiServer, identity: &str, t: Timings) -> Self {
        let elector = LeaderElector::new(lease_api(server), config(identity, t));
        let leadership = elector.leadership();
        assert!(!*leadership.borrow(), "no candidate leads before running");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(elector.run(async move {
            let _ = stopped.await;
        }));
        Self {
            leadership,
            stop,
            task,
        }
    }

    fn is_leader(&self) -> bool {
        *self.leadership.borrow()
    }

    /// Whether leadership became `wanted` within `within`.
    async fn becomes(&mut self, wanted: bool, within: Duration) -> bool {
        matches!(
            tokio::time::timeout(within, self.leadership.wait_for(|l| *l == wanted)).await,
            Ok(Ok(_))
        )
    }

    /// Shuts the candidate down and returns what `run` returned, and the final leadership.
    async fn stop(self) -> (Result<(), LeaderError>, bool) {
        let _ = self.stop.send(());
        let result = tokio::time::timeout(Duration::from_secs(15), self.task)
            .await
            .expect("run returns after shutdown")
            .expect("election task did not panic");
        let leading = *self.leadership.borrow();
        (result, leading)
    }
}

fn stored_lease(server: &FakeApiServer) -> Value {
    server
        .get(&fake_kube::LEASE, Some(NS), NAME)
        .expect("the lease exists")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_candidate_becomes_leader_and_creates_the_lease() {
    let server = FakeApiServer::start().await;
    let mut a = Candidate::start(&server, "replica-a", SHORT);

    assert!(a.becomes(true, SLACK).await, "the only candidate leads");
    assert_eq!(server.lease_holder(NS, NAME).as_deref(), Some("replica-a"));
    let created = server
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path == LEASES)
        .expect("the lease was created with a POST");
    assert_eq!(created.status, 201);

    let first = stored_lease(&server);
    assert_eq!(first["spec"]["leaseDurationSeconds"], 2);
    assert_eq!(first["spec"]["leaseTransitions"], 0);
    assert!(first["spec"]["acquireTime"].is_string());

    // It keeps renewing: renewTime moves on, acquireTime does not.
    tokio::time::sleep(SHORT.retry * 4).await;
    let later = stored_lease(&server);
    assert_ne!(later["spec"]["renewTime"], first["spec"]["renewTime"]);
    assert_eq!(later["spec"]["acquireTime"], first["spec"]["acquireTime"]);
    assert!(a.is_leader());

    let (result, leading) = a.stop().await;
    assert!(result.is_ok(), "{result:?}");
    assert!(!leading, "not leading after shutdown");
    assert_eq!(server.lease_holder(NS, NAME), None, "released on shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_one_of_two_candidates_leads() {
    let server = FakeApiServer::start().await;
    // The long renew deadline keeps a leader delayed by a loaded machine from stepping
    // down mid-test, which would show as "no leader" for a moment.
    let a = Candidate::start(&server, "replica-a", LONG);
    let b = Candidate::start(&server, "replica-b", LONG);

    let started = Instant::now();
    while !a.is_leader() && !b.is_leader() {
        assert!(started.elapsed() < SLACK, "nobody leads");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let leader = if a.is_leader() {
        "replica-a"
    } else {
        "replica-b"
    };

    let sampling = Instant::now();
    while sampling.elapsed() < Duration::from_secs(3) {
        let (a_leads, b_leads) = (a.is_leader(), b.is_leader());
        assert!(!(a_leads && b_leads), "both candidates lead");
        let now_leader = match (a_leads, b_leads) {
            (true, false) => "replica-a",
            (false, true) => "replica-b",
            _ => panic!("nobody leads after {leader} did"),
        };
        assert_eq!(now_leader, leader, "leadership moved without cause");
        assert_eq!(server.lease_holder(NS, NAME).as_deref(), Some(leader));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(stored_lease(&server)["spec"]["leaseTransitions"], 0);

    let (ra, _) = a.stop().await;
    let (rb, _) = b.stop().await;
    assert!(ra.is_ok() && rb.is_ok(), "{ra:?} {rb:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn candidate_waits_out_a_lease_held_by_a_dead_replica() {
    let server = FakeApiServer::start().await;
    server.apply(fake_kube::lease(NS, NAME, "ghost", 2));

    let started = Instant::now();
    let mut a = Candidate::start(&server, "replica-a", SHORT);

    // Halfway through the ghost's lease it is still the ghost's.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!a.is_leader(), "took over a lease that had not expired");
    assert_eq!(server.lease_holder(NS, NAME).as_deref(), Some("ghost"));

    assert!(
        a.becomes(true, SHORT.lease + SLACK).await,
        "took over once the lease expired"
    );
    // Expiry counts from when the candidate first saw the record, after `started`.
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1950),
        "led after {waited:?}"
    );
    assert_eq!(server.lease_holder(NS, NAME).as_deref(), Some("replica-a"));
    let lease = stored_lease(&server);
    assert_eq!(lease["spec"]["leaseTransitions"], 1);
    assert_eq!(lease["spec"]["leaseDurationSeconds"], 2);

    let (result, _) = a.stop().await;
    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn released_lease_is_taken_over_at_once() {
    let server = FakeApiServer::start().await;
    let mut a = Candidate::start(&server, "replica-a", LONG);
    assert!(a.becomes(true, SLACK).await);
    let mut b = Candidate::start(&server, "replica-b", LONG);
    // Let B see A's lease, and be refused it.
    tokio::time::sleep(LONG.retry * 3).await;
    assert!(!b.is_leader());

    let handover = Instant::now();
    let (result, a_leading) = a.stop().await;
    assert!(result.is_ok(), "{result:?}");
    assert!(!a_leading, "A stopped leading");
    let release = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT" && r.status == 200)
        .map(|r| r.json())
        .find(|lease| lease["spec"]["leaseDurationSeconds"] == 1)
        .expect("A released the lease with a replace");
    assert!(release["spec"]
        .get("holderIdentity")
        .is_none_or(Value::is_null));
    assert!(
        release["metadata"]["resourceVersion"].is_string(),
        "the release is conditional on the version A wrote"
    );

    assert!(
        b.becomes(true, SLACK).await,
        "B takes a released lease long before its 10s would run out"
    );
    assert!(
        handover.elapsed() < LONG.lease / 2,
        "{:?}",
        handover.elapsed()
    );
    assert_eq!(server.lease_holder(NS, NAME).as_deref(), Some("replica-b"));
    assert_eq!(stored_lease(&server)["spec"]["leaseTransitions"], 1);

    let (result, _) = b.stop().await;
    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_that_cannot_renew_steps_down() {
    let server = FakeApiServer::start().await;
    let mut a = Candidate::start(&server, "replica-a", SHORT);
    assert!(a.becomes(true, SLACK).await);

    // The API server goes away: every renewal now fails to connect.
    drop(server);
    assert!(
        a.becomes(false, SHORT.renew + SLACK).await,
        "a leader that cannot renew stops leading"
    );
    assert!(
        !a.task.is_finished(),
        "it keeps trying to get the lease back"
    );

    let (result, leading) = a.stop().await;
    assert!(
        result.is_ok(),
        "unreachable API server is not an error: {result:?}"
    );
    assert!(!leading);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_whose_lease_is_taken_steps_down_and_later_takes_it_back() {
    let server = FakeApiServer::start().await;
    let mut a = Candidate::start(&server, "replica-a", SHORT);
    assert!(a.becomes(true, SLACK).await);

    // Someone else writes itself in as holder (and then never renews).
    server.apply(fake_kube::lease(NS, NAME, "usurper", 2));
    assert!(
        a.becomes(false, SLACK).await,
        "the leader sees another holder and steps down"
    );
    assert_eq!(server.lease_holder(NS, NAME).as_deref(), Some("usurper"));

    assert!(
        a.becomes(true, SHORT.lease + SLACK).await,
        "the usurper's lease expires and the candidate leads again"
    );
    assert_eq!(server.lease_holder(NS, NAME).as_deref(), Some("replica-a"));

    let (result, _) = a.stop().await;
    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn run_rejects_timings_that_could_elect_two_leaders() {
    let server = FakeApiServer::start().await;
    let unsafe_timings = Timings {
        lease: Duration::from_secs(2),
        renew: Duration::from_secs(3),
        retry: Duration::from_millis(200),
    };
    let elector = LeaderElector::new(lease_api(&server), config("replica-a", unsafe_timings));
    let result = elector.run(std::future::pending()).await;
    assert!(
        matches!(result, Err(LeaderError::InvalidConfig { .. })),
        "{result:?}"
    );
    assert!(server.requests().is_empty(), "nothing was written");
}

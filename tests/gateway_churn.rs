//! Batches of Ingress files against a real Envoy: nothing ACKed ever answers 404,
//! and a WebSocket through the gateway survives route churn and idle time.

mod support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use support::gateway::{service_yaml, simple_ingress, FileGateway};
use support::prober::Prober;
use support::{wait_for, Upstream};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

const CONVERGE: Duration = Duration::from_secs(60);

fn host(i: usize) -> String {
    format!("h-{i}.test")
}

async fn hundred_files_at_once(delta: bool) {
    let mut ups = Vec::new();
    for i in 0..100 {
        ups.push(Upstream::start(&format!("u-{i}")).await);
    }
    let services: Vec<String> = ups
        .iter()
        .map(|u| service_yaml("batch", &u.name, Some(u.addr)))
        .collect();
    let gw = FileGateway::start(delta, &[("services.yaml", services.join("---\n"))]).await;
    wait_for(CONVERGE, "the empty route table", || async {
        gw.plane.tracker.node(gw.node()).is_some_and(|n| {
            !n.types[interlock::snapshot::ResourceType::Route]
                .acked
                .is_empty()
        })
    })
    .await;

    let plane_tracker = gw.plane.tracker.clone();
    let node = gw.node().to_owned();
    let live = move || {
        support::gateway::acked_domains_of(&plane_tracker, &node)
            .into_iter()
            .filter_map(|d| {
                let i: usize = d.strip_prefix("h-")?.strip_suffix(".test")?.parse().ok()?;
                Some((d, format!("u-{i}")))
            })
            .collect()
    };
    let prober = Prober::start(gw.http(), live, |_, _| false);
    for i in 0..100 {
        let yaml = simple_ingress("batch", &format!("ing-{i}"), &host(i), &format!("u-{i}"));
        std::fs::write(gw.path(&format!("ingress-{i}.yaml")), yaml).expect("write");
    }
    wait_for(CONVERGE, "all 100 hosts ACKed", || async {
        let acked = gw.acked_domains();
        (0..100).all(|i| acked.contains(&host(i)))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let report = prober.finish().await;
    assert!(report.violations.is_empty(), "{:#?}", report.violations);
    assert!(report.requests >= 100, "{report:?}");
    for i in 0..100 {
        let r = support::get(gw.http(), &host(i), "/")
            .await
            .expect("request");
        assert_eq!((r.status, r.body), (200, format!("u-{i}")), "host {i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_ingress_files_at_once_never_404_once_acked_sotw() {
    hundred_files_at_once(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_ingress_files_at_once_never_404_once_acked_delta() {
    hundred_files_at_once(true).await;
}

/// A WebSocket echo server on 127.0.0.1.
async fn echo_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                while let Some(Ok(message)) = ws.next().await {
                    if message.is_text() && ws.send(message).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_survives_route_churn_and_idle_time() {
    let echo = echo_server().await;
    let other = Upstream::start("other").await;
    let services = [
        service_yaml("ws", "echo", Some(echo)),
        service_yaml("ws", "other", Some(other.addr)),
    ]
    .join("---\n");
    let gw = FileGateway::start(
        false,
        &[
            ("services.yaml", services),
            ("ws.yaml", simple_ingress("ws", "chat", "chat.test", "echo")),
        ],
    )
    .await;
    gw.wait_host("chat.test").await;

    let stream = TcpStream::connect(gw.http())
        .await
        .expect("connect to Envoy");
    let (mut ws, response) = tokio_tungstenite::client_async("ws://chat.test/socket", stream)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "WebSocket upgrade through Envoy failed: {e}\n{}",
                gw.envoy.log()
            )
        });
    assert_eq!(response.status(), 101);
    async fn echo_once(ws: &mut tokio_tungstenite::WebSocketStream<TcpStream>, text: String) {
        ws.send(Message::text(text.clone())).await.expect("send");
        let reply = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("echo within 5 s")
            .expect("socket open")
            .expect("frame");
        assert_eq!(reply, Message::text(text));
    }

    // Add 100 Ingresses, then remove them, checking the socket all along.
    for batch in 0..10 {
        for i in batch * 10..batch * 10 + 10 {
            gw.write(
                &format!("churn-{i}.yaml"),
                &simple_ingress("ws", &format!("c-{i}"), &host(i), "other"),
            );
        }
        echo_once(&mut ws, format!("add batch {batch}")).await;
    }
    gw.wait_host(&host(99)).await;
    for batch in 0..10 {
        for i in batch * 10..batch * 10 + 10 {
            gw.remove(&format!("churn-{i}.yaml"));
        }
        echo_once(&mut ws, format!("remove batch {batch}")).await;
    }
    wait_for(CONVERGE, "the churn Ingresses to be gone", || async {
        !gw.acked_domains().contains(&host(0))
    })
    .await;
    echo_once(&mut ws, "after churn".into()).await;

    // Longer than Envoy's default 15 s route timeout, with no traffic at all.
    tokio::time::sleep(Duration::from_secs(16)).await;
    echo_once(&mut ws, "after 16 s idle".into()).await;
}

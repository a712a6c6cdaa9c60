//! Annotations that add clusters or virtual hosts of their own (`auth-url`,
//! `default-backend`) through the whole pipeline: Interlock on a directory
//! of YAML serving a real Envoy over ADS, so the full-translation path, the
//! route tables' references to those clusters and make-before-break all
//! take part. Changing the annotation changes what clients get.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::thread;
use std::time::Duration;

use support::gateway::{service_yaml, simple_ingress, FileGateway};
use support::{get, wait_for, Upstream};

const CONVERGE: Duration = Duration::from_secs(30);

/// An HTTP/1.1 server answering every request 401, one request per
/// connection.
fn refusing_auth_service() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind auth");
    let addr = listener.local_addr().expect("auth addr");
    thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            thread::spawn(move || {
                let mut raw = Vec::new();
                let mut buf = [0u8; 4096];
                while !raw.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => raw.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = conn.write_all(
                    b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
            });
        }
    });
    addr
}

fn annotate(ingress: &str, annotations: &[(&str, String)]) -> String {
    let entries: Vec<String> = annotations
        .iter()
        .map(|(k, v)| format!("nginx.ingress.kubernetes.io/{k}: \"{v}\""))
        .collect();
    let (head, rest) = ingress
        .split_once("}\nspec:")
        .expect("an Ingress with flow-style metadata");
    format!(
        "{head}, annotations: {{{}}}}}\nspec:{rest}",
        entries.join(", ")
    )
}

async fn status_and_body(gw: &FileGateway, host: &str) -> (u16, String) {
    match get(gw.http(), host, "/").await {
        Ok(r) => (r.status, r.body),
        Err(e) => (0, e),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_url_and_default_backend_are_served_over_ads() {
    let app = Upstream::start("app").await;
    let fallback = Upstream::start("fallback").await;
    let auth = refusing_auth_service();
    let services = [
        service_yaml("web", "app", Some(app.addr)),
        service_yaml("web", "fallback", Some(fallback.addr)),
        service_yaml("web", "empty", None),
    ]
    .join("---\n");
    let auth_url = format!("http://{auth}/verify");
    let secured = annotate(
        &simple_ingress("web", "secured", "secured.test", "app"),
        &[("auth-url", auth_url)],
    );
    let empty = annotate(
        &simple_ingress("web", "empty", "empty.test", "empty"),
        &[("default-backend", "fallback".to_owned())],
    );
    let gw = FileGateway::start(
        false,
        &[
            ("services.yaml", services),
            ("secured.yaml", secured),
            ("empty.yaml", empty),
            (
                "open.yaml",
                simple_ingress("web", "open", "open.test", "app"),
            ),
        ],
    )
    .await;
    gw.wait_host("secured.test").await;
    assert_eq!(
        status_and_body(&gw, "open.test").await,
        (200, "app".to_owned())
    );
    wait_for(CONVERGE, "auth-url to refuse", || async {
        status_and_body(&gw, "secured.test").await.0 == 401
    })
    .await;
    assert_eq!(
        status_and_body(&gw, "empty.test").await,
        (200, "fallback".to_owned()),
        "{}",
        gw.envoy.log()
    );

    // The annotation removed: the route serves without a check.
    gw.write(
        "secured.yaml",
        &simple_ingress("web", "secured", "secured.test", "app"),
    );
    wait_for(CONVERGE, "the route to serve without auth", || async {
        status_and_body(&gw, "secured.test").await == (200, "app".to_owned())
    })
    .await;
}

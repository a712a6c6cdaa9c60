//! TLS: which certificate serves which SNI host, and the HTTPS filter chains.
//!
//! Every `spec.tls[]` entry of a served Ingress names a Secret in the Ingress's
//! namespace. An entry without `hosts` applies to the Ingress's own valid rule
//! hosts (and is skipped with a diagnostic when it has none). Hosts listed in
//! `tls[]` get their SNI filter chain even when no rule names them: routing comes
//! from the route table, where such a host falls to the catch-all. When an entry's
//! Secret is unusable ([`super::tls_secret`]) its hosts get no HTTPS and a
//! diagnostic; HTTP is unaffected. When two Ingresses give one host different
//! Secrets, the oldest Ingress's usable Secret wins (Envoy refuses a listener whose
//! filter chains repeat a server name) and the other is reported.

use std::collections::{BTreeMap, BTreeSet};

use envoy_types::pb::envoy::config::core::v3::{transport_socket, TransportSocket};
use envoy_types::pb::envoy::config::listener::v3::{Filter, FilterChain, FilterChainMatch};
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{
    CommonTlsContext, DownstreamTlsContext, SdsSecretConfig, Secret,
};
use envoy_types::util::pack_any;
use k8s_openapi::api::networking::v1::Ingress;

use super::ads::ads;
use super::diagnostic::Diagnostics;
use super::host::Host;
use super::tls_secret::{self, secret_name, SecretError};
use crate::world::{ObjectKey, World};

/// ALPN offered on HTTPS; the HTTP connection manager speaks both.
const ALPN: [&str; 2] = ["h2", "http/1.1"];

/// What TLS the HTTPS listener serves.
#[derive(Debug, Default)]
pub struct TlsPlan {
    /// SNI hosts by SDS secret name; each host appears under exactly one secret.
    pub chains: BTreeMap<String, BTreeSet<String>>,
    /// The SDS resources, by name (only those some chain uses).
    pub secrets: BTreeMap<String, Secret>,
    /// Secrets each Ingress contributes a served host to.
    pub by_ingress: BTreeMap<ObjectKey, BTreeSet<String>>,
}

/// Plans TLS for `ingresses` (oldest first).
pub(crate) fn plan(
    world: &World,
    ingresses: &[(&ObjectKey, &Ingress)],
    diagnostics: &mut Diagnostics,
) -> TlsPlan {
    let mut loaded: BTreeMap<ObjectKey, Result<Secret, SecretError>> = BTreeMap::new();
    // host → (secret name, owning Ingress)
    let mut owners: BTreeMap<String, (String, ObjectKey)> = BTreeMap::new();
    let mut plan = TlsPlan::default();
    for (key, ingress) in ingresses {
        let entries = ingress.spec.iter().flat_map(|s| s.tls.iter().flatten());
        for entry in entries {
            let Some(name) = entry.secret_name.as_deref().filter(|n| !n.is_empty()) else {
                diagnostics.error(key, "tls entry has no secretName; its hosts get no HTTPS");
                continue;
            };
            let secret_key = ObjectKey::new(key.namespace.clone(), name);
            let hosts = entry_hosts(key, ingress, entry.hosts.as_deref(), diagnostics);
            if hosts.is_empty() {
                continue;
            }
            let secret = loaded
                .entry(secret_key.clone())
                .or_insert_with(|| tls_secret::load(world, &secret_key));
            let secret = match secret {
                Ok(secret) => secret,
                Err(e) => {
                    diagnostics.error(
                        key,
                        format!("{e}; HTTPS is not served for {}", list(&hosts)),
                    );
                    continue;
                }
            };
            let sds = secret_name(&secret_key);
            for host in hosts {
                match owners.get(&host) {
                    Some((winner_secret, winner)) if *winner_secret != sds => {
                        diagnostics.warning(
                            key,
                            format!(
                                "TLS host {host} already uses Secret {winner_secret} from older Ingress {winner}; Secret {sds} is ignored for it"
                            ),
                        );
                        continue;
                    }
                    Some(_) => {}
                    None => {
                        owners.insert(host.clone(), (sds.clone(), (*key).clone()));
                    }
                }
                plan.chains.entry(sds.clone()).or_default().insert(host);
                plan.by_ingress
                    .entry((*key).clone())
                    .or_default()
                    .insert(sds.clone());
                plan.secrets
                    .entry(sds.clone())
                    .or_insert_with(|| secret.clone());
            }
        }
    }
    plan
}

/// The valid hosts of one tls entry of Ingress `ingress` (stored under `key`).
fn entry_hosts(
    key: &ObjectKey,
    ingress: &Ingress,
    hosts: Option<&[String]>,
    diagnostics: &mut Diagnostics,
) -> BTreeSet<String> {
    match hosts.filter(|h| !h.is_empty()) {
        Some(hosts) => hosts
            .iter()
            .filter_map(|h| match Host::parse(h) {
                Ok(host) => Some(host.as_str().to_owned()),
                Err(e) => {
                    diagnostics.error(key, format!("tls: {e}; it gets no HTTPS"));
                    None
                }
            })
            .collect(),
        None => {
            let own = rule_hosts(ingress);
            if own.is_empty() {
                diagnostics.error(
                    key,
                    "tls entry lists no hosts and the Ingress has no rule hosts; it is ignored",
                );
            }
            own
        }
    }
}

/// The Ingress's valid rule hosts: what a tls entry without `hosts` covers.
/// Invalid ones were already reported with their rule.
fn rule_hosts(ingress: &Ingress) -> BTreeSet<String> {
    ingress
        .spec
        .iter()
        .flat_map(|s| s.rules.iter().flatten())
        .filter_map(|rule| rule.host.as_deref().filter(|h| !h.is_empty()))
        .filter_map(|host| Host::parse(host).ok())
        .map(|host| host.as_str().to_owned())
        .collect()
}

fn list(hosts: &BTreeSet<String>) -> String {
    hosts.iter().cloned().collect::<Vec<_>>().join(", ")
}

/// The HTTPS filter chain for the SNI `hosts` served with SDS secret `secret`.
pub fn filter_chain(secret: &str, hosts: &BTreeSet<String>, hcm: Filter) -> FilterChain {
    let tls = DownstreamTlsContext {
        common_tls_context: Some(CommonTlsContext {
            tls_certificate_sds_secret_configs: vec![SdsSecretConfig {
                name: secret.to_owned(),
                sds_config: Some(ads()),
            }],
            alpn_protocols: ALPN.iter().map(|s| (*s).to_owned()).collect(),
            ..CommonTlsContext::default()
        }),
        ..DownstreamTlsContext::default()
    };
    FilterChain {
        name: secret.to_owned(),
        filter_chain_match: Some(FilterChainMatch {
            server_names: hosts.iter().cloned().collect(),
            ..FilterChainMatch::default()
        }),
        filters: vec![hcm],
        transport_socket: Some(TransportSocket {
            name: "envoy.transport_sockets.tls".to_owned(),
            config_type: Some(transport_socket::ConfigType::TypedConfig(pack_any(tls))),
        }),
        ..FilterChain::default()
    }
}

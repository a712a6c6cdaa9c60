//! A snapshot cut down to the TLS Secrets one gateway may hold: a gateway
//! identity limited to some namespaces never receives another namespace's
//! private key. Its listeners lose the filter chains of the Secrets it may not
//! have (those SNI hosts are not served over HTTPS on that gateway), so what it
//! is sent stays consistent (invariant 2).

use envoy_types::pb::envoy::config::listener::v3::Listener;
use prost::Message;

use super::consistency::InconsistentSnapshot;
use super::references::chain_secrets;
use super::resource_type::ResourceType;
use super::snapshot::Snapshot;

// === impl Snapshot ===

impl Snapshot {
    /// This snapshot with only the Secrets `keep` allows, and listeners
    /// without the filter chains of the others (a listener left with none is
    /// dropped). `None` when every Secret is kept (use the snapshot itself).
    pub fn with_secrets_only(
        &self,
        keep: impl Fn(&str) -> bool,
    ) -> Option<Result<Snapshot, InconsistentSnapshot>> {
        let dropped: Vec<&String> = self
            .resources(ResourceType::Secret)
            .keys()
            .filter(|name| !keep(name))
            .collect();
        if dropped.is_empty() {
            return None;
        }
        let mut builder = self.edit();
        for (name, listener) in self.resources(ResourceType::Listener).iter() {
            let names_dropped = listener
                .references()
                .secrets
                .iter()
                .any(|s| dropped.contains(&s));
            if !names_dropped {
                continue;
            }
            let Ok(mut decoded) = Listener::decode(listener.value()) else {
                continue;
            };
            decoded
                .filter_chains
                .retain(|chain| chain_secrets(chain).iter().all(|s| keep(s)));
            builder = if decoded.filter_chains.is_empty() {
                builder.remove(ResourceType::Listener, name)
            } else {
                builder.listener(decoded)
            };
        }
        for name in dropped {
            builder = builder.remove(ResourceType::Secret, name);
        }
        Some(builder.build())
    }
}

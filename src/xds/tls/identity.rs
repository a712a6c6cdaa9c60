//! Who a client certificate says connects, and which node ids that identity
//! may use: a client can only ever speak for its own gateways.

use std::fmt;
use std::str::FromStr;

use crate::x509::san::subject_alt_names;

/// A gateway's verified identity: the first URI SAN of its client certificate
/// (`spiffe://<trust-domain>/gateway/<name>`, as `interlock certgen` issues),
/// else its first DNS SAN.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GatewayIdentity(String);

impl GatewayIdentity {
    /// The identity of a (verified) client certificate; `None` without SANs.
    pub fn from_certificate(der: &[u8]) -> Option<GatewayIdentity> {
        let names = subject_alt_names(der)?;
        let name = names.uris.into_iter().chain(names.dns).next()?;
        Some(GatewayIdentity(name))
    }

    /// An identity without a certificate (unit tests).
    #[cfg(test)]
    pub(crate) fn for_tests(name: &str) -> GatewayIdentity {
        GatewayIdentity(name.to_owned())
    }

    /// The identity as written in the certificate.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The gateway's name: the last path segment of a URI identity, the first
    /// label of a DNS one.
    pub fn gateway(&self) -> &str {
        match self.0.split_once("://") {
            Some((_, rest)) => rest.rsplit('/').next().unwrap_or(rest),
            None => self.0.split('.').next().unwrap_or(&self.0),
        }
    }
}

impl fmt::Display for GatewayIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A malformed `--node-id-rule`.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("node id rule {0:?} is not IDENTITY=PATTERN (IDENTITY may be *, PATTERN may use * and {{gateway}})")]
pub struct RuleError(String);

/// `IDENTITY=PATTERN`: clients with that identity (`*`: any) may use node ids
/// matching the pattern, where `*` matches any run of characters and
/// `{gateway}` stands for the identity's gateway name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeIdRule {
    identity: String,
    pattern: String,
}

impl FromStr for NodeIdRule {
    type Err = RuleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.rsplit_once('=') {
            Some((identity, pattern)) if !identity.is_empty() && !pattern.is_empty() => {
                Ok(NodeIdRule {
                    identity: identity.to_owned(),
                    pattern: pattern.to_owned(),
                })
            }
            _ => Err(RuleError(s.to_owned())),
        }
    }
}

/// Which node ids each identity may use. Without rules, the default: gateway
/// `<name>` may use node id `<name>` and `<name>-*`, which is what the pods of
/// a Deployment called `<name>` are named (the shipped manifests set the node id
/// to the pod name).
#[derive(Clone, Debug, Default)]
pub struct NodeIdRules {
    rules: Vec<NodeIdRule>,
}

impl NodeIdRules {
    /// The given rules, or the default when there are none.
    pub fn new(rules: Vec<NodeIdRule>) -> Self {
        NodeIdRules { rules }
    }

    /// True when `identity` may use `node_id`.
    pub fn allows(&self, identity: &GatewayIdentity, node_id: &str) -> bool {
        let gateway = identity.gateway();
        if self.rules.is_empty() {
            return node_id == gateway
                || node_id
                    .strip_prefix(gateway)
                    .is_some_and(|rest| rest.starts_with('-'));
        }
        self.rules.iter().any(|rule| {
            (rule.identity == "*" || rule.identity == identity.as_str())
                && glob(&rule.pattern.replace("{gateway}", gateway), node_id)
        })
    }
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else {
        return text.is_empty();
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> GatewayIdentity {
        GatewayIdentity(s.to_owned())
    }

    #[test]
    fn the_gateway_name_is_the_last_segment_or_first_label() {
        assert_eq!(
            id("spiffe://interlock.local/gateway/envoy").gateway(),
            "envoy"
        );
        assert_eq!(id("edge.gateways.example").gateway(), "edge");
    }

    #[test]
    fn by_default_a_gateway_speaks_only_for_its_own_pods() {
        let rules = NodeIdRules::default();
        let envoy = id("spiffe://interlock.local/gateway/envoy");
        assert!(rules.allows(&envoy, "envoy"));
        assert!(rules.allows(&envoy, "envoy-7d9f8-x2k4p"));
        assert!(!rules.allows(&envoy, "envoyx-1"));
        assert!(!rules.allows(&envoy, "edge-1"));
        assert!(!rules.allows(&envoy, "x-envoy-1"));
    }

    #[test]
    fn rules_name_identities_and_patterns() {
        let rules = NodeIdRules::new(vec![
            "spiffe://t/gateway/edge=edge-*-eu".parse().expect("rule"),
            "*=shared-{gateway}".parse().expect("rule"),
        ]);
        let edge = id("spiffe://t/gateway/edge");
        assert!(rules.allows(&edge, "edge-1-eu"));
        assert!(!rules.allows(&edge, "edge-1-us"));
        assert!(rules.allows(&edge, "shared-edge"));
        assert!(!rules.allows(&id("spiffe://t/gateway/other"), "edge-1-eu"));
        assert!("nope".parse::<NodeIdRule>().is_err());
        assert!("=x".parse::<NodeIdRule>().is_err());
    }

    #[test]
    fn glob_matches_runs() {
        assert!(glob("a*b*c", "aXXbYYc"));
        assert!(glob("*", ""));
        assert!(glob("abc", "abc"));
        assert!(!glob("abc", "abcd"));
        assert!(!glob("a*c", "ab"));
        assert!(glob("a*", "a"));
    }
}

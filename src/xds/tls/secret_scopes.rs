//! Which namespaces' TLS Secrets a gateway may receive: an operator can limit
//! a gateway identity to the Secrets of Ingresses in the namespaces it serves,
//! so a key never reaches a gateway that has no business holding it.

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::Arc;

use super::identity::GatewayIdentity;

/// A malformed `--gateway-namespaces`.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("gateway namespaces {0:?} is not IDENTITY=NAMESPACE[,NAMESPACE...] (IDENTITY: the full identity or the gateway name)")]
pub struct ScopeError(String);

/// `IDENTITY=ns1,ns2`: that gateway (its full identity, or its gateway name)
/// receives only the Secrets of these namespaces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayNamespaces {
    identity: String,
    namespaces: BTreeSet<String>,
}

impl FromStr for GatewayNamespaces {
    type Err = ScopeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || ScopeError(s.to_owned());
        let (identity, list) = s.rsplit_once('=').ok_or_else(invalid)?;
        let namespaces: BTreeSet<String> = list
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect();
        if identity.is_empty() || namespaces.is_empty() {
            return Err(invalid());
        }
        Ok(GatewayNamespaces {
            identity: identity.to_owned(),
            namespaces,
        })
    }
}

/// Every limit set. A gateway no rule names receives every Secret.
#[derive(Clone, Debug, Default)]
pub struct SecretScopes {
    rules: Vec<GatewayNamespaces>,
}

impl SecretScopes {
    /// The given limits.
    pub fn new(rules: Vec<GatewayNamespaces>) -> Self {
        SecretScopes { rules }
    }

    /// The namespaces whose Secrets `identity` may receive; `None`: all.
    pub fn for_identity(&self, identity: &GatewayIdentity) -> Option<Arc<BTreeSet<String>>> {
        let mut matched = self
            .rules
            .iter()
            .filter(|r| r.identity == identity.as_str() || r.identity == identity.gateway())
            .peekable();
        matched.peek()?;
        Some(Arc::new(
            matched.flat_map(|r| r.namespaces.iter().cloned()).collect(),
        ))
    }
}

/// True when the SDS Secret `name` (`namespace/name`, or `ca:namespace/name`
/// for a client-certificate CA) is in `namespaces`.
pub(crate) fn in_scope(namespaces: &BTreeSet<String>, name: &str) -> bool {
    let name = name.strip_prefix("ca:").unwrap_or(name);
    name.split_once('/')
        .is_some_and(|(namespace, _)| namespaces.contains(namespace))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_name_an_identity_or_a_gateway() {
        let scopes = SecretScopes::new(vec![
            "edge=a,b".parse().expect("rule"),
            "spiffe://t/gateway/edge=c".parse().expect("rule"),
        ]);
        let edge = GatewayIdentity::for_tests("spiffe://t/gateway/edge");
        let all = scopes.for_identity(&edge).expect("limited");
        assert_eq!(
            all.iter().map(String::as_str).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert!(in_scope(&all, "a/tls") && !in_scope(&all, "d/tls") && !in_scope(&all, "tls"));
        let other = GatewayIdentity::for_tests("spiffe://t/gateway/envoy");
        assert_eq!(scopes.for_identity(&other), None, "unlimited");
        assert!("edge=".parse::<GatewayNamespaces>().is_err());
        assert!("a,b".parse::<GatewayNamespaces>().is_err());
    }

    #[test]
    fn a_client_certificate_ca_is_scoped_by_its_secrets_namespace() {
        let namespaces = BTreeSet::from(["certs".to_owned()]);
        assert!(in_scope(&namespaces, "certs/tls"));
        assert!(in_scope(&namespaces, "ca:certs/ca"));
        assert!(!in_scope(&namespaces, "ca:other/ca"));
        assert!(!in_scope(&namespaces, "other/tls"));
    }
}

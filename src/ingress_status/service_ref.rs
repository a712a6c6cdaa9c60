//! `NAMESPACE/NAME` of a Service given on the command line.

use std::fmt;
use std::str::FromStr;

/// A Service by namespace and name (`--publish-service`, `--peer-service`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceRef {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

impl FromStr for ServiceRef {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('/') {
            Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
                Ok(ServiceRef {
                    namespace: ns.to_owned(),
                    name: name.to_owned(),
                })
            }
            _ => Err(format!("expected NAMESPACE/NAME, got {s:?}")),
        }
    }
}

impl fmt::Display for ServiceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_namespace_slash_name_only() {
        let s: ServiceRef = "gw/envoy".parse().expect("valid");
        assert_eq!((s.namespace.as_str(), s.name.as_str()), ("gw", "envoy"));
        for bad in ["envoy", "/envoy", "gw/", "a/b/c"] {
            assert!(bad.parse::<ServiceRef>().is_err(), "{bad}");
        }
    }
}

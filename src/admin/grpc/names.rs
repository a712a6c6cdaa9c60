//! Ingress names on the wire: "namespace/name".

use std::collections::BTreeSet;

use tonic::Status;

use crate::world::ObjectKey;

/// An Ingress name that is not "namespace/name".
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an Ingress name of the form namespace/name")]
pub struct BadIngressName(pub String);

/// Parses "namespace/name" (both parts non-empty, exactly one '/').
pub fn parse_ingress_name(name: &str) -> Result<ObjectKey, BadIngressName> {
    match name.split_once('/') {
        Some((ns, n)) if !ns.is_empty() && !n.is_empty() && !n.contains('/') => {
            Ok(ObjectKey::new(ns, n))
        }
        _ => Err(BadIngressName(name.to_owned())),
    }
}

/// Parses a request's name list; `None` when it is empty (meaning "all").
pub(super) fn parse_all(names: &[String]) -> Result<Option<BTreeSet<ObjectKey>>, Status> {
    if names.is_empty() {
        return Ok(None);
    }
    names
        .iter()
        .map(|n| parse_ingress_name(n).map_err(|e| Status::invalid_argument(e.to_string())))
        .collect::<Result<BTreeSet<_>, _>>()
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_need_a_namespace_and_a_name() {
        assert_eq!(parse_ingress_name("app/x"), Ok(ObjectKey::new("app", "x")));
        for bad in ["x", "/x", "app/", "a/b/c", ""] {
            assert!(parse_ingress_name(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_all(&[]).ok(), Some(None));
        assert!(parse_all(&["nope".to_owned()]).is_err());
    }
}

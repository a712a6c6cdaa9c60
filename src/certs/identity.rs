//! The names certificates carry, fixed here because the xDS server reads back what
//! certgen writes.
//!
//! A gateway's identity is the URI SAN `spiffe://<trust-domain>/gateway/<name>` of
//! its client certificate (also its CN, for humans reading `openssl x509`). A URI
//! SAN rather than a DNS SAN so that no client certificate can double as a server
//! certificate for some host name, and in SPIFFE form so that a mesh's SVIDs (Istio,
//! SPIRE) can be admitted by the same rule later.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::CertError;
use crate::x509::dns_name::valid_labels;

/// The trust domain when none is given.
pub const DEFAULT_TRUST_DOMAIN: &str = "interlock.local";

/// The DNS names of the shipped Interlock Service (`interlock` in
/// `interlock-system`) in every form a client may dial, and `localhost`.
pub const DEFAULT_SERVER_NAMES: [&str; 5] = [
    "interlock",
    "interlock.interlock-system",
    "interlock.interlock-system.svc",
    "interlock.interlock-system.svc.cluster.local",
    "localhost",
];

/// The IP SANs of every server certificate: loopback, for a gateway beside Interlock.
pub const DEFAULT_SERVER_IPS: [IpAddr; 2] = [
    IpAddr::V4(Ipv4Addr::LOCALHOST),
    IpAddr::V6(Ipv6Addr::LOCALHOST),
];

/// The path under the trust domain that gateway identities live in.
const GATEWAY_PATH: &str = "/gateway/";

/// The identity (URI SAN) of gateway `gateway` in `trust_domain`:
/// `spiffe://<trust_domain>/gateway/<gateway>`. Does not validate; see
/// [`validate_trust_domain`] and [`validate_gateway_name`].
pub fn gateway_identity(trust_domain: &str, gateway: &str) -> String {
    format!("spiffe://{trust_domain}{GATEWAY_PATH}{gateway}")
}

/// The gateway name in `uri` if it is a gateway identity of `trust_domain` with a
/// valid name; `None` for anything else (another trust domain, another path,
/// trailing segments, a query).
pub fn gateway_from_identity<'a>(uri: &'a str, trust_domain: &str) -> Option<&'a str> {
    let name = uri
        .strip_prefix("spiffe://")?
        .strip_prefix(trust_domain)?
        .strip_prefix(GATEWAY_PATH)?;
    validate_gateway_name(name).ok().map(|()| name)
}

/// Checks a SPIFFE trust domain name: 1 to 255 of lowercase letters, digits, `.`,
/// `-` and `_` (SPIFFE-ID §2.1), so it can stand in a URI as is.
pub fn validate_trust_domain(value: &str) -> Result<(), CertError> {
    let invalid = |reason| CertError::InvalidTrustDomain {
        value: value.to_owned(),
        reason,
    };
    if value.is_empty() || value.len() > 255 {
        return Err(invalid("must be 1 to 255 characters"));
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
    {
        return Err(invalid(
            "only lowercase letters, digits, '.', '-' and '_' are allowed",
        ));
    }
    Ok(())
}

/// Checks a gateway name. It becomes a directory name (`<out-dir>/<name>/`), a
/// Secret name suffix and a SPIFFE path segment, so it must be a DNS label (RFC
/// 1123: 1 to 63 lowercase letters, digits and `-`, alphanumeric at both ends),
/// and not `server` (the server's directory beside it) or `ca` (beside `ca.crt`
/// and `ca.key`, and reserved).
pub fn validate_gateway_name(value: &str) -> Result<(), CertError> {
    let invalid = |reason| CertError::InvalidGatewayName {
        value: value.to_owned(),
        reason,
    };
    if !is_dns_label(value) {
        return Err(invalid(
            "must be a DNS label: 1 to 63 lowercase letters, digits and '-', alphanumeric at both ends",
        ));
    }
    if value == "ca" || value == "server" {
        return Err(invalid("'ca' and 'server' name certgen's other output"));
    }
    Ok(())
}

/// Checks a DNS name for a server certificate: 1 to 253 characters, labels of
/// letters, digits and `-`, optionally a leading `*.` wildcard. IP addresses are
/// refused: they belong in IP SANs, where TLS clients look for them.
pub fn validate_server_name(value: &str) -> Result<(), CertError> {
    let invalid = |reason| CertError::InvalidServerName {
        value: value.to_owned(),
        reason,
    };
    if value.parse::<IpAddr>().is_ok() {
        return Err(invalid(
            "an IP address, not a DNS name: give it as an IP SAN",
        ));
    }
    if value.is_empty() || value.len() > 253 {
        return Err(invalid("must be 1 to 253 characters"));
    }
    if !valid_labels(value.strip_prefix("*.").unwrap_or(value)) {
        return Err(invalid(
            "labels must be 1 to 63 letters, digits and '-', not starting or ending with '-'",
        ));
    }
    Ok(())
}

/// An RFC 1123 label: 1 to 63 of `[a-z0-9-]`, alphanumeric at both ends.
pub(super) fn is_dns_label(value: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    match (value.bytes().next(), value.bytes().last()) {
        (Some(first), Some(last)) => {
            value.len() <= 63
                && alnum(first)
                && alnum(last)
                && value.bytes().all(|b| alnum(b) || b == b'-')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_round_trip_and_nothing_else_parses() {
        let uri = gateway_identity("interlock.local", "envoy-1");
        assert_eq!(uri, "spiffe://interlock.local/gateway/envoy-1");
        assert_eq!(
            gateway_from_identity(&uri, "interlock.local"),
            Some("envoy-1")
        );
        for other in [
            "spiffe://other.local/gateway/envoy-1",
            "spiffe://interlock.local/gateway/envoy-1/x",
            "spiffe://interlock.local/gateway/",
            "spiffe://interlock.local/ns/a/sa/envoy",
            "spiffe://interlock.localx/gateway/envoy",
            "https://interlock.local/gateway/envoy",
            "spiffe://interlock.local/gateway/Envoy",
            "spiffe://interlock.local/gateway/envoy?x=1",
        ] {
            assert_eq!(
                gateway_from_identity(other, "interlock.local"),
                None,
                "{other}"
            );
        }
    }

    #[test]
    fn names_are_checked() {
        assert!(validate_trust_domain(DEFAULT_TRUST_DOMAIN).is_ok());
        assert!(validate_trust_domain("Upper.local").is_err());
        assert!(validate_trust_domain("a/b").is_err());
        assert!(validate_trust_domain("").is_err());
        assert!(validate_gateway_name("envoy").is_ok());
        for bad in ["", "-a", "a-", "a.b", "A", "ca", "server", &"a".repeat(64)] {
            assert!(validate_gateway_name(bad).is_err(), "{bad:?}");
        }
        for name in DEFAULT_SERVER_NAMES {
            assert!(validate_server_name(name).is_ok(), "{name}");
        }
        assert!(validate_server_name("*.example.com").is_ok());
        for bad in ["", "a..b", "-a.b", "a b", "127.0.0.1", "::1", "a.*.b"] {
            assert!(validate_server_name(bad).is_err(), "{bad:?}");
        }
    }
}

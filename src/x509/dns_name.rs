//! What a DNS SAN may be: the rule the certificate generator and the Envoy
//! bootstrap both check a server name against.

use std::net::IpAddr;

/// Why a name is not a DNS name.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DnsNameProblem {
    /// It is an IP address (an IP SAN, not a DNS one).
    IpAddress,
    /// It is empty or longer than 253 characters.
    Length,
    /// A label is empty, longer than 63, or not letters, digits and inner `-`.
    Labels,
}

/// What is wrong with `name` as a DNS name (case-insensitive, no wildcard),
/// if anything.
pub fn dns_name_problem(name: &str) -> Option<DnsNameProblem> {
    if name.parse::<IpAddr>().is_ok() {
        return Some(DnsNameProblem::IpAddress);
    }
    if name.is_empty() || name.len() > 253 {
        return Some(DnsNameProblem::Length);
    }
    (!valid_labels(name)).then_some(DnsNameProblem::Labels)
}

/// Every dot-separated label of `name` is 1 to 63 letters, digits and inner `-`.
pub fn valid_labels(name: &str) -> bool {
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    name.split('.').all(label_ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_ips_lengths_and_labels() {
        assert_eq!(dns_name_problem("interlock.interlock-system.svc"), None);
        assert_eq!(dns_name_problem("Localhost"), None);
        assert_eq!(
            dns_name_problem("127.0.0.1"),
            Some(DnsNameProblem::IpAddress)
        );
        assert_eq!(dns_name_problem(""), Some(DnsNameProblem::Length));
        assert_eq!(dns_name_problem("-a.b"), Some(DnsNameProblem::Labels));
        assert_eq!(dns_name_problem("a..b"), Some(DnsNameProblem::Labels));
        assert_eq!(dns_name_problem("*.b"), Some(DnsNameProblem::Labels));
    }
}

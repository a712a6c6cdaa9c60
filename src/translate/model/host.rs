//! Hosts: validation and the one-label wildcard check.
//!
//! A host is a lowercase DNS-1123 subdomain (at most 253 characters, labels of at
//! most 63) that is not an IP address, or `*.` followed by one: the wildcard is only
//! ever the whole first label. Envoy's own `*.foo.com` domain matches any number of
//! labels, while Ingress wildcards match exactly one, so routes of a wildcard host
//! also carry [`Host::authority_regex`].

use std::fmt;
use std::net::Ipv4Addr;
use std::sync::OnceLock;

use crate::translate::regex;

/// The longest host Kubernetes accepts.
const MAX_HOST_LEN: usize = 253;

/// The longest DNS label.
const MAX_LABEL_LEN: usize = 63;

/// Why a host is not served.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// An IP address is not a host name (Ingress hosts are DNS names).
    #[error("host {0:?} is an IP address; Ingress hosts must be DNS names")]
    IpAddress(String),
    /// Not a lowercase DNS-1123 subdomain, or a wildcard elsewhere than the first label.
    #[error("host {0:?} is not a valid DNS-1123 subdomain (lowercase letters, digits, '-' and '.'; a wildcard only as the whole first label)")]
    Invalid(String),
    /// A wildcard with so many labels that its one-label check would exceed Envoy's regex size limit.
    #[error("wildcard host {0:?} has too many labels to check in Envoy")]
    TooManyLabels(String),
}

/// A valid Ingress host. Ordered by its text, so virtual hosts sort by name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    /// `foo.com`.
    Exact(String),
    /// `*.foo.com` (the whole string, wildcard included).
    Wildcard(String),
}

impl Host {
    /// Validates a host from an Ingress rule or TLS entry.
    pub fn parse(host: &str) -> Result<Host, HostError> {
        if host.parse::<Ipv4Addr>().is_ok() {
            return Err(HostError::IpAddress(host.to_owned()));
        }
        let invalid = || HostError::Invalid(host.to_owned());
        match host.strip_prefix("*.") {
            Some(rest) => {
                if !is_subdomain(rest) || host.len() > MAX_HOST_LEN {
                    return Err(invalid());
                }
                if !authority_regex_fits(host.split('.').count()) {
                    return Err(HostError::TooManyLabels(host.to_owned()));
                }
                Ok(Host::Wildcard(host.to_owned()))
            }
            None if is_subdomain(host) => Ok(Host::Exact(host.to_owned())),
            None if host.contains(':') && host.parse::<std::net::Ipv6Addr>().is_ok() => {
                Err(HostError::IpAddress(host.to_owned()))
            }
            None => Err(invalid()),
        }
    }

    /// The host as written, which is also its Envoy virtual-host domain.
    pub fn as_str(&self) -> &str {
        match self {
            Host::Exact(h) | Host::Wildcard(h) => h,
        }
    }

    /// For a wildcard, an RE2 pattern the whole `:authority` must match: exactly
    /// one label where the `*` is, as many labels as the suffix, and an optional
    /// port. The virtual host's `*.suffix` domain already guarantees the suffix, so
    /// counting labels suffices, and the pattern stays case-insensitive for free.
    pub fn authority_regex(&self) -> Option<String> {
        let Host::Wildcard(host) = self else {
            return None;
        };
        Some(authority_pattern(host.split('.').count()))
    }
}

/// The one-label `:authority` regex of a wildcard host with `labels` labels.
fn authority_pattern(labels: usize) -> String {
    let mut re = String::from("[^.]+");
    for _ in 1..labels {
        re.push_str("\\.[^.]+");
    }
    re.push_str("(?::[0-9]+)?");
    re
}

/// True when RE2 accepts, within Envoy's limit, the authority regex for `labels`
/// labels. It depends only on the count (at most 127 in a 253-character host),
/// so RE2 answers once per count, not once per host and translation.
fn authority_regex_fits(labels: usize) -> bool {
    static FITS: OnceLock<Vec<bool>> = OnceLock::new();
    let fits = FITS.get_or_init(|| {
        (0..=MAX_HOST_LEN.div_ceil(2))
            .map(|n| regex::fits_envoy(&authority_pattern(n)))
            .collect()
    });
    fits.get(labels).copied().unwrap_or(false)
}

impl Ord for Host {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Exact hosts never contain '*', so the text alone identifies a host.
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for Host {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// True for a lowercase RFC 1123 subdomain, as Kubernetes validates it.
fn is_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_HOST_LEN && s.split('.').all(is_label)
}

fn is_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            bytes.len() <= MAX_LABEL_LEN
                && alnum(first)
                && alnum(last)
                && bytes.iter().all(|b| alnum(b) || *b == b'-')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_names_and_one_label_wildcards() {
        assert_eq!(Host::parse("foo.com"), Ok(Host::Exact("foo.com".into())));
        assert_eq!(Host::parse("a-b.c1"), Ok(Host::Exact("a-b.c1".into())));
        assert_eq!(
            Host::parse("*.foo.com"),
            Ok(Host::Wildcard("*.foo.com".into()))
        );
    }

    #[test]
    fn rejects_ips_and_malformed_hosts() {
        for bad in ["1.2.3.4", "::1", "fe80::1"] {
            assert!(
                matches!(Host::parse(bad), Err(HostError::IpAddress(_))),
                "{bad}"
            );
        }
        for bad in [
            "",
            "*",
            "Foo.com",
            "foo..com",
            "-foo.com",
            "foo-.com",
            "foo.com.",
            "*.*.foo.com",
            "a.*.foo.com",
            "*foo.com",
            "foo_bar.com",
            "foo.com:80",
            "*.",
            "foo com",
        ] {
            assert!(
                matches!(Host::parse(bad), Err(HostError::Invalid(_))),
                "{bad:?}"
            );
        }
        let long = format!("{}.com", "a".repeat(64));
        assert!(Host::parse(&long).is_err());
    }

    #[test]
    fn wildcard_regex_counts_labels() {
        let host = Host::parse("*.foo.com").unwrap();
        assert_eq!(
            host.authority_regex().as_deref(),
            Some("[^.]+\\.[^.]+\\.[^.]+(?::[0-9]+)?")
        );
        assert_eq!(Host::parse("foo.com").unwrap().authority_regex(), None);
    }

    #[test]
    fn every_accepted_wildcards_regex_passes_re2() {
        for labels in 2..=127 {
            let host = format!("*.{}", vec!["a"; labels - 1].join("."));
            if let Ok(parsed) = Host::parse(&host) {
                let re = parsed.authority_regex().unwrap_or_default();
                assert_eq!(regex::validate(&re), Ok(()), "{host}");
            }
        }
    }

    #[test]
    fn wildcard_with_too_many_labels_is_refused() {
        // 23 labels: program size 100, which Envoy 1.40 accepts; 24: 104.
        let fits = format!("*.{}", vec!["a"; 22].join("."));
        assert!(Host::parse(&fits).is_ok());
        let over = format!("*.{}", vec!["a"; 23].join("."));
        assert_eq!(Host::parse(&over), Err(HostError::TooManyLabels(over)));
        let host = format!("*.{}", vec!["a"; 40].join("."));
        assert!(matches!(
            Host::parse(&host),
            Err(HostError::TooManyLabels(_))
        ));
    }
}

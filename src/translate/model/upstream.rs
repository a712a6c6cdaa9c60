//! Upstream settings: how Envoy talks to a backend's endpoints (protocol, TLS,
//! load balancing, connect timeout, which addresses).
//!
//! They are properties of the *cluster*, and one Service port may be used by
//! several objects asking for different ones, so they are part of the cluster's
//! identity: the default settings keep the plain Service-port name
//! (`<ns>/<svc>:<port>`), any other settings add a suffix derived from them
//! alone (`~` + a stable hash of their description, invariant 10). Two objects
//! asking for the same settings share one cluster.
//!
//! The session cookie of cookie affinity is a route property
//! ([`SessionCookie`], in the route policy); the cluster only balances by hash
//! ([`Balance::RingHash`]).

use std::fmt::{self, Write as _};
use std::net::IpAddr;
use std::time::Duration;

/// How Envoy reaches one cluster's endpoints. `Default` is what a backend
/// without annotations gets (HTTP/1.1, plain text, round robin, 5 s connect
/// timeout, the EndpointSlices' addresses). Every default value sorts first,
/// so a default-settings probe is the smallest of a name.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UpstreamSettings {
    /// The HTTP version spoken to the endpoints.
    pub protocol: UpstreamProtocol,
    /// TLS to the endpoints; `None` is plain text.
    pub tls: Option<Box<UpstreamTls>>,
    /// How requests are spread over the endpoints.
    pub balance: Balance,
    /// TCP connect timeout; `None` is the default.
    pub connect_timeout: Option<Duration>,
    /// Which addresses are the endpoints.
    pub addresses: Addresses,
}

/// The HTTP version spoken to the endpoints.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UpstreamProtocol {
    /// HTTP/1.1.
    #[default]
    Http1,
    /// HTTP/2 (over TLS when [`UpstreamSettings::tls`] is set, else cleartext
    /// h2c with prior knowledge).
    Http2,
}

/// How requests are spread over the endpoints.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Balance {
    /// Round robin.
    #[default]
    RoundRobin,
    /// The endpoint with the fewest active requests (of two picked at random).
    LeastRequest,
    /// A consistent hash ring over the route's hash (cookie affinity).
    RingHash,
}

/// Which addresses are the cluster's endpoints.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Addresses {
    /// The ready endpoints of the Service port's EndpointSlices.
    #[default]
    Endpoints,
    /// One endpoint: the Service's cluster IP (and the Service port).
    ClusterIp(IpAddr),
}

/// TLS to the endpoints. Only public data: the CA bundle, never a key.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UpstreamTls {
    /// SNI sent; `None` sends none (unless `sni_from_host`).
    pub sni: Option<String>,
    /// Send the request's `Host` as SNI (when `sni` is `None`).
    pub sni_from_host: bool,
    /// Verify the endpoint's certificate; `None` accepts any.
    pub verify: Option<UpstreamVerify>,
    /// Lowest and highest TLS version offered; `None` is Envoy's default.
    pub versions: Option<(TlsVersion, TlsVersion)>,
    /// Cipher suites offered (TLS ≤ 1.2), in order; empty is Envoy's default.
    pub ciphers: Vec<String>,
}

/// How the endpoint's certificate is verified.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UpstreamVerify {
    /// Trusted CA certificates (PEM).
    pub trusted_ca: Vec<u8>,
    /// Longest chain accepted below the leaf; `None` is Envoy's default.
    pub depth: Option<u32>,
    /// The name the certificate must carry (DNS SAN); `None` checks the
    /// chain only.
    pub name: Option<String>,
}

/// A TLS protocol version.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TlsVersion {
    /// TLS 1.0.
    V1_0,
    /// TLS 1.1.
    V1_1,
    /// TLS 1.2.
    V1_2,
    /// TLS 1.3.
    V1_3,
}

/// The cookie a route hashes requests on (cookie affinity). Envoy generates it
/// when the request has none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionCookie {
    /// Its name.
    pub name: String,
    /// Its `Path`; `None` sets none.
    pub path: Option<String>,
    /// Its `Max-Age`; `None` makes a session cookie.
    pub max_age: Option<Duration>,
    /// Extra attributes of the generated cookie (`SameSite`, `Secure`), each
    /// a name and a value (empty for a flag).
    pub attributes: Vec<(String, String)>,
}

// === impl UpstreamSettings ===

impl UpstreamSettings {
    /// True for the settings of a backend nobody configured.
    pub fn is_default(&self) -> bool {
        *self == UpstreamSettings::default()
    }

    /// The suffix these settings add to the Service port's cluster name: empty
    /// for the default settings, else `~` and 16 hex digits of a stable hash
    /// of [`Self::describe`] (FNV-1a, fixed: names must not change between
    /// releases or replicas). The cluster IP is left out: it is content, not
    /// identity (a changed IP edits the cluster in place).
    pub fn name_suffix(&self) -> String {
        if self.is_default() {
            return String::new();
        }
        format!("~{:016x}", fnv1a(self.describe().as_bytes()))
    }

    /// A canonical text of the settings that name a cluster.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let _ = write!(out, "proto={:?};", self.protocol);
        if let Some(tls) = &self.tls {
            let _ = write!(out, "tls(sni={:?},host-sni={}", tls.sni, tls.sni_from_host);
            if let Some(v) = &tls.verify {
                let _ = write!(
                    out,
                    ",verify(ca={:016x},depth={:?},name={:?})",
                    fnv1a(&v.trusted_ca),
                    v.depth,
                    v.name
                );
            }
            let _ = write!(
                out,
                ",versions={:?},ciphers={:?});",
                tls.versions, tls.ciphers
            );
        }
        let _ = write!(out, "lb={:?};", self.balance);
        if let Some(t) = self.connect_timeout {
            let _ = write!(out, "connect={}ms;", t.as_millis());
        }
        if let Addresses::ClusterIp(_) = self.addresses {
            out.push_str("addresses=cluster-ip;");
        }
        out
    }
}

/// 64-bit FNV-1a: a fixed, dependency-free hash for stable names.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

// === impl TlsVersion ===

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsVersion::V1_0 => "TLSv1",
            TlsVersion::V1_1 => "TLSv1.1",
            TlsVersion::V1_2 => "TLSv1.2",
            TlsVersion::V1_3 => "TLSv1.3",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_settings_add_nothing_to_the_name() {
        assert_eq!(UpstreamSettings::default().name_suffix(), "");
    }

    #[test]
    fn other_settings_give_a_stable_suffix_of_their_own() {
        let h2 = UpstreamSettings {
            protocol: UpstreamProtocol::Http2,
            ..UpstreamSettings::default()
        };
        let least = UpstreamSettings {
            balance: Balance::LeastRequest,
            ..UpstreamSettings::default()
        };
        // Pinned: a release that changes it renames every variant cluster.
        assert_eq!(h2.name_suffix(), "~87b1ff4084a6fff9");
        assert_ne!(h2.name_suffix(), least.name_suffix());
        assert_eq!(h2.name_suffix(), h2.clone().name_suffix());
    }

    #[test]
    fn the_cluster_ip_is_content_not_identity() {
        let at = |ip: [u8; 4]| UpstreamSettings {
            addresses: Addresses::ClusterIp(IpAddr::from(ip)),
            ..UpstreamSettings::default()
        };
        assert_eq!(
            at([10, 0, 0, 1]).name_suffix(),
            at([10, 0, 0, 2]).name_suffix()
        );
        assert_ne!(at([10, 0, 0, 1]).name_suffix(), "");
    }
}

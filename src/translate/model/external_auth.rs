//! External authentication (ingress-nginx's `auth-url`): before a request is
//! forwarded, a check request goes to an HTTP service; its 200 lets the request
//! through (with some of its headers copied onto it), anything else is the
//! answer.
//!
//! The service is described by scheme, host and port only, and its cluster is
//! named after exactly that ([`AuthServer::cluster_name`]), so every route
//! naming the same server shares one cluster and the name never depends on
//! which Ingress asked first.

use std::fmt;
use std::net::IpAddr;

/// External authentication of a route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalAuth {
    /// Where the check request goes.
    pub server: AuthServer,
    /// Path (and query) of the check request: the URL's, whatever the
    /// client asked for.
    pub path: String,
    /// Response headers of the auth service copied onto the upstream request
    /// (lower case).
    pub response_headers: Vec<String>,
    /// Value of `X-Auth-Request-Redirect`; `None`: the request's path and query.
    pub request_redirect: Option<String>,
    /// Also send `X-Original-URI` and `X-Scheme` (ingress-nginx adds them when
    /// a method is configured).
    pub original_uri_headers: bool,
    /// Pass the service's `Set-Cookie` to the client when it refuses too (it
    /// always is when it admits).
    pub always_set_cookie: bool,
    /// Where a client the service refused with 401 is redirected (302).
    pub signin: Option<SigninUrl>,
}

/// A URL built per request: literal text and parts of the client's request
/// (ingress-nginx's `auth-signin` with its `rd` parameter and variables).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigninUrl {
    /// The parts, in order.
    pub parts: Vec<UrlPart>,
}

/// One part of a [`SigninUrl`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UrlPart {
    /// This text.
    Text(String),
    /// The client's scheme (`http` or `https`).
    Scheme,
    /// The client's `Host` header.
    Host,
    /// The client's path and query.
    RequestUri,
}

/// An HTTP(S) server, by scheme, host and port.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AuthServer {
    /// Reached over TLS.
    pub tls: bool,
    /// Its address or DNS name.
    pub host: AuthHost,
    /// Its port.
    pub port: u16,
}

/// How an [`AuthServer`] is found.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AuthHost {
    /// A literal address.
    Ip(IpAddr),
    /// A DNS name (lower case), resolved by the gateway.
    Name(String),
}

// === impl AuthServer ===

impl AuthServer {
    /// The cluster reaching this server: `external-auth|<scheme>://<host>:<port>`
    /// (`|` cannot occur in a Kubernetes name, so it never meets a Service
    /// cluster's `<namespace>/<service>:<port>`).
    pub fn cluster_name(&self) -> String {
        format!("external-auth|{self}")
    }

    /// The `Host` a URL naming this server would carry.
    pub fn authority(&self) -> String {
        let default = if self.tls { 443 } else { 80 };
        match self.port == default {
            true => self.host.to_string(),
            false => format!("{}:{}", self.host, self.port),
        }
    }
}

impl fmt::Display for AuthServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "https" } else { "http" };
        write!(f, "{scheme}://{}:{}", self.host, self.port)
    }
}

// === impl AuthHost ===

impl fmt::Display for AuthHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthHost::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            AuthHost::Ip(ip) => write!(f, "{ip}"),
            AuthHost::Name(name) => f.write_str(name),
        }
    }
}

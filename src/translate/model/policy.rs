//! Per-route policy values: what a route does to a request besides choosing its
//! backends (rewrites, timeouts, retries, access control, CORS, auth, limits).
//!
//! Each field is `None` (or empty) unless a source asked for it, so a route
//! nobody configured renders exactly as before policies existed. Plain values:
//! sources (Ingress annotations today) fill them in, the render turns them into
//! Envoy route fields or per-route filter configuration.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use super::backend::ClusterTarget;
use super::custom_errors::CustomErrors;
use super::external_auth::ExternalAuth;

/// Per-route policy (timeouts, retries, CORS, auth, body size, source ranges, …).
/// Ingress without annotations sets none, so it is empty: the render then gives
/// every forwarding route the same defaults. The larger, rarer parts are boxed:
/// every path of every Ingress carries a policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoutePolicy {
    /// Rewrite the path before forwarding.
    pub rewrite: Option<Box<Rewrite>>,
    /// Send `X-Forwarded-Prefix` with this value upstream.
    pub forwarded_prefix: Option<String>,
    /// Send this `Host` upstream instead of the client's.
    pub upstream_host: Option<String>,
    /// On plain HTTP, answer with a redirect to HTTPS instead of serving.
    pub https_redirect: Option<RedirectCode>,
    /// How long the upstream may stay silent while a response is awaited.
    pub read_timeout: Option<Duration>,
    /// When to try another upstream endpoint.
    pub retry: Option<Box<Retry>>,
    /// Largest request body accepted; larger ones are answered 413.
    pub max_body_bytes: Option<u64>,
    /// Which client addresses may use the route; others are answered 403.
    pub source_ranges: Option<Box<SourceRanges>>,
    /// Requests per client address per interval; excess is refused.
    pub rate_limit: Option<Box<RateLimit>>,
    /// CORS: preflights answered by the gateway, response headers added.
    pub cors: Option<Box<Cors>>,
    /// HTTP basic authentication; failures are answered 401.
    pub basic_auth: Option<Box<BasicAuth>>,
    /// Hash requests on this cookie (cookie affinity), generating it if absent.
    pub session_cookie: Option<Box<super::upstream::SessionCookie>>,
    /// External authentication by an HTTP service.
    pub external_auth: Option<Box<ExternalAuth>>,
    /// Where requests go while none of the route's backends has a healthy
    /// endpoint (ingress-nginx's `default-backend` annotation).
    pub default_backend: Option<Arc<ClusterTarget>>,
    /// Upstream statuses answered by an error backend instead.
    pub custom_errors: Option<Box<CustomErrors>>,
    /// Tell the upstream about the client's TLS certificate (set where the
    /// host asks for client certificates).
    pub client_certificate: Option<ClientCertificateHeaders>,
}

/// The headers that tell the upstream about the client's certificate, as
/// ingress-nginx sends them with `auth-tls-secret`: `ssl-client-subject-dn`
/// and `ssl-client-issuer-dn`, and `ssl-client-cert` (the URL-encoded PEM)
/// with `auth-tls-pass-certificate-to-upstream`. What the client sent under
/// those names is always removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientCertificateHeaders {
    /// Send the certificate itself (`ssl-client-cert`).
    pub certificate: bool,
}

/// A path rewrite: every match of `pattern` (RE2) in the path is replaced by
/// `substitution` (`\1`-style group references).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rewrite {
    /// RE2 pattern, already accepted by [`crate::translate::regex::validate`].
    pub pattern: String,
    /// The replacement.
    pub substitution: String,
}

/// The status codes a redirect can answer with (the ones Envoy can send).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RedirectCode {
    /// 301.
    MovedPermanently,
    /// 302.
    Found,
    /// 303.
    SeeOther,
    /// 307.
    TemporaryRedirect,
    /// 308.
    PermanentRedirect,
}

/// Retries: on which failures, and how many more attempts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retry {
    /// Retry after a connection failure or reset.
    pub on_error: bool,
    /// Retry after the upstream timed out.
    pub on_timeout: bool,
    /// Retry on these response statuses.
    pub statuses: Vec<u32>,
    /// Attempts after the first one.
    pub retries: u32,
}

/// Allowed and denied client address ranges. A client is admitted when it is
/// in no denied range and, if any allowed range is given, in one of those.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceRanges {
    /// Allowed ranges; empty means every address not denied.
    pub allow: Vec<Cidr>,
    /// Denied ranges.
    pub deny: Vec<Cidr>,
}

/// An address range.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr {
    /// The network address.
    pub address: IpAddr,
    /// Prefix length in bits.
    pub prefix_len: u8,
}

/// A token bucket: `per_interval` requests each `interval`, bursts up to `burst`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Tokens added each interval.
    pub per_interval: u32,
    /// The fill interval.
    pub interval: Duration,
    /// Bucket size.
    pub burst: u32,
    /// Status answered when the bucket is empty.
    pub status: u16,
}

/// CORS policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cors {
    /// Allowed origins; `*` alone allows any.
    pub allow_origins: Vec<CorsOrigin>,
    /// `Access-Control-Allow-Methods`.
    pub allow_methods: String,
    /// `Access-Control-Allow-Headers`.
    pub allow_headers: String,
    /// `Access-Control-Expose-Headers` (empty: not sent).
    pub expose_headers: String,
    /// `Access-Control-Allow-Credentials`.
    pub allow_credentials: bool,
    /// `Access-Control-Max-Age`, in seconds.
    pub max_age_secs: u64,
}

/// One allowed CORS origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CorsOrigin {
    /// Any origin.
    Any,
    /// Exactly this origin.
    Exact(String),
    /// A `scheme://*.domain[:port]` pattern, as an RE2 regex over the whole origin.
    Pattern(String),
}

/// HTTP basic authentication.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicAuth {
    /// `user:{SHA}hash` lines (htpasswd format).
    pub users: String,
    /// Realm shown in the `WWW-Authenticate` challenge.
    pub realm: Option<String>,
}

// === impl RedirectCode ===

impl RedirectCode {
    /// The code for a status number, if a redirect can answer with it.
    pub fn from_status(status: u16) -> Option<Self> {
        Some(match status {
            301 => RedirectCode::MovedPermanently,
            302 => RedirectCode::Found,
            303 => RedirectCode::SeeOther,
            307 => RedirectCode::TemporaryRedirect,
            308 => RedirectCode::PermanentRedirect,
            _ => return None,
        })
    }

    /// The status number.
    pub fn status(self) -> u16 {
        match self {
            RedirectCode::MovedPermanently => 301,
            RedirectCode::Found => 302,
            RedirectCode::SeeOther => 303,
            RedirectCode::TemporaryRedirect => 307,
            RedirectCode::PermanentRedirect => 308,
        }
    }
}

// === impl Cidr ===

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}

// === impl BasicAuth ===

impl fmt::Debug for BasicAuth {
    /// Password hashes never reach a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuth")
            .field("users", &self.users.lines().count())
            .field("realm", &self.realm)
            .finish()
    }
}

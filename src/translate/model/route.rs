//! What a route does once its path matches: its action and its per-route policy.
//!
//! Sources fill these in; the render turns them into Envoy route actions. Later
//! sources and annotations extend them here (a redirect is another [`Action`], a
//! timeout or a CORS policy goes into [`RoutePolicy`]), never in the render alone.

use super::backend::WeightedBackend;
use super::policy::RedirectCode;
pub use super::policy::RoutePolicy;

/// How a matching request is answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Forward to the backends.
    Forward(Forward),
    /// Answer 503: the backend named cannot be resolved. The route keeps its
    /// place in the precedence order instead of falling through to a shorter path
    /// or a 404 (invariant 8).
    Unavailable,
    /// Answer with a redirect.
    Redirect(Box<Redirect>),
}

/// A redirect: each part set replaces that part of the request's URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    /// New scheme (`https`, …).
    pub scheme: Option<String>,
    /// New host.
    pub host: Option<String>,
    /// New port.
    pub port: Option<u16>,
    /// New path (may carry a query string, which then replaces the request's).
    pub path: Option<String>,
    /// Drop the request's query string.
    pub strip_query: bool,
    /// The status answered.
    pub code: RedirectCode,
}

/// Forwarding to one or more weighted backends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Forward {
    /// The backends, in the order their source names them; never empty.
    pub backends: Vec<WeightedBackend>,
}

/// How a winning path is served, and what to report about it when it does win.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Served {
    /// What the route does.
    pub action: Action,
    /// Its policy.
    pub policy: RoutePolicy,
    /// A problem reported as an error only if this path is served (e.g. its
    /// Service is missing, so it answers 503). A path that loses to an older one
    /// reports the conflict instead.
    pub problem: Option<String>,
}

// === impl Forward ===

impl Forward {
    /// Forward everything to one backend.
    pub fn to(backend: WeightedBackend) -> Self {
        Forward {
            backends: vec![backend],
        }
    }
}

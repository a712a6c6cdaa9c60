//! One source object's contribution: everything it asks for, read on its own,
//! before it meets the other objects in [`super::merge`].
//!
//! A contribution depends only on its object and on world lookups (Services,
//! Secrets), never on other objects of its kind, so it can be kept and reused
//! until one of those changes. What it asks for may still lose to an older
//! object's claim; what it reports about itself alone is in `diagnostics`, and
//! what would only matter if a claim wins (e.g. its Service is missing) travels
//! with the claim ([`Served::problem`], [`Outcome::Refused`]).

use std::fmt;

use super::canary::Canary;
use super::client_auth::ClientAuthClaim;
use super::host::Host;
use super::passthrough::PassthroughClaim;
use super::path::PathRule;
use super::route::Served;
use super::tls::TlsClaim;
use crate::translate::diagnostic::Diagnostic;
use crate::world::ObjectRef;

/// What one object (an Ingress) asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contribution {
    /// Whose it is: conflicts name it, its routes carry its name.
    pub owner: ObjectRef,
    /// Its rules in the order written, each with the paths that parsed.
    pub rules: Vec<RuleClaim>,
    /// What it asks to serve for every request no rule takes, on every host.
    pub default_backend: Option<Outcome>,
    /// The certificates it asks to serve for its TLS hosts, in the order written.
    pub tls: Vec<TlsClaim>,
    /// The hosts whose TLS connections it asks to pass through unterminated.
    pub passthrough: Vec<PassthroughClaim>,
    /// The client certificates it asks its TLS hosts to require.
    pub client_auth: Vec<ClientAuthClaim>,
    /// What is wrong with the object on its own, reported whatever the merge decides.
    pub diagnostics: Vec<Diagnostic>,
    /// Set when the object is a canary: its paths attach to other objects'
    /// identical paths instead of claiming their own ([`super::canary`]).
    pub canary: Option<Canary>,
}

/// The paths of one rule, for one host or (without a host) for every host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleClaim {
    /// The host, or `None` for a rule that applies to every host.
    pub host: Option<Host>,
    /// The paths, in the order written.
    pub paths: Vec<PathClaim>,
}

/// One path an object asks to serve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathClaim {
    /// The match, also the identity two objects conflict on.
    pub path: PathRule,
    /// What serving it would mean.
    pub outcome: Outcome,
}

/// What serving a path (or the default backend) would mean.
// Nearly every path is served; boxing `Served` would cost an allocation per
// path to shrink the rare refusal.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It is served this way if it wins.
    Serve(Served),
    /// Its target cannot be served at all (e.g. an unsupported backend kind): if
    /// it would have won, the message is reported as an error and the path is
    /// skipped, leaving it free for a newer object.
    Refused(String),
}

/// Where a path is written, for diagnostics: `host <host>` or `rule without
/// host`. Formatted only when a diagnostic is made, not for every rule.
#[derive(Clone, Copy, Debug)]
pub struct RuleScope<'a>(pub Option<&'a Host>);

// === impl Contribution ===

impl Contribution {
    /// An empty contribution of `owner`, to be filled by its source.
    pub fn new(owner: ObjectRef) -> Self {
        Contribution {
            owner,
            rules: Vec::new(),
            default_backend: None,
            tls: Vec::new(),
            passthrough: Vec::new(),
            client_auth: Vec::new(),
            diagnostics: Vec::new(),
            canary: None,
        }
    }
}

// === impl RuleScope ===

impl fmt::Display for RuleScope<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(host) => write!(f, "host {host}"),
            None => f.write_str("rule without host"),
        }
    }
}

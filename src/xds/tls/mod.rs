//! Mutual TLS on the xDS listener: the server's certificate and the client CA
//! come from files (re-read when they change, so rotation needs no restart and
//! keeps established streams), every client must present a certificate from
//! that CA, and the certificate's identity decides which `node.id`s the client
//! may speak for.

mod identity;
mod incoming;
mod reloading;
mod secret_scopes;

pub use identity::{GatewayIdentity, NodeIdRule, NodeIdRules, RuleError};
pub(crate) use incoming::tls_incoming;
pub use incoming::XdsPeer;
pub use reloading::{ReloadingTls, TlsError, TlsFiles};
pub(crate) use secret_scopes::in_scope;
pub use secret_scopes::{GatewayNamespaces, ScopeError, SecretScopes};

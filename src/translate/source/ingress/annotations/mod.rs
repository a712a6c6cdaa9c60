//! ingress-nginx annotations (`<prefix>/<name>`, prefix `nginx.ingress.kubernetes.io`
//! by default) read into model values, one file per group:
//! [`paths`], [`redirect`], [`canary`], [`upstream`], [`cluster`] (with
//! [`proxy_ssl`]), [`limits`], [`cors`], [`auth`], [`external_auth`],
//! [`default_backend`], [`custom_errors`], and [`unsupported`] for the ones
//! known but not implemented.
//!
//! [`read`] parses every group once per Ingress into [`IngressAnnotations`];
//! `rules.rs` applies it to each path. Every annotation under the prefix gets a
//! [`Finding`] ([`reader`]): invalid values and unsupported annotations become
//! warnings, and `interlock migrate-check` prints the same findings. Bad values
//! never block the rest of the Ingress: the annotation is ignored, or (where
//! ignoring it would expose a route it protects: source ranges, auth) the
//! Ingress's routes answer 503.

pub mod auth;
pub mod canary;
pub mod client_auth;
pub mod cluster;
pub mod cors;
pub mod custom_errors;
pub mod default_backend;
pub mod external_auth;
pub mod limits;
pub mod passthrough;
pub mod paths;
pub mod proxy_ssl;
pub mod reader;
pub mod redirect;
pub mod report;
pub mod unsupported;
pub mod upstream;
pub mod values;

use std::collections::BTreeMap;

pub use reader::{Finding, Reader, Verdict};

use std::sync::Arc;

use crate::translate::model::{Canary, ClientAuth, RoutePolicy};
use crate::translate::source::Lookups;
use crate::world::ObjectKey;
use cluster::ClusterOptions;
use paths::PathOptions;
use redirect::RedirectOptions;

/// ingress-nginx's annotation prefix, Interlock's default.
pub const DEFAULT_PREFIX: &str = "nginx.ingress.kubernetes.io";

/// Everything the annotations of one Ingress ask for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IngressAnnotations {
    /// Path matching and rewriting.
    pub paths: PathOptions,
    /// Redirects.
    pub redirect: RedirectOptions,
    /// Set for a canary Ingress.
    pub canary: Option<Canary>,
    /// The policy every route of the Ingress starts from (rewrites and HTTPS
    /// redirects are added per path).
    pub policy: RoutePolicy,
    /// How every backend's cluster is reached.
    pub cluster: ClusterOptions,
    /// Set when the Ingress's TLS hosts are passed through unterminated.
    pub passthrough: bool,
    /// The client certificates its TLS hosts ask for.
    pub client_auth: Option<Arc<ClientAuth>>,
    /// Set when the routes must answer 503 instead of serving (fail closed).
    pub refusal: Option<String>,
    /// Every annotation under the prefix with its verdict.
    pub findings: Vec<Finding>,
}

/// Reads the annotations under `prefix` of the Ingress `key`.
pub fn read(
    prefix: &str,
    key: &ObjectKey,
    annotations: Option<&BTreeMap<String, String>>,
    lookups: &mut Lookups<'_>,
) -> IngressAnnotations {
    let mut r = Reader::new(prefix, annotations);
    if r.is_empty() {
        return IngressAnnotations::default();
    }
    let canary = canary::read(&mut r);
    if canary.is_some() {
        // A canary contributes only its backends: ingress-nginx ignores the
        // rest of its annotations, and so does Interlock; but its backend is
        // a cluster of its own, reached as its own cluster annotations say
        // (the route's policy, cookie hash included, is the main Ingress's).
        let mut cluster = cluster::read(&mut r, key, lookups);
        cluster.session_cookie = None;
        let mut findings = r.finish();
        for finding in &mut findings {
            let name = finding.annotation.as_str();
            if canary::NAMES.contains(&name) {
                continue;
            }
            let kept = matches!(
                finding.verdict,
                Verdict::Honoured | Verdict::Approximated(_)
            );
            finding.verdict = match cluster::canary_note(name) {
                Some(note) if kept => Verdict::Approximated(note.to_owned()),
                Some(_) => continue,
                None => Verdict::Ignored(
                    "a canary Ingress uses the main Ingress's annotations".to_owned(),
                ),
            };
        }
        return IngressAnnotations {
            canary,
            cluster,
            findings,
            ..IngressAnnotations::default()
        };
    }
    if passthrough::read(&mut r) {
        let mut findings = r.finish();
        passthrough::ignore_the_rest(&mut findings);
        return IngressAnnotations {
            passthrough: true,
            findings,
            ..IngressAnnotations::default()
        };
    }
    let paths = paths::read(&mut r);
    let redirect = redirect::read(&mut r);
    let upstream = upstream::read(&mut r);
    let cluster = cluster::read(&mut r, key, lookups);
    let limits = limits::read(&mut r);
    let cors = cors::read(&mut r);
    let auth = auth::read(&mut r, key, lookups);
    let external = external_auth::read(&mut r);
    let default_backend = default_backend::read(&mut r, key, lookups);
    let custom_errors = custom_errors::read(&mut r, key, default_backend.as_ref());
    let client_auth = client_auth::read(&mut r, key, lookups);
    unsupported::read(&mut r);
    let policy = RoutePolicy {
        forwarded_prefix: paths.forwarded_prefix.clone(),
        upstream_host: upstream.upstream_host,
        read_timeout: upstream.read_timeout,
        retry: upstream.retry.map(Box::new),
        max_body_bytes: limits.max_body_bytes,
        source_ranges: limits.source_ranges.map(Box::new),
        rate_limit: limits.rate_limit.map(Box::new),
        cors: cors.map(Box::new),
        basic_auth: auth.basic.map(Box::new),
        session_cookie: cluster.session_cookie.clone().map(Box::new),
        external_auth: external.auth.map(Box::new),
        default_backend,
        custom_errors: custom_errors.map(Box::new),
        client_certificate: client_auth.headers,
        ..RoutePolicy::default()
    };
    IngressAnnotations {
        paths,
        redirect,
        canary: None,
        passthrough: false,
        client_auth: client_auth.auth,
        policy,
        cluster,
        refusal: limits
            .refusal
            .or(auth.refusal)
            .or(external.refusal)
            .or(client_auth.refusal),
        findings: r.finish(),
    }
}

#[cfg(test)]
mod cluster_tests;
#[cfg(test)]
mod proxy_ssl_tests;
#[cfg(test)]
mod test_fixtures;
#[cfg(test)]
mod tests;

#[cfg(test)]
mod tests_auth_and_errors;

//! ingress-nginx annotations (`<prefix>/<name>`, prefix `nginx.ingress.kubernetes.io`
//! by default) read into model values, one file per group:
//! [`paths`], [`redirect`], [`canary`], [`upstream`], [`limits`], [`cors`],
//! [`auth`], and [`unsupported`] for the ones known but not implemented.
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
pub mod cors;
pub mod limits;
pub mod passthrough;
pub mod paths;
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
        // rest of its annotations, and so does Interlock.
        let mut findings = r.finish();
        for finding in &mut findings {
            if !canary::NAMES.contains(&finding.annotation.as_str()) {
                finding.verdict = Verdict::Ignored(
                    "a canary Ingress uses the main Ingress's annotations".to_owned(),
                );
            }
        }
        return IngressAnnotations {
            canary,
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
    let limits = limits::read(&mut r);
    let cors = cors::read(&mut r);
    let auth = auth::read(&mut r, key, lookups);
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
        refusal: limits.refusal.or(auth.refusal).or(client_auth.refusal),
        findings: r.finish(),
    }
}

#[cfg(test)]
mod tests;

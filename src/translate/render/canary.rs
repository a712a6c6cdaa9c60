//! A route with a canary ([`crate::translate::model::canary`]) as Envoy routes,
//! tried in order:
//! 1. header: `always` (or the exact value, or the pattern) → canary; with
//!    `always`/`never` semantics also `never` → main backends;
//! 2. cookie: `always` → canary, `never` → main backends;
//! 3. the main route, its backends weighted `total - weight` against the
//!    canary's `weight` (weight 0: main only; the whole total: canary only).
//!
//! Every one matches the main route's path (and `:authority` check) and
//! carries the main route's policy. A canary without backends (its Service is
//! missing, reported) is left out, so the main route serves alone.

use std::sync::Arc;

use envoy_types::pb::envoy::config::route::v3::{
    header_matcher::HeaderMatchSpecifier, HeaderMatcher, Route,
};
use envoy_types::pb::envoy::r#type::matcher::v3::{
    string_matcher::MatchPattern, RegexMatcher, StringMatcher,
};

use super::route::{with_action, Scheme};
use crate::translate::model::{
    Action, CanaryWinner, Forward, HeaderValue, WeightedBackend, Winner,
};

/// Pushes the routes of `main` (the rendered route of `winner`) with `canary`.
pub fn push(
    main: Route,
    winner: &Winner<'_>,
    canary: &CanaryWinner<'_>,
    scheme: Scheme,
    out: &mut Vec<Route>,
) {
    let (Action::Forward(main_fwd), Action::Forward(canary_fwd)) =
        (&winner.served.action, &canary.served.action)
    else {
        out.push(main);
        return;
    };
    let policy = &winner.served.policy;
    let base = main.r#match.clone().unwrap_or_default();
    let canary_name = canary.owner.key.qualified();
    let to_canary = Action::Forward(canary_fwd.clone());
    let to_main = Action::Forward(main_fwd.clone());
    let mut choose = |header: HeaderMatcher, action: &Action, name: &str| {
        let mut m = base.clone();
        m.headers.push(header);
        out.push(with_action(name.to_owned(), m, action, policy, scheme));
    };
    let rule = canary.canary;
    if let Some(by_header) = &rule.by_header {
        match &by_header.value {
            HeaderValue::AlwaysNever => {
                choose(exact(&by_header.name, "always"), &to_canary, &canary_name);
                choose(exact(&by_header.name, "never"), &to_main, &main.name);
            }
            HeaderValue::Exact(v) => choose(exact(&by_header.name, v), &to_canary, &canary_name),
            HeaderValue::Pattern(p) => choose(
                matcher(&by_header.name, MatchPattern::SafeRegex(regex(p))),
                &to_canary,
                &canary_name,
            ),
        }
    }
    if let Some(cookie) = &rule.by_cookie {
        choose(cookie_is(cookie, "always"), &to_canary, &canary_name);
        choose(cookie_is(cookie, "never"), &to_main, &main.name);
    }
    let weighted = match rule.weight {
        0 => to_main,
        w if w >= rule.total_weight => to_canary,
        w => Action::Forward(Forward {
            backends: scaled(&main_fwd.backends, rule.total_weight - w)
                .chain(scaled(&canary_fwd.backends, w))
                .collect(),
        }),
    };
    let name = main.name.clone();
    out.push(with_action(name, base, &weighted, policy, scheme));
}

fn scaled(backends: &[WeightedBackend], share: u32) -> impl Iterator<Item = WeightedBackend> + '_ {
    backends.iter().map(move |b| WeightedBackend {
        cluster: Arc::clone(&b.cluster),
        weight: b.weight.saturating_mul(share),
    })
}

fn exact(name: &str, value: &str) -> HeaderMatcher {
    matcher(name, MatchPattern::Exact(value.to_owned()))
}

/// The `cookie` header carries `name=value` as one of its cookies.
fn cookie_is(name: &str, value: &str) -> HeaderMatcher {
    let name = quote(name);
    matcher(
        "cookie",
        MatchPattern::SafeRegex(regex(&format!("(?:.*;\\s*)?{name}={value}(?:;.*)?"))),
    )
}

fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn matcher(name: &str, pattern: MatchPattern) -> HeaderMatcher {
    HeaderMatcher {
        name: name.to_owned(),
        header_match_specifier: Some(HeaderMatchSpecifier::StringMatch(StringMatcher {
            match_pattern: Some(pattern),
            ..StringMatcher::default()
        })),
        ..HeaderMatcher::default()
    }
}

fn regex(pattern: &str) -> RegexMatcher {
    RegexMatcher {
        regex: pattern.to_owned(),
        ..RegexMatcher::default()
    }
}

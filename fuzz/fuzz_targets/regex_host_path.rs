//! Ingress host and path validation, and the RE2 check behind both, on
//! arbitrary strings: invariant 8 ("bad input never crashes"; what Interlock
//! generates passes Envoy's own validation, checked with RE2 itself).
//!
//! The input is one or two strings (split at the first newline); each is tried
//! as a host, as a `pathType`, as a path under every path type, and as a regex.
//! Checked:
//! - a host that parses is kept as written (at most 253 bytes, not an IPv4
//!   address); a wildcard one (`*.`) carries an `:authority` regex RE2 accepts
//!   under Envoy's program-size limit, an exact one none;
//! - a `pathType` that parses prints back as written;
//! - a path that parses matches as Envoy can: absolute, a regex only for
//!   `ImplementationSpecific` and then one RE2 accepts, a prefix without a
//!   trailing slash (except `/`), an exact path as written; parsing the
//!   normalized path again gives the same rule;
//! - precedence is a total order with no ties between different rules, so route
//!   order never depends on the order Ingresses were read in;
//! - the RE2 check is monotone in the program-size limit: what passes at 100
//!   passes at any larger limit, a pattern too large at 100 passes at its own
//!   size, and a pattern RE2 rejects is rejected at any limit.
//!
//! (`src/validate` takes a whole translation, not strings: the `manifests`
//! target drives it.)

#![no_main]

use envoy_types::pb::envoy::config::route::v3::route_match::PathSpecifier;
use interlock::translate::model::{Host, PathMatch, PathRule, PathType};
use interlock::translate::regex::{self, re2, Re2Error, RegexError, ENVOY_MAX_PROGRAM_SIZE};
use interlock::translate::render::route::route_match;
use interlock::translate::source::ingress::path::{parse_path, parse_path_type};
use libfuzzer_sys::fuzz_target;

const TYPES: [Option<PathType>; 4] = [
    None,
    Some(PathType::Exact),
    Some(PathType::Prefix),
    Some(PathType::ImplementationSpecific),
];

fuzz_target!(|text: &str| {
    let (a, b) = text.split_once('\n').unwrap_or((text, ""));
    let rules_a = check_string(a);
    let rules_b = check_string(b);
    for x in rules_a.iter().chain(&rules_b) {
        for y in rules_a.iter().chain(&rules_b) {
            let (px, py) = (x.precedence(), y.precedence());
            assert_eq!(px.cmp(&py), py.cmp(&px).reverse(), "{x:?} vs {y:?}");
            assert_eq!(px == py, x == y, "a tie between {x:?} and {y:?}");
        }
    }
});

/// Every check on one string; the path rules it parsed into.
fn check_string(s: &str) -> Vec<PathRule> {
    check_host(s);
    check_regex(s);
    if let Ok(Some(t)) = parse_path_type(s) {
        assert_eq!(t.to_string(), s);
    }
    TYPES.into_iter().filter_map(|t| check_path(s, t)).collect()
}

fn check_host(s: &str) {
    let host = match Host::parse(s) {
        Ok(host) => host,
        Err(error) => {
            let _ = error.to_string();
            return;
        }
    };
    assert_eq!(host.as_str(), s);
    assert_eq!(host.to_string(), s);
    assert!(s.len() <= 253, "{s:?}");
    assert!(s.parse::<std::net::Ipv4Addr>().is_err(), "{s:?}");
    assert!(!s.bytes().any(|b| b.is_ascii_uppercase()), "{s:?}");
    match (&host, host.authority_regex()) {
        (Host::Wildcard(_), Some(re)) => {
            assert!(s.starts_with("*."), "{s:?}");
            if let Err(error) = regex::validate(&re) {
                panic!("{s:?}: Envoy would reject its authority regex {re:?}: {error}");
            }
        }
        (Host::Exact(_), None) => assert!(!s.contains('*'), "{s:?}"),
        (host, re) => panic!("{host:?} with authority regex {re:?}"),
    }
}

fn check_path(s: &str, path_type: Option<PathType>) -> Option<PathRule> {
    let rule = match parse_path(Some(s), path_type) {
        Ok(rule) => rule,
        Err(error) => {
            let _ = error.to_string();
            return None;
        }
    };
    let _ = rule.to_string();
    assert_eq!(rule.path_type, path_type.unwrap_or(PathType::Prefix));
    let specifier = route_match(&rule).path_specifier.expect("a path specifier");
    match (&rule.matcher, specifier) {
        (PathMatch::Exact(p), PathSpecifier::Path(q)) => {
            assert_eq!(p, s);
            assert_eq!(*p, q);
        }
        (PathMatch::Prefix(p), PathSpecifier::Prefix(q)) => {
            assert_eq!(p, "/");
            assert_eq!(*p, q);
        }
        (PathMatch::Prefix(p), PathSpecifier::PathSeparatedPrefix(q)) => {
            assert!(p.starts_with('/') && !p.ends_with('/'), "{s:?} -> {p:?}");
            assert_eq!(*p, q);
        }
        (PathMatch::Regex(p), PathSpecifier::SafeRegex(q)) => {
            assert_eq!(rule.path_type, PathType::ImplementationSpecific);
            assert_eq!(p, s);
            assert_eq!(*p, q.regex);
            assert!(p.starts_with('/'), "{s:?}");
            if let Err(error) = regex::validate(p) {
                panic!("{s:?}: accepted, but Envoy would reject it: {error}");
            }
        }
        (matcher, specifier) => panic!("{s:?}: {matcher:?} as {specifier:?}"),
    }
    if let PathMatch::Exact(p) | PathMatch::Prefix(p) = &rule.matcher {
        let again = parse_path(Some(p), Some(rule.path_type)).expect("normalized path");
        assert_eq!(again, rule, "{s:?}");
    }
    Some(rule)
}

fn check_regex(s: &str) {
    let max = ENVOY_MAX_PROGRAM_SIZE;
    match regex::validate(s) {
        Ok(()) => {
            assert!(!s.is_empty());
            assert_eq!(re2::check_with_limit(s, max * 10), Ok(()), "{s:?}");
        }
        Err(RegexError::Empty) => assert!(s.is_empty()),
        Err(RegexError::Re2(Re2Error::TooLarge { size, max: limit })) => {
            assert_eq!(limit, max);
            assert!(size > max, "{s:?}: {size}");
            assert_eq!(re2::check_with_limit(s, size), Ok(()), "{s:?}");
        }
        Err(RegexError::Re2(Re2Error::Invalid(message))) => {
            let again = re2::check_with_limit(s, u32::MAX);
            assert_eq!(again, Err(Re2Error::Invalid(message)), "{s:?}");
        }
        Err(RegexError::Re2(Re2Error::Internal(message))) => panic!("{s:?}: RE2 failed: {message}"),
    }
}

//! Path matches and their precedence within one virtual host.
//!
//! A [`PathRule`] is a path match already validated and normalized by its source
//! (the Ingress grammar is in [`crate::translate::source::ingress::path`]):
//! - [`PathMatch::Exact`]: the whole path, case-sensitive; `/foo` does not match
//!   `/foo/`.
//! - [`PathMatch::Prefix`]: element-wise, without trailing slash (`/foo` matches
//!   `/foo` and `/foo/bar`, not `/foobar`); `/` matches everything.
//! - [`PathMatch::Regex`]: an RE2 regex (already accepted by
//!   [`crate::translate::regex::validate`]) the whole path must match.
//!
//! Its [`PathType`] is the kind of match its source declared. Two rules with the
//! same match but different types are different rules (both are served), and the
//! type ranks ties.
//!
//! Precedence within a host is [`PathRule::precedence`]: longest path first (the
//! path as matched: `Prefix` without its trailing slash, a regex by its length),
//! then `Exact`, `Prefix`, `ImplementationSpecific`, then the path itself, so the
//! order never depends on the order sources were read in.

use std::cmp::Reverse;
use std::fmt;

/// The kind of path rule its source declared. Ordered as ties are broken: an
/// `Exact` rule beats a `Prefix` rule of the same length, which beats an
/// `ImplementationSpecific` one.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathType {
    /// `Exact`.
    Exact,
    /// `Prefix`.
    Prefix,
    /// `ImplementationSpecific`.
    ImplementationSpecific,
}

/// How a path matches, as Envoy will do it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathMatch {
    /// The whole path, exactly.
    Exact(String),
    /// Element-wise prefix, without trailing slash; `/` matches everything.
    Prefix(String),
    /// RE2 regex over the whole path.
    Regex(String),
}

/// A validated path rule: what a route matches, and the identity under which two
/// sources' rules conflict.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PathRule {
    /// The declared type (a missing one already defaulted by the source).
    pub path_type: PathType,
    /// The normalized match.
    pub matcher: PathMatch,
}

/// Sort key of a route within a virtual host: smaller sorts first and wins.
/// Borrows the rule's path, so sorting allocates nothing.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Precedence<'r> {
    longest: Reverse<usize>,
    path_type: PathType,
    matcher: &'r PathMatch,
}

// === impl PathType ===

impl fmt::Display for PathType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathType::Exact => "Exact",
            PathType::Prefix => "Prefix",
            PathType::ImplementationSpecific => "ImplementationSpecific",
        })
    }
}

// === impl PathMatch ===

impl PathMatch {
    /// The path or regex as matched.
    pub fn as_str(&self) -> &str {
        match self {
            PathMatch::Exact(p) | PathMatch::Prefix(p) | PathMatch::Regex(p) => p,
        }
    }
}

// === impl PathRule ===

impl PathRule {
    /// Where this path sorts among the routes of one virtual host.
    pub fn precedence(&self) -> Precedence<'_> {
        Precedence {
            longest: Reverse(self.matcher.as_str().len()),
            path_type: self.path_type,
            matcher: &self.matcher,
        }
    }
}

impl fmt::Display for PathRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.path_type, self.matcher.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(path_type: PathType, matcher: PathMatch) -> PathRule {
        PathRule { path_type, matcher }
    }

    #[test]
    fn precedence_is_longest_then_exact_then_prefix() {
        use PathMatch as M;
        use PathType::*;
        let mut rules = [
            rule(Prefix, M::Prefix("/".into())),
            rule(ImplementationSpecific, M::Prefix("/foo".into())),
            rule(Prefix, M::Prefix("/foo".into())),
            rule(Prefix, M::Prefix("/foo/bar".into())),
            rule(Exact, M::Exact("/foo".into())),
            rule(Exact, M::Exact("/fo".into())),
        ];
        rules.sort_by(|a, b| a.precedence().cmp(&b.precedence()));
        let order: Vec<String> = rules.iter().map(ToString::to_string).collect();
        assert_eq!(
            order,
            [
                "Prefix /foo/bar",
                "Exact /foo",
                "Prefix /foo",
                "ImplementationSpecific /foo",
                "Exact /fo",
                "Prefix /",
            ]
        );
    }

    #[test]
    fn a_regex_ranks_by_its_length_after_plain_rules_of_that_length() {
        use PathType::*;
        let regex = rule(ImplementationSpecific, PathMatch::Regex("/v[0-9]".into()));
        let prefix = rule(Prefix, PathMatch::Prefix("/abcdef".into()));
        let shorter = rule(Prefix, PathMatch::Prefix("/abc".into()));
        assert_eq!(regex.matcher.as_str().len(), prefix.matcher.as_str().len());
        assert!(prefix.precedence() < regex.precedence());
        assert!(regex.precedence() < shorter.precedence());
    }
}

//! Ingress paths: path types, validation, Envoy matches and precedence.
//!
//! - `Exact`: Envoy `path`, case-sensitive; `/foo` does not match `/foo/`.
//! - `Prefix`: element-wise, with Envoy's `path_separated_prefix`; trailing slashes
//!   on the rule are ignored (`/foo/` ≡ `/foo`), and `/` becomes `prefix: "/"`.
//! - `ImplementationSpecific`: the same as `Prefix`, unless the path contains a
//!   regex metacharacter (`^ $ * + ? ( ) [ ] { } | \`, but not `.`), in which case it
//!   is an RE2 regex the whole path (without query string) must match. The regex is
//!   checked with [`super::regex::validate`]; an invalid one skips that path only.
//! - A missing `pathType` (only possible in hand-written files; the API server
//!   requires it) is treated as `Prefix`, with a warning.
//! - A missing or empty `path` means `/` for `Prefix` and `ImplementationSpecific`;
//!   an `Exact` path must be given.
//! - Non-regex paths must start with `/` and may not contain `?`, `#`, whitespace or
//!   control characters (Envoy matches paths without the query string, and rejects
//!   such prefixes); regex paths must start with `/` too.
//!
//! Precedence within a host is [`PathRule::precedence`]: longest path first (the
//! path as matched: `Prefix` without its trailing slash, a regex by its length),
//! then `Exact`, `Prefix`, `ImplementationSpecific`, then the path itself, so the
//! order never depends on the order Ingresses were read in.

use std::cmp::Reverse;
use std::fmt;

use envoy_types::pb::envoy::config::route::v3::{route_match::PathSpecifier, RouteMatch};
use envoy_types::pb::envoy::r#type::matcher::v3::RegexMatcher;

use super::regex::{self, RegexError};

/// The characters that make an `ImplementationSpecific` path a regex.
const REGEX_META: &[char] = &[
    '^', '$', '*', '+', '?', '(', ')', '[', ']', '{', '}', '|', '\\',
];

/// The `pathType` of an Ingress path.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathType {
    /// `Exact`.
    Exact,
    /// `Prefix`.
    Prefix,
    /// `ImplementationSpecific`.
    ImplementationSpecific,
}

impl PathType {
    /// Parses a `pathType`; `None` for a missing (empty) one, `Err` for an unknown one.
    pub fn parse(s: &str) -> Result<Option<PathType>, PathError> {
        match s {
            "" => Ok(None),
            "Exact" => Ok(Some(PathType::Exact)),
            "Prefix" => Ok(Some(PathType::Prefix)),
            "ImplementationSpecific" => Ok(Some(PathType::ImplementationSpecific)),
            other => Err(PathError::UnknownType(other.to_owned())),
        }
    }
}

impl fmt::Display for PathType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathType::Exact => "Exact",
            PathType::Prefix => "Prefix",
            PathType::ImplementationSpecific => "ImplementationSpecific",
        })
    }
}

/// Why a path is skipped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// A `pathType` the API does not define.
    #[error("unknown pathType {0:?} (expected Exact, Prefix or ImplementationSpecific)")]
    UnknownType(String),
    /// `Exact` without a path.
    #[error("an Exact path must not be empty")]
    MissingExact,
    /// Not an absolute path.
    #[error("path {0:?} does not start with '/'")]
    NotAbsolute(String),
    /// Contains characters Envoy cannot match in a path.
    #[error("path {0:?} contains '?', '#', whitespace or control characters")]
    BadCharacters(String),
    /// An `ImplementationSpecific` regex Envoy would reject.
    #[error("ImplementationSpecific path {path:?}: {error}")]
    Regex {
        /// The path as written.
        path: String,
        /// What is wrong with it.
        error: RegexError,
    },
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

/// A validated Ingress path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PathRule {
    /// The declared type (a missing one already defaulted to `Prefix`).
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

impl PathRule {
    /// Validates `path` (missing is `None`) under `path_type` (missing is `None`).
    pub fn parse(path: Option<&str>, path_type: Option<PathType>) -> Result<PathRule, PathError> {
        let path_type = path_type.unwrap_or(PathType::Prefix);
        let path = path.unwrap_or_default();
        let matcher = match path_type {
            PathType::Exact if path.is_empty() => return Err(PathError::MissingExact),
            PathType::Exact => PathMatch::Exact(plain(path)?.to_owned()),
            PathType::ImplementationSpecific if path.contains(REGEX_META) => {
                if !path.starts_with('/') {
                    return Err(PathError::NotAbsolute(path.to_owned()));
                }
                regex::validate(path).map_err(|error| PathError::Regex {
                    path: path.to_owned(),
                    error,
                })?;
                PathMatch::Regex(path.to_owned())
            }
            PathType::Prefix | PathType::ImplementationSpecific => {
                let path = if path.is_empty() { "/" } else { plain(path)? };
                let trimmed = path.trim_end_matches('/');
                PathMatch::Prefix(if trimmed.is_empty() { "/" } else { trimmed }.to_owned())
            }
        };
        Ok(PathRule { path_type, matcher })
    }

    /// Where this path sorts among the routes of one virtual host.
    pub fn precedence(&self) -> Precedence<'_> {
        let len = match &self.matcher {
            PathMatch::Exact(p) | PathMatch::Prefix(p) | PathMatch::Regex(p) => p.len(),
        };
        Precedence {
            longest: Reverse(len),
            path_type: self.path_type,
            matcher: &self.matcher,
        }
    }

    /// The Envoy route match for this path.
    pub fn route_match(&self) -> RouteMatch {
        let specifier = match &self.matcher {
            PathMatch::Exact(p) => PathSpecifier::Path(p.clone()),
            PathMatch::Prefix(p) if p == "/" => PathSpecifier::Prefix(p.clone()),
            PathMatch::Prefix(p) => PathSpecifier::PathSeparatedPrefix(p.clone()),
            PathMatch::Regex(r) => PathSpecifier::SafeRegex(RegexMatcher {
                regex: r.clone(),
                ..RegexMatcher::default()
            }),
        };
        RouteMatch {
            path_specifier: Some(specifier),
            ..RouteMatch::default()
        }
    }
}

impl fmt::Display for PathRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = match &self.matcher {
            PathMatch::Exact(p) | PathMatch::Prefix(p) | PathMatch::Regex(p) => p,
        };
        write!(f, "{} {path}", self.path_type)
    }
}

/// Checks a non-regex path.
fn plain(path: &str) -> Result<&str, PathError> {
    if !path.starts_with('/') {
        return Err(PathError::NotAbsolute(path.to_owned()));
    }
    if path
        .chars()
        .any(|c| c == '?' || c == '#' || c.is_whitespace() || c.is_control())
    {
        return Err(PathError::BadCharacters(path.to_owned()));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(path: &str, t: PathType) -> PathRule {
        PathRule::parse(Some(path), Some(t)).unwrap()
    }

    fn specifier(r: &PathRule) -> PathSpecifier {
        r.route_match().path_specifier.unwrap()
    }

    #[test]
    fn path_types_map_to_envoy_matches() {
        use PathType::*;
        assert_eq!(
            specifier(&rule("/foo/", Exact)),
            PathSpecifier::Path("/foo/".into())
        );
        assert_eq!(
            specifier(&rule("/foo/", Prefix)),
            PathSpecifier::PathSeparatedPrefix("/foo".into())
        );
        assert_eq!(
            specifier(&rule("/", Prefix)),
            PathSpecifier::Prefix("/".into())
        );
        assert_eq!(
            specifier(&rule("//", Prefix)),
            PathSpecifier::Prefix("/".into())
        );
        assert_eq!(
            specifier(&rule("/app.js", ImplementationSpecific)),
            PathSpecifier::PathSeparatedPrefix("/app.js".into())
        );
        assert!(matches!(
            specifier(&rule("/v[0-9]+/.*", ImplementationSpecific)),
            PathSpecifier::SafeRegex(RegexMatcher { regex, .. }) if regex == "/v[0-9]+/.*"
        ));
    }

    #[test]
    fn missing_parts_default_or_fail() {
        assert_eq!(PathType::parse(""), Ok(None));
        assert!(PathType::parse("prefix").is_err());
        let defaulted = PathRule::parse(Some("/a"), None).unwrap();
        assert_eq!(defaulted.path_type, PathType::Prefix);
        assert_eq!(
            PathRule::parse(None, Some(PathType::ImplementationSpecific))
                .unwrap()
                .matcher,
            PathMatch::Prefix("/".into())
        );
        assert_eq!(
            PathRule::parse(None, Some(PathType::Exact)),
            Err(PathError::MissingExact)
        );
    }

    #[test]
    fn bad_paths_are_refused() {
        use PathType::*;
        for (p, t) in [
            ("foo", Prefix),
            ("foo", Exact),
            ("/a?b", Prefix),
            ("/a#b", Exact),
            ("/a b", Prefix),
            ("/a\nb", ImplementationSpecific),
            ("foo(.*)", ImplementationSpecific),
            ("/(a)\\1", ImplementationSpecific),
            ("/*+", ImplementationSpecific),
        ] {
            assert!(PathRule::parse(Some(p), Some(t)).is_err(), "{p:?} {t}");
        }
    }

    #[test]
    fn a_regex_envoy_would_reject_is_refused_with_re2s_reason() {
        let err = PathRule::parse(Some("/*+"), Some(PathType::ImplementationSpecific))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "ImplementationSpecific path \"/*+\": RE2 rejects the regex: bad repetition operator: *+"
        );
    }

    #[test]
    fn precedence_is_longest_then_exact_then_prefix() {
        use PathType::*;
        let mut rules = [
            rule("/", Prefix),
            rule("/foo", ImplementationSpecific),
            rule("/foo", Prefix),
            rule("/foo/bar", Prefix),
            rule("/foo", Exact),
            rule("/fo", Exact),
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
}

//! The Ingress path grammar: `pathType` and `path` into a model [`PathRule`].
//!
//! - `Exact`: [`PathMatch::Exact`], the path as written.
//! - `Prefix`: [`PathMatch::Prefix`]; trailing slashes on the rule are ignored
//!   (`/foo/` ≡ `/foo`), and `/` stays `/`.
//! - `ImplementationSpecific`: the same as `Prefix`, unless the path contains a
//!   regex metacharacter (`^ $ * + ? ( ) [ ] { } | \`, but not `.`), in which case it
//!   is an RE2 regex the whole path (without query string) must match. The regex is
//!   checked with [`regex::validate`]; an invalid one skips that path only.
//! - A missing `pathType` (only possible in hand-written files; the API server
//!   requires it) is treated as `Prefix`, with a warning.
//! - A missing or empty `path` means `/` for `Prefix` and `ImplementationSpecific`;
//!   an `Exact` path must be given.
//! - Non-regex paths must start with `/` and may not contain `?`, `#`, whitespace or
//!   control characters (Envoy matches paths without the query string, and rejects
//!   such prefixes); regex paths must start with `/` too.

use crate::translate::model::path::{PathMatch, PathRule, PathType};
use crate::translate::regex::{self, RegexError};

/// The characters that make an `ImplementationSpecific` path a regex.
const REGEX_META: &[char] = &[
    '^', '$', '*', '+', '?', '(', ')', '[', ']', '{', '}', '|', '\\',
];

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

/// Parses a `pathType`; `None` for a missing (empty) one, `Err` for an unknown
/// one. The inverse of [`PathType`]'s `Display`.
pub fn parse_path_type(s: &str) -> Result<Option<PathType>, PathError> {
    match s {
        "" => Ok(None),
        "Exact" => Ok(Some(PathType::Exact)),
        "Prefix" => Ok(Some(PathType::Prefix)),
        "ImplementationSpecific" => Ok(Some(PathType::ImplementationSpecific)),
        other => Err(PathError::UnknownType(other.to_owned())),
    }
}

/// Validates `path` (missing is `None`) under `path_type` (missing is `None`).
pub fn parse_path(path: Option<&str>, path_type: Option<PathType>) -> Result<PathRule, PathError> {
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
        parse_path(Some(path), Some(t)).unwrap()
    }

    #[test]
    fn path_types_normalize_to_matches() {
        use PathType::*;
        assert_eq!(
            rule("/foo/", Exact).matcher,
            PathMatch::Exact("/foo/".into())
        );
        assert_eq!(
            rule("/foo/", Prefix).matcher,
            PathMatch::Prefix("/foo".into())
        );
        assert_eq!(rule("/", Prefix).matcher, PathMatch::Prefix("/".into()));
        assert_eq!(rule("//", Prefix).matcher, PathMatch::Prefix("/".into()));
        assert_eq!(
            rule("/app.js", ImplementationSpecific).matcher,
            PathMatch::Prefix("/app.js".into())
        );
        assert_eq!(
            rule("/v[0-9]+/.*", ImplementationSpecific).matcher,
            PathMatch::Regex("/v[0-9]+/.*".into())
        );
    }

    #[test]
    fn missing_parts_default_or_fail() {
        assert_eq!(parse_path_type(""), Ok(None));
        assert!(parse_path_type("prefix").is_err());
        let defaulted = parse_path(Some("/a"), None).unwrap();
        assert_eq!(defaulted.path_type, PathType::Prefix);
        assert_eq!(
            parse_path(None, Some(PathType::ImplementationSpecific))
                .unwrap()
                .matcher,
            PathMatch::Prefix("/".into())
        );
        assert_eq!(
            parse_path(None, Some(PathType::Exact)),
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
            assert!(parse_path(Some(p), Some(t)).is_err(), "{p:?} {t}");
        }
    }

    #[test]
    fn a_regex_envoy_would_reject_is_refused_with_re2s_reason() {
        let err = parse_path(Some("/*+"), Some(PathType::ImplementationSpecific))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "ImplementationSpecific path \"/*+\": RE2 rejects the regex: bad repetition operator: *+"
        );
    }
}

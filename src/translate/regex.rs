//! Regexes Envoy will accept: checked before they reach Envoy, because one
//! rejected regex makes Envoy NACK the whole route table (every host's routes).
//!
//! Every regex Interlock emits goes through [`validate`]: `ImplementationSpecific`
//! paths with regex metacharacters ([`super::source::ingress::path`]) and the
//! one-label `:authority` check of wildcard hosts ([`super::model::host`]). It is
//! compiled by RE2 itself ([`re2::check`]), as Envoy compiles it, and refused when
//! RE2 rejects it or its program is larger than Envoy's default limit of 100
//! instructions (`re2.max_program_size.error_level`). No emulation of RE2 is left
//! to drift.
//!
//! Beyond RE2, Envoy's `RegexMatcher` only requires a non-empty `regex`. Its
//! `safe_regex` matches the whole path or header value, so nothing is anchored.

pub mod re2;

pub use re2::{Re2Error, ENVOY_MAX_PROGRAM_SIZE};

/// Why a regex is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegexError {
    /// Envoy's `RegexMatcher.regex` must not be empty.
    #[error("empty regular expression")]
    Empty,
    /// RE2 rejects it, or it is too large for Envoy.
    #[error(transparent)]
    Re2(#[from] Re2Error),
}

/// Checks that Envoy will accept `pattern` as a `safe_regex`.
pub fn validate(pattern: &str) -> Result<(), RegexError> {
    if pattern.is_empty() {
        return Err(RegexError::Empty);
    }
    re2::check(pattern)?;
    Ok(())
}

/// True when Envoy will accept `pattern`.
pub fn fits_envoy(pattern: &str) -> bool {
    validate(pattern).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_path_regexes() {
        for ok in [
            "/api/v[0-9]+/.*",
            "/(foo|bar)/[^/]*\\.js",
            "/a{2,5}b?",
            "/(?i)static/.*",
            "/(?P<id>[0-9]+)",
            "\\A/a\\b.*\\z",
            &"x".repeat(96),
        ] {
            assert_eq!(validate(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn refuses_what_envoy_refuses_with_re2s_reason() {
        let err = validate("/*+").unwrap_err();
        assert!(
            err.to_string().contains("bad repetition operator: *+"),
            "{err}"
        );
        for bad in [
            "/(a)\\1",
            "/(?=x)",
            "/(?<=x)y",
            "/[[:foo:]]",
            "/a{1001}",
            "/(",
            "/[z-a]",
            "/a**",
        ] {
            assert!(
                matches!(validate(bad), Err(RegexError::Re2(Re2Error::Invalid(_)))),
                "{bad}"
            );
        }
        assert_eq!(validate(""), Err(RegexError::Empty));
    }

    #[test]
    fn refuses_programs_larger_than_envoy_allows() {
        for big in ["/(a{1,50}){1,50}", "/a{200}", &"x".repeat(100)] {
            assert!(
                matches!(
                    validate(big),
                    Err(RegexError::Re2(
                        Re2Error::TooLarge { max: 100, .. } | Re2Error::Invalid(_)
                    ))
                ),
                "{big}"
            );
        }
        let alternation = "/(alpha|bravo|charlie|delta|echo|foxtrot|golf|hotel|india|juliet|kilo|lima|mike|november|oscar|papa|quebec|romeo|sierra|tango)";
        let err = validate(alternation).unwrap_err();
        assert!(
            matches!(err, RegexError::Re2(Re2Error::TooLarge { size, max: 100 }) if size > 100)
        );
        assert!(err.to_string().contains("max program size 100"), "{err}");
    }

    #[test]
    fn nul_bytes_are_checked_not_cut() {
        assert_eq!(validate("/a\0[0-9]+"), Ok(()));
        assert!(validate("/a\0*+").is_err());
    }
}

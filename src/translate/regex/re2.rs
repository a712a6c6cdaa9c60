//! RE2 itself, as Envoy runs it: the one authority on which regexes Envoy takes.
//!
//! Envoy compiles every `safe_regex` with RE2 and refuses, with a NACK of the
//! whole resource, any pattern RE2 rejects or whose compiled program is larger
//! than `re2.max_program_size.error_level` (100 by default). An emulation of RE2's
//! syntax and program size drifts from the real thing (it once let `/*+` through,
//! which RE2 rejects with "bad repetition operator"), so [`check`] compiles the
//! pattern with the system RE2 library through a small C++ shim
//! (`native/re2_check.cc`, built by `build.rs`) with the options Envoy 1.40 uses:
//! errors not logged, Latin-1 encoding. (Latin-1 is measured, not assumed:
//! Envoy 1.40 rejects `\x{100}` as RE2 does only in Latin-1 mode, and its
//! program sizes match Latin-1's exactly, e.g. 11 for `\pL` where UTF-8 gives
//! 1197.)
//!
//! The system RE2 (Debian bookworm: 2022-06-01) is older than Envoy's. Where they
//! were seen to differ, the local one is the stricter: it refuses `(?<name>re)`
//! (only `(?P<name>re)`), and charges one more instruction for a case-folded
//! non-ASCII letter. A regex it passes, Envoy 1.40 passed too.
//!
//! The pattern is passed as pointer and length, so NUL bytes are part of it, as in
//! the protobuf string Envoy receives; a `&str` is always valid UTF-8.

use std::os::raw::{c_char, c_int};

/// Envoy's default `re2.max_program_size.error_level`.
pub const ENVOY_MAX_PROGRAM_SIZE: u32 = 100;

/// Longest RE2 error text kept (RE2's messages are short; a longer one is cut).
const ERROR_CAPACITY: usize = 512;

extern "C" {
    fn interlock_re2_check(
        pattern: *const c_char,
        len: usize,
        max_program_size: c_int,
        program_size: *mut c_int,
        err_buf: *mut c_char,
        err_len: usize,
        err_written: *mut usize,
    ) -> c_int;
}

/// Why Envoy would refuse a regex.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Re2Error {
    /// RE2 does not accept the pattern; RE2's own message (as Envoy reports it).
    #[error("RE2 rejects the regex: {0}")]
    Invalid(String),
    /// RE2 compiles it, but to a program larger than Envoy allows.
    #[error("RE2 program size {size} > Envoy's max program size {max}")]
    TooLarge {
        /// RE2's `ProgramSize()` for the pattern.
        size: u32,
        /// The limit it exceeds.
        max: u32,
    },
    /// RE2 itself failed (e.g. out of memory) before giving an answer.
    #[error("RE2 failed: {0}")]
    Internal(String),
}

/// Checks `pattern` exactly as Envoy's GoogleRE2 matcher does, under Envoy's
/// default max program size of [`ENVOY_MAX_PROGRAM_SIZE`].
pub fn check(pattern: &str) -> Result<(), Re2Error> {
    check_with_limit(pattern, ENVOY_MAX_PROGRAM_SIZE)
}

/// [`check`] with another max program size (Envoy's runtime key can change it).
pub fn check_with_limit(pattern: &str, max_program_size: u32) -> Result<(), Re2Error> {
    let limit = c_int::try_from(max_program_size).unwrap_or(c_int::MAX);
    let mut size: c_int = 0;
    let mut err = [0u8; ERROR_CAPACITY];
    let mut written: usize = 0;
    // SAFETY: `pattern` is valid for `pattern.len()` bytes (read-only), `err` for
    // `ERROR_CAPACITY` bytes, and the out-pointers point at live locals; the shim
    // reads and writes nothing else, keeps no pointer, and catches every C++
    // exception.
    let code = unsafe {
        interlock_re2_check(
            pattern.as_ptr().cast::<c_char>(),
            pattern.len(),
            limit,
            &mut size,
            err.as_mut_ptr().cast::<c_char>(),
            err.len(),
            &mut written,
        )
    };
    let message = || String::from_utf8_lossy(&err[..written.min(err.len())]).into_owned();
    match code {
        0 => Ok(()),
        1 => Err(Re2Error::Invalid(message())),
        2 => Err(Re2Error::TooLarge {
            size: u32::try_from(size).unwrap_or(u32::MAX),
            max: max_program_size,
        }),
        _ => Err(Re2Error::Internal(message())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 20-way alternation RE2 compiles to 111 instructions (RE2 2022-06-01).
    const NATO_20: &str = "/(alpha|bravo|charlie|delta|echo|foxtrot|golf|hotel|india|juliet|kilo|lima|mike|november|oscar|papa|quebec|romeo|sierra|tango)";

    #[test]
    fn envoys_rejections_are_re2s() {
        assert_eq!(
            check("/*+"),
            Err(Re2Error::Invalid("bad repetition operator: *+".into()))
        );
        assert!(matches!(check("(unclosed"), Err(Re2Error::Invalid(m)) if m.contains("missing )")));
        assert!(matches!(check("/(a)\\1"), Err(Re2Error::Invalid(_))));
        assert!(matches!(check("/(?=x)"), Err(Re2Error::Invalid(_))));
        assert!(matches!(check("/a{1001}"), Err(Re2Error::Invalid(_))));
    }

    #[test]
    fn program_size_is_limited_like_envoy() {
        // Nested counts multiply; RE2 refuses more than 1000 repetitions.
        assert_eq!(
            check("(a{1,50}){1,50}"),
            Err(Re2Error::Invalid("invalid repetition size: {1,50}".into()))
        );
        // RE2 factors common prefixes, so the words start differently.
        assert!(matches!(
            check(NATO_20),
            Err(Re2Error::TooLarge { size, max: 100 }) if size > 100
        ));
        assert!(check_with_limit(NATO_20, 1000).is_ok());
        assert_eq!(check(&format!("/{}", "x".repeat(95))), Ok(()));
        assert_eq!(
            check(&format!("/{}", "x".repeat(96))),
            Err(Re2Error::TooLarge {
                size: 101,
                max: 100
            })
        );
    }

    #[test]
    fn ordinary_patterns_pass() {
        for ok in [
            "/api/v[0-9]+/.*",
            "/(?i)static/.*",
            "/(?P<id>[0-9]+)",
            "/é",
            "/\\pL+",
            "/[^/]+/.*",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn encoding_is_latin1_like_envoy() {
        // Envoy 1.40: "invalid escape sequence: \x{100", and `.` costs 6, not 12.
        assert_eq!(
            check("/\\x{100}"),
            Err(Re2Error::Invalid("invalid escape sequence: \\x{100".into()))
        );
        assert_eq!(check_with_limit(".", 6), Ok(()));
        assert!(check_with_limit(".", 5).is_err());
    }

    #[test]
    fn nul_bytes_are_part_of_the_pattern() {
        // Passed by length: the NUL is a literal, and what follows still counts.
        assert_eq!(check("/a\0b"), Ok(()));
        assert!(matches!(check("/a\0*+"), Err(Re2Error::Invalid(m)) if m.contains("*+")));
        assert!(matches!(check("/a\0("), Err(Re2Error::Invalid(_))));
    }
}

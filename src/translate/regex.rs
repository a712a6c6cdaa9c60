//! Regexes Envoy will accept: checked before they reach Envoy, because one
//! rejected regex makes Envoy NACK the whole route table (every host's routes).
//!
//! Envoy matches `safe_regex` with RE2, and by default refuses any regex whose
//! compiled RE2 program is larger than 100 instructions
//! (`re2.max_program_size.error_level`). So a pattern must:
//! - parse with the `regex` crate's own parser (`regex-syntax`; no backreferences,
//!   no lookaround);
//! - avoid the constructs that parser accepts but RE2 lacks or reads differently:
//!   non-ASCII characters, Unicode classes (`\p`), `\u`/`\U`/`\x{..}` escapes above
//!   ASCII, the `x`, `u` and `R` flags, `(?<name>)` (only `(?P<name>)`), special word
//!   boundaries (`\b{start}`, `\<`), nested classes and class set operations
//!   (`&&`, `--`, `~~`);
//! - keep counted repetitions within RE2's limit of 1000 (also when nested);
//! - have an estimated RE2 program size within Envoy's limit. The estimate
//!   deliberately over-counts (calibrated against Envoy 1.40: RE2 charges about one
//!   instruction per literal byte, class or operator, plus four).

use regex_syntax::ast::{
    self, Ast, ClassSet, ClassSetItem, Flag, FlagsItemKind, GroupKind, LiteralKind, RepetitionKind,
    RepetitionRange,
};

/// Envoy's default `re2.max_program_size.error_level`.
const ENVOY_MAX_PROGRAM_SIZE: u64 = 100;

/// RE2's fixed instructions (match, fail, unanchored start).
const PROGRAM_OVERHEAD: u64 = 4;

/// RE2's largest repetition count, also for the product of nested repetitions.
const MAX_REPEAT: u64 = 1000;

/// Why a regex is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegexError {
    /// Not a regular expression at all (or uses backreferences or lookaround).
    #[error("invalid regular expression: {0}")]
    Syntax(String),
    /// Valid for the `regex` crate but not for RE2 (or read differently by it).
    #[error("regular expression uses {0}, which Envoy's RE2 engine does not support")]
    Unsupported(&'static str),
    /// Too large for Envoy's RE2 program size limit.
    #[error("regular expression is too complex for Envoy (estimated RE2 program size {0} > {ENVOY_MAX_PROGRAM_SIZE})")]
    TooComplex(u64),
}

/// Checks that Envoy will accept `pattern` as a `safe_regex`.
pub fn validate(pattern: &str) -> Result<(), RegexError> {
    if !pattern.is_ascii() {
        return Err(RegexError::Unsupported("non-ASCII characters"));
    }
    let parsed = ast::parse::Parser::new()
        .parse(pattern)
        .map_err(|e| RegexError::Syntax(e.kind().to_string()))?;
    regex_syntax::hir::translate::Translator::new()
        .translate(pattern, &parsed)
        .map_err(|e| RegexError::Syntax(e.kind().to_string()))?;
    let size = PROGRAM_OVERHEAD + cost(&parsed, 1)?;
    if size > ENVOY_MAX_PROGRAM_SIZE {
        return Err(RegexError::TooComplex(size));
    }
    Ok(())
}

/// True when Envoy will accept `pattern`.
pub fn fits_envoy(pattern: &str) -> bool {
    validate(pattern).is_ok()
}

/// Over-estimated RE2 instructions for `node`; `repeat` is the product of the
/// counted repetitions around it.
fn cost(node: &Ast, repeat: u64) -> Result<u64, RegexError> {
    Ok(match node {
        Ast::Empty(_) => 0,
        Ast::Flags(set) => {
            check_flags(&set.flags)?;
            0
        }
        Ast::Literal(lit) => literal_cost(lit)?,
        Ast::Dot(_) => 3,
        Ast::Assertion(a) => {
            use ast::AssertionKind::*;
            match a.kind {
                StartLine | EndLine | StartText | EndText | WordBoundary | NotWordBoundary => 1,
                _ => return Err(RegexError::Unsupported("special word boundaries")),
            }
        }
        Ast::ClassUnicode(_) => return Err(RegexError::Unsupported("Unicode classes")),
        Ast::ClassPerl(_) => 6,
        Ast::ClassBracketed(class) => bracketed_cost(class, false)?,
        Ast::Repetition(rep) => repetition_cost(rep, repeat)?,
        Ast::Group(group) => {
            let inner = cost(&group.ast, repeat)?;
            match &group.kind {
                GroupKind::CaptureIndex(_) => inner + 2,
                GroupKind::CaptureName { starts_with_p, .. } => {
                    if !starts_with_p {
                        return Err(RegexError::Unsupported("(?<name>) groups; use (?P<name>)"));
                    }
                    inner + 2
                }
                GroupKind::NonCapturing(flags) => {
                    check_flags(flags)?;
                    inner
                }
            }
        }
        Ast::Alternation(alt) => {
            let mut total = alt.asts.len() as u64;
            for a in &alt.asts {
                total = total.saturating_add(cost(a, repeat)?);
            }
            total
        }
        Ast::Concat(cat) => {
            let mut total = 0u64;
            for a in &cat.asts {
                total = total.saturating_add(cost(a, repeat)?);
            }
            total
        }
    })
}

fn check_flags(flags: &ast::Flags) -> Result<(), RegexError> {
    for item in &flags.items {
        if let FlagsItemKind::Flag(flag) = item.kind {
            match flag {
                Flag::CaseInsensitive
                | Flag::MultiLine
                | Flag::DotMatchesNewLine
                | Flag::SwapGreed => {}
                Flag::Unicode => return Err(RegexError::Unsupported("the u flag")),
                Flag::CRLF => return Err(RegexError::Unsupported("the R flag")),
                Flag::IgnoreWhitespace => return Err(RegexError::Unsupported("the x flag")),
            }
        }
    }
    Ok(())
}

fn literal_cost(lit: &ast::Literal) -> Result<u64, RegexError> {
    match lit.kind {
        LiteralKind::HexFixed(ast::HexLiteralKind::X)
        | LiteralKind::HexBrace(ast::HexLiteralKind::X)
            if lit.c.is_ascii() =>
        {
            Ok(1)
        }
        LiteralKind::HexFixed(_) | LiteralKind::HexBrace(_) => {
            Err(RegexError::Unsupported("\\u, \\U or non-ASCII \\x escapes"))
        }
        LiteralKind::Octal => Err(RegexError::Unsupported("octal escapes")),
        LiteralKind::Special(ast::SpecialLiteralKind::Space) => {
            Err(RegexError::Unsupported("escaped spaces"))
        }
        _ if !lit.c.is_ascii() => Err(RegexError::Unsupported("non-ASCII characters")),
        _ => Ok(1),
    }
}

fn bracketed_cost(class: &ast::ClassBracketed, nested: bool) -> Result<u64, RegexError> {
    if nested {
        return Err(RegexError::Unsupported("nested character classes"));
    }
    let items = match &class.kind {
        ClassSet::Item(item) => item_cost(item)?,
        ClassSet::BinaryOp(_) => {
            return Err(RegexError::Unsupported("character class set operations"))
        }
    };
    Ok(2 + items + if class.negated { 2 } else { 0 })
}

fn item_cost(item: &ClassSetItem) -> Result<u64, RegexError> {
    Ok(match item {
        ClassSetItem::Empty(_) => 0,
        ClassSetItem::Literal(lit) => literal_cost(lit)?,
        ClassSetItem::Range(range) => literal_cost(&range.start)? + literal_cost(&range.end)?,
        ClassSetItem::Ascii(_) => 4,
        ClassSetItem::Unicode(_) => return Err(RegexError::Unsupported("Unicode classes")),
        ClassSetItem::Perl(_) => 6,
        ClassSetItem::Bracketed(inner) => bracketed_cost(inner, true)?,
        ClassSetItem::Union(union) => {
            let mut total = 0u64;
            for i in &union.items {
                total = total.saturating_add(item_cost(i)?);
            }
            total
        }
    })
}

fn repetition_cost(rep: &ast::Repetition, repeat: u64) -> Result<u64, RegexError> {
    let (min, max) = match &rep.op.kind {
        RepetitionKind::ZeroOrOne => (0, Some(1)),
        RepetitionKind::ZeroOrMore => (0, None),
        RepetitionKind::OneOrMore => (1, None),
        RepetitionKind::Range(RepetitionRange::Exactly(n)) => (u64::from(*n), Some(u64::from(*n))),
        RepetitionKind::Range(RepetitionRange::AtLeast(n)) => (u64::from(*n), None),
        RepetitionKind::Range(RepetitionRange::Bounded(m, n)) => {
            (u64::from(*m), Some(u64::from(*n)))
        }
    };
    let counted = matches!(rep.op.kind, RepetitionKind::Range(_));
    let largest = max.unwrap_or(min);
    let repeat = if counted {
        repeat.saturating_mul(largest.max(1))
    } else {
        repeat
    };
    if counted && (largest > MAX_REPEAT || repeat > MAX_REPEAT) {
        return Err(RegexError::Unsupported("repetition counts above 1000"));
    }
    let inner = cost(&rep.ast, repeat)?;
    let copies = inner.saturating_mul(min);
    let tail = match max {
        // `x*` is x plus a loop; `x{n,}` is n copies, the last one looping.
        None if min == 0 => inner + 1,
        None => 1,
        Some(max) => max.saturating_sub(min).saturating_mul(inner + 1),
    };
    Ok(copies.saturating_add(tail))
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
            "/x\\%y\\_z",
            "\\A/a\\b.*\\z",
        ] {
            assert_eq!(validate(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn rejects_what_re2_cannot_do() {
        for bad in [
            "/(a)\\1",
            "/(?=x)",
            "/(?!x)",
            "/(?<=x)y",
            "/(?x) a",
            "/(?u)a",
            "/\\pL",
            "/é",
            "/\\u0041",
            "/[a-z&&[^b]]",
            "/[[a]]",
            "/\\b{start}",
            "/\\<a",
            "/(?<n>a)",
            "/a{1001}",
            "/(a{40}){40}",
            "/(",
            "/[z-a]",
        ] {
            assert!(validate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refuses_programs_larger_than_envoy_allows() {
        // Envoy 1.40 reports 104 for 100 literal bytes.
        assert!(matches!(
            validate(&"x".repeat(100)),
            Err(RegexError::TooComplex(104))
        ));
        assert!(validate(&"x".repeat(96)).is_ok());
        assert!(validate("/a{200}").is_err());
    }
}

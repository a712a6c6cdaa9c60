//! Reading an object's annotations under one prefix, and recording a verdict
//! for each one: honoured, approximated (how), ignored (why) or invalid (why).
//!
//! The parsers of every group take values through a [`Reader`] and say what
//! became of each annotation they read; whatever carries the prefix and no
//! parser took is "not supported". Translation turns the verdicts into
//! diagnostics and `interlock migrate-check` prints them, so both always agree
//! with what the parsers actually did.

use std::collections::BTreeMap;
use std::fmt;

/// What became of one annotation.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "verdict", content = "detail", rename_all = "lowercase")]
pub enum Verdict {
    /// Implemented as ingress-nginx does it.
    Honoured,
    /// Implemented with a difference, described.
    Approximated(String),
    /// Not implemented; why.
    Ignored(String),
    /// Its value is invalid; what is wrong and what happens instead.
    Invalid(String),
}

/// One annotation and its verdict.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// The annotation's name without the prefix (e.g. `rewrite-target`).
    pub annotation: String,
    /// What became of it.
    pub verdict: Verdict,
}

/// An object's annotations under one prefix, and the verdicts given so far.
#[derive(Debug)]
pub struct Reader<'a> {
    values: BTreeMap<&'a str, &'a str>,
    findings: BTreeMap<String, Verdict>,
}

// === impl Reader ===

impl<'a> Reader<'a> {
    /// The annotations of `annotations` that start with `prefix` + `/`.
    pub fn new(prefix: &str, annotations: Option<&'a BTreeMap<String, String>>) -> Self {
        let values = annotations
            .into_iter()
            .flatten()
            .filter_map(|(name, value)| {
                let short = name.strip_prefix(prefix)?.strip_prefix('/')?;
                Some((short, value.as_str()))
            })
            .collect();
        Reader {
            values,
            findings: BTreeMap::new(),
        }
    }

    /// True when no annotation carries the prefix.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The raw value of `name` (without the prefix), trimmed.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.values.get(name).map(|v| v.trim())
    }

    /// The value of `name` parsed by `parse`; an error is recorded as the
    /// annotation's verdict ([`Verdict::Invalid`]) and gives `None`.
    pub fn parse<T, E: fmt::Display>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        let value = self.get(name)?;
        match parse(value) {
            Ok(v) => Some(v),
            Err(e) => {
                self.invalid(name, format!("{e}; ignored"));
                None
            }
        }
    }

    /// `name` is implemented as written (if present).
    pub fn honoured(&mut self, name: &str) {
        self.record(name, Verdict::Honoured);
    }

    /// `name` is implemented with a difference (if present).
    pub fn approximated(&mut self, name: &str, how: impl Into<String>) {
        self.record(name, Verdict::Approximated(how.into()));
    }

    /// `name` is not implemented (if present).
    pub fn ignored(&mut self, name: &str, why: impl Into<String>) {
        self.record(name, Verdict::Ignored(why.into()));
    }

    /// `name`'s value is invalid (if present).
    pub fn invalid(&mut self, name: &str, why: impl Into<String>) {
        self.record(name, Verdict::Invalid(why.into()));
    }

    /// The first verdict given for a present annotation is kept: an invalid
    /// value stays invalid even if its group then honours the rest.
    fn record(&mut self, name: &str, verdict: Verdict) {
        if self.values.contains_key(name) && !self.findings.contains_key(name) {
            self.findings.insert(name.to_owned(), verdict);
        }
    }

    /// Every annotation under the prefix with its verdict, by name; the ones no
    /// parser took are not supported.
    pub fn finish(mut self) -> Vec<Finding> {
        for name in self.values.keys() {
            if !self.findings.contains_key(*name) {
                self.findings.insert(
                    (*name).to_owned(),
                    Verdict::Ignored("not supported by Interlock".to_owned()),
                );
            }
        }
        self.findings
            .into_iter()
            .map(|(annotation, verdict)| Finding {
                annotation,
                verdict,
            })
            .collect()
    }
}

// === impl Verdict ===

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Honoured => f.write_str("honoured"),
            Verdict::Approximated(how) => write!(f, "approximated: {how}"),
            Verdict::Ignored(why) => write!(f, "ignored: {why}"),
            Verdict::Invalid(why) => write!(f, "invalid: {why}"),
        }
    }
}

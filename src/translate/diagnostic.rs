//! What translation tells operators about the objects it could not serve as written.

use std::fmt;

use crate::world::{Kind, ObjectKey, ObjectRef};

/// How bad a diagnostic is.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Served, but not exactly as written (e.g. superseded by an older Ingress).
    Warning,
    /// Part of the object is not served, or answers 503.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One problem found in the world, attached to the object an operator must fix.
/// Never carries Secret content.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Diagnostic {
    /// The object to fix (usually an Ingress).
    pub object: ObjectRef,
    /// How bad it is.
    pub severity: Severity,
    /// What is wrong and what happens instead.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.object, self.message)
    }
}

/// Collects diagnostics during one translation; sorted and de-duplicated at the
/// end so the output does not depend on the order problems were found in.
#[derive(Debug, Default)]
pub(crate) struct Diagnostics(Vec<Diagnostic>);

impl Diagnostics {
    /// Records an error about an Ingress.
    pub(crate) fn error(&mut self, ingress: &ObjectKey, message: impl Into<String>) {
        self.push(Kind::Ingress, ingress, Severity::Error, message);
    }

    /// Records a warning about an Ingress.
    pub(crate) fn warning(&mut self, ingress: &ObjectKey, message: impl Into<String>) {
        self.push(Kind::Ingress, ingress, Severity::Warning, message);
    }

    /// Records a diagnostic about any object.
    pub(crate) fn push(
        &mut self,
        kind: Kind,
        key: &ObjectKey,
        severity: Severity,
        message: impl Into<String>,
    ) {
        self.0.push(Diagnostic {
            object: ObjectRef {
                kind,
                key: key.clone(),
            },
            severity,
            message: message.into(),
        });
    }

    /// Adds diagnostics found elsewhere (e.g. kept with a source's contribution).
    pub(crate) fn extend(&mut self, diagnostics: impl IntoIterator<Item = Diagnostic>) {
        self.0.extend(diagnostics);
    }

    /// The diagnostics, sorted by object then severity then message.
    pub(crate) fn finish(mut self) -> Vec<Diagnostic> {
        self.0.sort();
        self.0.dedup();
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_object() {
        let mut d = Diagnostics::default();
        d.error(&ObjectKey::new("ns", "web"), "bad host");
        let all = d.finish();
        assert_eq!(all[0].to_string(), "Ingress ns/web: bad host");
        assert_eq!(all[0].severity, Severity::Error);
    }
}

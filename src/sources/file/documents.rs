//! A manifest text cut into its `---`-separated documents, each deserialized on
//! its own so that errors name the document and its line in the whole text.
//!
//! serde-saphyr reads a stream of documents in one call but skips empty ones
//! (so its count is not the one a person sees) and stops at the first error;
//! one pass of its parser finds the document boundaries instead.

use serde::Deserialize;
use serde_saphyr::granit_parser::{self, Event, Parser};
use serde_saphyr::{MessageFormatter, NonFiniteFloatPolicy, SnippetMode, UserMessageFormatter};

use super::error::ParseError;

/// One document of a manifest text.
#[derive(Clone, Copy, Debug)]
pub(super) struct Document<'a> {
    /// 1-based position in the text, empty documents included.
    pub(super) number: usize,
    /// The document's own text: the directives and comments before it, its
    /// `---`, its content and its `...`, if any.
    text: &'a str,
    /// Lines of the whole text before `text` begins.
    lines_before: usize,
}

/// The documents of `text`, in order. A syntax error anywhere fails the text,
/// naming the document it is in.
pub(super) fn documents(text: &str) -> Result<Vec<Document<'_>>, ParseError> {
    let mut documents = Vec::new();
    // Where the next document's text begins: where the previous one ended.
    let (mut start, mut lines_before) = (0, 0);
    let events =
        Parser::new_from_str_with_options(text, granit_parser::options! { emit_comments: false });
    for event in events {
        let (event, span) = event.map_err(|error| {
            let mark = error.marker();
            ParseError::new(
                documents.len() + 1,
                None,
                Some(mark.line()),
                format!(
                    "{} at line {}, column {}",
                    error.info(),
                    mark.line(),
                    mark.col() + 1
                ),
            )
        })?;
        if !matches!(event, Event::DocumentEnd) {
            continue;
        }
        // Offsets are always known when parsing a `str`; the end of the text
        // is the safe answer if one ever is not.
        let end = span.end.byte_offset().unwrap_or(text.len());
        documents.push(Document {
            number: documents.len() + 1,
            text: text.get(start..end).unwrap_or_default(),
            lines_before,
        });
        start = end;
        lines_before = span.end.line().saturating_sub(1);
    }
    Ok(documents)
}

// === impl Document ===

impl<'a> Document<'a> {
    /// The document as `T`; an empty document is `None`.
    pub(super) fn deserialize<T: Deserialize<'a>>(&self) -> Result<Option<T>, serde_saphyr::Error> {
        serde_saphyr::from_str_with_options(self.text, options())
    }

    /// Runs `f` on a deserializer over this document.
    pub(super) fn with_deserializer<R>(
        &self,
        f: impl for<'e> FnOnce(serde_saphyr::Deserializer<'a, 'e>) -> Result<R, serde_saphyr::Error>,
    ) -> Result<R, serde_saphyr::Error> {
        serde_saphyr::with_deserializer_from_str_with_options(self.text, options(), f)
    }

    /// `error`, from deserializing this document, as a [`ParseError`] whose
    /// line (in the message too) counts from the start of the whole text.
    pub(super) fn error(&self, item: Option<usize>, error: &serde_saphyr::Error) -> ParseError {
        let location = error.location().filter(|l| l.line() > 0);
        let formatter = Quoting(self.text);
        let message = error.render_with_options(serde_saphyr::render_options! {
            formatter: &formatter,
            snippets: SnippetMode::Off,
            line_offset: self.lines_before as u64,
        });
        ParseError::new(
            self.number,
            item,
            location.map(|l| l.line() as usize + self.lines_before),
            message,
        )
    }
}

/// How manifests are read: YAML 1.2 (`yes`/`on` are strings, not booleans),
/// merge keys applied, duplicate keys an error, and `.inf`/`.nan` kept as
/// strings rather than failing the whole document (no Kubernetes field of the
/// kinds read is a float). The parser's resource budget stays on, with room
/// for a `kubectl get -o yaml` List of a large cluster in one document.
fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        strict_booleans: true,
        non_finite_float_policy: NonFiniteFloatPolicy::AsString,
        with_snippet: false,
        budget: serde_saphyr::budget! {
            max_events: 16_000_000,
            max_nodes: 4_000_000,
        },
    }
}

/// The user-facing messages, with the offending text of a scalar that could
/// not be read as its type (`invalid i32` alone does not say what was found).
struct Quoting<'a>(&'a str);

impl MessageFormatter for Quoting<'_> {
    fn format_message<'e>(&self, error: &'e serde_saphyr::Error) -> std::borrow::Cow<'e, str> {
        let message = UserMessageFormatter.format_message(error);
        let serde_saphyr::Error::InvalidScalar { location, .. } = error else {
            return message;
        };
        let span = location.span();
        let scalar = span
            .byte_offset()
            .zip(span.byte_len())
            .and_then(|(offset, len)| {
                let start = usize::try_from(offset).ok()?;
                self.0
                    .get(start..start.checked_add(usize::try_from(len).ok()?)?)
            })
            .filter(|s| !s.is_empty() && s.len() <= 80 && !s.contains('\n'));
        match scalar {
            Some(scalar) => format!("{message} {scalar:?}").into(),
            None => message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str) -> Vec<(usize, &str, usize)> {
        documents(text)
            .expect("valid YAML")
            .into_iter()
            .map(|d| (d.number, d.text, d.lines_before))
            .collect()
    }

    #[test]
    fn every_document_is_counted_empty_ones_too() {
        // An empty document ends right after its `---`: the comment goes with
        // the next one, which changes nothing but where its text begins.
        assert_eq!(
            texts("a: 1\n---\n# only a comment\n---\nb: 2\n"),
            [
                (1, "a: 1\n", 0),
                (2, "---", 1),
                (3, "\n# only a comment\n---\nb: 2\n", 1),
            ]
        );
        assert_eq!(texts(""), []);
    }

    #[test]
    fn directives_and_document_ends_stay_with_their_document() {
        assert_eq!(
            texts("a: 1\n...\n%YAML 1.2\n---\nb: 2\n"),
            [(1, "a: 1\n...", 0), (2, "\n%YAML 1.2\n---\nb: 2\n", 1)]
        );
    }

    #[test]
    fn errors_count_lines_from_the_start_of_the_text() {
        let [_, second] =
            documents("a: 1\n---\nb: [1\n, x: y]\nc: eighty\n").expect("syntax is fine")[..]
        else {
            panic!("two documents");
        };
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Doc {
            c: u16,
        }
        let error = second.deserialize::<Doc>().expect_err("not a number");
        let error = second.error(None, &error);
        assert_eq!((error.document, error.line), (2, Some(5)), "{error}");
        assert!(error.message.contains("\"eighty\""), "{error}");
        assert!(error.message.contains("line 5"), "{error}");
    }

    #[test]
    fn a_syntax_error_names_its_document_and_line() {
        let error = documents("a: 1\n---\nb: 2\n---\nc: [1\n").expect_err("unclosed");
        assert_eq!(error.document, 3, "{error}");
        assert!(error.line.is_some_and(|l| l >= 5), "{error}");
    }

    #[test]
    fn yaml_1_1_booleans_are_strings() {
        let [doc] = documents("a: yes\nb: on\nc: true\n").expect("valid")[..] else {
            panic!("one document");
        };
        let value: serde_json::Value = doc.deserialize().expect("valid").expect("not empty");
        assert_eq!(value, serde_json::json!({"a": "yes", "b": "on", "c": true}));
    }
}

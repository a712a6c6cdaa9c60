//! What can go wrong in the file source: the directory itself (fatal, at start)
//! and one file's text (reported, never fatal).

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why the file source could not start or keep running. Problems inside files
/// are not here: they are reported per file and never stop the source.
#[derive(Debug, thiserror::Error)]
pub enum FileSourceError {
    /// The directory to load does not exist.
    #[error("ingress directory {0} does not exist")]
    DirNotFound(PathBuf),
    /// The path exists but is not a directory.
    #[error("ingress directory {0} is not a directory")]
    NotADirectory(PathBuf),
    /// The directory could not be read.
    #[error("cannot read ingress directory {path}: {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The directory could not be watched for changes.
    #[error("cannot watch ingress directory {path}: {source}")]
    Watch {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: notify::Error,
    },
    /// The background worker that reads files failed.
    #[error("file source worker failed: {0}")]
    Worker(String),
}

/// Why a manifest text could not be used. It names the document (and the item,
/// inside a `kind: List`) so a person can find the mistake in a long file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    /// 1-based position of the `---`-separated document in the text.
    pub document: usize,
    /// 1-based position in the `items` of a `kind: List`, if inside one.
    pub item: Option<usize>,
    /// 1-based line in the text, when the parser knows it.
    pub line: Option<usize>,
    /// What went wrong (the YAML or serde error).
    pub message: String,
}

impl ParseError {
    /// An error with everything known about it.
    pub(super) fn new(
        document: usize,
        item: Option<usize>,
        line: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        ParseError {
            document,
            item,
            line,
            message: message.into(),
        }
    }

    /// An error found by inspecting a document rather than by the parser.
    pub(super) fn invalid(
        document: usize,
        item: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        ParseError::new(document, item, None, message)
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "document {}", self.document)?;
        if let Some(item) = self.item {
            write!(f, ", item {item}")?;
        }
        write!(f, ": {}", self.message)
    }
}

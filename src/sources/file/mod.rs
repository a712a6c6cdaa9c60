//! The file source: a directory of Kubernetes YAML, loaded and watched live. It
//! is the embedded default that needs no cluster (`interlock serve --ingress-dir`).
//!
//! Rules, each chosen so an edit in progress never drops a route:
//! - A file that stops parsing keeps the objects it last held (an editor's
//!   half-written save) and is reported in [`FileSourceStatus::errors`];
//!   once it parses again its objects replace the old ones. A file that
//!   becomes *empty* (0 bytes) after holding objects is treated the same way,
//!   since truncate-then-write saves pass through that state: delete the file
//!   to remove its objects.
//! - Deleting (or renaming away) a file removes its objects.
//! - An object defined in several places: the last definition in path order
//!   wins, as with `kubectl apply -f DIR` (see `Merged`); a warning names every
//!   file, and removing the winner lets the next definition apply.
//! - Bursts of file events are coalesced (10 ms of quiet, at most 100 ms);
//!   every pass rereads from disk, so the final state is never lost.

mod directory;
mod documents;
mod error;
mod locate;
mod manifest;
mod merge_pass;
mod merged;
mod names;
mod scan;
mod source;
mod status;
mod string_data;
mod watch;

pub use error::{FileSourceError, ParseError};
pub use manifest::{parse_manifests, Manifests, SkipReason, Skipped};
pub use names::is_manifest_name;
pub use source::{FileSource, SOURCE_NAME};
pub use status::FileSourceStatus;

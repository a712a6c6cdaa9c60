//! Content-derived versions (invariant 7): the same bytes give the same version on
//! any replica and after any restart; no clock, counter or random seed is involved.

use xxhash_rust::xxh3::Xxh3;

/// Incrementally hashes content into a version string.
#[derive(Default)]
pub struct VersionHasher(Xxh3);

impl VersionHasher {
    /// Starts an empty hash.
    pub fn new() -> Self {
        VersionHasher(Xxh3::new())
    }

    /// Adds one length-prefixed field, so that ("ab","c") and ("a","bc") differ.
    pub fn field(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.update(&(bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
        self
    }

    /// The version: 128 bits of hash as 32 hex digits.
    pub fn finish(&self) -> String {
        format!("{:032x}", self.0.digest128())
    }
}

/// The version of a set of (name, version) pairs, e.g. one xDS response's content.
pub fn version_of<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut hasher = VersionHasher::new();
    for (name, version) in entries {
        hasher.field(name.as_bytes()).field(version.as_bytes());
    }
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_depends_only_on_content() {
        let a = version_of([("x", "1"), ("y", "2")]);
        assert_eq!(a, version_of([("x", "1"), ("y", "2")]));
        assert_ne!(a, version_of([("x", "1"), ("y", "3")]));
        assert_ne!(version_of([("ab", "c")]), version_of([("a", "bc")]));
        assert_eq!(a.len(), 32);
    }
}

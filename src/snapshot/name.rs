//! Resource names, interned: one allocation per distinct name, shared by the
//! snapshot's resources and by every stream that subscribes to, warms or owes
//! it. With 1,000 Envoys each naming the same 1,000 clusters, per-stream
//! `String` copies of the names were half of the server's heap.
//!
//! A [`Name`] is an `Arc<str>`: it hashes, orders and compares by content, so
//! sets of names are still looked up by `&str` (a name from a request or a
//! resource). Interning only decides which allocation is shared.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

use dashmap::DashSet;
use foldhash::fast::RandomState;

/// A shared resource name.
pub type Name = Arc<str>;

/// Every interned name. An entry nobody else holds any more is dropped by the
/// next sweep.
/// Hashed with a per-process seed: names come from Envoys' requests too.
static NAMES: LazyLock<DashSet<Name, RandomState>> =
    LazyLock::new(|| DashSet::with_hasher(RandomState::default()));

/// Live entries after the last sweep: the next sweep runs once the set has
/// doubled, so sweeping costs O(1) amortised per interned name.
static LIVE_AFTER_SWEEP: AtomicUsize = AtomicUsize::new(0);

/// The fewest entries a sweep is worth running for.
const MIN_SWEEP: usize = 4096;

/// The shared allocation of `name` (made if it is new).
pub fn intern(name: &str) -> Name {
    if let Some(found) = NAMES.get(name) {
        return Arc::clone(&found);
    }
    let name: Name = Arc::from(name);
    // A race with another inserter of the same name keeps one of the two in the
    // set; the loser's copy is simply not shared.
    NAMES.insert(Arc::clone(&name));
    sweep_if_grown();
    name
}

/// Drops the entries only the set holds, once it has doubled since the last sweep.
fn sweep_if_grown() {
    let len = NAMES.len();
    let threshold = LIVE_AFTER_SWEEP.load(Ordering::Relaxed).max(MIN_SWEEP / 2) * 2;
    if len < threshold {
        return;
    }
    NAMES.retain(|n| Arc::strong_count(n) > 1);
    LIVE_AFTER_SWEEP.store(NAMES.len(), Ordering::Relaxed);
}

/// Equal names, usually told by address: interned names (a CLA's, and the one
/// its cluster references) are one allocation.
pub fn same_name(a: &str, b: &str) -> bool {
    std::ptr::eq(a, b) || a == b
}

/// Advances `sorted` (ordered by name) up to `name` and takes the entry named
/// `name`, if there is one. Walking two sorted sequences this way is a merge:
/// with interned names most steps are an address match, no string comparison.
pub fn seek_name<T>(
    sorted: &mut std::iter::Peekable<impl Iterator<Item = T>>,
    name: &str,
    name_of: impl Fn(&T) -> &str,
) -> Option<T> {
    while sorted
        .next_if(|t| !same_name(name_of(t), name) && name_of(t) < name)
        .is_some()
    {}
    sorted.next_if(|t| same_name(name_of(t), name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_names_share_one_allocation() {
        let a = intern("ns/a-name-only-this-test-uses:80");
        let b = intern(&String::from("ns/a-name-only-this-test-uses:80"));
        assert!(Arc::ptr_eq(&a, &b));
        assert_ne!(&*intern("ns/another:80"), &*a);
    }

    #[test]
    fn names_nobody_holds_are_swept() {
        let kept = intern("kept-across-the-sweep");
        for i in 0..3 * MIN_SWEEP {
            intern(&format!("dropped-{i}"));
        }
        assert!(
            NAMES.len() < 3 * MIN_SWEEP,
            "unheld names stay: {}",
            NAMES.len()
        );
        assert!(Arc::ptr_eq(&kept, &intern("kept-across-the-sweep")));
    }
}

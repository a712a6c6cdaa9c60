//! Order-preserving maps over the machine's cores, for the passes of a full
//! rebuild whose items are independent (reading 50,000 Ingresses, rendering
//! and encoding 50,000 clusters and assignments). The output is the
//! sequential map's, item for item and in order, so translation stays
//! deterministic. Small inputs (one changed Ingress's resources) run on the
//! calling thread: a thread costs more than they do.

use std::num::NonZeroUsize;
use std::sync::OnceLock;

/// Fewest items worth splitting across threads.
const MIN_PARALLEL: usize = 2048;

/// Most threads one map uses (the calling one included).
const MAX_THREADS: usize = 8;

/// `f` of every item of `items`, in order.
pub fn map<T: Send, U: Send>(items: Vec<T>, f: impl Fn(T) -> U + Sync) -> Vec<U> {
    map_with(items, || (), |(), item| f(item))
}

/// `f` of every item of `items`, in order, each thread's items sharing one
/// `state` made by `init` (e.g. memoized lookups).
pub fn map_with<T: Send, U: Send, S>(
    items: Vec<T>,
    init: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, T) -> U + Sync,
) -> Vec<U> {
    let threads = threads().min(items.len() / MIN_PARALLEL).max(1);
    if threads == 1 {
        let mut state = init();
        return items.into_iter().map(|item| f(&mut state, item)).collect();
    }
    let chunks = split(items, threads);
    let run = |chunk: Vec<T>| {
        let mut state = init();
        chunk
            .into_iter()
            .map(|item| f(&mut state, item))
            .collect::<Vec<U>>()
    };
    std::thread::scope(|scope| {
        let mut chunks = chunks.into_iter();
        let first = chunks.next().unwrap_or_default();
        let others: Vec<_> = chunks.map(|chunk| scope.spawn(|| run(chunk))).collect();
        let mut out = run(first);
        for handle in others {
            match handle.join() {
                Ok(part) => out.extend(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

/// `items` cut into `parts` consecutive runs of nearly equal length.
fn split<T>(mut items: Vec<T>, parts: usize) -> Vec<Vec<T>> {
    let size = items.len().div_ceil(parts);
    let mut chunks = Vec::with_capacity(parts);
    while items.len() > size {
        chunks.push(items.split_off(items.len() - size));
    }
    chunks.push(items);
    chunks.reverse();
    chunks
}

/// The cores this process may use (at most [`MAX_THREADS`]).
fn threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, NonZeroUsize::get)
            .min(MAX_THREADS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parallel_map_keeps_the_sequential_order() {
        for len in [0, 1, MIN_PARALLEL - 1, MIN_PARALLEL * 3 + 7] {
            let items: Vec<usize> = (0..len).collect();
            let doubled = map(items.clone(), |i| i * 2);
            assert_eq!(doubled, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        }
    }

    #[test]
    fn split_covers_every_item_once_in_order() {
        let chunks = split((0..10).collect::<Vec<_>>(), 3);
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks.concat(), (0..10).collect::<Vec<_>>());
    }
}

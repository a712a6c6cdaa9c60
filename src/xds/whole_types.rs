//! One encoding of a snapshot's whole type set, shared by every stream that
//! sends it. A connect storm sends each Envoy every cluster, CLA, listener and
//! route table; SotW re-sends whole types on every change. Encoding them once
//! per snapshot (and flavour) instead of once per stream saves the copies, and
//! the memory they hold until each stream's socket takes them.

use std::sync::{Arc, Mutex};

use prost::bytes::Bytes;

use crate::snapshot::ResourceMap;

use super::stream_state::Mode;

/// Sets kept: the current snapshot's five types in both flavours, with room
/// for the one before while streams move over.
const KEPT: usize = 24;

/// Encoded whole sets, by the identity of their map (snapshots share unchanged
/// maps, so one encoding serves every snapshot that holds the map).
#[derive(Default)]
pub(crate) struct WholeTypes {
    /// Most recently used last. The map is held so its address stays its own.
    sets: Mutex<Vec<(Arc<ResourceMap>, Mode, Bytes)>>,
}

// === impl WholeTypes ===

impl WholeTypes {
    /// `map` encoded for `mode` by `encode`, which runs only when no stream has
    /// encoded this map for this flavour yet (or it was evicted).
    pub(crate) fn get(
        &self,
        map: &Arc<ResourceMap>,
        mode: Mode,
        encode: impl FnOnce(&ResourceMap) -> Bytes,
    ) -> Bytes {
        let found = |sets: &mut Vec<(Arc<ResourceMap>, Mode, Bytes)>| {
            let at = sets
                .iter()
                .position(|(m, k, _)| *k == mode && Arc::ptr_eq(m, map))?;
            let entry = sets.remove(at);
            let bytes = entry.2.clone();
            sets.push(entry);
            Some(bytes)
        };
        if let Some(bytes) = found(&mut self.lock()) {
            return bytes;
        }
        // Encoded outside the lock; two streams racing encode it twice, once.
        let bytes = encode(map);
        let mut sets = self.lock();
        if let Some(bytes) = found(&mut sets) {
            return bytes;
        }
        if sets.len() >= KEPT {
            sets.remove(0);
        }
        sets.push((Arc::clone(map), mode, bytes.clone()));
        bytes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Arc<ResourceMap>, Mode, Bytes)>> {
        // A panic while holding it leaves a valid list: use it.
        self.sets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    fn map() -> Arc<ResourceMap> {
        Arc::new(ResourceMap::new())
    }

    #[test]
    fn a_map_is_encoded_once_per_flavour() {
        let cache = WholeTypes::default();
        let (a, calls) = (map(), Cell::new(0));
        let encode = |_: &ResourceMap| {
            calls.set(calls.get() + 1);
            Bytes::from_static(b"a")
        };
        cache.get(&a, Mode::Sotw, encode);
        cache.get(&a, Mode::Sotw, encode);
        assert_eq!(calls.get(), 1);
        cache.get(&a, Mode::Delta, encode);
        assert_eq!(calls.get(), 2, "delta frames resources differently");
        let b = map();
        cache.get(&b, Mode::Sotw, encode);
        assert_eq!(calls.get(), 3, "another map, even an equal one");
    }

    #[test]
    fn the_least_recently_used_set_is_evicted() {
        let cache = WholeTypes::default();
        let first = map();
        let calls = Cell::new(0);
        let encode = |_: &ResourceMap| {
            calls.set(calls.get() + 1);
            Bytes::new()
        };
        cache.get(&first, Mode::Sotw, encode);
        let others: Vec<_> = (0..KEPT).map(|_| map()).collect();
        for m in &others {
            cache.get(m, Mode::Sotw, encode);
        }
        let before = calls.get();
        cache.get(&first, Mode::Sotw, encode);
        assert_eq!(calls.get(), before + 1, "evicted, encoded again");
        cache.get(&others[KEPT - 1], Mode::Sotw, encode);
        assert_eq!(calls.get(), before + 1, "recent ones are kept");
    }
}

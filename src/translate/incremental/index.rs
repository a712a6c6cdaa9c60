//! Keeping the per-Ingress reads and the indexes over them (who claims which
//! host, who looked up what) up to date.

use std::collections::{BTreeMap, BTreeSet};

use super::read::IngressRead;
use super::{Changes, Touched, Translator};
use crate::fan_out;
use crate::translate::source::ingress::class;
use crate::translate::source::Lookups;
use crate::world::{Kind, ObjectKey, World};

// === impl Translator ===

impl Translator {
    /// Reads again the changed Ingresses and those that looked up a changed
    /// object.
    pub(super) fn reread(&mut self, world: &World, changes: &Changes, touched: &mut Touched) {
        let mut keys: BTreeSet<&ObjectKey> = BTreeSet::new();
        for object in &changes.objects {
            match object.kind {
                Kind::Ingress => {
                    keys.insert(&object.key);
                }
                _ => keys.extend(self.dependents.get(object).into_iter().flatten()),
            }
        }
        let keys: Vec<ObjectKey> = keys.into_iter().cloned().collect();
        // Reads are independent (a full rebuild has 50,000): each thread
        // memoizes its own lookups; the indexes are updated in key order.
        let config = &self.config;
        let reads = fan_out::map_with(
            keys.iter().collect(),
            || Lookups::recording(world),
            |lookups, key: &ObjectKey| {
                world
                    .ingresses
                    .get_key_value(key)
                    .filter(|(_, ingress)| class::is_ours(world, config, ingress))
                    .map(|(key, ingress)| {
                        IngressRead::read(key, ingress, lookups, &config.annotations_prefix)
                    })
            },
        );
        if self.reads.is_empty() {
            self.index_all(keys, reads, touched);
            return;
        }
        for (key, new) in keys.into_iter().zip(reads) {
            let old = self.reads.remove(&key);
            if let Some(old) = &old {
                self.unindex(old, new.as_ref(), touched);
            }
            if let Some(new) = new {
                self.index(&new, old.as_ref(), touched);
                self.reads.insert(key.clone(), new);
            }
            touched.owners.insert(key);
        }
    }

    /// Indexes `reads` (of `keys`, sorted) when nothing is indexed yet, as
    /// [`Translator::index`] one by one would: a full rebuild builds each map
    /// from a sorted run instead of 50,000 inserts.
    fn index_all(
        &mut self,
        keys: Vec<ObjectKey>,
        reads: Vec<Option<IngressRead>>,
        touched: &mut Touched,
    ) {
        debug_assert!(self.dependents.is_empty() && self.claimers.is_empty());
        let mut dependents = Vec::new();
        let mut claimers = Vec::new();
        let mut kept = Vec::with_capacity(reads.len());
        for (key, read) in keys.iter().zip(reads) {
            let Some(read) = read else { continue };
            let age = &read.age;
            dependents.extend(read.depends_on.iter().map(|d| (d.clone(), age.key.clone())));
            claimers.extend(read.hosts.iter().map(|h| (h.clone(), age.clone())));
            self.claim(&read, false, touched);
            kept.push((key.clone(), read));
        }
        self.reads = kept.into_iter().collect();
        self.dependents = grouped(dependents);
        self.claimers = grouped(claimers);
        if touched.owners.is_empty() {
            touched.owners = keys.into_iter().collect();
        } else {
            touched.owners.extend(keys);
        }
    }

    /// Drops `old` from the indexes, marking what it claimed as touched unless
    /// `new` is the same contribution at the same age.
    fn unindex(&mut self, old: &IngressRead, new: Option<&IngressRead>, touched: &mut Touched) {
        for dep in &old.depends_on {
            if let Some(set) = self.dependents.get_mut(dep) {
                set.remove(&old.age.key);
                if set.is_empty() {
                    self.dependents.remove(dep);
                }
            }
        }
        self.tally.remove(&old.diagnostics);
        let same = new.is_some_and(|n| n.age == old.age && n.contribution == old.contribution);
        for host in &old.hosts {
            if let Some(set) = self.claimers.get_mut(host) {
                set.remove(&old.age);
                if set.is_empty() {
                    self.claimers.remove(host);
                }
            }
            // Every host is merged again anyway when a global claim changed
            // (a full rebuild: 50,000 host copies saved).
            if !same && !touched.global {
                touched.hosts.insert(host.clone());
            }
        }
        if old.global {
            self.global.remove(&old.age);
            touched.global |= !same;
        }
        if old.tls {
            self.tls_claimers.remove(&old.age);
            touched.tls |= !same;
        }
    }

    /// Adds `new` to the indexes, marking what it claims as touched unless
    /// `old` is the same contribution at the same age.
    fn index(&mut self, new: &IngressRead, old: Option<&IngressRead>, touched: &mut Touched) {
        for dep in &new.depends_on {
            self.dependents
                .entry(dep.clone())
                .or_default()
                .insert(new.age.key.clone());
        }
        for host in &new.hosts {
            self.claimers
                .entry(host.clone())
                .or_default()
                .insert(new.age.clone());
        }
        let same = old.is_some_and(|o| o.age == new.age && o.contribution == new.contribution);
        self.claim(new, same, touched);
    }

    /// Counts `new`'s diagnostics in and keeps its global and TLS claims,
    /// marking what it claims as touched unless it is `same` as before.
    fn claim(&mut self, new: &IngressRead, same: bool, touched: &mut Touched) {
        self.tally.add(&new.diagnostics);
        // Every host is merged again anyway when a global claim changed
        // (a full rebuild: 50,000 host copies saved).
        if !same && !touched.global {
            touched.hosts.extend(new.hosts.iter().cloned());
        }
        if new.global {
            self.global.insert(new.age.clone());
            touched.global |= !same;
        }
        if new.tls {
            self.tls_claimers.insert(new.age.clone());
            touched.tls |= !same;
        }
    }
}

/// The map of sets that inserting each `(key, member)` pair would build.
fn grouped<K: Ord, V: Ord>(mut pairs: Vec<(K, V)>) -> BTreeMap<K, BTreeSet<V>> {
    pairs.sort_unstable();
    pairs.dedup();
    let mut runs: Vec<(K, Vec<V>)> = Vec::new();
    for (key, member) in pairs {
        match runs.last_mut() {
            Some((last, members)) if *last == key => members.push(member),
            _ => runs.push((key, vec![member])),
        }
    }
    runs.into_iter()
        .map(|(key, members)| (key, members.into_iter().collect()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::grouped;

    #[test]
    fn grouped_pairs_are_the_map_that_inserting_them_builds() {
        let pairs = vec![(2, 'b'), (1, 'z'), (2, 'a'), (1, 'z'), (3, 'c'), (2, 'b')];
        let mut inserted =
            std::collections::BTreeMap::<i32, std::collections::BTreeSet<char>>::new();
        for (k, v) in &pairs {
            inserted.entry(*k).or_default().insert(*v);
        }
        assert_eq!(grouped(pairs), inserted);
        assert!(grouped(Vec::<(u8, u8)>::new()).is_empty());
    }
}

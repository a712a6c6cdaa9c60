//! Merging again what a batch of re-reads touched: hosts, the catch-all, TLS;
//! and the per-Ingress resources that follow from them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::host::{self, HostUnit};
use super::read::AgeKey;
use super::tls::tls_unit;
use super::{Touched, Translator};
use crate::fan_out;
use crate::translate::diagnostic::Diagnostics;
use crate::translate::model::Host;
use crate::translate::render::listener::{HTTP, HTTPS};
use crate::translate::IngressResources;
use crate::world::ObjectKey;

// === impl Translator ===

impl Translator {
    /// Merges the touched hosts again (every host when a global claim changed).
    pub(super) fn remerge(&mut self, touched: &Touched) -> BTreeSet<ObjectKey> {
        let reads = &self.reads;
        let contribution = |age: &AgeKey| reads.get(&age.key).map(|r| &r.contribution);
        let mut global_diagnostics = Diagnostics::default();
        let global = host::merge_global(
            self.global.iter().filter_map(contribution),
            &mut global_diagnostics,
        );
        let catch_all = touched
            .global
            .then(|| host::catch_all(&global, global_diagnostics.finish()));
        let merge = |host: &Host| {
            let claimers = self.claimers.get_key_value(host);
            let unit = claimers.and_then(|(host, set)| {
                host::host_unit(host, set.iter().filter_map(contribution), &global)
            });
            (host.clone(), unit)
        };
        let units: Vec<_> = if touched.global {
            let all: BTreeSet<&Host> = self.claimers.keys().chain(self.hosts.keys()).collect();
            fan_out::map(all.into_iter().collect(), merge)
        } else {
            touched.hosts.iter().map(merge).collect()
        };
        drop(global);
        let mut owners = BTreeSet::new();
        if let Some(unit) = catch_all {
            let old = std::mem::take(&mut self.catch_all);
            self.replace_unit(Some(&old), Some(&unit), &mut owners);
            self.catch_all = unit;
        }
        if self.hosts.is_empty() {
            self.add_units(units, &mut owners);
            return owners;
        }
        for (host, unit) in units {
            let old = self.hosts.remove(&host);
            self.replace_unit(old.as_ref(), unit.as_ref(), &mut owners);
            if let Some(unit) = unit {
                self.hosts.insert(host, unit);
            }
        }
        owners
    }

    /// [`Translator::replace_unit`] of every unit in `units` (sorted by host)
    /// when no host has one yet (a full rebuild): the hosts, cluster counts
    /// and owners are built from sorted runs instead of 50,000 inserts each.
    fn add_units(
        &mut self,
        units: Vec<(Host, Option<HostUnit>)>,
        owners: &mut BTreeSet<ObjectKey>,
    ) {
        let mut targets = Vec::new();
        let mut winners = Vec::new();
        let mut hosts = Vec::with_capacity(units.len());
        for (host, unit) in units {
            let Some(unit) = unit else { continue };
            self.tally.add(&unit.diagnostics);
            for (owner, owned) in &unit.winners {
                targets.extend(owned.iter().cloned());
                winners.push(owner.clone());
            }
            hosts.push((host, unit));
        }
        self.dirty.routes |= !hosts.is_empty();
        self.clusters.add_all(targets);
        self.hosts = hosts.into_iter().collect();
        winners.sort_unstable();
        winners.dedup();
        if owners.is_empty() {
            *owners = winners.into_iter().collect();
        } else {
            owners.extend(winners);
        }
    }

    /// Swaps a unit's contributions to the clusters and the diagnostics; the
    /// owners winning routes in either are added to `owners`.
    fn replace_unit(
        &mut self,
        old: Option<&HostUnit>,
        new: Option<&HostUnit>,
        owners: &mut BTreeSet<ObjectKey>,
    ) {
        if old == new {
            return;
        }
        self.dirty.routes = true;
        let none: &[_] = &[];
        self.tally.replace(
            old.map_or(none, |u| &u.diagnostics),
            new.map_or(none, |u| &u.diagnostics),
        );
        if let Some(unit) = new {
            for (owner, targets) in &unit.winners {
                self.clusters.add(targets);
                owners.insert(owner.clone());
            }
        }
        if let Some(unit) = old {
            for (owner, targets) in &unit.winners {
                self.clusters.remove(targets);
                owners.insert(owner.clone());
            }
        }
    }

    /// Merges TLS again from every TLS claimer.
    pub(super) fn retls(&mut self, touched: &mut Touched) {
        let reads = &self.reads;
        let claimers = self
            .tls_claimers
            .iter()
            .filter_map(|age: &AgeKey| reads.get(&age.key).map(|r| &r.contribution));
        let new = tls_unit(&self.config, claimers);
        if new == self.tls {
            return;
        }
        let old = std::mem::replace(&mut self.tls, new);
        self.tally.replace(&old.diagnostics, &self.tls.diagnostics);
        if old.listener != self.tls.listener {
            self.dirty.https_listener = true;
            if old.listener.is_some() != self.tls.listener.is_some() {
                // The https route table comes or goes; every Ingress with a
                // route is carried by one table more or fewer.
                self.dirty.routes = true;
                touched.owners.extend(self.reads.keys().cloned());
            }
        }
        for (name, secret) in &old.secrets {
            if self.tls.secrets.get(name) != Some(secret) {
                self.dirty.secrets.insert(name.clone());
            }
        }
        for (name, secret) in &self.tls.secrets {
            if old.secrets.get(name) != Some(secret) {
                self.dirty.secrets.insert(name.clone());
            }
        }
        touched.owners.extend(old.by_owner.into_keys());
        touched.owners.extend(self.tls.by_owner.keys().cloned());
    }

    /// The route tables: `http`, and `https` when some TLS host is servable.
    pub(super) fn tables(&self) -> &'static [&'static str] {
        if self.tls.listener.is_some() {
            &[HTTP, HTTPS]
        } else {
            &[HTTP]
        }
    }

    /// Recomputes the resources carrying each of `owners`, marking the report
    /// dirty only when one of them changed. Computed on every core (a full
    /// rebuild has 50,000 owners); an empty report is built in one run.
    pub(super) fn resources(&mut self, owners: &BTreeSet<ObjectKey>) {
        let computed = fan_out::map(owners.iter().collect(), |owner: &ObjectKey| {
            (owner, self.resources_of(owner))
        });
        if self.ingresses.is_empty() {
            let all: BTreeMap<ObjectKey, IngressResources> = computed
                .into_iter()
                .filter_map(|(owner, resources)| Some((owner.clone(), resources?)))
                .collect();
            self.dirty.ingresses |= !all.is_empty();
            self.ingresses = Arc::new(all);
            return;
        }
        for (owner, resources) in computed {
            let Some(resources) = resources else {
                self.dirty.ingresses |= self.ingresses.contains_key(owner)
                    && Arc::make_mut(&mut self.ingresses).remove(owner).is_some();
                continue;
            };
            // Publishing the report copies it whole, so only a real change
            // marks it (a new path on a served host usually changes nothing).
            if self.ingresses.get(owner) != Some(&resources) {
                Arc::make_mut(&mut self.ingresses).insert(owner.clone(), resources);
                self.dirty.ingresses = true;
            }
        }
    }

    /// The resources carrying `owner` now; `None` once it is not served.
    fn resources_of(&self, owner: &ObjectKey) -> Option<IngressResources> {
        let read = self.reads.get(owner)?;
        let mut resources = IngressResources::default();
        let units = read
            .hosts
            .iter()
            .filter_map(|h| self.hosts.get(h))
            .chain([&self.catch_all]);
        let mut wins = false;
        for targets in units.filter_map(|u| u.winners.get(owner)) {
            wins = true;
            resources
                .clusters
                .extend(targets.iter().map(|t| t.name.clone()));
        }
        if wins {
            resources.routes = self.tables().iter().map(|t| (*t).to_owned()).collect();
        }
        if let Some(secrets) = self.tls.by_owner.get(owner) {
            resources.secrets.clone_from(secrets);
        }
        Some(resources)
    }
}

//! Objects, resourceVersions and the change log: the etcd behind the fake.
//!
//! As in etcd, one counter orders every write of every kind, and each object carries
//! the counter value of its last write as `metadata.resourceVersion`. Each kind keeps
//! the log of its changes since the last compaction plus the state at that compaction,
//! so the fake can answer what a real server can: a watch from any version not older
//! than the compaction (replaying the log), a paginated list consistent with the version
//! of its first page, and 410 Gone for anything older.

use std::collections::{BTreeMap, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::kinds::ResourceKind;
use super::status::ApiError;

/// `(namespace, name)`; the namespace is `""` for cluster-scoped kinds. Ordered like
/// etcd keys, which is the order the real server lists in.
pub type Key = (String, String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeType {
    Added,
    Modified,
    Deleted,
}

/// One committed write, as watchers will be told about it.
#[derive(Debug, Clone)]
pub struct Change {
    pub rv: u64,
    pub kind: &'static ResourceKind,
    pub change_type: ChangeType,
    pub key: Key,
    /// The object before the write (`None` for a creation). Watches with selectors need
    /// it: an object that stops matching is a DELETED for them, not a MODIFIED.
    pub old: Option<Value>,
    /// The object after the write. For a deletion, its last state stamped with the
    /// deletion's resourceVersion, as the real server sends it.
    pub object: Value,
}

#[derive(Default)]
struct Collection {
    /// State at the last compaction.
    base: BTreeMap<Key, Value>,
    /// Changes after the last compaction, oldest first.
    log: Vec<Change>,
    /// State now (`base` with `log` applied).
    current: BTreeMap<Key, Value>,
}

pub struct Store {
    rv: u64,
    compacted: u64,
    next_uid: u64,
    collections: HashMap<&'static ResourceKind, Collection>,
}

impl Store {
    pub fn new() -> Self {
        Self {
            // Real servers never hand out small versions; starting higher makes a client
            // that confuses "0" (any) with a real version visible.
            rv: 1000,
            compacted: 0,
            next_uid: 1,
            collections: HashMap::new(),
        }
    }

    /// The version of the latest write (of any kind).
    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    /// Versions up to this one are forgotten: watching or paginating from an older
    /// one gets 410 Gone.
    pub fn compacted(&self) -> u64 {
        self.compacted
    }

    pub fn get(&self, kind: &'static ResourceKind, key: &Key) -> Option<&Value> {
        self.collections.get(kind)?.current.get(key)
    }

    /// Every object of `kind` now, in key order.
    pub fn current(&self, kind: &'static ResourceKind) -> BTreeMap<Key, Value> {
        self.collections
            .get(kind)
            .map(|c| c.current.clone())
            .unwrap_or_default()
    }

    /// Every object of `kind` as of version `rv`, or 410 if that is before compaction.
    pub fn at(
        &self,
        kind: &'static ResourceKind,
        rv: u64,
    ) -> Result<BTreeMap<Key, Value>, ApiError> {
        self.check_not_compacted(rv)?;
        let Some(c) = self.collections.get(kind) else {
            return Ok(BTreeMap::new());
        };
        let mut state = c.base.clone();
        for change in c.log.iter().take_while(|ch| ch.rv <= rv) {
            match change.change_type {
                ChangeType::Deleted => state.remove(&change.key),
                _ => state.insert(change.key.clone(), change.object.clone()),
            };
        }
        Ok(state)
    }

    /// Changes of `kind` after version `rv`, oldest first, or 410 if some of them were
    /// compacted away.
    pub fn changes_since(
        &self,
        kind: &'static ResourceKind,
        rv: u64,
    ) -> Result<Vec<Change>, ApiError> {
        self.check_not_compacted(rv)?;
        Ok(self
            .collections
            .get(kind)
            .map(|c| c.log.iter().filter(|ch| ch.rv > rv).cloned().collect())
            .unwrap_or_default())
    }

    fn check_not_compacted(&self, rv: u64) -> Result<(), ApiError> {
        if rv < self.compacted {
            let message = format!("too old resource version: {rv} ({})", self.compacted);
            return Err(ApiError::expired(message));
        }
        Ok(())
    }

    /// Creates or replaces the object at its key, stamping what the server owns:
    /// `apiVersion`/`kind`, `uid`, `creationTimestamp`, `generation` (bumped when
    /// anything but metadata and status changed) and a new `resourceVersion`.
    /// A write that changes nothing is not a write (no new version, no event), as on a
    /// real server; `None` then.
    ///
    /// The caller has checked the object has a name (see [`object_key`]).
    pub fn put(&mut self, kind: &'static ResourceKind, mut obj: Value) -> Option<Change> {
        let key = object_key(kind, &obj).expect("put: object has no metadata.name");
        obj["apiVersion"] = json!(kind.api_version());
        obj["kind"] = json!(kind.kind);
        if !obj["metadata"].is_object() {
            obj["metadata"] = json!({});
        }
        if !kind.namespaced {
            obj["metadata"].as_object_mut().unwrap().remove("namespace");
        }
        let old = self.get(kind, &key).cloned();
        let change_type = match &old {
            None => {
                let meta = &mut obj["metadata"];
                if meta["uid"].is_null() {
                    meta["uid"] = json!(format!("00000000-0000-4000-8000-{:012x}", self.next_uid));
                    self.next_uid += 1;
                }
                if meta["creationTimestamp"].is_null() {
                    meta["creationTimestamp"] = json!(now_rfc3339());
                }
                if meta["generation"].is_null() {
                    meta["generation"] = json!(1);
                }
                ChangeType::Added
            }
            Some(old) => {
                let generation = old["metadata"]["generation"].as_i64().unwrap_or(1);
                let bump = i64::from(without_meta_and_status(old) != without_meta_and_status(&obj));
                let meta = &mut obj["metadata"];
                meta["uid"] = old["metadata"]["uid"].clone();
                meta["creationTimestamp"] = old["metadata"]["creationTimestamp"].clone();
                meta["generation"] = json!(generation + bump);
                meta["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
                if obj == *old {
                    return None;
                }
                ChangeType::Modified
            }
        };
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        Some(self.record(kind, change_type, key, old, obj))
    }

    /// Deletes the object at `key`; `None` if there is none.
    pub fn remove(&mut self, kind: &'static ResourceKind, key: &Key) -> Option<Change> {
        let old = self.get(kind, key)?.clone();
        self.rv += 1;
        let mut obj = old.clone();
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        Some(self.record(kind, ChangeType::Deleted, key.clone(), Some(old), obj))
    }

    fn record(
        &mut self,
        kind: &'static ResourceKind,
        change_type: ChangeType,
        key: Key,
        old: Option<Value>,
        object: Value,
    ) -> Change {
        let change = Change {
            rv: self.rv,
            kind,
            change_type,
            key,
            old,
            object,
        };
        let c = self.collections.entry(kind).or_default();
        match change_type {
            ChangeType::Deleted => c.current.remove(&change.key),
            _ => c.current.insert(change.key.clone(), change.object.clone()),
        };
        c.log.push(change.clone());
        change
    }

    /// Forgets history up to version `rv` (at most the current one), like an etcd
    /// compaction: later watches or continue tokens from before it get 410 Gone.
    pub fn compact(&mut self, rv: u64) {
        let rv = rv.min(self.rv);
        if rv <= self.compacted {
            return;
        }
        for c in self.collections.values_mut() {
            let keep = c.log.split_off(c.log.partition_point(|ch| ch.rv <= rv));
            for change in std::mem::replace(&mut c.log, keep) {
                match change.change_type {
                    ChangeType::Deleted => c.base.remove(&change.key),
                    _ => c.base.insert(change.key, change.object),
                };
            }
        }
        self.compacted = rv;
    }
}

/// The object's key, or 422 if it has no name (as the real server answers).
pub fn object_key(kind: &ResourceKind, obj: &Value) -> Result<Key, ApiError> {
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    if name.is_empty() {
        return Err(ApiError::invalid(format!(
            "{} is invalid: metadata.name: Required value: name is required",
            kind.kind
        )));
    }
    let namespace = if kind.namespaced {
        obj["metadata"]["namespace"].as_str().unwrap_or_default()
    } else {
        ""
    };
    Ok((namespace.to_string(), name.to_string()))
}

/// What `metadata.generation` tracks: everything but metadata and status.
fn without_meta_and_status(obj: &Value) -> Value {
    let mut obj = obj.clone();
    if let Some(map) = obj.as_object_mut() {
        map.remove("metadata");
        map.remove("status");
    }
    obj
}

/// UTC now as `2006-01-02T15:04:05Z`, the format of Kubernetes timestamps.
pub fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

//! Which EndpointSlices belong to which Service, kept up to date by every world
//! change, so the slices of one Service are found without scanning them all: an
//! endpoints-only rebuild at 10,000 slices would otherwise spend most of its time
//! reading every slice's labels.
//!
//! A slice belongs to the Service named by its `kubernetes.io/service-name`
//! label, in the slice's own namespace.

use std::collections::BTreeSet;

use k8s_openapi::api::discovery::v1::EndpointSlice;

use super::object::ObjectKey;

/// The label naming an EndpointSlice's Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// The Service `slice` (stored under `key`) belongs to; `None` without the label
/// (such a slice feeds no cluster).
pub fn service_of(key: &ObjectKey, slice: &EndpointSlice) -> Option<ObjectKey> {
    service_name(slice).map(|name| ObjectKey::new(key.namespace.clone(), name))
}

/// The name (not the namespace) of the Service `slice` belongs to.
pub fn service_name(slice: &EndpointSlice) -> Option<&str> {
    slice
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(SERVICE_NAME_LABEL))
        .map(String::as_str)
        .filter(|s| !s.is_empty())
}

/// (Service, slice) pairs, sorted, so one Service's slices are a range.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct ServiceSlices(BTreeSet<(ObjectKey, ObjectKey)>);

impl ServiceSlices {
    /// Records that slice `key`, which belonged to `before`, now belongs to
    /// `after` (`None`: to no Service, or deleted).
    pub(super) fn moved(
        &mut self,
        key: &ObjectKey,
        before: Option<ObjectKey>,
        after: Option<ObjectKey>,
    ) {
        if before == after {
            return;
        }
        if let Some(service) = before {
            self.0.remove(&(service, key.clone()));
        }
        if let Some(service) = after {
            self.0.insert((service, key.clone()));
        }
    }

    /// Keys of the slices of `service`, sorted.
    pub(super) fn slices_of<'a>(
        &'a self,
        service: &'a ObjectKey,
    ) -> impl Iterator<Item = &'a ObjectKey> + 'a {
        self.0
            .range((service.clone(), ObjectKey::default())..)
            .take_while(move |(s, _)| s == service)
            .map(|(_, slice)| slice)
    }
}

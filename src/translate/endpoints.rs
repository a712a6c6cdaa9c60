//! Endpoints of given clusters alone: what an endpoints-only change recomputes
//! instead of a full translation.

use std::collections::BTreeSet;

use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;

use super::diagnostic::{Diagnostic, Diagnostics};
use super::model::ClusterTarget;
use super::render::endpoints::load_assignment;
use super::source::endpoint_slice::SliceIndex;
use crate::world::{ObjectKey, World};

/// The ClusterLoadAssignments of `targets` alone, with the diagnostics about the
/// slices they read (sorted). Each assignment and diagnostic is exactly what
/// [`translate`](super::translate) gives for the same world and target.
pub fn endpoints_for<'t>(
    world: &World,
    targets: impl IntoIterator<Item = &'t ClusterTarget>,
) -> (Vec<ClusterLoadAssignment>, Vec<Diagnostic>) {
    let targets: Vec<&ClusterTarget> = targets.into_iter().collect();
    let services: BTreeSet<&ObjectKey> = targets.iter().map(|t| &t.service).collect();
    let slices = SliceIndex::of_services(world, &services);
    let mut diagnostics = Diagnostics::default();
    let assignments = targets
        .iter()
        .map(|t| load_assignment(&t.name, slices.ready_addresses(t, &mut diagnostics)))
        .collect();
    (assignments, diagnostics.finish())
}

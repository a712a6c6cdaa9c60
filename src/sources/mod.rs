//! The sources stage: where objects come from. Each source turns its input into
//! [`WorldEvent`](crate::world::WorldEvent)s, so nothing downstream knows whether
//! a cluster or a directory fed it.

pub mod file;
pub mod health;
pub mod kube;

//! Canary routes: a second object's backends attached to a path another object
//! serves, taking a share of its traffic or the requests that ask for it.
//!
//! A canary claims nothing of its own: in the merge ([`super::merge`]) its
//! paths attach to the main object's identical paths (same host, same
//! [`super::PathRule`]), the oldest canary first; a path with no main route, or
//! whose main route already has a canary, is reported and ignored. The main
//! route's policy applies to canary traffic too.

use super::merge::Winner;
use super::route::Served;
use crate::world::ObjectRef;

/// What makes a request go to the canary. Checked in order: header, cookie,
/// then weight.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Canary {
    /// A request header that chooses.
    pub by_header: Option<HeaderChoice>,
    /// A cookie whose value `always` sends to the canary and `never` to the main
    /// backends.
    pub by_cookie: Option<String>,
    /// The canary's share of the remaining requests, out of `total_weight`.
    pub weight: u32,
    /// What `weight` is a share of (at least 1).
    pub total_weight: u32,
}

/// A header that chooses the canary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderChoice {
    /// The header's name.
    pub name: String,
    /// What value chooses the canary.
    pub value: HeaderValue,
}

/// How a header's value chooses the canary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderValue {
    /// `always` chooses it, `never` chooses the main backends, anything else
    /// falls through to the cookie and the weight.
    AlwaysNever,
    /// Exactly this value chooses it.
    Exact(String),
    /// A value matching this RE2 regex (whole value) chooses it.
    Pattern(String),
}

/// A canary attached to a winning path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CanaryWinner<'c> {
    /// How requests choose it.
    pub canary: &'c Canary,
    /// What it serves (its backends).
    pub served: &'c Served,
    /// Whose it is.
    pub owner: &'c ObjectRef,
}

// === impl Winner ===

impl<'c> Winner<'c> {
    /// This winner's canary, as a winner of its own (for reports and resources).
    pub fn canary_winner(&self) -> Option<Winner<'c>> {
        self.canary.map(|c| Winner {
            served: c.served,
            owner: c.owner,
            canary: None,
        })
    }
}

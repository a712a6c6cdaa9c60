//! Debouncing between the world and translation (invariant 4): bursts of
//! object events become few publishes, and none is lost or held too long.
//!
//! [`Debouncer`] is a pure state machine over caller-supplied time; the
//! controller owns it and drives it from its `select!` loop, with
//! [`sleep_until_deadline`] as the timer branch:
//!
//! ```no_run
//! # async fn controller(mut events: tokio::sync::mpsc::Receiver<()>) {
//! use interlock::debounce::{self, DebounceConfig, Debouncer};
//!
//! let mut debouncer = Debouncer::new(DebounceConfig::default());
//! loop {
//!     let publish = tokio::select! {
//!         event = events.recv() => match event {
//!             Some(()) => debouncer.on_change(debounce::now()), // after applying it
//!             None => break, // shutting down
//!         },
//!         () = debounce::sleep_until_deadline(debouncer.deadline()) => {
//!             debouncer.on_deadline(debounce::now())
//!         }
//!     };
//!     if publish {
//!         // translate, validate, publish
//!     }
//! }
//! # }
//! ```

mod config;
mod debouncer;
mod sleep;

pub use config::DebounceConfig;
pub use debouncer::Debouncer;
pub use sleep::{now, sleep_until_deadline};

//! `interlock bench`: measurement an operator runs against their own Interlock,
//! from the outside, as Envoys and people see it. It speaks xDS as a client and
//! writes changes where `serve` reads them; it imports nothing of the pipeline.

pub mod envoy_like;
pub mod fanout;
pub mod process_usage;
pub mod push;
pub mod report;
pub mod spread;

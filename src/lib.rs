//! chaoscal: a deterministic discrete-event simulator of multi-region payments meshes.

pub mod cli;
pub mod gate;
pub mod import;
pub mod input;
pub mod model;
pub mod montecarlo;
pub mod observe;
pub mod report;
pub mod sim;
pub mod sweep;

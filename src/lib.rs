//! chaoscal: a deterministic discrete-event simulator of multi-region payments meshes.

pub mod cli;
pub mod config;
pub mod gate;
pub mod model;
pub mod montecarlo;
pub mod observe;
pub mod report;
pub mod sim;
pub mod sweep;

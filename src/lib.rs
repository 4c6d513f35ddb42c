//! chaoscal: a deterministic discrete-event simulator of multi-region payments meshes.

pub mod cli;
pub mod gate;
pub mod input;
pub mod model;
pub mod montecarlo;
pub mod observe;
pub mod present;
pub mod results;
pub mod sim;
pub mod sweep;

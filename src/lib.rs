//! chaoscal: a deterministic discrete-event simulator of multi-region payments meshes.

pub mod chaos;
pub mod cli;
pub mod config;
pub mod engine;
pub mod gate;
pub mod mesh;
pub mod model;
pub mod montecarlo;
pub mod observe;
pub mod present;
pub mod results;
pub mod sweep;

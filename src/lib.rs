//! chaoscal: a deterministic discrete-event simulator of multi-region payments meshes.

pub mod chaos;
pub mod cli;
pub mod engine;
pub mod gate;
pub mod input;
pub mod mesh;
pub mod model;
pub mod montecarlo;
pub mod observe;
pub mod report;
pub mod sweep;

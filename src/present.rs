//! Showing results to people and to CI: the console summary of a run and
//! of a check ([`console`]), the charts ([`charts`], plotters, SVG and
//! PNG), the HTML report and catalog index ([`html`]), the JUnit XML and
//! Markdown of `check` ([`junit`], [`markdown`]), the service graph
//! ([`graph`], DOT and SVG) and the outputs of a
//! sweep ([`sweep`]). Text placed in markup goes through one escaper
//! ([`escape`]).
//!
//! Everything here reads the results schema ([`crate::results::Summary`])
//! or the gate's findings, never the simulator's memory, and writes through
//! [`crate::results::files`], so `chaoscal report` rewrites the bytes `run`
//! wrote.

pub mod charts;
pub mod console;
pub mod escape;
pub mod graph;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod sweep;

use std::path::PathBuf;

use crate::results::saved::ReadError;

/// Why the report of a results folder cannot be made. None of these lets
/// the report continue for that folder; the command exits 2.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The saved results cannot be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// A chart could not be drawn or encoded (a bug, not a user error).
    #[error("chart {chart}: {message}")]
    Render { chart: String, message: String },
    /// An output file cannot be written.
    #[error("{}: cannot write: {source}", .path.display())]
    Write { path: PathBuf, source: std::io::Error },
}

//! The result files: what a run leaves in `results/<experiment>/`, their
//! formats and their reading and writing. Each is a documented interface
//! (`docs/outputs.md`; the shard format in `docs/ci-and-scale.md`):
//!
//! * [`summary`]: the schema of `summary.json`, declared once — built from
//!   the [`Aggregate`] here ([`Summary::of`]), read back by the report, the
//!   gate and `check --results`/`--baseline`, its grid points by `sweep`;
//! * `tables`: the CSV files of a run;
//! * [`saved`]: reading a results folder back (`summary.json` and the CSVs
//!   the charts are drawn from);
//! * [`shard`]: the partial result of `run --shard K/N` and the checks
//!   `merge` makes before adding shards up;
//! * [`run_info`]: `run.json`, the wall-clock figures kept apart;
//! * [`files`]: the one writer every output goes through (a temporary file
//!   renamed into place: a killed run never leaves a half-written file).
//!
//! Everything here except `run.json` is byte-identical for the same inputs
//! and seed, whatever the thread count or sharding.

pub mod checkpoint;
pub mod files;
pub mod run_info;
pub mod saved;
pub mod shard;
pub mod summary;

mod summarize;
mod tables;
mod uncertainty;

use std::path::Path;

pub use run_info::RunInfo;
pub use summary::Summary;
pub use uncertainty::DEFAULT_LIMIT;

use crate::model::{NS_PER_MS, Scenario, Topology};
use crate::montecarlo::Aggregate;

/// Milliseconds from nanoseconds, rounded to the microsecond.
pub(crate) fn ms(ns: f64) -> f64 {
    (ns / NS_PER_MS * 1000.0).round() / 1000.0
}

/// Rounds a ratio to 9 significant decimals, for stable, readable output.
pub(crate) fn r9(x: f64) -> f64 {
    (x * 1e9).round() / 1e9
}

/// Writes `summary.json` and the CSV files of a run into `dir` (created if
/// needed); returns the summary.
pub fn write_results(dir: &Path, topo: &Topology, scn: &Scenario, agg: &Aggregate) -> std::io::Result<Summary> {
    std::fs::create_dir_all(dir)?;
    let summary = Summary::of(topo, scn, agg);
    files::write(&dir.join("summary.json"), summary.to_json())?;
    tables::write_all(dir, topo, scn, agg, &summary)?;
    Ok(summary)
}

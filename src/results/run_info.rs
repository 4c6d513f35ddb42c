//! `run.json`: the wall-clock side of a run (time taken, threads, events
//! per second; after a merge, the shards merged), kept out of
//! `summary.json` so that the results stay byte-identical for the same
//! inputs and seed. Fields in alphabetical order; those that do not apply
//! to a run are left out.

use std::path::Path;

use serde::Serialize;

use super::files;

/// `run.json`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RunInfo {
    /// `run --precision`: the replication total after each round.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adaptive_rounds: Option<Vec<u64>>,
    /// A run decided as it went: whether every verdict was decided before the cap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided: Option<bool>,
    pub events: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events_per_s: Option<f64>,
    pub experiment: String,
    /// A run decided as it went: the replication total at each look.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub looks: Option<Vec<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_replications: Option<u64>,
    /// `merge`: seconds from its start to writing this experiment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merge_wall_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged_shards: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precision: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precision_reached: Option<bool>,
    pub replications: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wall_s: Option<f64>,
}

impl RunInfo {
    /// Writes `dir/run.json`.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let mut json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        json.push('\n');
        files::write(&dir.join("run.json"), json)
    }
}

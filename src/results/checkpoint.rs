//! `checkpoint.json`: the replications a `run` has finished so far,
//! written (atomically, like every output) after each round of a run that
//! takes more than one, and removed once the results are written. `run
//! --resume` reads it and runs only the replications still missing; as
//! replication i is the same in any round and parts add up exactly, the
//! results are byte-identical to those of a run never interrupted.
//!
//! The file is a partial result ([`super::shard`], the replications
//! 0..k as shard 0/1) with what else must match for the run to go on: the
//! plan of the count (a fixed count, or the looks of a run decided as it
//! goes) and whether twins run. The seed and the input texts' hash are
//! in the partial result.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::files;
use super::shard::{self, PartialFile};
use crate::input::LoadedScenario;
use crate::montecarlo::{Aggregate, Shard};

/// The `format` field of a checkpoint.
pub const FORMAT: &str = "chaoscal-checkpoint/1";
/// The file in the experiment's results folder.
pub const FILE: &str = "checkpoint.json";

/// A run's checkpoint.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// Always [`FORMAT`].
    pub format: String,
    /// How the run counts its replications ("fixed 1000", "until decided 8..128 slos").
    pub plan: String,
    /// Whether every replication's counterfactual twin runs too.
    pub counterfactual: bool,
    /// Replications 0..k, as shard 0/1 of a k-replication run.
    pub partial: PartialFile,
}

/// Writes `dir/checkpoint.json` for the replications in `agg`.
pub fn write(
    dir: &Path,
    ls: &LoadedScenario,
    plan: &str,
    counterfactual: bool,
    agg: &Aggregate,
) -> std::io::Result<()> {
    let one = Shard { index: 0, count: 1 };
    let cp = Checkpoint {
        format: FORMAT.to_string(),
        plan: plan.to_string(),
        counterfactual,
        partial: shard::partial(ls, agg.replications(), one, agg)?,
    };
    std::fs::create_dir_all(dir)?;
    // Streamed: no second copy of every row as one string.
    files::write_with(&dir.join(FILE), |w| {
        serde_json::to_writer(&mut *w, &cp).map_err(std::io::Error::other)?;
        w.write_all(b"\n")
    })
}

/// Removes `dir/checkpoint.json`, if there is one.
pub fn remove(dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(dir.join(FILE)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The replications of `dir/checkpoint.json` when it belongs to this run
/// (same inputs, seed, plan and twins), `None` when there is no
/// checkpoint, or every reason it cannot be resumed.
pub fn resume(
    dir: &Path,
    ls: &LoadedScenario,
    plan: &str,
    counterfactual: bool,
    seed: u64,
) -> Result<Option<Aggregate>, Vec<String>> {
    let path = dir.join(FILE);
    let shown = path.display();
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(vec![format!("{shown}: cannot read: {e}")]),
    };
    let cp: Checkpoint = serde_json::from_str(&text).map_err(|e| {
        vec![format!(
            "{shown}:{}:{}: not a chaoscal checkpoint: {e}",
            e.line(),
            e.column()
        )]
    })?;
    if cp.format != FORMAT {
        return Err(vec![format!("{shown}: format {:?}, expected {FORMAT:?}", cp.format)]);
    }
    let p = cp.partial;
    let (scenario_text, topology_text) =
        shard::input_texts(ls).map_err(|e| vec![format!("{}: cannot read: {e}", ls.scenario.path.display())])?;
    let mut errors = Vec::new();
    let mut differs = |what: &str, was: String, now: String| {
        if was != now {
            errors.push(format!(
                "{shown}: the checkpoint was taken with {what} {was}, this run has {now}"
            ));
        }
    };
    differs("experiment", p.experiment.clone(), ls.scenario.name.clone());
    differs(
        "chaoscal version",
        p.chaoscal.clone(),
        env!("CARGO_PKG_VERSION").to_string(),
    );
    differs(
        "input_hash (scenario + topology texts)",
        p.input_hash.clone(),
        shard::input_hash(&topology_text, &scenario_text),
    );
    differs("seed", p.seed.to_string(), seed.to_string());
    differs("replication plan", cp.plan.clone(), plan.to_string());
    differs(
        "counterfactual twins",
        cp.counterfactual.to_string(),
        counterfactual.to_string(),
    );
    if !errors.is_empty() {
        errors.push(format!(
            "{shown}: run with the same inputs and flags to resume it, or delete it to start over"
        ));
        return Err(errors);
    }
    let mut agg = p
        .aggregate
        .into_aggregate(p.seed)
        .map_err(|e| vec![format!("{shown}: {e}")])?;
    shard::check_shape(&agg, &ls.topology, &ls.scenario).map_err(|e| vec![format!("{shown}: {e}")])?;
    let n = agg.replications();
    if n != p.replications || agg.rows.iter().enumerate().any(|(i, r)| r.index != i as u64) {
        return Err(vec![format!(
            "{shown}: the checkpoint should hold replications 0..{} and does not (damaged?)",
            p.replications
        )]);
    }
    agg.rebuild_margins(&ls.scenario);
    Ok(Some(agg))
}

//! Resolving a scenario file (one catalog entry) against its already
//! loaded topology into a [`Scenario`]: the experiment's metadata, the run,
//! the workload, faults, SLOs, the declared blast radius, guardrails, the
//! rollout and the expectations CI checks.
//!
//! Each section's module holds its `Raw*` serde structs (stage one: the
//! shape the user wrote) and its resolver (stage two). Sections resolve in
//! the order below, so diagnostics come out in that order too.

mod blast;
mod expect;
mod experiment;
mod faults;
mod guardrails;
mod rollout;
mod run;
mod slos;
mod workload;

use std::path::Path;

pub use faults::SIMULATED_FAULTS;

use super::diag::{Ctx, Diagnostic, KeyPath, Source};
use crate::model::{Scenario, Topology};

/// The top-level keys (sections) of a scenario file.
pub const SCENARIO_KEYS: &[&str] = &[
    "experiment",
    "run",
    "workload",
    "faults",
    "slos",
    "blast_radius",
    "guardrails",
    "expect",
    "rollout",
];

/// A scenario file as written, section by section.
#[derive(Clone, Debug, Default)]
pub struct RawScenario {
    pub experiment: Option<experiment::RawExperiment>,
    pub run: Option<run::RawRun>,
    pub workload: Option<workload::RawWorkload>,
    pub faults: Vec<faults::RawFault>,
    pub slos: Vec<slos::RawSlo>,
    pub blast_radius: Option<blast::RawBlastRadius>,
    pub guardrails: Vec<guardrails::RawGuardrail>,
    pub expect: Option<expect::RawExpect>,
    pub rollout: Option<rollout::RawRollout>,
}

/// Resolves a parsed scenario against its (already loaded) topology.
/// Warnings come back with the model; any error fails the whole file.
pub fn resolve_scenario(
    src: &Source,
    raw: &RawScenario,
    topo: &Topology,
) -> Result<(Scenario, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut cx = Ctx::new(src);
    let base_dir = src.path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let exp = raw.experiment.as_ref().expect("parse_scenario guarantees [experiment]");
    experiment::check(&mut cx, exp);
    let run = run::resolve(&mut cx, raw.run.as_ref().expect("parse_scenario guarantees [run]"));
    let workload = raw.workload.as_ref().expect("parse_scenario guarantees [workload]");
    let (rate_per_s, surges) = workload::resolve(&mut cx, workload, topo);
    let faults = faults::resolve(&mut cx, &raw.faults, topo, &base_dir);
    let slos = slos::resolve(&mut cx, &raw.slos, topo, &run);
    let slo_names = slos::names(&raw.slos);
    let has_change = !raw.faults.is_empty() || raw.rollout.is_some();
    let blast_radius = blast::resolve(&mut cx, raw.blast_radius.as_ref(), has_change);
    let guardrails = guardrails::resolve(&mut cx, raw, topo, &slo_names);
    let rollout = rollout::resolve(&mut cx, raw.rollout.as_ref(), topo, &run, &base_dir);
    let expect = expect::resolve(&mut cx, raw.expect.as_ref(), &slo_names);
    if cx.has_errors() {
        return Err(cx.diags);
    }
    let scenario = Scenario {
        name: exp.name.clone(),
        path: src.path.clone(),
        topology_path: topo.path.clone(),
        owner: exp.owner.clone().unwrap_or_default(),
        severity: exp.severity.clone().unwrap_or_default(),
        hypothesis: exp.hypothesis.clone().unwrap_or_default(),
        rollback: exp.rollback.clone().unwrap_or_default(),
        tags: exp.tags.clone(),
        duration_ns: run.duration_ns,
        warmup_ns: run.warmup_ns,
        replications: run.replications,
        seed: run.seed,
        epoch_unix_ns: run.epoch_unix_ns,
        scrape_interval_ns: run.scrape_interval_ns,
        rate_per_s,
        surges,
        faults,
        slos,
        blast_radius,
        expect,
        guardrails,
        rollout,
    };
    Ok((scenario, cx.diags))
}

/// A list of regions (`regions = [...]` of a surge) as a mask over the topology's regions.
fn region_mask(cx: &mut Ctx, path: &KeyPath, names: &[String], topo: &Topology) -> Vec<bool> {
    let mut mask = vec![false; topo.regions.len()];
    for (i, n) in names.iter().enumerate() {
        match topo.region_by_name(n) {
            Some(r) => mask[r.index()] = true,
            None => cx.err(
                &path.i(i),
                format!("unknown region \"{n}\" (known: {})", topo.regions.join(", ")),
            ),
        }
    }
    mask
}

/// `a, b, c`: the topology's services, for "known: …" hints.
fn known_services(topo: &Topology) -> String {
    topo.services
        .iter()
        .map(|s| s.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

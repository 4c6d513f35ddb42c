//! The command line: one command per file — `run`, `check`, `sweep`,
//! `merge`, `report`, `validate`, `list`, `graph`, `bench` — and what they share here
//! (the simulation flags, loading scenarios, printing diagnostics, the
//! progress bar, running a scenario's replications).
//!
//! Exit codes: 0 ok; 1 an expectation or regression failed; 2 bad input or
//! usage (clap's own usage errors, flag conflicts included, exit 2 too).

mod bench;
mod check;
mod graph;
mod list;
mod merge;
mod report;
mod run;
mod sweep;
mod validate;

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

pub use bench::peer_model;

use crate::decide::{Schedule, SequentialOptions, SequentialOutcome, Verdicts, run_sequential};
use crate::input::{self, Diagnostic, FileKind, LoadedScenario, Loader};
use crate::montecarlo::{
    AdaptiveOptions, AdaptiveOutcome, Aggregate, RoundOptions, fixed_rounds, run_adaptive, run_rounds,
};
use crate::results::files;

#[derive(Parser, Debug)]
#[command(
    name = "chaoscal",
    version,
    about = "Deterministic chaos-experiment simulator for multi-region payments meshes"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run scenario files or whole catalog folders.
    Run(run::RunArgs),
    // The help text names TOML tables in brackets, not Rust items.
    #[allow(rustdoc::broken_intra_doc_links)]
    /// CI regression gate: run scenarios, judge their [expect] limits with 95% intervals, compare with baselines.
    Check(check::CheckArgs),
    /// Capacity and sensitivity sweep: a grid over numeric fields, same seed at every point.
    Sweep(sweep::SweepArgs),
    /// Combine the shard files of `run --shard K/N` into the results of one run.
    Merge(merge::MergeArgs),
    /// Charts and HTML report from saved results (one experiment folder, or a folder of them plus an index).
    Report(report::ReportArgs),
    /// Check files and catalogs: schema, references, ranges, call cycles.
    Validate(validate::ValidateArgs),
    /// The catalog as a table: experiment, owner, severity, targets, declared radius, SLOs, tags.
    List(list::ListArgs),
    /// Chaos Mesh, Litmus, Istio, Toxiproxy, Argo Rollouts and PrometheusRule manifests → a scenario.
    Import(crate::import::ImportArgs),
    /// OpenTelemetry traces (OTLP/JSON) → a topology, a starter scenario and a fit report.
    Calibrate(crate::calibrate::CalibrateArgs),
    /// The service graph as DOT and SVG: regions as clusters, each service's static blast radius.
    Graph(graph::GraphArgs),
    /// Measure simulated events per second (an event: an arrival or a service completion).
    Bench(bench::BenchArgs),
}

/// Runs the command line; returns the exit code.
pub fn main_with(cli: Cli) -> i32 {
    match cli.command {
        Command::Run(args) => run::cmd_run(&args),
        Command::Check(args) => check::cmd_check(&args),
        Command::Sweep(args) => sweep::cmd_sweep(&args),
        Command::Merge(args) => merge::cmd_merge(&args),
        Command::Import(args) => crate::import::cmd_import(&args),
        Command::Calibrate(args) => crate::calibrate::cmd_calibrate(&args),
        Command::Report(args) => report::cmd_report(&args),
        Command::Validate(args) => validate::cmd_validate(&args),
        Command::List(args) => list::cmd_list(&args),
        Command::Graph(args) => graph::cmd_graph(&args),
        Command::Bench(args) => bench::cmd_bench(&args),
    }
}

/// The simulation flags of `run`, `check` and `sweep`.
#[derive(clap::Args, Debug)]
pub struct SimArgs {
    /// Replications per scenario, exactly (default: `run` takes the scenario's `run.replications`;
    /// without one, and always for `check`, replications are added until the verdicts are decided).
    #[arg(long)]
    pub replications: Option<u64>,
    /// Seed (default: the scenario's `run.seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
}

impl SimArgs {
    /// The usage errors of these flags (zero replications or threads).
    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.replications == Some(0) {
            out.push("--replications must be at least 1".to_string());
        }
        if let Some(n) = self.replications.filter(|&n| n > crate::model::MAX_REPLICATIONS) {
            out.push(too_many("--replications", n));
        }
        if self.threads == Some(0) {
            out.push("--threads must be at least 1".to_string());
        }
        out
    }

    /// `--threads`, else every core.
    fn threads(&self) -> usize {
        self.threads.unwrap_or_else(default_threads)
    }
}

/// The usage error of a replication count over the cap.
fn too_many(flag: &str, n: u64) -> String {
    format!(
        "{flag} {n}: at most {} replications in one run (a run keeps about 1 KB per replication in memory); \
         a 95% interval at that count is already within ±0.001",
        crate::model::MAX_REPLICATIONS
    )
}

/// The default of `--max-replications` with `--precision`.
pub const DEFAULT_MAX_REPLICATIONS: u64 = 10_000;

/// Adaptive replication counts, for `run` and `check`.
#[derive(clap::Args, Debug)]
pub struct PrecisionArgs {
    /// Keep adding replications until every SLO's 95% interval half-width is at most this (e.g. 0.01).
    #[arg(long, value_name = "HALF_WIDTH")]
    pub precision: Option<f64>,
    /// Never run more replications than this, when the count is decided as the run goes
    /// (default: 128 for `run`, 1024 for `check`, 10000 with --precision).
    #[arg(long)]
    pub max_replications: Option<u64>,
}

impl PrecisionArgs {
    /// Checks `--precision` and `--max-replications`.
    fn check(&self) -> Result<(), String> {
        if let Some(p) = self.precision
            && !(p > 0.0 && p < 0.5)
        {
            return Err(format!(
                "--precision {p}: expected a 95% half-width between 0 and 0.5, e.g. --precision 0.01"
            ));
        }
        if self.max_replications == Some(0) {
            return Err("--max-replications must be at least 1".to_string());
        }
        if let Some(n) = self.max_replications.filter(|&n| n > crate::model::MAX_REPLICATIONS) {
            return Err(too_many("--max-replications", n));
        }
        Ok(())
    }

    /// `--max-replications` with `--precision`.
    fn precision_max(&self) -> u64 {
        self.max_replications.unwrap_or(DEFAULT_MAX_REPLICATIONS)
    }
}

/// How many replications a run makes.
#[derive(Clone, Copy, Debug)]
enum Count {
    /// Exactly this many.
    Fixed(u64),
    /// Rounds until every SLO's interval is this narrow (`--precision`), from `first`, at most `max`.
    Precision { first: u64, precision: f64, max: u64 },
    /// Looks until the verdicts are decided.
    Sequential(Schedule, Verdicts),
}

impl Count {
    /// What a checkpoint records of the count, so that `--resume` goes on
    /// with the same plan: "fixed 1000", "until decided 8..128 slos".
    fn plan(&self) -> String {
        match self {
            Count::Fixed(n) => format!("fixed {n}"),
            Count::Precision { first, precision, max } => format!("precision {precision} from {first} to {max}"),
            Count::Sequential(s, v) => format!("until decided {}..{} {v:?}", s.floor, s.cap).to_lowercase(),
        }
    }

    /// The words for the start line: "8 replication(s)", "adaptive from 40", "until decided (8 to 128)".
    fn describe(&self) -> String {
        match self {
            Count::Fixed(n) => format!("{n} replication(s)"),
            Count::Precision { first, .. } => format!("adaptive from {first} replication(s)"),
            Count::Sequential(s, _) => format!("replications until decided ({} to {})", s.floor, s.cap),
        }
    }
}

/// How a run's replication count came about.
enum Stopped {
    Fixed,
    Precision(AdaptiveOutcome),
    Sequential(SequentialOutcome),
}

fn print_diagnostics(diags: &[Diagnostic]) {
    let mut err = std::io::stderr().lock();
    for d in diags {
        let _ = writeln!(err, "{d}");
    }
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// Loads every scenario under `paths`. Topology files met while walking a
/// folder are skipped; a topology named explicitly is an error.
fn load_scenarios(paths: &[PathBuf]) -> (Vec<LoadedScenario>, Vec<Diagnostic>) {
    let (files, mut diags) = input::collect_toml(paths);
    let mut loader = Loader::new();
    let mut loaded = Vec::new();
    for f in &files {
        let src = match input::read_source(f) {
            Ok(s) => s,
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        match input::file_kind(&src) {
            Ok(FileKind::Scenario) => {
                if let Some(s) = loader.scenario(f) {
                    loaded.push(s);
                }
            }
            Ok(FileKind::Topology) => {
                if paths.iter().any(|p| p == f) {
                    diags.push(Diagnostic::file_error(
                        f,
                        "this is a topology; `run` takes scenario files (with an [experiment] table)",
                    ));
                }
            }
            Err(d) => diags.extend(d),
        }
    }
    diags.extend(std::mem::take(&mut loader.diagnostics));
    // Two experiments with one name would write into the same results folder.
    let mut seen = std::collections::BTreeMap::new();
    for s in &loaded {
        if let Some(prev) = seen.insert(s.scenario.name.clone(), s.scenario.path.clone()) {
            diags.push(Diagnostic::file_error(
                &s.scenario.path,
                format!(
                    "experiment name \"{}\" is also used by {}; names must be unique in a catalog",
                    s.scenario.name,
                    prev.display()
                ),
            ));
        }
    }
    (loaded, diags)
}

/// Removes repeated diagnostics (a shared topology's warnings are reported once).
fn dedup(diags: &mut Vec<Diagnostic>) {
    let mut seen = std::collections::BTreeSet::new();
    diags.retain(|d| seen.insert(d.to_string()));
}

/// Checks before simulating that results can be written into `dir`
/// (created if needed), so a long run does not end in a write error.
fn ensure_writable(flag: &str, dir: &Path) -> Result<(), String> {
    files::ensure_writable(dir).map_err(|e| format!("{flag} {}: cannot write there: {e}", dir.display()))
}

/// A progress bar on stderr when it is a terminal (and not `--quiet`).
fn progress_bar(show: bool) -> impl FnMut(usize, usize) {
    move |done: usize, total: usize| {
        if show {
            let width = 30;
            let filled = (done * width / total.max(1)).min(width);
            eprint!(
                "\r  [{}{}] {done}/{total}",
                "#".repeat(filled),
                ".".repeat(width - filled)
            );
            if done >= total {
                eprintln!();
            }
        }
    }
}

/// The seed, threads and twins of a run.
#[derive(Clone, Copy, Debug)]
struct SimRun {
    seed: u64,
    threads: usize,
    counterfactual: bool,
}

/// Where a run starts and what it does after each round.
struct Rounds<'a> {
    /// The replications 0..k of a checkpoint (`run --resume`), else none.
    start: Option<Aggregate>,
    /// Called after every round but the last (a fixed count or a sequential
    /// run; `--precision` runs are not checkpointed).
    checkpoint: &'a mut dyn FnMut(&Aggregate),
}

/// Runs one scenario's replications: a fixed count, to a precision, or
/// until its verdicts are decided.
fn simulate(
    ls: &LoadedScenario,
    count: Count,
    sim: SimRun,
    rounds: Rounds,
    progress: &mut dyn FnMut(usize, usize),
) -> (Aggregate, Stopped) {
    let (topo, scn) = (&ls.topology, &ls.scenario);
    let SimRun {
        seed,
        threads,
        counterfactual,
    } = sim;
    let start = rounds.start.unwrap_or_else(|| Aggregate::new(topo, scn, seed));
    match count {
        Count::Fixed(n) => {
            let mut agg = start;
            let ro = RoundOptions {
                seed,
                threads,
                counterfactual,
            };
            let checkpoint = rounds.checkpoint;
            run_rounds(topo, scn, &fixed_rounds(n), ro, &mut agg, progress, &mut |a| {
                if a.replications() < n {
                    checkpoint(a);
                }
                false
            });
            (agg, Stopped::Fixed)
        }
        Count::Precision { first, precision, max } => {
            let opts = AdaptiveOptions {
                first,
                precision,
                max,
                seed,
                threads,
                counterfactual,
            };
            let (agg, outcome) = run_adaptive(topo, scn, &opts, progress);
            (agg, Stopped::Precision(outcome))
        }
        Count::Sequential(schedule, verdicts) => {
            let opts = SequentialOptions {
                schedule,
                verdicts,
                seed,
                threads,
                counterfactual,
            };
            let (agg, outcome) = run_sequential(topo, scn, &opts, start, progress, rounds.checkpoint);
            (agg, Stopped::Sequential(outcome))
        }
    }
}

/// One line on how a sequential run ended: the looks, and each verdict
/// with the method that decided it.
fn sequential_line(o: &SequentialOutcome, cap: u64) -> String {
    let looks: Vec<String> = o.looks.iter().map(|r| r.to_string()).collect();
    let verdicts: Vec<String> = o
        .verdicts
        .iter()
        .map(|(name, d)| match d.verdict.as_str() {
            "undecided" => format!("{name} undecided"),
            v => format!("{name} {v} ({})", d.method),
        })
        .collect();
    let what = if verdicts.is_empty() {
        "nothing to decide".to_string()
    } else {
        verdicts.join(", ")
    };
    if o.decided() {
        format!(
            "decided after {} replications (looks {}): {what}",
            o.looks.last().unwrap_or(&0),
            looks.join(" → ")
        )
    } else {
        format!(
            "stopped at the cap of {cap} replications (looks {}): {what}",
            looks.join(" → ")
        )
    }
}

/// One line on how an adaptive run ended.
fn adaptive_line(o: &AdaptiveOutcome, precision: f64, max: u64) -> String {
    let rounds: Vec<String> = o.rounds.iter().map(|r| r.to_string()).collect();
    let widest = match &o.widest {
        Some((name, w)) => format!("widest 95% half-width {w:.4} ({name})"),
        None => "no SLOs to measure".to_string(),
    };
    if o.reached {
        format!(
            "adaptive: {} round(s) ({} replications); {widest} ≤ {precision}",
            rounds.len(),
            rounds.join(" → ")
        )
    } else {
        format!(
            "adaptive: stopped at --max-replications {max} ({}); {widest} > {precision}",
            rounds.join(" → ")
        )
    }
}

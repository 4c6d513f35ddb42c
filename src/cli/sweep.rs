//! `chaoscal sweep SCENARIO --set KEY=A..B[:STEP] ...` (see [`crate::sweep`]).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use super::{SimArgs, dedup, ensure_writable, load_scenarios, print_diagnostics, progress_bar};
use crate::input::{self, LoadedScenario};
use crate::montecarlo::{RunOptions, run_scenario, smallest_n, wilson95};
use crate::present::sweep::{print_table, value as fmt_value};
use crate::results::{Summary, shard};
use crate::sweep::{self, Axis, Inputs, Point};

#[derive(clap::Args, Debug)]
#[command(
    mut_arg("replications", |a| a.help("Replications per grid point (default: the scenario's `run.replications`, else 100)")),
    mut_arg("seed", |a| a.help("Seed, the same at every grid point (default: the scenario's `run.seed`)"))
)]
pub struct SweepArgs {
    /// The scenario to sweep.
    pub scenario: PathBuf,
    /// A key and its values: KEY=A..B[:STEP] or KEY=V1,V2,…; repeat for a grid. Without any, the valid keys are listed.
    #[arg(long = "set", value_name = "KEY=A..B[:STEP]")]
    pub set: Vec<String>,
    #[command(flatten)]
    pub sim: SimArgs,
    /// Output folder for sweep.csv and sweep.svg (default: results/sweeps/<experiment>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No table on stdout.
    #[arg(long)]
    pub quiet: bool,
}

/// An error message for the user; the command exits 2.
type Usage = String;

/// The one scenario to sweep, checked.
fn load_base(args: &SweepArgs) -> Result<LoadedScenario, Option<Usage>> {
    let (mut loaded, mut diags) = load_scenarios(std::slice::from_ref(&args.scenario));
    dedup(&mut diags);
    print_diagnostics(&diags.iter().filter(|d| d.is_error()).cloned().collect::<Vec<_>>());
    if diags.iter().any(|d| d.is_error()) {
        return Err(None);
    }
    if loaded.len() != 1 {
        return Err(Some(format!(
            "error: sweep takes one scenario file; {} holds {}",
            args.scenario.display(),
            loaded.len()
        )));
    }
    let base = loaded.remove(0);
    if let Some(problem) = args.sim.problems().into_iter().next() {
        return Err(Some(format!("error: {problem}")));
    }
    Ok(base)
}

/// The scenario's files as editable tables, and the grid's axes.
fn axes_of(args: &SweepArgs, base: &LoadedScenario) -> Result<(Inputs, Vec<Axis>), Usage> {
    let (scn_text, topo_text) =
        shard::input_texts(base).map_err(|e| format!("error: cannot read {}: {e}", base.scenario.path.display()))?;
    let inputs = Inputs::new(&base.scenario.path, &scn_text, &base.topology.path, &topo_text)
        .map_err(|e| format!("error: {e}"))?;
    let valid = inputs.keys();
    if args.set.is_empty() {
        return Err(format!(
            "error: give at least one --set KEY=A..B[:STEP]\nvalid keys ({}):\n  {}",
            valid.len(),
            valid.join("\n  ")
        ));
    }
    let mut axes: Vec<Axis> = Vec::new();
    for s in &args.set {
        let a = sweep::parse_set(s).map_err(|e| format!("error: {e}"))?;
        if axes.iter().any(|x| x.key == a.key) {
            return Err(format!("error: --set {}: the key is given twice", a.key));
        }
        if !valid.contains(&a.key) {
            return Err(format!("error: {}", sweep::unknown_key(&a.key, &valid)));
        }
        axes.push(a);
    }
    Ok((inputs, axes))
}

pub fn cmd_sweep(args: &SweepArgs) -> i32 {
    let prepared = load_base(args).and_then(|base| {
        let (inputs, axes) = axes_of(args, &base).map_err(Some)?;
        let grid = sweep::grid(&axes).map_err(|e| Some(format!("error: {e}")))?;
        let out = args
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("results").join("sweeps").join(&base.scenario.name));
        ensure_writable("--out", &out).map_err(|e| Some(format!("error: {e}")))?;
        Ok((base, inputs, axes, grid, out))
    });
    let (base, inputs, axes, grid, out) = match prepared {
        Ok(p) => p,
        Err(message) => {
            if let Some(m) = message {
                eprintln!("{m}");
            }
            return 2;
        }
    };
    let scn = &base.scenario;
    let seed = args.sim.seed.unwrap_or(scn.seed);
    let n = args.sim.replications.unwrap_or(scn.fixed_replications());
    let threads = args.sim.threads();
    eprintln!(
        "{}: sweep of {} point(s) × {n} replication(s), seed {seed} at every point (common random numbers), {threads} thread(s)",
        scn.name,
        grid.len()
    );
    let show_progress = !args.quiet && std::io::stderr().is_terminal();
    let mut points: Vec<Point> = Vec::new();
    for (i, values) in grid.iter().enumerate() {
        let opts = RunOptions::first(n, seed, threads);
        match run_point(&base, &inputs, &axes, values, opts, show_progress) {
            Ok((point, line)) => {
                eprintln!("  [{}/{}] {line}", i + 1, grid.len());
                points.push(point);
            }
            Err(e) => {
                if !e.is_empty() {
                    eprintln!("{e}");
                }
                return 2;
            }
        }
    }
    if let Err(e) = crate::present::sweep::write(&out, &scn.name, &axes, &points) {
        eprintln!("error: cannot write the sweep into {}: {e}", out.display());
        return 2;
    }
    let mut stdout = std::io::stdout().lock();
    if !args.quiet {
        print_table(&mut stdout, &axes, &points);
    }
    print_answer(&mut stdout, &axes, &points, n);
    let _ = writeln!(
        stdout,
        "wrote {} and {}",
        out.join("sweep.csv").display(),
        out.join("sweep.svg").display()
    );
    0
}

/// Runs one grid point: the scenario with its values set. Returns the
/// point and its progress line, or the message (empty when the
/// diagnostics were printed here).
fn run_point(
    base: &LoadedScenario,
    inputs: &Inputs,
    axes: &[Axis],
    values: &[f64],
    opts: RunOptions,
    show_progress: bool,
) -> Result<(Point, String), Usage> {
    let settings: Vec<(String, f64)> = axes.iter().map(|a| a.key.clone()).zip(values.iter().copied()).collect();
    let at = settings
        .iter()
        .map(|(k, v)| format!("{k}={}", fmt_value(*v)))
        .collect::<Vec<_>>()
        .join(", ");
    let (t, s) = inputs.apply(&settings).map_err(|e| format!("error: at {at}: {e}"))?;
    let ls = match input::scenario_from_str(&base.topology.path, &t, &base.scenario.path, &s) {
        Ok((l, _)) => l,
        Err(d) => {
            eprintln!("error: at {at} the scenario does not load (the file text below is the edited one):");
            print_diagnostics(&d);
            return Err(String::new());
        }
    };
    let mut progress = progress_bar(show_progress);
    let agg = run_scenario(&ls.topology, &ls.scenario, &opts, &mut progress);
    let summary = Summary::of(&ls.topology, &ls.scenario, &agg);
    let point = Point::of(values.to_vec(), &summary, &ls.scenario.expect);
    let slos: Vec<String> = point
        .slos
        .iter()
        .map(|s| {
            format!(
                "{} {:.3} [{:.3}, {:.3}]{}",
                s.name,
                s.probability,
                s.ci95[0],
                s.ci95[1],
                if s.meets { "" } else { " ✗" }
            )
        })
        .collect();
    let line = format!("{at}: {}", slos.join("; "));
    Ok((point, line))
}

/// The answer on stdout: limits no point can show, and the smallest
/// settings that meet every SLO.
fn print_answer(stdout: &mut dyn Write, axes: &[Axis], points: &[Point], n: u64) {
    // Limits that no point can show with this many replications.
    if let Some(p) = points.first() {
        let best_upper = wilson95(0, n).1;
        for s in p.slos.iter().filter(|s| best_upper > s.limit) {
            let need = smallest_n(crate::gate::stats::PLAN_LIMIT, |m| wilson95(0, m).1 <= s.limit).unwrap_or(0);
            let _ = writeln!(
                stdout,
                "note: with {n} replications even 0 violations leave an upper bound of {best_upper:.3} > {} for {}; \
                 no setting can be shown to meet it: use --replications {need} or more",
                s.limit, s.name
            );
        }
    }
    let minimal = sweep::minimal_points(points);
    let describe = |p: &Point| {
        axes.iter()
            .zip(&p.values)
            .map(|(a, v)| format!("{} = {}", a.key, fmt_value(*v)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match minimal.len() {
        0 => {
            let _ = writeln!(
                stdout,
                "no setting in the grid meets every SLO at the 95% bound (upper Wilson bound ≤ each SLO's limit)"
            );
        }
        1 => {
            let _ = writeln!(
                stdout,
                "smallest setting meeting every SLO at the 95% bound: {}",
                describe(minimal[0])
            );
        }
        _ => {
            let _ = writeln!(
                stdout,
                "smallest settings meeting every SLO at the 95% bound (none is below another in every key):"
            );
            for p in minimal {
                let _ = writeln!(stdout, "  {}", describe(p));
            }
        }
    }
}

//! `chaoscal sweep SCENARIO --set KEY=A..B[:STEP] ...` (see [`crate::sweep`]).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use super::{dedup, default_threads, load_scenarios, print_diagnostics, progress_bar};
use crate::input;
use crate::montecarlo::{RunOptions, partial, run_scenario, smallest_n, wilson95};
use crate::report;
use crate::sweep::{self, Axis, Inputs, Point};

#[derive(clap::Args, Debug)]
pub struct SweepArgs {
    /// The scenario to sweep.
    pub scenario: PathBuf,
    /// A key and its values: KEY=A..B[:STEP] or KEY=V1,V2,…; repeat for a grid. Without any, the valid keys are listed.
    #[arg(long = "set", value_name = "KEY=A..B[:STEP]")]
    pub set: Vec<String>,
    /// Replications per grid point (default: the scenario's `run.replications`).
    #[arg(long)]
    pub replications: Option<u64>,
    /// Seed, the same at every grid point (default: the scenario's `run.seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Output folder for sweep.csv and sweep.svg (default: results/sweeps/<experiment>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No table on stdout.
    #[arg(long)]
    pub quiet: bool,
}

fn fmt_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

pub fn cmd_sweep(args: &SweepArgs) -> i32 {
    let (mut loaded, mut diags) = load_scenarios(std::slice::from_ref(&args.scenario));
    dedup(&mut diags);
    print_diagnostics(&diags.iter().filter(|d| d.is_error()).cloned().collect::<Vec<_>>());
    if diags.iter().any(|d| d.is_error()) {
        return 2;
    }
    if loaded.len() != 1 {
        eprintln!(
            "error: sweep takes one scenario file; {} holds {}",
            args.scenario.display(),
            loaded.len()
        );
        return 2;
    }
    let base = loaded.remove(0);
    if !base.scenario.not_simulated.is_empty() {
        eprintln!(
            "{}: error: uses what the engine does not simulate yet: {}",
            base.scenario.path.display(),
            base.scenario.not_simulated.join(", ")
        );
        return 2;
    }
    if args.replications == Some(0) || args.threads == Some(0) {
        eprintln!("error: --replications and --threads must be at least 1");
        return 2;
    }
    let (scn_text, topo_text) = match partial::input_texts(&base) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", base.scenario.path.display());
            return 2;
        }
    };
    let inputs = match Inputs::new(&base.scenario.path, &scn_text, &base.topology.path, &topo_text) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let valid = inputs.keys();
    if args.set.is_empty() {
        eprintln!(
            "error: give at least one --set KEY=A..B[:STEP]\nvalid keys ({}):\n  {}",
            valid.len(),
            valid.join("\n  ")
        );
        return 2;
    }
    let mut axes: Vec<Axis> = Vec::new();
    for s in &args.set {
        match sweep::parse_set(s) {
            Ok(a) => {
                if axes.iter().any(|x| x.key == a.key) {
                    eprintln!("error: --set {}: the key is given twice", a.key);
                    return 2;
                }
                if !valid.contains(&a.key) {
                    eprintln!("error: {}", sweep::unknown_key(&a.key, &valid));
                    return 2;
                }
                axes.push(a);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return 2;
            }
        }
    }
    let grid = match sweep::grid(&axes) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let scn = &base.scenario;
    let seed = args.seed.unwrap_or(scn.seed);
    let n = args.replications.unwrap_or(scn.replications as u64);
    let threads = args.threads.unwrap_or_else(default_threads);
    let show_progress = !args.quiet && std::io::stderr().is_terminal();
    eprintln!(
        "{}: sweep of {} point(s) × {n} replication(s), seed {seed} at every point (common random numbers), {threads} thread(s)",
        scn.name,
        grid.len()
    );
    let mut points: Vec<Point> = Vec::new();
    for (i, values) in grid.iter().enumerate() {
        let settings: Vec<(String, f64)> = axes.iter().map(|a| a.key.clone()).zip(values.iter().copied()).collect();
        let at = settings
            .iter()
            .map(|(k, v)| format!("{k}={}", fmt_value(*v)))
            .collect::<Vec<_>>()
            .join(", ");
        let (t, s) = match inputs.apply(&settings) {
            Ok(x) => x,
            Err(e) => {
                eprintln!("error: at {at}: {e}");
                return 2;
            }
        };
        let ls = match input::scenario_from_str(&base.topology.path, &t, &base.scenario.path, &s) {
            Ok((l, _)) => l,
            Err(d) => {
                eprintln!("error: at {at} the scenario does not load (the file text below is the edited one):");
                print_diagnostics(&d);
                return 2;
            }
        };
        let mut progress = progress_bar(show_progress);
        let agg = run_scenario(
            &ls.topology,
            &ls.scenario,
            &RunOptions::first(n, seed, threads),
            &mut progress,
        );
        let summary = report::summarize(&ls.topology, &ls.scenario, &agg);
        let point = Point::of(values.clone(), &summary, &ls.scenario.expect);
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
        eprintln!("  [{}/{}] {at}: {}", i + 1, grid.len(), slos.join("; "));
        points.push(point);
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join("sweeps").join(&scn.name));
    if let Err(e) = std::fs::create_dir_all(&out)
        .and_then(|_| sweep::write_csv(&out.join("sweep.csv"), &axes, &points))
        .and_then(|_| std::fs::write(out.join("sweep.svg"), sweep::chart::svg(&scn.name, &axes, &points)))
    {
        eprintln!("error: cannot write the sweep into {}: {e}", out.display());
        return 2;
    }
    let mut stdout = std::io::stdout().lock();
    if !args.quiet {
        print_table(&mut stdout, &axes, &points);
    }
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
    let minimal = sweep::minimal_points(&points);
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
    let _ = writeln!(
        stdout,
        "wrote {} and {}",
        out.join("sweep.csv").display(),
        out.join("sweep.svg").display()
    );
    0
}

fn print_table(out: &mut dyn Write, axes: &[Axis], points: &[Point]) {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut header: Vec<String> = axes
        .iter()
        .map(|a| {
            a.key
                .rsplit('.')
                .take(2)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join(".")
        })
        .collect();
    if let Some(p) = points.first() {
        for s in &p.slos {
            header.push(format!("P({}) ≤ {}", s.name, s.limit));
        }
        for (f, _, _) in &p.flows {
            header.push(format!("{f} p99 ms"));
        }
    }
    header.push("meets".into());
    rows.push(header);
    for p in points {
        let mut r: Vec<String> = p.values.iter().map(|v| fmt_value(*v)).collect();
        for s in &p.slos {
            r.push(format!("{:.3} [{:.3}, {:.3}]", s.probability, s.ci95[0], s.ci95[1]));
        }
        for (_, _, p99) in &p.flows {
            r.push(format!("{p99:.1}"));
        }
        r.push(if p.meets_all() { "yes".into() } else { "no".into() });
        rows.push(r);
    }
    let cols = rows[0].len();
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map(|x| x.chars().count()).unwrap_or(0))
                .max()
                .unwrap_or(0)
        })
        .collect();
    for (i, r) in rows.iter().enumerate() {
        let line: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:>w$}")).collect();
        let _ = writeln!(out, "{}", line.join("  "));
        if i == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            let _ = writeln!(out, "{}", rule.join("  "));
        }
    }
}

//! `chaoscal check PATH...`: the CI regression gate (see [`crate::gate`]).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::{
    PrecisionArgs, SimArgs, adaptive_line, dedup, ensure_writable, load_scenarios, print_diagnostics, progress_bar,
    simulate,
};
use crate::gate::{self, ExperimentCheck, Finding, Verdict};
use crate::input::LoadedScenario;
use crate::montecarlo::RunOptions;
use crate::present::{console, junit, markdown};
use crate::results::{self, Summary, files};

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// Scenario files or catalog folders.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// A baseline summary.json, or a folder holding <experiment>/summary.json per experiment.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Write JUnit XML here (one test case per expectation and comparison).
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Write a Markdown summary here (for a pull-request comment).
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    #[command(flatten)]
    pub sim: SimArgs,
    /// Judge saved results instead of simulating: <RESULTS>/<experiment>/summary.json, as `run` or `merge` wrote them
    /// (so --replications, --seed and --precision, which apply when check simulates, are refused with it).
    #[arg(long, value_name = "RESULTS", conflicts_with_all = ["replications", "seed", "precision"])]
    pub results: Option<PathBuf>,
    /// Also write each experiment's results files (summary.json and CSVs, no charts) into <OUT>/<experiment>/.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write each experiment's summary.json as the new baseline: <DIR>/<experiment>/summary.json.
    #[arg(long, value_name = "DIR")]
    pub save_baseline: Option<PathBuf>,
    /// Inconclusive checks fail too (exit 1).
    #[arg(long)]
    pub strict: bool,
    /// Significance level of the one-sided baseline tests.
    #[arg(long, default_value_t = gate::DEFAULT_ALPHA)]
    pub alpha: f64,
    #[command(flatten)]
    pub precision: PrecisionArgs,
    /// No per-experiment report on stdout (the totals line and the files are still written).
    #[arg(long)]
    pub quiet: bool,
}

/// Reads a summary.json with its text (kept for `--save-baseline`, byte
/// for byte); the error names the file.
fn read_summary(path: &Path) -> Result<(Summary, String), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let summary = Summary::from_json(&text).map_err(|e| {
        format!(
            "{}:{}:{}: not a chaoscal summary.json: {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    Ok((summary, text))
}

/// Where baselines come from: one file (matched by its experiment name) or a folder.
enum Baselines {
    None,
    File(PathBuf, Box<Summary>),
    Folder(PathBuf),
}

impl Baselines {
    fn open(path: Option<&Path>) -> Result<Self, String> {
        match path {
            None => Ok(Baselines::None),
            Some(p) if p.is_dir() => Ok(Baselines::Folder(p.to_path_buf())),
            Some(p) if p.is_file() => read_summary(p).map(|(s, _)| Baselines::File(p.to_path_buf(), Box::new(s))),
            Some(p) => Err(format!("--baseline {}: no such file or folder", p.display())),
        }
    }

    /// The baseline of one experiment: `Ok(None)` when there is none.
    fn of(&self, experiment: &str) -> Result<Option<(PathBuf, Summary)>, String> {
        match self {
            Baselines::None => Ok(None),
            Baselines::File(p, s) => Ok((s.experiment == experiment).then(|| (p.clone(), (**s).clone()))),
            Baselines::Folder(dir) => {
                let p = dir.join(experiment).join("summary.json");
                if p.is_file() {
                    read_summary(&p).map(|(s, _)| Some((p, s)))
                } else {
                    Ok(None)
                }
            }
        }
    }
}

fn write_text(path: &Path, text: &str) -> Result<(), String> {
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    files::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Every usage problem of the flags and scenarios, and the baselines.
fn check_usage(args: &CheckArgs) -> Result<Baselines, Vec<String>> {
    let mut usage = args.sim.problems();
    if let Err(e) = args.precision.check() {
        usage.push(e);
    }
    if !(args.alpha > 0.0 && args.alpha < 0.5) {
        usage.push(format!(
            "--alpha {}: expected a significance level between 0 and 0.5, e.g. 0.01",
            args.alpha
        ));
    }
    let baselines = Baselines::open(args.baseline.as_deref()).unwrap_or_else(|e| {
        usage.push(e);
        Baselines::None
    });
    if usage.is_empty() {
        for (flag, dir) in [("--out", &args.out), ("--save-baseline", &args.save_baseline)] {
            if let Some(dir) = dir
                && let Err(e) = ensure_writable(flag, dir)
            {
                usage.push(e);
            }
        }
    }
    if usage.is_empty() { Ok(baselines) } else { Err(usage) }
}

pub fn cmd_check(args: &CheckArgs) -> i32 {
    let (loaded, mut diags) = load_scenarios(&args.paths);
    dedup(&mut diags);
    print_diagnostics(&diags.iter().filter(|d| d.is_error()).cloned().collect::<Vec<_>>());
    if diags.iter().any(|d| d.is_error()) {
        return 2;
    }
    let baselines = match check_usage(args) {
        Ok(b) => b,
        Err(usage) => {
            for u in usage {
                eprintln!("error: {u}");
            }
            return 2;
        }
    };
    let threads = args.sim.threads();
    let show_progress = !args.quiet && std::io::stderr().is_terminal();
    let mut checks = Vec::new();
    let mut saved_baselines: BTreeMap<String, PathBuf> = BTreeMap::new();
    for ls in &loaded {
        match check_one(ls, args, &baselines, threads, show_progress) {
            Ok((check, saved)) => {
                if !args.quiet {
                    let mut text = String::new();
                    console::check_report(&mut text, &check);
                    print!("{text}");
                }
                checks.push(check);
                saved_baselines.extend(saved.map(|p| (ls.scenario.name.clone(), p)));
            }
            Err(e) => {
                eprintln!("error: {e}");
                return 2;
            }
        }
    }
    for (name, path) in &saved_baselines {
        eprintln!("{name}: baseline saved to {}", path.display());
    }
    finish(args, &checks)
}

/// Checks one experiment: its results (simulated or read), its `[expect]`
/// and its baseline; saves its summary as a baseline when asked (the path).
fn check_one(
    ls: &LoadedScenario,
    args: &CheckArgs,
    baselines: &Baselines,
    threads: usize,
    show_progress: bool,
) -> Result<(ExperimentCheck, Option<PathBuf>), String> {
    let started = Instant::now();
    let (summary, summary_text, source) = obtain(ls, args, threads, show_progress)?;
    let time_s = started.elapsed().as_secs_f64();
    let mut findings = gate::expectations(&ls.scenario.expect, &summary);
    let baseline = match baselines.of(&ls.scenario.name)? {
        Some((path, base)) => {
            findings.extend(gate::compare(&summary, &base, args.alpha));
            Some(format!(
                "{} ({} replications, seed {})",
                path.display(),
                base.replications,
                base.seed
            ))
        }
        None if !matches!(baselines, Baselines::None) => {
            findings.push(Finding {
                group: "baseline",
                name: "baseline".to_string(),
                verdict: Verdict::Skipped,
                observed: "-".to_string(),
                reference: "-".to_string(),
                message: format!(
                    "no baseline for {} in {} (save one with --save-baseline)",
                    ls.scenario.name,
                    args.baseline.as_deref().unwrap_or(Path::new("")).display()
                ),
                replications_to_decide: None,
            });
            None
        }
        None => None,
    };
    let saved = match &args.save_baseline {
        Some(dir) => {
            let path = dir.join(&ls.scenario.name).join("summary.json");
            write_text(&path, &summary_text)?;
            Some(path)
        }
        None => None,
    };
    let check = ExperimentCheck {
        experiment: ls.scenario.name.clone(),
        seed: summary.seed,
        replications: summary.replications,
        source,
        baseline,
        time_s,
        findings,
    };
    Ok((check, saved))
}

/// Writes the JUnit and Markdown files, prints the totals; the exit code.
fn finish(args: &CheckArgs, checks: &[ExperimentCheck]) -> i32 {
    if let Some(p) = &args.junit
        && let Err(e) = write_text(p, &junit::render(checks, args.strict))
    {
        eprintln!("error: {e}");
        return 2;
    }
    if let Some(p) = &args.markdown
        && let Err(e) = write_text(p, &markdown::render(checks, args.strict))
    {
        eprintln!("error: {e}");
        return 2;
    }
    let [pass, fail, inconclusive, skipped] = gate::totals(checks);
    let code = gate::exit_code(checks, args.strict);
    println!(
        "check: {} experiment(s): {fail} failed, {inconclusive} inconclusive{}, {pass} passed, {skipped} skipped: {}",
        checks.len(),
        if args.strict && inconclusive > 0 {
            " (failing: --strict)"
        } else {
            ""
        },
        if code == 0 { "ok" } else { "FAILED" }
    );
    code
}

/// The results of one scenario: simulated (optionally written to `--out`)
/// or read from `--results`. Returns the summary, the text of its
/// summary.json (for `--save-baseline`) and where the results came from.
fn obtain(
    ls: &LoadedScenario,
    args: &CheckArgs,
    threads: usize,
    show_progress: bool,
) -> Result<(Summary, String, String), String> {
    let scn = &ls.scenario;
    if let Some(dir) = &args.results {
        let path = dir.join(&scn.name).join("summary.json");
        if !path.is_file() {
            return Err(format!(
                "{}: no results for {} (run it first: chaoscal run {} --out {})",
                path.display(),
                scn.name,
                scn.path.display(),
                dir.display()
            ));
        }
        let (summary, text) = read_summary(&path)?;
        if summary.experiment != scn.name {
            return Err(format!(
                "{}: holds results of {:?}, not {:?}",
                path.display(),
                summary.experiment,
                scn.name
            ));
        }
        return Ok((summary, text, path.display().to_string()));
    }
    let seed = args.sim.seed.unwrap_or(scn.seed);
    let n = args.sim.replications.unwrap_or(scn.replications as u64);
    eprintln!(
        "{}: seed {seed}, {}{n} replication(s) on {threads} thread(s)",
        scn.name,
        if args.precision.precision.is_some() {
            "adaptive from "
        } else {
            ""
        }
    );
    let mut progress = progress_bar(show_progress);
    let (agg, adaptive) = simulate(ls, RunOptions::first(n, seed, threads), &args.precision, &mut progress);
    if let (Some(o), Some(p)) = (&adaptive, args.precision.precision) {
        eprintln!("   {}", adaptive_line(o, p, args.precision.max_replications));
    }
    let summary = match &args.out {
        Some(out) => {
            let dir = out.join(&scn.name);
            results::write_results(&dir, &ls.topology, scn, &agg)
                .map_err(|e| format!("cannot write results to {}: {e}", dir.display()))?
        }
        None => Summary::of(&ls.topology, scn, &agg),
    };
    // The same bytes write_results puts in summary.json.
    let text = summary.to_json();
    Ok((summary, text, "simulated".to_string()))
}

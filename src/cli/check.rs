//! `chaoscal check PATH...`: the CI regression gate (see [`crate::gate`]).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::{
    DEFAULT_MAX_REPLICATIONS, adaptive_line, check_precision, dedup, default_threads, load_scenarios,
    print_diagnostics, progress_bar, simulate,
};
use crate::gate::{self, ExperimentCheck, Facts};
use crate::input::LoadedScenario;
use crate::montecarlo::RunOptions;
use crate::report;

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
    /// Replications per scenario (default: the scenario's `run.replications`).
    #[arg(long)]
    pub replications: Option<u64>,
    /// Seed (default: the scenario's `run.seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Judge saved results instead of simulating: <RESULTS>/<experiment>/summary.json, as `run` or `merge` wrote them.
    #[arg(long, value_name = "RESULTS")]
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
    /// Add replications until every SLO's 95% half-width is at most this (as `run --precision`).
    #[arg(long, value_name = "HALF_WIDTH")]
    pub precision: Option<f64>,
    /// With --precision: never run more replications than this.
    #[arg(long, default_value_t = DEFAULT_MAX_REPLICATIONS)]
    pub max_replications: u64,
    /// No per-experiment report on stdout (the totals line and the files are still written).
    #[arg(long)]
    pub quiet: bool,
}

/// Reads the gate's facts from a summary.json; the error names the file.
fn read_facts(path: &Path) -> Result<(Facts, String), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let facts: Facts = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}:{}:{}: not a chaoscal summary.json: {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    Ok((facts, text))
}

/// Where baselines come from: one file (matched by its experiment name) or a folder.
enum Baselines {
    None,
    File(PathBuf, Facts),
    Folder(PathBuf),
}

impl Baselines {
    fn open(path: Option<&Path>) -> Result<Self, String> {
        match path {
            None => Ok(Baselines::None),
            Some(p) if p.is_dir() => Ok(Baselines::Folder(p.to_path_buf())),
            Some(p) if p.is_file() => read_facts(p).map(|(f, _)| Baselines::File(p.to_path_buf(), f)),
            Some(p) => Err(format!("--baseline {}: no such file or folder", p.display())),
        }
    }

    /// The baseline of one experiment: `Ok(None)` when there is none.
    fn of(&self, experiment: &str) -> Result<Option<(PathBuf, Facts)>, String> {
        match self {
            Baselines::None => Ok(None),
            Baselines::File(p, f) => Ok((f.experiment == experiment).then(|| (p.clone(), f.clone()))),
            Baselines::Folder(dir) => {
                let p = dir.join(experiment).join("summary.json");
                if p.is_file() {
                    read_facts(&p).map(|(f, _)| Some((p, f)))
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
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

pub fn cmd_check(args: &CheckArgs) -> i32 {
    let (loaded, mut diags) = load_scenarios(&args.paths);
    dedup(&mut diags);
    print_diagnostics(&diags.iter().filter(|d| d.is_error()).cloned().collect::<Vec<_>>());
    if diags.iter().any(|d| d.is_error()) {
        return 2;
    }
    let mut usage = Vec::new();
    if args.replications == Some(0) {
        usage.push("--replications must be at least 1".to_string());
    }
    if args.threads == Some(0) {
        usage.push("--threads must be at least 1".to_string());
    }
    if let Err(e) = check_precision(args.precision, args.max_replications) {
        usage.push(e);
    }
    if !(args.alpha > 0.0 && args.alpha < 0.5) {
        usage.push(format!(
            "--alpha {}: expected a significance level between 0 and 0.5, e.g. 0.01",
            args.alpha
        ));
    }
    if args.results.is_some() && (args.replications.is_some() || args.seed.is_some() || args.precision.is_some()) {
        usage.push(
            "--results judges saved results: --replications, --seed and --precision only apply when check simulates"
                .to_string(),
        );
    }
    if args.results.is_none() {
        for s in loaded.iter().filter(|s| !s.scenario.not_simulated.is_empty()) {
            usage.push(format!(
                "{}: uses what the engine does not simulate yet: {}",
                s.scenario.path.display(),
                s.scenario.not_simulated.join(", ")
            ));
        }
    }
    let baselines = match Baselines::open(args.baseline.as_deref()) {
        Ok(b) => b,
        Err(e) => {
            usage.push(e);
            Baselines::None
        }
    };
    if !usage.is_empty() {
        for u in usage {
            eprintln!("error: {u}");
        }
        return 2;
    }
    let threads = args.threads.unwrap_or_else(default_threads);
    let show_progress = !args.quiet && std::io::stderr().is_terminal();
    let mut checks = Vec::new();
    let mut saved_baselines: BTreeMap<String, PathBuf> = BTreeMap::new();
    for ls in &loaded {
        let started = Instant::now();
        let (facts, summary_text, source) = match obtain(ls, args, threads, show_progress) {
            Ok(x) => x,
            Err(e) => {
                eprintln!("error: {e}");
                return 2;
            }
        };
        let time_s = started.elapsed().as_secs_f64();
        let mut findings = gate::expectations(&ls.scenario.expect, &facts);
        let baseline = match baselines.of(&ls.scenario.name) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: {e}");
                return 2;
            }
        };
        let baseline_label = match &baseline {
            Some((path, base)) => {
                findings.extend(gate::compare(&facts, base, args.alpha));
                Some(format!(
                    "{} ({} replications, seed {})",
                    path.display(),
                    base.replications,
                    base.seed
                ))
            }
            None if !matches!(baselines, Baselines::None) => {
                findings.push(gate::Finding {
                    group: "baseline",
                    name: "baseline".to_string(),
                    verdict: gate::Verdict::Skipped,
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
        if let Some(dir) = &args.save_baseline {
            let path = dir.join(&ls.scenario.name).join("summary.json");
            if let Err(e) = write_text(&path, &summary_text) {
                eprintln!("error: {e}");
                return 2;
            }
            saved_baselines.insert(ls.scenario.name.clone(), path);
        }
        let check = ExperimentCheck {
            experiment: ls.scenario.name.clone(),
            seed: facts.seed,
            replications: facts.replications,
            source,
            baseline: baseline_label,
            time_s,
            findings,
        };
        if !args.quiet {
            let mut text = String::new();
            gate::console(&mut text, &check);
            print!("{text}");
        }
        checks.push(check);
    }
    for (name, path) in &saved_baselines {
        eprintln!("{name}: baseline saved to {}", path.display());
    }
    if let Some(p) = &args.junit
        && let Err(e) = write_text(p, &gate::junit(&checks, args.strict))
    {
        eprintln!("error: {e}");
        return 2;
    }
    if let Some(p) = &args.markdown
        && let Err(e) = write_text(p, &gate::markdown(&checks, args.strict))
    {
        eprintln!("error: {e}");
        return 2;
    }
    let [pass, fail, inconclusive, skipped] = gate::totals(&checks);
    let code = gate::exit_code(&checks, args.strict);
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
/// or read from `--results`. Returns the gate's facts, the summary.json
/// text (for `--save-baseline`) and where the results came from.
fn obtain(
    ls: &LoadedScenario,
    args: &CheckArgs,
    threads: usize,
    show_progress: bool,
) -> Result<(Facts, String, String), String> {
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
        let (facts, text) = read_facts(&path)?;
        if facts.experiment != scn.name {
            return Err(format!(
                "{}: holds results of {:?}, not {:?}",
                path.display(),
                facts.experiment,
                scn.name
            ));
        }
        return Ok((facts, text, path.display().to_string()));
    }
    let seed = args.seed.unwrap_or(scn.seed);
    let n = args.replications.unwrap_or(scn.replications as u64);
    eprintln!(
        "{}: seed {seed}, {}{n} replication(s) on {threads} thread(s)",
        scn.name,
        if args.precision.is_some() { "adaptive from " } else { "" }
    );
    let mut progress = progress_bar(show_progress);
    let (agg, adaptive) = simulate(
        ls,
        RunOptions::first(n, seed, threads),
        args.precision,
        args.max_replications,
        &mut progress,
    );
    if let (Some(o), Some(p)) = (&adaptive, args.precision) {
        eprintln!("   {}", adaptive_line(o, p, args.max_replications));
    }
    let summary = match &args.out {
        Some(out) => {
            let dir = out.join(&scn.name);
            report::write_results(&dir, &ls.topology, scn, &agg)
                .map_err(|e| format!("cannot write results to {}: {e}", dir.display()))?
        }
        None => report::summarize(&ls.topology, scn, &agg),
    };
    // The same bytes write_results puts in summary.json.
    let mut text = serde_json::to_string_pretty(&summary).map_err(|e| format!("summary of {}: {e}", scn.name))?;
    text.push('\n');
    let facts: Facts = serde_json::from_str(&text).map_err(|e| format!("summary of {}: {e}", scn.name))?;
    Ok((facts, text, "simulated".to_string()))
}

//! The command line: `run`, `validate`, `list`, `report`, `check`, `sweep`, `merge`, `bench`.
//!
//! Exit codes: 0 ok; 1 an expectation or regression failed; 2 bad input or usage.

mod check;
mod merge;
mod sweep;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Parser, Subcommand};

use crate::input::{self, Diagnostic, FileKind, LoadedScenario, Loader, Severity};
use crate::montecarlo::{
    AdaptiveOptions, AdaptiveOutcome, Aggregate, RunOptions, Shard, partial, run_adaptive, run_scenario,
};
use crate::report;

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
    Run {
        /// Scenario files or folders of them.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Replications per scenario (default: the scenario's `run.replications`).
        #[arg(long)]
        replications: Option<u64>,
        /// Seed (default: the scenario's `run.seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Worker threads (default: every core).
        #[arg(long)]
        threads: Option<usize>,
        /// Results folder; each experiment writes into <out>/<experiment>/.
        #[arg(long, default_value = "results")]
        out: PathBuf,
        /// Run only this replication (to replay one seen in a larger run).
        #[arg(long)]
        replication: Option<u64>,
        /// No progress bar, no console summary.
        #[arg(long)]
        quiet: bool,
        /// Skip the charts, report.html and index.html (results files only).
        #[arg(long)]
        no_report: bool,
        /// Run one shard of the replications: K/N runs K, K+N, K+2N, … (0 ≤ K < N) and writes
        /// <out>/<experiment>/shard-K-of-N.json for `chaoscal merge`; auto/N takes K from
        /// SLURM_ARRAY_TASK_ID (a Slurm job array) or JOB_COMPLETION_INDEX (a Kubernetes Indexed Job).
        #[arg(long, value_name = "K/N")]
        shard: Option<String>,
        /// Keep adding replications until every SLO's 95% interval half-width is at most this (e.g. 0.01).
        #[arg(long, value_name = "HALF_WIDTH")]
        precision: Option<f64>,
        /// With --precision: never run more replications than this.
        #[arg(long, default_value_t = DEFAULT_MAX_REPLICATIONS)]
        max_replications: u64,
        /// Also run every replication's counterfactual twin (the same replication with the
        /// faults off) and report what the faults did against it: excess failures and
        /// latency, and the blast radius against the twin. Twice the cost.
        #[arg(long)]
        counterfactual: bool,
    },
    /// CI regression gate: run scenarios, judge their [expect] limits with 95% intervals, compare with baselines.
    Check(check::CheckArgs),
    /// Capacity and sensitivity sweep: a grid over numeric fields, same seed at every point.
    Sweep(sweep::SweepArgs),
    /// Combine the shard files of `run --shard K/N` into the results of one run.
    Merge(merge::MergeArgs),
    /// Charts and HTML report from saved results (one experiment folder, or a folder of them plus an index).
    Report {
        /// A results folder written by `run`: `results/<experiment>/` or `results/`.
        results_dir: PathBuf,
    },
    /// Check files and catalogs: schema, references, ranges, call cycles.
    Validate {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// The catalog as a table: experiment, owner, severity, targets, declared radius, SLOs, tags.
    List {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Chaos Mesh, Litmus, Istio, Toxiproxy, Argo Rollouts and PrometheusRule manifests → a scenario.
    Import(crate::import::ImportArgs),
    /// Measure simulated events per second (an event: an arrival or a service completion).
    Bench {
        /// `mm1`, `mmc` (M/M/4 of the peer models) or a scenario file.
        #[arg(long, default_value = "mmc")]
        model: String,
        /// External arrivals per replication, for mm1/mmc.
        #[arg(long, default_value_t = 1_000_000)]
        arrivals: u64,
        /// Replications to run.
        #[arg(long, default_value_t = 4)]
        replications: u64,
        /// Worker threads (default: every core).
        #[arg(long)]
        threads: Option<usize>,
    },
}

/// Runs the command line; returns the exit code.
pub fn main_with(cli: Cli) -> i32 {
    match cli.command {
        Command::Run {
            paths,
            replications,
            seed,
            threads,
            out,
            replication,
            quiet,
            no_report,
            shard,
            precision,
            max_replications,
            counterfactual,
        } => cmd_run(
            &paths,
            &RunFlags {
                replications,
                seed,
                threads,
                replication,
                quiet,
                no_report,
                shard,
                precision,
                max_replications,
                counterfactual,
            },
            &out,
        ),
        Command::Check(args) => check::cmd_check(&args),
        Command::Sweep(args) => sweep::cmd_sweep(&args),
        Command::Merge(args) => merge::cmd_merge(&args),
        Command::Import(args) => crate::import::cmd_import(&args),
        Command::Report { results_dir } => cmd_report(&results_dir),
        Command::Validate { paths } => cmd_validate(&paths),
        Command::List { paths } => cmd_list(&paths),
        Command::Bench {
            model,
            arrivals,
            replications,
            threads,
        } => cmd_bench(&model, arrivals, replications, threads),
    }
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

fn cmd_validate(paths: &[PathBuf]) -> i32 {
    let (files, mut diags) = input::collect_toml(paths);
    let mut loader = Loader::new();
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
                loader.scenario(f);
            }
            Ok(FileKind::Topology) => {
                loader.topology(f);
            }
            Err(d) => diags.extend(d),
        }
    }
    diags.extend(std::mem::take(&mut loader.diagnostics));
    dedup(&mut diags);
    // The catalog's rules are errors here: a catalog entry needs an owner,
    // a hypothesis, a rollback and a declared blast radius.
    for d in &mut diags {
        if d.severity == Severity::CatalogRule {
            d.severity = Severity::Error;
        }
    }
    print_diagnostics(&diags);
    let errors = diags.iter().filter(|d| d.severity == Severity::Error).count();
    let warnings = diags.len() - errors;
    eprintln!(
        "checked {} file(s): {errors} error(s), {warnings} warning(s)",
        files.len()
    );
    if errors > 0 { 2 } else { 0 }
}

fn cmd_list(paths: &[PathBuf]) -> i32 {
    let (loaded, mut diags) = load_scenarios(paths);
    dedup(&mut diags);
    if diags.iter().any(|d| d.is_error()) {
        print_diagnostics(&diags);
        return 2;
    }
    let mut rows = vec![[
        "experiment".to_string(),
        "owner".to_string(),
        "severity".to_string(),
        "targets".to_string(),
        "declared radius".to_string(),
        "SLOs".to_string(),
        "tags".to_string(),
    ]];
    for ls in &loaded {
        let (s, t) = (&ls.scenario, &ls.topology);
        let targets: Vec<String> = s
            .faults
            .iter()
            .map(|f| {
                let kind = format!("{:?}", f.kind).to_lowercase();
                let regions: Vec<&str> = (0..t.regions.len())
                    .filter(|&r| f.regions[r])
                    .map(|r| t.regions[r].as_str())
                    .collect();
                let what = match (f.service, f.link, f.queue) {
                    (Some(sv), _, _) => format!("{}@{}", t.services[sv.index()].name, regions.join("+")),
                    (_, Some((a, b)), _) => format!("{}<->{}", t.regions[a.index()], t.regions[b.index()]),
                    (_, _, Some(q)) => format!("{}@{}", t.queues[q.index()].name, regions.join("+")),
                    _ => regions.join("+"),
                };
                format!("{kind} {what}")
            })
            .collect();
        let radius = match &s.blast_radius {
            Some(b) => format!(
                "{} svc / {} reg",
                b.max_services.map(|x| x.to_string()).unwrap_or("-".into()),
                b.max_regions.map(|x| x.to_string()).unwrap_or("-".into())
            ),
            None => "-".to_string(),
        };
        rows.push([
            s.name.clone(),
            s.owner.clone(),
            s.severity.clone(),
            if targets.is_empty() {
                "-".to_string()
            } else {
                targets.join(", ")
            },
            radius,
            s.slos.iter().map(|x| x.name.as_str()).collect::<Vec<_>>().join(", "),
            s.tags.join(", "),
        ]);
    }
    let widths: Vec<usize> = (0..7)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = std::io::stdout().lock();
    for (i, r) in rows.iter().enumerate() {
        let line: Vec<String> = r.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
        if i == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            let _ = writeln!(out, "{}", rule.join("  "));
        }
    }
    let _ = writeln!(out, "{} experiment(s)", loaded.len());
    0
}

/// Removes repeated diagnostics (a shared topology's warnings are reported once).
fn dedup(diags: &mut Vec<Diagnostic>) {
    let mut seen = std::collections::BTreeSet::new();
    diags.retain(|d| seen.insert(d.to_string()));
}

/// The default of `--max-replications`.
pub const DEFAULT_MAX_REPLICATIONS: u64 = 10_000;

/// `run`'s flags (beyond the paths and `--out`).
struct RunFlags {
    replications: Option<u64>,
    seed: Option<u64>,
    threads: Option<usize>,
    replication: Option<u64>,
    quiet: bool,
    no_report: bool,
    shard: Option<String>,
    precision: Option<f64>,
    max_replications: u64,
    counterfactual: bool,
}

/// Checks `--precision` and `--max-replications`.
fn check_precision(precision: Option<f64>, max_replications: u64) -> Result<(), String> {
    if let Some(p) = precision
        && !(p > 0.0 && p < 0.5)
    {
        return Err(format!(
            "--precision {p}: expected a 95% half-width between 0 and 0.5, e.g. --precision 0.01"
        ));
    }
    if max_replications == 0 {
        return Err("--max-replications must be at least 1".to_string());
    }
    Ok(())
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

/// Runs one scenario's replications, a fixed count or adaptively.
fn simulate(
    ls: &LoadedScenario,
    opts: RunOptions,
    precision: Option<f64>,
    max_replications: u64,
    progress: &mut dyn FnMut(usize, usize),
) -> (Aggregate, Option<AdaptiveOutcome>) {
    match precision {
        Some(p) => {
            let opts = AdaptiveOptions {
                first: opts.indices.len() as u64,
                precision: p,
                max: max_replications,
                seed: opts.seed,
                threads: opts.threads,
                counterfactual: opts.counterfactual,
            };
            let (agg, outcome) = run_adaptive(&ls.topology, &ls.scenario, &opts, progress);
            (agg, Some(outcome))
        }
        None => (run_scenario(&ls.topology, &ls.scenario, &opts, progress), None),
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

/// Writes an experiment's results as `run` does: `summary.json` and the
/// CSVs, `run.json` (wall-clock figures), then (unless `no_report`) the
/// charts and `report.html`. Errors are printed; the result is the exit code.
fn write_experiment(
    dir: &Path,
    ls: &LoadedScenario,
    agg: &Aggregate,
    run_json: serde_json::Value,
    no_report: bool,
) -> Result<report::Summary, i32> {
    let summary = match report::write_results(dir, &ls.topology, &ls.scenario, agg) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot write results to {}: {e}", dir.display());
            return Err(2);
        }
    };
    if let Err(e) = std::fs::write(dir.join("run.json"), format!("{run_json:#}\n")) {
        eprintln!("error: cannot write {}: {e}", dir.join("run.json").display());
        return Err(2);
    }
    // Charts and report.html from the files just written, exactly as `chaoscal report` makes them.
    if !no_report && let Err(e) = report::html::write_experiment(dir) {
        eprintln!("error: report for {}: {e}", dir.display());
        return Err(2);
    }
    Ok(summary)
}

fn cmd_run(paths: &[PathBuf], flags: &RunFlags, out: &Path) -> i32 {
    let RunFlags {
        replications,
        seed,
        threads,
        replication,
        quiet,
        no_report,
        ref shard,
        precision,
        max_replications,
        counterfactual,
    } = *flags;
    let (loaded, mut diags) = load_scenarios(paths);
    dedup(&mut diags);
    if !quiet || diags.iter().any(|d| d.is_error()) {
        print_diagnostics(&diags);
    }
    if diags.iter().any(|d| d.is_error()) {
        return 2;
    }
    let refused: Vec<&LoadedScenario> = loaded.iter().filter(|s| !s.scenario.not_simulated.is_empty()).collect();
    if !refused.is_empty() {
        for s in refused {
            eprintln!(
                "{}: error: uses what the engine does not simulate yet: {}",
                s.scenario.path.display(),
                s.scenario.not_simulated.join(", ")
            );
        }
        return 2;
    }
    if let Some(0) = replications {
        eprintln!("error: --replications must be at least 1");
        return 2;
    }
    if let Some(0) = threads {
        eprintln!("error: --threads must be at least 1");
        return 2;
    }
    if let Err(e) = check_precision(precision, max_replications) {
        eprintln!("error: {e}");
        return 2;
    }
    let shard = match shard.as_deref().map(|s| Shard::parse(s, |k| std::env::var(k).ok())) {
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            eprintln!("error: {e}");
            return 2;
        }
        None => None,
    };
    let conflict = match (shard.is_some(), precision.is_some(), replication.is_some()) {
        (true, true, _) => Some("--shard and --precision"),
        (true, _, true) => Some("--shard and --replication"),
        (_, true, true) => Some("--precision and --replication"),
        _ => None,
    };
    if let Some(c) = conflict {
        eprintln!(
            "error: {c} cannot be combined (a shard runs a fixed share of a fixed count; \
             adaptive rounds decide the count as they go)"
        );
        return 2;
    }
    let threads = threads.unwrap_or_else(default_threads);
    let show_progress = !quiet && std::io::stderr().is_terminal();
    for ls in &loaded {
        let scn = &ls.scenario;
        let seed = seed.unwrap_or(scn.seed);
        let n = replications.unwrap_or(scn.replications as u64);
        let dir = out.join(&scn.name);
        let mut progress = progress_bar(show_progress);
        if let Some(sh) = shard {
            let opts = RunOptions::shard(n, sh, seed, threads).with_counterfactual(counterfactual);
            eprintln!(
                "{}: seed {seed}, shard {sh}: {} of {n} replication(s) on {} thread(s)",
                scn.name,
                opts.indices.len(),
                opts.threads
            );
            let agg = run_scenario(&ls.topology, scn, &opts, &mut progress);
            match partial::write(&dir, ls, n, sh, &agg) {
                Ok(path) => eprintln!(
                    "   wrote {}; when all {} shards are done: chaoscal merge <folders or files> --out <dir>",
                    path.display(),
                    sh.count
                ),
                Err(e) => {
                    eprintln!(
                        "error: cannot write the shard's partial result into {}: {e}",
                        dir.display()
                    );
                    return 2;
                }
            }
            continue;
        }
        let shown = match replication {
            Some(_) => 1,
            None => n,
        };
        // The seed first, with a line that replays one replication (TigerBeetle's VOPR habit).
        eprintln!(
            "{}: seed {seed}, {}{shown} replication(s) on {} thread(s); replay one with: chaoscal run {} --seed {seed} --replication <i>",
            scn.name,
            if precision.is_some() { "adaptive from " } else { "" },
            if replication.is_some() { 1 } else { threads },
            scn.path.display()
        );
        let started = Instant::now();
        let (agg, adaptive) = match replication {
            Some(i) => (
                run_scenario(
                    &ls.topology,
                    scn,
                    &RunOptions {
                        indices: vec![i],
                        seed,
                        threads: 1,
                        counterfactual,
                    },
                    &mut progress,
                ),
                None,
            ),
            None => simulate(
                ls,
                RunOptions::first(n, seed, threads).with_counterfactual(counterfactual),
                precision,
                max_replications,
                &mut progress,
            ),
        };
        let wall_s = started.elapsed().as_secs_f64();
        let mut run_json = serde_json::json!({
            "experiment": scn.name,
            "wall_s": wall_s,
            "threads": if replication.is_some() { 1 } else { threads },
            "replications": agg.replications(),
            "events": agg.events,
            "events_per_s": agg.events as f64 / wall_s.max(1e-9),
        });
        if let (Some(o), Some(p)) = (&adaptive, precision) {
            run_json["precision"] = serde_json::json!(p);
            run_json["max_replications"] = serde_json::json!(max_replications);
            run_json["adaptive_rounds"] = serde_json::json!(o.rounds);
            run_json["precision_reached"] = serde_json::json!(o.reached);
        }
        let summary = match write_experiment(&dir, ls, &agg, run_json, no_report) {
            Ok(s) => s,
            Err(code) => return code,
        };
        if let (Some(o), Some(p)) = (&adaptive, precision) {
            eprintln!("   {}", adaptive_line(o, p, max_replications));
        }
        if !quiet {
            let mut stdout = std::io::stdout().lock();
            let _ = report::print_summary(&mut stdout, &summary);
            let _ = writeln!(
                stdout,
                "   {} events in {:.2} s ({:.1} M events/s); results in {}\n",
                agg.events,
                wall_s,
                agg.events as f64 / wall_s.max(1e-9) / 1e6,
                dir.display()
            );
        }
    }
    // The catalog index at the results root: every experiment folder there, as `chaoscal report <out>` lists them.
    if !no_report
        && shard.is_none()
        && let Err(e) = report::html::write_index(out)
    {
        eprintln!("error: catalog index in {}: {e}", out.display());
        return 2;
    }
    0
}

/// `report RESULTS_DIR`: charts and HTML again from saved results, no simulation.
fn cmd_report(results_dir: &Path) -> i32 {
    match report::html::regenerate(results_dir) {
        Ok(w) => {
            for d in &w.experiments {
                eprintln!("wrote {}", d.join("report.html").display());
            }
            if let Some(i) = &w.index {
                eprintln!("wrote {}", i.display());
            }
            0
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            2
        }
    }
}

/// The peer models' M/M/1 (ρ = 0.9) and M/M/4 (ρ = 0.8), time unit 1 ms.
pub fn peer_model(model: &str, arrivals: u64) -> Option<(String, String)> {
    let (lam_per_ms, servers) = match model {
        "mm1" => (0.9, 1),
        "mmc" => (3.2, 4),
        _ => return None,
    };
    let duration_s = arrivals as f64 / (lam_per_ms * 1000.0);
    let topo = format!(
        "name = \"{model}\"\n[[regions]]\nname = \"r\"\n[[flows]]\nname = \"job\"\nentry = \"station\"\n\
         [[services]]\nname = \"station\"\nregions = [\"r\"]\nconcurrency = {servers}\nqueue = 100000000\n\
         service_time = {{ dist = \"exp\", mean_ms = 1 }}\n"
    );
    let scn = format!(
        "[experiment]\nname = \"bench-{model}\"\ntopology = \"t.toml\"\n[run]\nduration_s = {duration_s}\n\
         warmup_s = {}\nreplications = 1\nseed = 1\n[workload]\nrate_per_s = {}\n",
        duration_s / 10.0,
        lam_per_ms * 1000.0
    );
    Some((topo, scn))
}

fn cmd_bench(model: &str, arrivals: u64, replications: u64, threads: Option<usize>) -> i32 {
    let loaded = match peer_model(model, arrivals) {
        Some((t, s)) => {
            match input::scenario_from_str(Path::new("bench-topology.toml"), &t, Path::new("bench.toml"), &s) {
                Ok((l, _)) => l,
                Err(d) => {
                    print_diagnostics(&d);
                    return 2;
                }
            }
        }
        None => {
            let (mut loaded, diags) = load_scenarios(&[PathBuf::from(model)]);
            if diags.iter().any(|d| d.is_error()) || loaded.len() != 1 {
                print_diagnostics(&diags);
                eprintln!("error: --model takes mm1, mmc or one scenario file");
                return 2;
            }
            loaded.remove(0)
        }
    };
    let all = threads.unwrap_or_else(default_threads);
    println!("model {model}: {replications} replication(s)");
    let mut single = 0.0;
    for t in [1, all] {
        let opts = RunOptions::first(replications, loaded.scenario.seed, t);
        let started = Instant::now();
        let agg = run_scenario(&loaded.topology, &loaded.scenario, &opts, &mut |_, _| {});
        let wall = started.elapsed().as_secs_f64();
        let rate = agg.peer_events as f64 / wall;
        if t == 1 {
            single = rate;
        }
        println!(
            "  threads {t}: {:.3} s, {} peer events ({:.2} M/s), {} engine events ({:.2} M/s), speed-up {:.2}x",
            wall,
            agg.peer_events,
            rate / 1e6,
            agg.events,
            agg.events as f64 / wall / 1e6,
            rate / single
        );
        if all == 1 {
            break;
        }
    }
    0
}

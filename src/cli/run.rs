//! `chaoscal run PATH...`: simulate scenarios and write their results (or,
//! with `--shard K/N`, one shard's partial result for `merge`).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::{
    PrecisionArgs, SimArgs, adaptive_line, dedup, ensure_writable, load_scenarios, print_diagnostics, progress_bar,
    simulate,
};
use crate::input::LoadedScenario;
use crate::montecarlo::{Aggregate, RunOptions, Shard, run_scenario};
use crate::present::{self, console};
use crate::results::{self, RunInfo, Summary, shard};
use crate::telemetry;

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Scenario files or folders of them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub sim: SimArgs,
    /// Results folder; each experiment writes into <out>/<experiment>/.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Run only this replication (to replay one seen in a larger run). Not with --precision:
    /// adaptive rounds decide the count as they go.
    #[arg(long, conflicts_with = "precision")]
    pub replication: Option<u64>,
    /// No progress bar, no console summary.
    #[arg(long)]
    pub quiet: bool,
    /// Skip the charts, report.html and index.html (results files only).
    #[arg(long)]
    pub no_report: bool,
    /// Run one shard of the replications: K/N runs K, K+N, K+2N, … (0 ≤ K < N) and writes
    /// <out>/<experiment>/shard-K-of-N.json for `chaoscal merge`; auto/N takes K from
    /// SLURM_ARRAY_TASK_ID (a Slurm job array) or JOB_COMPLETION_INDEX (a Kubernetes Indexed Job).
    /// Not with --precision or --replication: a shard runs a fixed share of a fixed count.
    #[arg(long, value_name = "K/N", conflicts_with_all = ["precision", "replication"])]
    pub shard: Option<String>,
    #[command(flatten)]
    pub precision: PrecisionArgs,
    /// Also run every replication's counterfactual twin (the same replication with the
    /// faults off) and report what the faults did against it: excess failures and
    /// latency, and the blast radius against the twin. Twice the cost.
    #[arg(long)]
    pub counterfactual: bool,
    /// With --replication: write that replication's traces to FILE as OTLP/JSON, one
    /// TracesData object per line (docs/telemetry.md), for Jaeger, Tempo or an OTel Collector.
    #[arg(long, value_name = "FILE", requires = "replication")]
    pub trace: Option<PathBuf>,
    /// With --trace: the share of requests whose trace is kept, by request, from the seed
    /// (default 0.01; 1 keeps every request).
    #[arg(long, value_name = "FRACTION", requires = "trace")]
    pub trace_sample: Option<f64>,
    /// With --trace: the share of failed or degraded requests kept (tail sampling; default 0.1,
    /// never less than --trace-sample).
    #[arg(long, value_name = "FRACTION", requires = "trace")]
    pub trace_sample_failed: Option<f64>,
    /// With --replication: write that replication's series to FILE as OpenMetrics text with
    /// timestamps, under Istio's metric names, scraped every run.scrape_interval_s (15 s); load
    /// it with `promtool tsdb create-blocks-from openmetrics FILE DIR`.
    #[arg(long, value_name = "FILE", requires = "replication")]
    pub metrics: Option<PathBuf>,
}

impl RunArgs {
    /// The telemetry asked for, or the usage error.
    fn telemetry(&self) -> Result<Option<telemetry::Request>, String> {
        if self.trace.is_none() && self.metrics.is_none() {
            return Ok(None);
        }
        let sample = self.trace_sample.unwrap_or(telemetry::DEFAULT_SAMPLE);
        let failed = self.trace_sample_failed.unwrap_or(telemetry::DEFAULT_SAMPLE_TROUBLED);
        for (flag, v) in [("--trace-sample", sample), ("--trace-sample-failed", failed)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!(
                    "{flag} {v}: expected a share between 0 and 1, e.g. {flag} 0.05"
                ));
            }
        }
        if self.trace.is_some() && self.trace == self.metrics {
            return Err("--trace and --metrics name the same file; give each its own".to_string());
        }
        Ok(Some(telemetry::Request {
            trace: self.trace.clone(),
            metrics: self.metrics.clone(),
            sample,
            sample_troubled: failed,
        }))
    }
}

/// Checks the flags that clap cannot; returns the shard, or the message.
fn check_flags(args: &RunArgs) -> Result<Option<Shard>, String> {
    if let Some(e) = args.sim.problems().into_iter().next() {
        return Err(e);
    }
    args.precision.check()?;
    args.telemetry()?;
    args.shard
        .as_deref()
        .map(|s| Shard::parse(s, |k| std::env::var(k).ok()))
        .transpose()
}

pub fn cmd_run(args: &RunArgs) -> i32 {
    let (loaded, mut diags) = load_scenarios(&args.paths);
    dedup(&mut diags);
    if !args.quiet || diags.iter().any(|d| d.is_error()) {
        print_diagnostics(&diags);
    }
    if diags.iter().any(|d| d.is_error()) {
        return 2;
    }
    if (args.trace.is_some() || args.metrics.is_some()) && loaded.len() > 1 {
        eprintln!(
            "error: --trace and --metrics write one replication of one scenario; {} scenarios were given",
            loaded.len()
        );
        return 2;
    }
    let shard = match check_flags(args).and_then(|s| ensure_writable("--out", &args.out).map(|_| s)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let threads = args.sim.threads();
    for ls in &loaded {
        let code = match shard {
            Some(sh) => run_shard(ls, args, sh, threads),
            None => run_experiment(ls, args, threads),
        };
        if code != 0 {
            return code;
        }
    }
    // The catalog index at the results root: every experiment folder there, as `chaoscal report <out>` lists them.
    if !args.no_report
        && shard.is_none()
        && let Err(e) = present::html::write_index(&args.out)
    {
        eprintln!("error: catalog index in {}: {e}", args.out.display());
        return 2;
    }
    0
}

/// One shard of one scenario: its replications, written as a partial result.
fn run_shard(ls: &LoadedScenario, args: &RunArgs, sh: Shard, threads: usize) -> i32 {
    let scn = &ls.scenario;
    let seed = args.sim.seed.unwrap_or(scn.seed);
    let n = args.sim.replications.unwrap_or(scn.replications as u64);
    let dir = args.out.join(&scn.name);
    let opts = RunOptions::shard(n, sh, seed, threads).with_counterfactual(args.counterfactual);
    eprintln!(
        "{}: seed {seed}, shard {sh}: {} of {n} replication(s) on {} thread(s)",
        scn.name,
        opts.indices.len(),
        opts.threads
    );
    let mut progress = progress_bar(!args.quiet && std::io::stderr().is_terminal());
    let agg = run_scenario(&ls.topology, scn, &opts, &mut progress);
    match shard::write(&dir, ls, n, sh, &agg) {
        Ok(path) => {
            eprintln!(
                "   wrote {}; when all {} shards are done: chaoscal merge <folders or files> --out <dir>",
                path.display(),
                sh.count
            );
            0
        }
        Err(e) => {
            eprintln!(
                "error: cannot write the shard's partial result into {}: {e}",
                dir.display()
            );
            2
        }
    }
}

/// One scenario: its replications (all, adaptively, or the one of
/// `--replication`), its results, and the console summary.
fn run_experiment(ls: &LoadedScenario, args: &RunArgs, threads: usize) -> i32 {
    let scn = &ls.scenario;
    let seed = args.sim.seed.unwrap_or(scn.seed);
    let n = args.sim.replications.unwrap_or(scn.replications as u64);
    let dir = args.out.join(&scn.name);
    let precision = args.precision.precision;
    let threads = if args.replication.is_some() { 1 } else { threads };
    // The seed first, with a line that replays one replication (TigerBeetle's VOPR habit).
    eprintln!(
        "{}: seed {seed}, {}{} replication(s) on {threads} thread(s); replay one with: chaoscal run {} --seed {seed} --replication <i>",
        scn.name,
        if precision.is_some() { "adaptive from " } else { "" },
        if args.replication.is_some() { 1 } else { n },
        scn.path.display()
    );
    let mut progress = progress_bar(!args.quiet && std::io::stderr().is_terminal());
    let started = Instant::now();
    let mut written = None;
    let (agg, adaptive) = match args.replication {
        Some(i) if args.trace.is_some() || args.metrics.is_some() => {
            let req = args.telemetry().ok().flatten().expect("flags were checked");
            match telemetry::run(&ls.topology, scn, seed, i, &req) {
                Ok((out, w)) => {
                    let twin = args.counterfactual.then(|| {
                        let twin = crate::sim::run_twin(&ls.topology, scn, seed, i);
                        out.recorder.versus_twin(&twin.recorder, scn, ls.topology.regions.len())
                    });
                    let mut agg = Aggregate::new(&ls.topology, scn, seed);
                    agg.add(&ls.topology, scn, out, twin);
                    progress(1, 1);
                    written = Some((req, w));
                    (agg, None)
                }
                Err(e) => {
                    eprintln!("error: cannot write the telemetry of replication {i}: {e}");
                    return 2;
                }
            }
        }
        Some(i) => {
            let opts = RunOptions {
                indices: vec![i],
                seed,
                threads: 1,
                counterfactual: args.counterfactual,
            };
            (run_scenario(&ls.topology, scn, &opts, &mut progress), None)
        }
        None => {
            let opts = RunOptions::first(n, seed, threads).with_counterfactual(args.counterfactual);
            simulate(ls, opts, &args.precision, &mut progress)
        }
    };
    let wall_s = started.elapsed().as_secs_f64();
    let mut info = RunInfo {
        experiment: scn.name.clone(),
        wall_s: Some(wall_s),
        threads: Some(threads),
        replications: agg.replications(),
        events: agg.events,
        events_per_s: Some(agg.events as f64 / wall_s.max(1e-9)),
        ..RunInfo::default()
    };
    if let (Some(o), Some(p)) = (&adaptive, precision) {
        info.precision = Some(p);
        info.max_replications = Some(args.precision.max_replications);
        info.adaptive_rounds = Some(o.rounds.clone());
        info.precision_reached = Some(o.reached);
    }
    if let Err(e) = save_waterfalls(&dir, written.as_ref().and_then(|(_, w)| w.waterfalls.as_ref())) {
        eprintln!(
            "error: cannot write {}: {e}",
            dir.join(telemetry::waterfall::FILE).display()
        );
        return 2;
    }
    let summary = match write_experiment(&dir, ls, &agg, &info, args.no_report) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if let (Some(o), Some(p)) = (&adaptive, precision) {
        eprintln!("   {}", adaptive_line(o, p, args.precision.max_replications));
    }
    if let Some((req, w)) = &written {
        if let Some(path) = &req.trace {
            eprintln!("   traces: {} ({} spans) in {}", w.traces, w.spans, path.display());
        }
        if let Some(path) = &req.metrics {
            eprintln!(
                "   series: {} request series and the gauges, {} scrapes, in {}",
                w.series,
                w.scrapes,
                path.display()
            );
        }
    }
    if !args.quiet {
        let mut stdout = std::io::stdout().lock();
        let _ = console::run_summary(&mut stdout, &summary);
        let _ = writeln!(
            stdout,
            "   {} events in {:.2} s ({:.1} M events/s); results in {}\n",
            agg.events,
            wall_s,
            agg.events as f64 / wall_s.max(1e-9) / 1e6,
            dir.display()
        );
    }
    0
}

/// The waterfalls of a `--trace` run, for the report; first removes those
/// an earlier run left (the file and its charts), so the report never shows
/// another replication's requests.
fn save_waterfalls(dir: &Path, w: Option<&telemetry::Waterfalls>) -> std::io::Result<()> {
    for stem in ["waterfall_failed", "waterfall_slowest"] {
        for ext in ["svg", "png"] {
            match std::fs::remove_file(dir.join(format!("{stem}.{ext}"))) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
    }
    match w {
        Some(w) => {
            std::fs::create_dir_all(dir)?;
            w.write(dir)
        }
        None => match std::fs::remove_file(dir.join(telemetry::waterfall::FILE)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        },
    }
}

/// Writes an experiment's results as `run` does: `summary.json` and the
/// CSVs, `run.json` (wall-clock figures), the service graph
/// (`graph.dot`, `graph.svg`), then (unless `no_report`) the
/// charts and `report.html`. Errors are printed; the result is the exit code.
pub(super) fn write_experiment(
    dir: &Path,
    ls: &LoadedScenario,
    agg: &Aggregate,
    info: &RunInfo,
    no_report: bool,
) -> Result<Summary, i32> {
    let summary = match results::write_results(dir, &ls.topology, &ls.scenario, agg) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot write results to {}: {e}", dir.display());
            return Err(2);
        }
    };
    if let Err(e) = info.write(dir) {
        eprintln!("error: cannot write {}: {e}", dir.join("run.json").display());
        return Err(2);
    }
    // The service graph with this experiment's targets and static radius marked.
    for (file, text) in [
        ("graph.dot", present::graph::dot(&ls.topology, Some(&ls.scenario))),
        ("graph.svg", present::graph::svg(&ls.topology, Some(&ls.scenario))),
    ] {
        if let Err(e) = crate::results::files::write(&dir.join(file), text) {
            eprintln!("error: cannot write {}: {e}", dir.join(file).display());
            return Err(2);
        }
    }
    // Charts and report.html from the files just written, exactly as `chaoscal report` makes them.
    if !no_report && let Err(e) = present::html::write_experiment(dir) {
        eprintln!("error: report for {}: {e}", dir.display());
        return Err(2);
    }
    Ok(summary)
}

//! `chaoscal calibrate TRACES... --out topologies/NAME.toml`: reads the
//! traces, writes the topology (with its empirical CSVs), a starter
//! scenario and the fit report, and prints the fit.
//!
//! Exit codes: 0 written (warnings printed); 2 bad input or usage (no
//! usable trace, unreadable files, files that cannot be written).

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use super::emit::{self, EmitOptions};
use super::fit::{self, FitOptions, FitReport};
use super::infer::{self, InferOptions, ServiceTimeForm};
use super::{ReadOptions, collect_trace_files, read_files};
use crate::input::{Diagnostic, Loader};
use crate::results::files;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ServiceTimeArg {
    /// Empirical CSV from 1000 spans on, percentiles below.
    Auto,
    Percentiles,
    Empirical,
}

#[derive(Args, Debug)]
pub struct CalibrateArgs {
    /// OTLP/JSON trace files (one document, or one per line as the Collector's file exporter writes), or folders of .json/.jsonl files.
    #[arg(required = true)]
    pub traces: Vec<PathBuf>,
    /// The topology to write (its empirical CSVs go to a folder beside it).
    #[arg(long)]
    pub out: PathBuf,
    /// The starter scenario to write (default: beside the topology, NAME.scenario.toml).
    #[arg(long)]
    pub scenario_out: Option<PathBuf>,
    /// The folder for calibration.md and calibration.json (default: results/NAME-calibration).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// The topology's name (default: the output file's name).
    #[arg(long)]
    pub name: Option<String>,
    /// A root span attribute naming the flow (default: the root span's name).
    #[arg(long, value_name = "KEY")]
    pub flow_attribute: Option<String>,
    /// How service times are written.
    #[arg(long, value_enum, default_value_t = ServiceTimeArg::Auto)]
    pub service_time: ServiceTimeArg,
    /// Replications of the fit's simulation (0: no simulation).
    #[arg(long, default_value_t = 4)]
    pub fit_replications: u64,
    /// The simulated window of the fit is cut to this many seconds.
    #[arg(long, default_value_t = 1800.0)]
    pub fit_max_window_s: f64,
    /// A fit is poor when p50 or p99 is off by more than this share.
    #[arg(long, default_value_t = 0.1)]
    pub tolerance: f64,
    /// Seed of the starter scenario and the fit.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Warm-up of the starter scenario, before the observed window.
    #[arg(long, default_value_t = 60.0)]
    pub warmup_s: f64,
    /// Worker threads of the fit (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Folder for the scratch files that group large inputs by trace (default: the system's temporary folder).
    #[arg(long)]
    pub scratch: Option<PathBuf>,
    /// Calibrate from the rest when some lines or files are malformed JSON
    /// (they are still reported); without it, malformed JSON stops the run (exit 2).
    #[arg(long)]
    pub skip_malformed: bool,
    /// Print only warnings and errors.
    #[arg(long)]
    pub quiet: bool,
}

fn usage(msg: String) -> i32 {
    eprintln!("error: {msg}");
    2
}

fn print(diags: &[Diagnostic]) {
    for d in diags {
        eprintln!("{d}");
    }
}

/// Runs `chaoscal calibrate`; returns the exit code.
pub fn cmd_calibrate(args: &CalibrateArgs) -> i32 {
    if let Err(msg) = check_args(args) {
        return usage(msg);
    }
    let stem = args
        .out
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "calibrated".into());
    let out_dir = args.out.parent().map(Path::to_path_buf).unwrap_or_default();
    let scenario_path = args
        .scenario_out
        .clone()
        .unwrap_or_else(|| out_dir.join(format!("{stem}.scenario.toml")));
    let report_dir = args
        .report
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join(format!("{}-calibration", emit::safe(&stem))));
    let (trace_files, mut diags) = collect_trace_files(&args.traces);
    if diags.iter().any(Diagnostic::is_error) {
        print(&diags);
        return 2;
    }
    let opts = ReadOptions {
        flow_attribute: args.flow_attribute.clone(),
        scratch: args.scratch.clone(),
        buckets: None,
    };
    let (read, read_diags) = read_files(&trace_files, &opts);
    diags.extend(read_diags);
    print(&diags);
    if read.tally.requests == 0 {
        eprintln!(
            "error: no customer request in the traces ({} spans read): nothing to calibrate; expected root spans (no parentSpanId) in OTLP/JSON",
            read.spans()
        );
        return 2;
    }
    if diags.iter().any(Diagnostic::is_error) && (read.spans() == 0 || !args.skip_malformed) {
        eprintln!(
            "error: the trace files have the errors above; nothing written (--skip-malformed calibrates from the {} spans that were read)",
            read.spans()
        );
        return 2;
    }
    let form = match args.service_time {
        ServiceTimeArg::Auto => ServiceTimeForm::Auto,
        ServiceTimeArg::Percentiles => ServiceTimeForm::Percentiles,
        ServiceTimeArg::Empirical => ServiceTimeForm::Empirical,
    };
    let model = infer::infer(&read.tally, &read.names, &InferOptions { service_time: form });
    if model.flows.is_empty() {
        eprintln!(
            "error: none of the {} requests reached a SERVER span, so no flow has an entry service: nothing to calibrate",
            read.tally.requests
        );
        return 2;
    }
    let name = args.name.clone().unwrap_or_else(|| stem.clone());
    let data_dir = format!("{}-service-times", emit::safe(&stem));
    let emit_opts = EmitOptions {
        name: name.clone(),
        data_dir: data_dir.clone(),
        topology_ref: crate::import::cli::relative(scenario_path.parent().unwrap_or(Path::new(".")), &args.out),
        report_ref: report_dir.join("calibration.md").display().to_string(),
        source: format!(
            "{} trace file(s): {} spans in {} traces",
            read.files.len(),
            read.spans(),
            read.tally.traces
        ),
        warmup_s: args.warmup_s,
        seed: args.seed,
    };
    let written = emit::write(&model, &emit_opts);
    if let Err(e) = write_all(&args.out, &out_dir, &scenario_path, &written) {
        return usage(e);
    }
    // What is written must be what `validate` accepts.
    let mut loader = Loader::new();
    let loaded = loader.scenario(&scenario_path);
    let problems: Vec<&Diagnostic> = loader.diagnostics.iter().filter(|d| d.is_error()).collect();
    let Some(loaded) = loaded.filter(|_| problems.is_empty()) else {
        print(&loader.diagnostics);
        eprintln!("error: the written files do not load (a bug in calibrate; the diagnostics above say why)");
        return 2;
    };
    let fit_opts = FitOptions {
        replications: args.fit_replications,
        seed: args.seed,
        threads: args
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)),
        tolerance: args.tolerance,
        max_window_s: args.fit_max_window_s,
    };
    let (flows, services, simulation) = fit::fit(&model, &loaded, &fit_opts);
    let counts = read.all_counts();
    let report = FitReport {
        topology: args.out.display().to_string(),
        scenario: scenario_path.display().to_string(),
        files: read.files.iter().map(|f| f.display().to_string()).collect(),
        spans: read.spans(),
        traces: read.tally.traces,
        requests: read.tally.requests,
        window_s: model.window_s,
        warnings: counts.counts.iter().map(|(p, (n, _))| p.describe(*n)).collect(),
        notes: model.notes.clone(),
        simulation,
        tolerance: args.tolerance,
        flows,
        services,
    };
    let md = fit::markdown(&report);
    let json = serde_json::to_string_pretty(&report).expect("the report serialises") + "\n";
    let written_report = files::ensure_writable(&report_dir)
        .and_then(|_| files::write(&report_dir.join("calibration.md"), &md))
        .and_then(|_| files::write(&report_dir.join("calibration.json"), &json));
    if let Err(e) = written_report {
        return usage(format!("--report {}: cannot write there: {e}", report_dir.display()));
    }
    if !args.quiet {
        println!("{md}");
    }
    let poor = report.flows.iter().chain(&report.services).filter(|r| r.poor).count();
    eprintln!(
        "calibrated {} trace file(s) into {} ({} services, {} flows{}), {} and {}; fit: {poor} poor",
        read.files.len(),
        args.out.display(),
        model.services.len(),
        model.flows.len(),
        if written.csvs.is_empty() {
            String::new()
        } else {
            format!(
                ", {} empirical CSVs in {}",
                written.csvs.len(),
                out_dir.join(&data_dir).display()
            )
        },
        scenario_path.display(),
        report_dir.display()
    );
    0
}

fn check_args(args: &CalibrateArgs) -> Result<(), String> {
    if args.threads == Some(0) {
        return Err("--threads must be at least 1".into());
    }
    if !(args.tolerance.is_finite() && args.tolerance > 0.0) {
        return Err(format!(
            "--tolerance {}: expected a share above 0, e.g. 0.1",
            args.tolerance
        ));
    }
    if !(args.warmup_s.is_finite() && args.warmup_s >= 0.0 && args.warmup_s <= 86_400.0) {
        return Err(format!("--warmup-s {}: expected 0 to 86400 seconds", args.warmup_s));
    }
    if !(args.fit_max_window_s.is_finite() && args.fit_max_window_s >= 1.0) {
        return Err(format!(
            "--fit-max-window-s {}: expected at least 1 second",
            args.fit_max_window_s
        ));
    }
    if args.fit_replications > 10_000 {
        return Err("--fit-replications: at most 10000".into());
    }
    if args.out.extension().is_none_or(|x| x != "toml") {
        return Err(format!("--out {}: expected a .toml file name", args.out.display()));
    }
    Ok(())
}

fn write_all(out: &Path, out_dir: &Path, scenario: &Path, w: &emit::Written) -> Result<(), String> {
    let fail = |p: &Path, e: std::io::Error| format!("cannot write {}: {e}", p.display());
    files::ensure_writable(if out_dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        out_dir
    })
    .map_err(|e| fail(out, e))?;
    for (rel, text) in &w.csvs {
        let p = out_dir.join(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).map_err(|e| fail(d, e))?;
        }
        files::write(&p, text).map_err(|e| fail(&p, e))?;
    }
    files::write(out, &w.topology).map_err(|e| fail(out, e))?;
    if let Some(d) = scenario.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(d).map_err(|e| fail(d, e))?;
    }
    files::write(scenario, &w.scenario).map_err(|e| fail(scenario, e))
}

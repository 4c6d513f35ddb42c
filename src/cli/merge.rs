//! `chaoscal merge PARTS... --out DIR`: the shard files of a run, combined.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::ensure_writable;
use super::run::write_experiment;
use crate::present::{self, console};
use crate::results::RunInfo;
use crate::results::shard::{self, PartialFile};

#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// Shard files (shard-K-of-N.json) or folders searched for them; shards of several experiments may be mixed.
    #[arg(required = true)]
    pub parts: Vec<PathBuf>,
    /// Results folder; each experiment is written into <out>/<experiment>/.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Skip the charts, report.html and index.html (results files only).
    #[arg(long)]
    pub no_report: bool,
    /// No console summary.
    #[arg(long)]
    pub quiet: bool,
}

/// Partial-result files under `paths`: files as given, folders searched
/// (16 levels deep at most) for `shard-K-of-N.json`, in sorted order.
fn collect_parts(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Vec<String>> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found = Vec::new();
            let is_part = |f: &Path| {
                f.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(shard::is_partial_name)
            };
            crate::input::walk_files(p, &is_part, &mut found);
            if found.is_empty() {
                errors.push(format!(
                    "{}: no shard files (shard-K-of-N.json) in this folder",
                    p.display()
                ));
            }
            found.sort();
            files.extend(found);
        } else if p.is_file() {
            files.push(p.clone());
        } else {
            errors.push(format!("{}: file not found", p.display()));
        }
    }
    files.sort();
    files.dedup();
    if errors.is_empty() { Ok(files) } else { Err(errors) }
}

pub fn cmd_merge(args: &MergeArgs) -> i32 {
    let started = Instant::now();
    let files = match collect_parts(&args.parts) {
        Ok(f) => f,
        Err(errors) => {
            for e in errors {
                eprintln!("error: {e}");
            }
            return 2;
        }
    };
    let mut groups: BTreeMap<String, Vec<(PathBuf, PartialFile)>> = BTreeMap::new();
    let mut errors = Vec::new();
    for f in files {
        match shard::read(&f) {
            Ok(p) => groups.entry(p.experiment.clone()).or_default().push((f, p)),
            Err(e) => errors.push(e),
        }
    }
    // Every experiment is checked before anything is written: a merge either succeeds whole or writes nothing.
    let mut merged = Vec::new();
    for (name, parts) in groups {
        let shards = parts.len();
        match shard::merge(parts) {
            Ok((ls, agg)) => merged.push((name, shards, ls, agg)),
            Err(e) => errors.extend(e),
        }
    }
    if !errors.is_empty() {
        for e in &errors {
            eprintln!("error: {e}");
        }
        eprintln!("merge: nothing written ({} problem(s))", errors.len());
        return 2;
    }
    if let Err(e) = ensure_writable("--out", &args.out) {
        eprintln!("error: {e}");
        eprintln!("merge: nothing written");
        return 2;
    }
    for (name, shards, ls, agg) in &merged {
        let dir = args.out.join(name);
        let info = RunInfo {
            experiment: name.clone(),
            merged_shards: Some(*shards),
            merge_wall_s: Some(started.elapsed().as_secs_f64()),
            replications: agg.replications(),
            events: agg.events,
            ..RunInfo::default()
        };
        let summary = match write_experiment(&dir, ls, agg, &info, args.no_report) {
            Ok(s) => s,
            Err(code) => return code,
        };
        eprintln!(
            "{name}: merged {shards} shard(s), {} replications, seed {}; results in {}",
            agg.replications(),
            agg.seed,
            dir.display()
        );
        if !args.quiet {
            let mut stdout = std::io::stdout().lock();
            let _ = console::run_summary(&mut stdout, &summary);
            let _ = writeln!(stdout);
        }
    }
    if !args.no_report
        && let Err(e) = present::html::write_index(&args.out)
    {
        eprintln!("error: catalog index in {}: {e}", args.out.display());
        return 2;
    }
    0
}

//! `chaoscal report RESULTS_DIR`: charts and HTML again from saved results, no simulation.

use std::path::PathBuf;

use crate::present::html;

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// A results folder written by `run`: `results/<experiment>/` or `results/`.
    pub results_dir: PathBuf,
}

pub fn cmd_report(args: &ReportArgs) -> i32 {
    match html::regenerate(&args.results_dir) {
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

//! `chaoscal graph FILE`: the service graph of a topology as DOT and SVG,
//! regions as clusters, each service with its static blast radius; given a
//! scenario, the topology it runs against with the scenario's fault targets
//! and static blast radius marked.

use std::io::Write;
use std::path::PathBuf;

use super::print_diagnostics;
use crate::input::{self, FileKind, Loader};
use crate::present::graph;
use crate::results::files;

#[derive(clap::Args, Debug)]
pub struct GraphArgs {
    /// A topology file, or a scenario file (its topology, with the scenario's faults marked).
    pub file: PathBuf,
    /// Write `<file stem>.dot` and `<file stem>.svg` into this folder (default: DOT on stdout).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// What stdout gets when there is no --out.
    #[arg(long, value_enum, default_value_t = Format::Dot, conflicts_with = "out")]
    pub format: Format,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Dot,
    Svg,
}

pub fn cmd_graph(args: &GraphArgs) -> i32 {
    let src = match input::read_source(&args.file) {
        Ok(s) => s,
        Err(d) => {
            print_diagnostics(&[d]);
            return 2;
        }
    };
    let mut loader = Loader::new();
    let (topology, scenario) = match input::file_kind(&src) {
        Ok(FileKind::Topology) => (loader.topology(&args.file), None),
        Ok(FileKind::Scenario) => match loader.scenario(&args.file) {
            Some(ls) => (Some(ls.topology), Some(ls.scenario)),
            None => (None, None),
        },
        Err(d) => {
            print_diagnostics(&d);
            return 2;
        }
    };
    let Some(topology) = topology else {
        print_diagnostics(&loader.diagnostics);
        return 2;
    };
    let warnings = &loader.diagnostics;
    if !warnings.is_empty() {
        print_diagnostics(warnings);
    }
    let Some(dir) = &args.out else {
        let text = match args.format {
            Format::Dot => graph::dot(&topology, scenario.as_ref()),
            Format::Svg => graph::svg(&topology, scenario.as_ref()),
        };
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
        return 0;
    };
    if let Err(e) = std::fs::create_dir_all(dir) {
        eprintln!("error: cannot create {}: {e}", dir.display());
        return 2;
    }
    for (ext, text) in [
        ("dot", graph::dot(&topology, scenario.as_ref())),
        ("svg", graph::svg(&topology, scenario.as_ref())),
    ] {
        let path = dir.join(format!(
            "{}.{ext}",
            args.file.file_stem().unwrap_or_default().to_string_lossy()
        ));
        if let Err(e) = files::write(&path, text) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return 2;
        }
        eprintln!("wrote {}", path.display());
    }
    0
}

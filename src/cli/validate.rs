//! `chaoscal validate PATH...`: check files and catalogs (schema,
//! references, ranges, call cycles, the catalog's rules), simulating nothing.

use std::path::PathBuf;

use super::{dedup, print_diagnostics};
use crate::input::{self, FileKind, Loader, Severity};

#[derive(clap::Args, Debug)]
pub struct ValidateArgs {
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

pub fn cmd_validate(args: &ValidateArgs) -> i32 {
    let (files, mut diags) = input::collect_toml(&args.paths);
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

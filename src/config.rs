//! Reading the user's files: raw serde structs, then the validated model.
//!
//! Loading runs in two stages, as ripgrep's config reader does: `parse`
//! reads each section of a file on its own (syntax and shape), then
//! `resolve` turns names into ids and checks ranges and references. Each
//! stage reports every problem it finds as a located [`Diagnostic`].

pub mod diag;
mod parse;
pub mod raw;
mod resolve;
mod scenario;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use diag::{Diagnostic, KeyPath, Severity, Source};
pub use parse::{FileKind, file_kind, read_source};
pub use scenario::SIMULATED_FAULTS;

use crate::model::{Scenario, Topology};

/// Loads and validates one topology file. Returns the model and warnings,
/// or every problem found.
pub fn load_topology(path: &Path) -> Result<(Topology, Vec<Diagnostic>), Vec<Diagnostic>> {
    let src = read_source(path).map_err(|d| vec![d])?;
    if src.text.trim().is_empty() {
        return Err(vec![Diagnostic::file_error(
            path,
            "the file is empty; expected a topology ([[regions]], [[flows]], [[services]])",
        )]);
    }
    let raw = parse::parse_topology(&src)?;
    resolve::resolve_topology(&src, &raw)
}

/// A scenario ready to run, with the topology it runs against.
#[derive(Clone, Debug)]
pub struct LoadedScenario {
    pub scenario: Scenario,
    pub topology: Arc<Topology>,
}

/// Loads scenarios, reading each topology once however many scenarios share it.
#[derive(Default)]
pub struct Loader {
    topologies: BTreeMap<PathBuf, Option<Arc<Topology>>>,
    /// Every diagnostic seen so far (topology problems once, not per scenario).
    pub diagnostics: Vec<Diagnostic>,
}

impl Loader {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.is_error())
    }

    /// Loads a topology file once; `None` when it has errors (already recorded).
    pub fn topology(&mut self, path: &Path) -> Option<Arc<Topology>> {
        let key = normalize(path);
        if let Some(t) = self.topologies.get(&key) {
            return t.clone();
        }
        let t = match load_topology(path) {
            Ok((t, warnings)) => {
                self.diagnostics.extend(warnings);
                Some(Arc::new(t))
            }
            Err(diags) => {
                self.diagnostics.extend(diags);
                None
            }
        };
        self.topologies.insert(key, t.clone());
        t
    }

    /// Loads a scenario file and its topology. Problems go to `diagnostics`.
    pub fn scenario(&mut self, path: &Path) -> Option<LoadedScenario> {
        let src = match read_source(path) {
            Ok(s) => s,
            Err(d) => {
                self.diagnostics.push(d);
                return None;
            }
        };
        if src.text.trim().is_empty() {
            self.diagnostics.push(Diagnostic::file_error(
                path,
                "the file is empty; expected a scenario ([experiment], [run], [workload], ...)",
            ));
            return None;
        }
        let raw = match parse::parse_scenario(&src) {
            Ok(r) => r,
            Err(d) => {
                self.diagnostics.extend(d);
                return None;
            }
        };
        let exp = raw.experiment.as_ref()?;
        let topo_path = path.parent().unwrap_or(Path::new(".")).join(&exp.topology);
        let topo_key = KeyPath::root().k("experiment").k("topology");
        let problem = if exp.topology.trim().is_empty() {
            Some("`topology` is empty; expected the path of a topology file, relative to this scenario".to_string())
        } else if topo_path.is_dir() {
            Some(format!("{} is a folder; expected a topology file", topo_path.display()))
        } else if !topo_path.is_file() {
            Some(format!("topology file not found: {}", topo_path.display()))
        } else {
            None
        };
        if let Some(p) = problem {
            self.diagnostics.push(src.error(&topo_key, p));
            return None;
        }
        let Some(topology) = self.topology(&topo_path) else {
            self.diagnostics.push(src.error(
                &topo_key,
                format!("the topology {} has errors (reported above)", topo_path.display()),
            ));
            return None;
        };
        match scenario::resolve_scenario(&src, &raw, &topology) {
            Ok((scenario, warnings)) => {
                self.diagnostics.extend(warnings);
                Some(LoadedScenario { scenario, topology })
            }
            Err(d) => {
                self.diagnostics.extend(d);
                None
            }
        }
    }
}

/// Loads a scenario and its topology from text (tests, benchmarks, sweeps).
/// The paths only name the texts in diagnostics and anchor relative files.
pub fn scenario_from_str(
    topology_path: &Path,
    topology: &str,
    scenario_path: &Path,
    scenario: &str,
) -> Result<(LoadedScenario, Vec<Diagnostic>), Vec<Diagnostic>> {
    let tsrc = Source::new(topology_path, topology);
    let raw = parse::parse_topology(&tsrc)?;
    let (topo, mut warnings) = resolve::resolve_topology(&tsrc, &raw)?;
    let ssrc = Source::new(scenario_path, scenario);
    let raw = parse::parse_scenario(&ssrc)?;
    let (scn, w) = scenario::resolve_scenario(&ssrc, &raw, &topo)?;
    warnings.extend(w);
    Ok((
        LoadedScenario {
            scenario: scn,
            topology: Arc::new(topo),
        },
        warnings,
    ))
}

/// Loads and validates a topology from text (fuzzing, tests), as
/// [`load_topology`] does a file. `path` names the text in diagnostics and
/// anchors relative files.
pub fn topology_from_str(path: &Path, text: &str) -> Result<(Topology, Vec<Diagnostic>), Vec<Diagnostic>> {
    let src = Source::new(path, text);
    let raw = parse::parse_topology(&src)?;
    resolve::resolve_topology(&src, &raw)
}

/// A path without `.` and `..` segments, for recognising the same file.
fn normalize(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The `.toml` files named by `paths`: files as given, folders searched
/// recursively, in sorted order. A path that does not exist is a diagnostic.
pub fn collect_toml(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<Diagnostic>) {
    let mut files = Vec::new();
    let mut diags = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found = Vec::new();
            walk_files(p, &|f| f.extension().is_some_and(|x| x == "toml"), &mut found);
            found.sort();
            if found.is_empty() {
                diags.push(Diagnostic::file_error(p, "no .toml files in this folder"));
            }
            files.extend(found);
        } else if p.exists() {
            files.push(p.clone());
        } else {
            diags.push(Diagnostic::file_error(p, "file not found"));
        }
    }
    (files, diags)
}

/// Files under `dir` (16 levels deep at most, so a symlink loop ends) that
/// `keep` accepts, in the order the file system lists them.
pub fn walk_files(dir: &Path, keep: &dyn Fn(&Path) -> bool, out: &mut Vec<PathBuf>) {
    fn go(dir: &Path, keep: &dyn Fn(&Path) -> bool, out: &mut Vec<PathBuf>, depth: usize) {
        if depth > 16 {
            return;
        }
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                go(&p, keep, out, depth + 1);
            } else if keep(&p) {
                out.push(p);
            }
        }
    }
    go(dir, keep, out, 0)
}

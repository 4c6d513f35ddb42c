//! The input layer: the user's topology and scenario files, read into the
//! resolved model (`crate::model`). The first stage of the pipeline; the
//! model knows nothing of it.
//!
//! Loading runs in two stages, as ripgrep's config reader does:
//!
//! 1. **Parse** (`parse.rs`): only what the user wrote. The TOML syntax,
//!    then each section on its own through its `Raw*` serde structs, which
//!    deny unknown keys. Every malformed section is reported, with the span
//!    of the offending key or value.
//! 2. **Resolve** (`topology.rs`, `scenario.rs` and a module per section
//!    under them): names become ids, ranges are enforced, defaults applied,
//!    references and the call graph cross-checked. Every problem is
//!    collected (`diag::Ctx`), never just the first, and nothing here
//!    panics on user input.
//!
//! Each problem is a located [`Diagnostic`] (`file:line:column`, the line,
//! a caret), shown compiler-style. A file with any error yields no model;
//! warnings and catalog rules come back beside it.
//!
//! Where things live: each section of the file format has one module that
//! holds both its raw shape and its resolver, named after the section —
//! `topology/{regions,network,flows,services,calls,queues,kubernetes}.rs`,
//! the call graph check in `topology/cycles.rs`,
//! `scenario/{experiment,run,workload,faults,slos,blast,guardrails,rollout,expect,uncertain}.rs`;
//! distribution fields in `dist.rs`. Every default applied is in
//! `defaults.rs` (and in `docs/format.md`). Finding and reading files is
//! `files.rs`. The settable keys (`sweep --set`, `[[uncertain]]`) and the
//! edits that set them are `keys.rs`.

mod defaults;
pub mod diag;
mod dist;
mod files;
pub mod keys;
mod parse;
mod scenario;
mod topology;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use diag::{Diagnostic, KeyPath, Severity, Source};
use files::normalize;
pub use files::{collect_toml, read_source, walk_files};
pub use parse::{FileKind, file_kind};
pub use scenario::SIMULATED_FAULTS;
pub use scenario::uncertain::replication_model;

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
    topology::resolve_topology(&src, &raw)
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
        // `[[uncertain]]`'s checks edit the topology's text too.
        let topology_text = if raw.uncertain.is_empty() {
            String::new()
        } else {
            match read_source(&topo_path) {
                Ok(t) => t.text,
                Err(d) => {
                    self.diagnostics.push(d);
                    return None;
                }
            }
        };
        match scenario::resolve_scenario(&src, &raw, &topology, &topology_text) {
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
    let (topo, mut warnings) = topology::resolve_topology(&tsrc, &raw)?;
    let ssrc = Source::new(scenario_path, scenario);
    let raw = parse::parse_scenario(&ssrc)?;
    let (scn, w) = scenario::resolve_scenario(&ssrc, &raw, &topo, topology)?;
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
    topology::resolve_topology(&src, &raw)
}

//! `chaoscal import`: the chaos catalog a team already has — Chaos Mesh,
//! LitmusChaos, Istio, Toxiproxy, Argo Rollouts and PrometheusRule
//! manifests — turned into a scenario (and topology overrides) that
//! `validate` accepts. The per-kind mapping and every approximation are in
//! `docs/import.md`.
//!
//! The import runs in stages, like the loader:
//!
//! 1. **Read** (`yaml.rs`): every document of every file, as located trees.
//!    Bad YAML or JSON is a located error.
//! 2. **Convert** (one module per project): each document becomes faults,
//!    SLOs, guardrails, a rollout or topology overrides, in the nearest
//!    chaoscal semantics. Selectors and hosts are mapped to services and
//!    regions through the topology's `[kubernetes]` mapping (`mapping.rs`).
//!    Whatever a document says that is not modelled is a warning naming
//!    the file, the document and the field (an error with `--strict`);
//!    nothing is dropped silently.
//! 3. **Write** (`emit.rs`): the base scenario (or a minimal one) with the
//!    imported entries, each commented with the file and document it came
//!    from; the topology with the mesh's own settings, if asked for.
//! 4. **Check**: the written scenario is loaded back through the ordinary
//!    loader, so what is written is what `validate` accepts.
//!
//! [`from_texts`] is the whole pipeline on texts in memory (no file is read
//! or written), for tests and fuzzing; [`cli`] reads and writes the files.

mod argo;
mod chaosmesh;
pub mod cli;
mod emit;
mod istio;
mod litmus;
mod mapping;
mod prometheus;
mod toxiproxy;
mod units;
mod yaml;

use std::path::Path;

pub use cli::{ImportArgs, cmd_import};

use crate::input::{self, Diagnostic, LoadedScenario, Severity};
use crate::model::{FaultKind, Topology};
use yaml::{Document, Node};

/// What the import is asked to do beyond the manifests themselves.
#[derive(Clone, Debug)]
pub struct Options {
    /// Seconds into the run at which the manifests are applied (default:
    /// one minute after warm-up ends, so the blast radius has a baseline).
    pub start_s: Option<f64>,
    /// Whatever is not modelled is an error rather than a warning.
    pub strict: bool,
    /// The experiment's name (default: the base's, or `default_name`).
    pub name: Option<String>,
    /// The name used when neither `name` nor a base gives one.
    pub default_name: String,
    /// Toxiproxy proxies mapped by hand: `(proxy, target)`.
    pub proxies: Vec<(String, ProxyTarget)>,
    /// What a guardrail imported from an alert does (`rollback`,
    /// `kill_switch:SERVICE`, `failover:FROM:TO`, `shed:SHARE`,
    /// `scale:SERVICE:N`); default: `rollback` when a rollout is imported.
    pub on_alert: Option<String>,
    /// How long a killed pod takes to come back (scheduling, start, readiness).
    pub pod_restart_s: f64,
    /// How long a killed container takes to come back in its pod.
    pub container_restart_s: f64,
    /// CPUs one pod has, for turning CPU stress into a slowdown factor.
    pub cpus_per_pod: f64,
    /// The topology's path as the scenario names it (relative to the scenario).
    pub topology_ref: String,
    /// When set, the topology with the mesh's settings applied is written
    /// too, and the scenario names it by this path instead.
    pub topology_out_ref: Option<String>,
    /// The written scenario's name in diagnostics (default: `<name>.toml`).
    pub out_name: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            start_s: None,
            strict: false,
            name: None,
            default_name: "imported".to_string(),
            proxies: Vec::new(),
            on_alert: None,
            pod_restart_s: POD_RESTART_S,
            container_restart_s: CONTAINER_RESTART_S,
            cpus_per_pod: CPUS_PER_POD,
            topology_ref: "topology.toml".to_string(),
            topology_out_ref: None,
            out_name: None,
        }
    }
}

/// Default `--pod-restart-s`: a deleted pod is replaced by a new one, which
/// is scheduled, starts and passes readiness (an estimate; set your own).
pub const POD_RESTART_S: f64 = 30.0;
/// Default container restart: the kubelet restarts it in place.
pub const CONTAINER_RESTART_S: f64 = 10.0;
/// Default `--cpus-per-pod`.
pub const CPUS_PER_POD: f64 = 1.0;

/// Where a Toxiproxy proxy sits: in front of a service, or on a link.
#[derive(Clone, Debug, PartialEq)]
pub enum ProxyTarget {
    Service { service: String, region: Option<String> },
    Link(String, String),
}

impl ProxyTarget {
    /// `SERVICE`, `SERVICE@REGION` or `between:A,B`.
    pub fn parse(s: &str) -> Result<Self, String> {
        if let Some(rest) = s.strip_prefix("between:") {
            return match rest.split_once(',') {
                Some((a, b)) if !a.is_empty() && !b.is_empty() => Ok(ProxyTarget::Link(a.to_string(), b.to_string())),
                _ => Err(format!("\"{s}\": expected between:REGION_A,REGION_B")),
            };
        }
        match s.split_once('@') {
            Some((svc, region)) if !svc.is_empty() && !region.is_empty() => Ok(ProxyTarget::Service {
                service: svc.to_string(),
                region: Some(region.to_string()),
            }),
            None if !s.is_empty() => Ok(ProxyTarget::Service {
                service: s.to_string(),
                region: None,
            }),
            _ => Err(format!(
                "\"{s}\": expected SERVICE, SERVICE@REGION or between:REGION_A,REGION_B"
            )),
        }
    }
}

/// The import's result.
#[derive(Debug)]
pub struct Imported {
    /// The scenario, as TOML, with a comment on each imported entry.
    pub scenario_toml: String,
    /// The topology with the mesh's settings applied, when asked for.
    pub topology_toml: Option<String>,
    /// Warnings (what is not modelled, approximations worth knowing).
    pub diagnostics: Vec<Diagnostic>,
    /// The written scenario, loaded back.
    pub loaded: LoadedScenario,
}

/// A manifest file's name and text.
pub type Text<'a> = (&'a str, &'a str);

/// The whole import on texts in memory: manifests as `(name, text)` pairs,
/// the topology, and optionally a base scenario. Reads and writes no file
/// (a base or topology naming an empirical CSV is the exception: the
/// loader reads it relative to the named path). Errors, or warnings under
/// `strict`, come back as located diagnostics; nothing here panics on
/// user input.
pub fn from_texts(
    manifests: &[Text<'_>],
    topology: Text<'_>,
    base: Option<Text<'_>>,
    options: &Options,
) -> Result<Imported, Vec<Diagnostic>> {
    let (topo, mut diags) = input::topology_from_str(Path::new(topology.0), topology.1)?;
    let base_doc = match base {
        Some((name, text)) => Some(emit::parse_base(name, text)?),
        None => None,
    };
    let timing = emit::timing(base_doc.as_ref(), options);
    let mut cx = Cx {
        topo: &topo,
        opts: options,
        diags: Vec::new(),
        plan: Plan::default(),
        run_s: timing.duration_s,
        start_s: timing.start_s,
    };
    let mut docs = Vec::new();
    for (file, text) in manifests {
        match yaml::parse(file, text) {
            Ok(d) => docs.push((*file, *text, d)),
            Err(d) => cx.diags.push(d),
        }
    }
    convert_all(&mut cx, &docs);
    let plan = std::mem::take(&mut cx.plan);
    let mut written = emit::write(&mut cx, base_doc, topology, &plan);
    diags.append(&mut cx.diags);
    diags.append(&mut written.diagnostics);
    if options.strict {
        for d in &mut diags {
            if d.severity == Severity::Warning {
                d.severity = Severity::Error;
            }
        }
    }
    if diags.iter().any(|d| d.is_error()) {
        return Err(diags);
    }
    // Loaded back, so what is written is what `validate` accepts.
    let topo_text = match (&options.topology_out_ref, &written.topology_toml) {
        (Some(_), Some(t)) => t.as_str(),
        _ => topology.1,
    };
    let scenario_name = options
        .out_name
        .clone()
        .unwrap_or_else(|| format!("{}.toml", written.name));
    match input::scenario_from_str(
        Path::new(topology.0),
        topo_text,
        Path::new(&scenario_name),
        &written.scenario_toml,
    ) {
        Ok((loaded, warnings)) => {
            diags.extend(warnings);
            Ok(Imported {
                scenario_toml: written.scenario_toml,
                topology_toml: written.topology_toml.filter(|_| options.topology_out_ref.is_some()),
                diagnostics: diags,
                loaded,
            })
        }
        Err(errors) => {
            diags.extend(errors);
            Err(diags)
        }
    }
}

/// Converts every document: templates first (rollouts refer to them), then
/// faults, the mesh's settings, the rollout, and alerts last (they refer
/// to SLOs).
fn convert_all(cx: &mut Cx, files: &[(&str, &str, Vec<Document>)]) {
    let mut docs: Vec<(D, &Node)> = Vec::new();
    for (file, text, list) in files {
        for doc in list {
            if let Some(d) = D::new(file, text, doc) {
                docs.push((d, &doc.root));
            } else if !doc.root.is_null() {
                cx.diags.push(yaml::located(
                    file,
                    text,
                    doc.root.line,
                    doc.root.col,
                    format!(
                        "document {}: neither a Kubernetes object (apiVersion and kind) nor a Toxiproxy proxy list; skipped",
                        doc.index
                    ),
                ));
                if let Some(last) = cx.diags.last_mut() {
                    last.severity = Severity::Warning;
                }
            }
        }
    }
    let templates = argo::templates(&docs);
    for (d, root) in &docs {
        match (d.group.as_str(), d.kind.as_str()) {
            ("chaos-mesh.org", _) => chaosmesh::convert(cx, d, root),
            ("litmuschaos.io", "ChaosEngine") => litmus::convert(cx, d, root),
            ("networking.istio.io", "VirtualService") => istio::virtual_service(cx, d, root),
            ("networking.istio.io", "DestinationRule") => istio::destination_rule(cx, d, root),
            ("toxiproxy", _) => toxiproxy::convert(cx, d, root),
            ("argoproj.io", "AnalysisTemplate" | "ClusterAnalysisTemplate") => {}
            ("argoproj.io", "Rollout") => argo::rollout(cx, d, root, &templates),
            ("monitoring.coreos.com", "PrometheusRule") => {}
            _ => {
                root.mark_all();
                cx.warn(
                    d,
                    root,
                    "kind",
                    format!(
                        "{} ({}) is not a kind the import reads (see docs/import.md); skipped",
                        d.kind, d.api_version
                    ),
                );
            }
        }
    }
    for (d, root) in &docs {
        if d.group == "monitoring.coreos.com" && d.kind == "PrometheusRule" {
            prometheus::convert(cx, d, root);
        }
    }
    for (d, root) in &docs {
        unread(cx, d, root);
    }
}

/// Every field of a document that no converter read: not modelled.
fn unread(cx: &mut Cx, d: &D, root: &Node) {
    for key in ["apiVersion", "kind", "metadata", "status"] {
        if let Some(n) = root.get(key) {
            n.mark_all();
        }
    }
    root.mark();
    let mut out = Vec::new();
    root.unread("", &mut out);
    for (path, line, col) in out {
        let diag = d.diag(
            Severity::Warning,
            line,
            col,
            &path,
            "not modelled: the import does not read this field (see docs/import.md); it has no effect on the scenario",
        );
        cx.diags.push(diag);
    }
}

/// What the converters produce, in manifest order.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub faults: Vec<FaultOut>,
    pub slos: Vec<SloOut>,
    pub guardrails: Vec<GuardrailOut>,
    pub rollout: Option<RolloutOut>,
    pub overrides: Vec<Override>,
}

/// One imported fault, in seconds after the manifests are applied.
#[derive(Clone, Debug)]
pub(crate) struct FaultOut {
    pub origin: String,
    /// Approximations made, written as comments above the entry.
    pub notes: Vec<String>,
    pub name: String,
    pub kind: FaultKind,
    pub target: TargetOut,
    pub start_s: f64,
    pub duration_s: Option<f64>,
    pub random: Option<(f64, f64)>,
    pub delay: Option<DelayOut>,
    pub percent: Option<f64>,
    pub error: Option<u16>,
    pub replicas: Option<u32>,
    pub factor: Option<f64>,
}

impl FaultOut {
    pub fn new(d: &D, kind: FaultKind, target: TargetOut) -> Self {
        FaultOut {
            origin: d.origin(),
            notes: Vec::new(),
            name: d.name.clone(),
            kind,
            target,
            start_s: 0.0,
            duration_s: None,
            random: None,
            delay: None,
            percent: None,
            error: None,
            replicas: None,
            factor: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum TargetOut {
    Service { service: String, region: Option<String> },
    Link(String, String),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum DelayOut {
    ConstMs(f64),
    UniformMs(f64, f64),
}

#[derive(Clone, Debug)]
pub(crate) struct SloOut {
    pub origin: String,
    pub notes: Vec<String>,
    pub name: String,
    pub flow: String,
    pub kind: &'static str,
    pub objective: f64,
    pub threshold_ms: Option<f64>,
    pub window_s: Option<f64>,
    /// `[expect] max_violation_probability` for it, if any.
    pub expect: Option<f64>,
}

#[derive(Clone, Debug)]
pub(crate) struct GuardrailOut {
    pub origin: String,
    pub notes: Vec<String>,
    pub name: String,
    /// The SLO it watches, or the error budget (1 − objective) to find one by.
    pub slo: Option<String>,
    pub budget: f64,
    pub labels: Vec<String>,
    pub burn_rate: f64,
    pub window_s: f64,
    pub short_window_s: Option<f64>,
    pub detect_delay_s: f64,
    /// From the rule's `chaoscal.io/action` annotation, if any.
    pub action: Option<String>,
}

#[derive(Clone, Debug)]
pub(crate) struct RolloutOut {
    pub origin: String,
    pub notes: Vec<String>,
    pub service: String,
    pub steps: Vec<Step>,
    pub analysis: Option<(Analysis, u32)>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Step {
    Weight(f64),
    PauseS(f64),
    Analysis(Analysis),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Analysis {
    pub max_error_rate: Option<f64>,
    pub max_p99_ms: Option<f64>,
    pub interval_s: Option<f64>,
    pub initial_delay_s: Option<f64>,
    pub count: Option<u32>,
    pub failure_limit: Option<u32>,
    pub inconclusive_limit: Option<u32>,
}

/// A setting of the topology the mesh's manifests give.
#[derive(Clone, Debug)]
pub(crate) struct Override {
    pub origin: String,
    /// The service whose calls (`Calls`) or whose own keys (`Service`) change.
    pub service: String,
    pub scope: Scope,
    pub key: &'static str,
    pub value: OverrideValue,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Scope {
    /// Every call whose `to` is the service.
    Calls,
    /// The service itself.
    Service,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum OverrideValue {
    Number(f64),
    Text(String),
    Table(Vec<(&'static str, f64)>),
}

/// The state of one import: the topology, the options, the problems found
/// and what has been converted so far.
pub(crate) struct Cx<'a> {
    pub topo: &'a Topology,
    pub opts: &'a Options,
    pub diags: Vec<Diagnostic>,
    pub plan: Plan,
    /// The run's length and when the manifests are applied, seconds.
    pub run_s: f64,
    pub start_s: f64,
}

impl Cx<'_> {
    /// A warning at `node`, naming the file, document and field.
    pub fn warn(&mut self, d: &D, node: &Node, path: &str, msg: impl Into<String>) {
        let diag = d.diag(Severity::Warning, node.line, node.col, path, &msg.into());
        self.diags.push(diag);
    }

    /// An error at `node`.
    pub fn err(&mut self, d: &D, node: &Node, path: &str, msg: impl Into<String>) {
        let diag = d.diag(Severity::Error, node.line, node.col, path, &msg.into());
        self.diags.push(diag);
    }

    /// Seconds from the manifests' application to the run's end.
    pub fn horizon_s(&self) -> f64 {
        (self.run_s - self.start_s).max(0.0)
    }
}

/// One document being converted: where it is and what it is.
pub(crate) struct D<'a> {
    pub file: &'a str,
    pub text: &'a str,
    pub index: usize,
    pub api_version: String,
    /// The API group (`chaos-mesh.org`), or `toxiproxy` for a proxy list.
    pub group: String,
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
}

impl<'a> D<'a> {
    fn new(file: &'a str, text: &'a str, doc: &Document) -> Option<Self> {
        let root = &doc.root;
        let base = |api_version: String, group: String, kind: String, name: String, namespace| D {
            file,
            text,
            index: doc.index,
            api_version,
            group,
            kind,
            name,
            namespace,
        };
        if toxiproxy::is_proxy_list(root) {
            return Some(base(
                String::new(),
                "toxiproxy".into(),
                "Toxiproxy".into(),
                "proxies".into(),
                None,
            ));
        }
        let api_version = root.get("apiVersion")?.scalar()?.to_string();
        let kind = root.get("kind")?.scalar()?.to_string();
        let meta = root.get("metadata");
        let name = meta
            .and_then(|m| m.get("name").or_else(|| m.get("generateName")))
            .and_then(|n| n.scalar())
            .unwrap_or("unnamed")
            .to_string();
        let namespace = meta
            .and_then(|m| m.get("namespace"))
            .and_then(|n| n.scalar())
            .map(str::to_string);
        let group = api_version.split('/').next().unwrap_or("").to_string();
        Some(base(api_version, group, kind, name, namespace))
    }

    /// `file, document N (Kind "name")`, for comments in the output.
    pub fn origin(&self) -> String {
        format!(
            "{}, document {} ({} \"{}\")",
            self.file, self.index, self.kind, self.name
        )
    }

    pub fn diag(&self, severity: Severity, line: usize, col: usize, path: &str, msg: &str) -> Diagnostic {
        let mut diag = yaml::located(
            self.file,
            self.text,
            line,
            col,
            format!(
                "document {} ({} \"{}\"), {path}: {msg}",
                self.index, self.kind, self.name
            ),
        );
        diag.severity = severity;
        diag
    }
}

/// A number written as a YAML number or a string holding one.
pub(crate) fn number(n: &Node) -> Option<f64> {
    n.scalar()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite())
}

/// A YAML boolean (`true` / `false`, any case, or a string holding one).
pub(crate) fn boolean(n: &Node) -> Option<bool> {
    match n.scalar()?.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

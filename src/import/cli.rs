//! `chaoscal import MANIFESTS... --topology T [--base S] --out S.toml`:
//! reads the files, runs [`super::from_texts`], writes the scenario (and
//! the topology with the mesh's settings, with `--topology-out`).
//!
//! Exit codes: 0 written (warnings printed); 2 bad input or usage.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use clap::Args;

use super::{Options, ProxyTarget, from_texts};
use crate::input::{self, Diagnostic};

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Manifest files (YAML, several documents each, or JSON) or folders of them.
    #[arg(required = true)]
    pub manifests: Vec<PathBuf>,
    /// The topology the manifests' selectors and hosts are mapped onto.
    #[arg(long)]
    pub topology: PathBuf,
    // The help text names TOML tables in brackets, not Rust items.
    #[allow(rustdoc::broken_intra_doc_links)]
    /// A scenario supplying [experiment], [run], [workload], [[slos]] and the rest.
    #[arg(long)]
    pub base: Option<PathBuf>,
    /// Seconds into the run at which the manifests are applied (default: one minute after warm-up).
    #[arg(long)]
    pub start_s: Option<f64>,
    /// The scenario to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Also write the topology with the mesh's own settings (Istio retries, timeouts,
    /// outlier detection, connection pools); the scenario then names it.
    #[arg(long)]
    pub topology_out: Option<PathBuf>,
    /// Whatever is not modelled is an error, not a warning.
    #[arg(long)]
    pub strict: bool,
    /// The experiment's name (default: the base's, or the output file's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Where a Toxiproxy proxy sits: NAME=SERVICE, NAME=SERVICE@REGION or NAME=between:A,B
    /// (default: the service its upstream host names).
    #[arg(long, value_name = "NAME=TARGET")]
    pub proxy: Vec<String>,
    /// What a guardrail imported from an alert does: rollback, kill_switch:SERVICE,
    /// failover:FROM:TO, shed:SHARE or scale:SERVICE:N (default: rollback with a rollout).
    #[arg(long, value_name = "ACTION")]
    pub on_alert: Option<String>,
    /// Seconds a deleted pod takes to be replaced and ready.
    #[arg(long, default_value_t = super::POD_RESTART_S)]
    pub pod_restart_s: f64,
    /// Seconds a killed container takes to restart.
    #[arg(long, default_value_t = super::CONTAINER_RESTART_S)]
    pub container_restart_s: f64,
    /// CPUs of one pod, for turning CPU stress into a service-time factor.
    #[arg(long, default_value_t = super::CPUS_PER_POD)]
    pub cpus_per_pod: f64,
}

fn print(diags: &[Diagnostic]) {
    let mut err = std::io::stderr().lock();
    for d in diags {
        let _ = writeln!(err, "{d}");
    }
}

fn usage(msg: String) -> i32 {
    eprintln!("error: {msg}");
    2
}

/// Runs `chaoscal import`; returns the exit code.
pub fn cmd_import(args: &ImportArgs) -> i32 {
    let mut proxies = Vec::new();
    for p in &args.proxy {
        let Some((name, target)) = p.split_once('=') else {
            return usage(format!(
                "--proxy {p}: expected NAME=SERVICE, NAME=SERVICE@REGION or NAME=between:A,B"
            ));
        };
        match ProxyTarget::parse(target) {
            Ok(t) => proxies.push((name.to_string(), t)),
            Err(e) => return usage(format!("--proxy {e}")),
        }
    }
    for (flag, v) in [
        ("--pod-restart-s", args.pod_restart_s),
        ("--container-restart-s", args.container_restart_s),
    ] {
        if !(v.is_finite() && v > 0.0 && v <= 86_400.0) {
            return usage(format!("{flag} must be more than 0 and at most 86400, found {v}"));
        }
    }
    if !(args.cpus_per_pod.is_finite() && args.cpus_per_pod > 0.0 && args.cpus_per_pod <= 1024.0) {
        return usage(format!(
            "--cpus-per-pod must be more than 0 and at most 1024, found {}",
            args.cpus_per_pod
        ));
    }
    if let Some(s) = args.start_s
        && !(s.is_finite() && s >= 0.0)
    {
        return usage(format!("--start-s must be 0 or more, found {s}"));
    }
    let mut diags = Vec::new();
    // The manifests: files as given, folders searched for .yaml, .yml and .json.
    let mut files = Vec::new();
    for p in &args.manifests {
        if p.is_dir() {
            let mut found = Vec::new();
            let keep = |f: &Path| f.extension().is_some_and(|x| x == "yaml" || x == "yml" || x == "json");
            input::walk_files(p, &keep, &mut found);
            found.sort();
            if found.is_empty() {
                diags.push(Diagnostic::file_error(
                    p,
                    "no .yaml, .yml or .json files in this folder",
                ));
            }
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    let mut texts = Vec::new();
    for f in &files {
        match input::read_source(f) {
            Ok(s) => texts.push((f.display().to_string(), s.text)),
            Err(d) => diags.push(d),
        }
    }
    let topology = match input::read_source(&args.topology) {
        Ok(s) => s,
        Err(d) => {
            diags.push(d);
            print(&diags);
            return 2;
        }
    };
    let base = match args.base.as_ref().map(|b| input::read_source(b)) {
        Some(Ok(s)) => Some(s),
        Some(Err(d)) => {
            diags.push(d);
            None
        }
        None => None,
    };
    if diags.iter().any(|d| d.is_error()) {
        print(&diags);
        return 2;
    }
    let out_dir = args.out.parent().unwrap_or(Path::new("."));
    let default_name = args
        .out
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "imported".into());
    let options = Options {
        start_s: args.start_s,
        strict: args.strict,
        name: args.name.clone(),
        default_name,
        proxies,
        on_alert: args.on_alert.clone(),
        pod_restart_s: args.pod_restart_s,
        container_restart_s: args.container_restart_s,
        cpus_per_pod: args.cpus_per_pod,
        topology_ref: relative(out_dir, &args.topology),
        topology_out_ref: args.topology_out.as_ref().map(|t| relative(out_dir, t)),
        out_name: Some(args.out.display().to_string()),
    };
    let manifests: Vec<(&str, &str)> = texts.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
    let topology_name = args.topology.display().to_string();
    let base_name = args.base.as_ref().map(|b| b.display().to_string());
    let base_pair = base
        .as_ref()
        .zip(base_name.as_deref())
        .map(|(s, n)| (n, s.text.as_str()));
    match from_texts(&manifests, (&topology_name, &topology.text), base_pair, &options) {
        Ok(imported) => {
            print(&imported.diagnostics);
            if let (Some(path), Some(text)) = (&args.topology_out, &imported.topology_toml)
                && let Err(e) = std::fs::write(path, text)
            {
                eprintln!("error: cannot write {}: {e}", path.display());
                return 2;
            }
            if let Err(e) = std::fs::write(&args.out, &imported.scenario_toml) {
                eprintln!("error: cannot write {}: {e}", args.out.display());
                return 2;
            }
            let s = &imported.loaded.scenario;
            eprintln!(
                "imported {} manifest file(s) into {}: {} fault(s), {} SLO(s), {} guardrail(s){}{}",
                files.len(),
                args.out.display(),
                s.faults.len(),
                s.slos.len(),
                s.guardrails.len(),
                if imported.scenario_toml.contains("\n[rollout]") {
                    ", a rollout"
                } else {
                    ""
                },
                args.topology_out
                    .as_ref()
                    .map(|t| format!("; topology written to {}", t.display()))
                    .unwrap_or_default()
            );
            0
        }
        Err(diags) => {
            print(&diags);
            eprintln!("error: nothing written");
            2
        }
    }
}

/// `to` as a path relative to the folder `from` (forward slashes); also
/// how `calibrate`'s starter scenario names its topology.
pub(crate) fn relative(from: &Path, to: &Path) -> String {
    let abs = |p: &Path| {
        std::path::absolute(if p.as_os_str().is_empty() { Path::new(".") } else { p })
            .unwrap_or_else(|_| p.to_path_buf())
    };
    let clean = |p: PathBuf| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in p.components() {
            match c {
                Component::ParentDir => {
                    out.pop();
                }
                Component::Normal(s) => out.push(s.to_string_lossy().to_string()),
                Component::RootDir | Component::Prefix(_) => out.push(c.as_os_str().to_string_lossy().to_string()),
                Component::CurDir => {}
            }
        }
        out
    };
    let (f, t) = (clean(abs(from)), clean(abs(to)));
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = std::iter::repeat_n("..".to_string(), f.len() - common).collect();
    parts.extend(t[common..].iter().cloned());
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        // The topology as the scenario names it: relative to the scenario's folder.
        assert_eq!(
            relative(Path::new("/a/scenarios"), Path::new("/a/topologies/t.toml")),
            "../topologies/t.toml"
        );
        assert_eq!(relative(Path::new("/a"), Path::new("/a/t.toml")), "t.toml");
    }
}

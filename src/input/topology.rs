//! Resolving a topology file into a [`Topology`]: regions, the network,
//! flows, services and their calls, queues, the Kubernetes mapping; then the checks that need the
//! whole mesh (synchronous call cycles, flows whose arrivals cannot reach
//! their entry service).
//!
//! Each section's module holds its `Raw*` serde structs (stage one: the
//! shape the user wrote) and its resolver (stage two). Sections resolve in
//! the order below, so diagnostics come out in that order too.

mod calls;
mod cycles;
mod flows;
mod kubernetes;
mod network;
mod queues;
mod regions;
mod services;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub use services::RawWrongEffect;
pub(crate) use services::{RawQuality, RawRateLimit, RawValidates, quality, rate_limit, validates};

use super::diag::{Ctx, Diagnostic, KeyPath, Source};
use crate::model::{MAX_FLOWS, Topology};

/// The top-level keys of a topology file; each section is read on its own
/// so that every bad section is reported, not just the first.
pub const TOPOLOGY_KEYS: &[&str] = &[
    "name",
    "description",
    "regions",
    "network",
    "flows",
    "services",
    "queues",
    "kubernetes",
];

/// A topology file as written, section by section.
#[derive(Clone, Debug, Default)]
pub struct RawTopology {
    pub name: Option<String>,
    pub description: Option<String>,
    pub regions: Vec<regions::RawRegion>,
    pub network: network::RawNetwork,
    pub flows: Vec<flows::RawFlow>,
    pub services: Vec<services::RawService>,
    pub queues: Vec<queues::RawQueue>,
    pub kubernetes: Option<kubernetes::RawKubernetes>,
}

/// The most services a topology may declare.
const SERVICES_MAX: usize = 100_000;

/// Resolves a parsed topology. Returns the model and its warnings, or every
/// problem found.
pub fn resolve_topology(src: &Source, raw: &RawTopology) -> Result<(Topology, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut cx = Ctx::new(src);
    let base_dir = src.path.parent().unwrap_or(Path::new(".")).to_path_buf();
    required_lists(&mut cx, raw);
    let regions = regions::resolve(&mut cx, &raw.regions);
    let (latency, nearest) = network::resolve(&mut cx, &raw.network, &regions, &base_dir);
    let names = Names::declared(&mut cx, raw, regions, base_dir);
    let flows = flows::resolve(&mut cx, &raw.flows, &names);
    let mut services = (raw.services.iter().enumerate())
        .map(|(si, s)| services::resolve(&mut cx, si, s, &names))
        .collect::<Vec<_>>();
    let queues = queues::resolve(&mut cx, &raw.queues, &names);
    let kubernetes = kubernetes::resolve(&mut cx, raw.kubernetes.as_ref(), &raw.services, &mut services, &names);
    cycles::check(&mut cx, &raw.services, &names);
    if !cx.has_errors() {
        flows::warn_unreachable(&mut cx, &flows, &services, &nearest, &names.regions);
    }
    if cx.has_errors() {
        return Err(cx.diags);
    }
    let topo = Topology {
        name: raw.name.clone().unwrap_or_default(),
        description: raw.description.clone().unwrap_or_default(),
        path: src.path.clone(),
        regions: names.regions,
        latency,
        nearest,
        flows,
        services,
        queues,
        kubernetes,
    };
    Ok((topo, cx.diags))
}

/// Every list a mesh needs must have something in it.
fn required_lists(cx: &mut Ctx, raw: &RawTopology) {
    for (key, empty, what) in [
        (
            "regions",
            raw.regions.is_empty(),
            "a topology needs at least one region",
        ),
        (
            "flows",
            raw.flows.is_empty(),
            "a topology needs at least one request flow",
        ),
        (
            "services",
            raw.services.is_empty(),
            "a topology needs at least one service",
        ),
    ] {
        if empty {
            cx.err(&KeyPath::root().k(key), format!("empty list: {what}"));
        }
    }
}

/// The names a topology declares, for resolving references between
/// sections, and the folder relative files are read from.
pub struct Names {
    pub regions: Vec<String>,
    /// In file order, duplicates included: a service's id is its position.
    pub services: Vec<String>,
    /// In file order, each name once (a duplicate is reported on its own).
    pub unique_services: Vec<String>,
    pub queues: Vec<String>,
    pub flows: Vec<String>,
    pub base_dir: PathBuf,
}

impl Names {
    /// Collects the names, reporting empty and duplicate ones, a queue named
    /// like a service, and too many flows or services.
    fn declared(cx: &mut Ctx, raw: &RawTopology, regions: Vec<String>, base_dir: PathBuf) -> Names {
        let root = KeyPath::root();
        duplicate_names(cx, "services", raw.services.iter().map(|s| s.name.as_str()));
        duplicate_names(cx, "queues", raw.queues.iter().map(|q| q.name.as_str()));
        duplicate_names(cx, "flows", raw.flows.iter().map(|f| f.name.as_str()));
        for (i, q) in raw.queues.iter().enumerate() {
            if raw.services.iter().any(|s| s.name == q.name) {
                cx.err(
                    &root.k("queues").i(i).k("name"),
                    format!("\"{}\" is already a service name", q.name),
                );
            }
        }
        if raw.flows.len() > MAX_FLOWS {
            cx.err(&root.k("flows"), format!("at most {MAX_FLOWS} flows"));
        }
        if raw.services.len() > SERVICES_MAX {
            cx.err(&root.k("services"), "at most 100000 services");
        }
        let services: Vec<String> = raw.services.iter().map(|s| s.name.clone()).collect();
        let mut unique_services: Vec<String> = Vec::new();
        for n in &services {
            if !unique_services.contains(n) {
                unique_services.push(n.clone());
            }
        }
        Names {
            regions,
            services,
            unique_services,
            queues: raw.queues.iter().map(|q| q.name.clone()).collect(),
            flows: raw.flows.iter().map(|f| f.name.clone()).collect(),
            base_dir,
        }
    }

    /// The index of the first service with this name.
    pub fn service(&self, name: &str) -> Option<usize> {
        self.services.iter().position(|s| s == name)
    }

    pub fn queue(&self, name: &str) -> Option<usize> {
        self.queues.iter().position(|q| q == name)
    }

    /// `a, b, c`: the services, each once, for "known: …" hints.
    pub fn known_services(&self) -> String {
        self.unique_services.join(", ")
    }

    /// The services and queues a call may go to, for "known: …" hints.
    pub fn known_targets(&self) -> String {
        let mut v: Vec<&str> = self.services.iter().map(String::as_str).collect();
        v.extend(self.queues.iter().map(String::as_str));
        v.join(", ")
    }
}

/// Reports empty and repeated names in a section's `name` keys.
fn duplicate_names<'n>(cx: &mut Ctx, section: &str, names: impl Iterator<Item = &'n str>) {
    let mut seen = BTreeSet::new();
    for (i, n) in names.enumerate() {
        let p = KeyPath::root().k(section).i(i).k("name");
        if n.trim().is_empty() {
            cx.err(&p, "a name must not be empty");
        } else if !seen.insert(n) {
            cx.err(&p, format!("duplicate name \"{n}\""));
        }
    }
}

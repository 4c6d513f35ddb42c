//! Telemetry out: one replication as OpenTelemetry traces (OTLP/JSON, one
//! `TracesData` object per line) and as Prometheus series (OpenMetrics text
//! with timestamps, under Istio's standard metric names), for the tools a
//! team runs its incidents with. `docs/telemetry.md` documents both formats
//! and how to load them into Jaeger, Tempo and Prometheus.
//!
//! The simulator builds traces and series ([`crate::observe::telemetry`])
//! and hands them to the `Writer` here, the one part that does I/O: traces
//! stream through a buffered writer into a temporary file as they finish
//! (memory bounded by the requests in flight); the series are kept per
//! scrape and written at the end, because OpenMetrics wants every series'
//! points together (memory: scrapes × series). Both files appear under their
//! names only when complete. Timestamps are the scenario's `run.epoch`
//! plus simulated time, so the same inputs and seed give the same bytes.

mod openmetrics;
mod otlp;
pub mod waterfall;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::model::{Action, CallTarget, Scenario, Topology};
use crate::observe::telemetry::{CONTROL, INGRESS, Series, TelemetryOptions, TelemetrySink, Trace, UNKNOWN};
use crate::sim::{ReplicationOutput, run_with_telemetry};

pub use waterfall::Waterfalls;

/// The default share of requests whose trace is kept.
pub const DEFAULT_SAMPLE: f64 = 0.01;
/// The default share of failed or degraded requests kept (tail sampling).
pub const DEFAULT_SAMPLE_TROUBLED: f64 = 0.1;
/// The name under which customers' requests enter the mesh (traces and series).
pub const INGRESS_NAME: &str = "istio-ingressgateway";
/// The resource of guardrail and rollout spans.
pub const CONTROL_NAME: &str = "chaoscal-control-plane";

/// What `run --replication I --trace/--metrics` asked for.
#[derive(Clone, Debug)]
pub struct Request {
    pub trace: Option<PathBuf>,
    pub metrics: Option<PathBuf>,
    pub sample: f64,
    pub sample_troubled: f64,
}

/// What was written.
#[derive(Clone, Debug, Default)]
pub struct Written {
    pub traces: u64,
    pub spans: u64,
    pub series: usize,
    pub scrapes: usize,
    pub waterfalls: Option<Waterfalls>,
}

/// Names of everything a span or a series mentions, from the model.
pub(crate) struct Names<'a> {
    pub topo: &'a Topology,
    pub scn: &'a Scenario,
    /// Per region: the Kubernetes namespace (`[kubernetes] namespaces`), else `default`.
    pub namespaces: Vec<String>,
    pub epoch_ns: u64,
}

impl<'a> Names<'a> {
    pub fn new(topo: &'a Topology, scn: &'a Scenario) -> Self {
        let namespaces = (0..topo.regions.len())
            .map(|r| {
                topo.kubernetes
                    .namespaces
                    .iter()
                    .find(|(_, region)| region.index() == r)
                    .map_or_else(|| "default".to_string(), |(n, _)| n.clone())
            })
            .collect();
        Names {
            topo,
            scn,
            namespaces,
            epoch_ns: scn.epoch_unix_ns,
        }
    }

    /// A workload's name: a service, the ingress gateway, the control plane.
    pub fn service(&self, s: u32) -> &str {
        match s {
            INGRESS => INGRESS_NAME,
            CONTROL => CONTROL_NAME,
            UNKNOWN => "unknown",
            s => self
                .topo
                .services
                .get(s as usize)
                .map_or("unknown", |x| x.name.as_str()),
        }
    }

    pub fn region(&self, r: u16) -> &str {
        self.topo.regions.get(r as usize).map_or("unknown", |x| x.as_str())
    }

    /// The namespace a workload runs in.
    pub fn namespace(&self, s: u32, r: u16) -> &str {
        match s {
            INGRESS => "istio-system",
            UNKNOWN => "unknown",
            _ => self.namespaces.get(r as usize).map_or("default", |n| n.as_str()),
        }
    }

    pub fn flow(&self, f: u16) -> &str {
        self.topo.flows.get(f as usize).map_or("unknown", |x| x.name.as_str())
    }

    /// Queue × region `qr`.
    pub fn queue(&self, qr: u32) -> (&str, &str) {
        let nr = self.topo.regions.len().max(1);
        let q = self
            .topo
            .queues
            .get(qr as usize / nr)
            .map_or("unknown", |x| x.name.as_str());
        (q, self.region((qr as usize % nr) as u16))
    }

    /// Call site `site`: the caller and what it calls.
    pub fn site(&self, site: usize) -> (&str, &str) {
        let mut k = site;
        for s in &self.topo.services {
            if k < s.calls.len() {
                let to = match s.calls[k].to {
                    CallTarget::Service(t) => self.topo.services[t.index()].name.as_str(),
                    CallTarget::Queue(q) => self.topo.queues[q.index()].name.as_str(),
                };
                return (s.name.as_str(), to);
            }
            k -= s.calls.len();
        }
        ("unknown", "unknown")
    }

    pub fn has_breaker(&self, site: usize) -> bool {
        let mut k = site;
        for s in &self.topo.services {
            if k < s.calls.len() {
                return s.calls[k].breaker.is_some();
            }
            k -= s.calls.len();
        }
        false
    }

    pub fn guardrail(&self, i: u16) -> (&str, &'static str) {
        match self.scn.guardrails.get(i as usize) {
            Some(g) => (g.name.as_str(), action_name(&g.action)),
            None => ("unknown", "unknown"),
        }
    }

    pub fn fault(&self, i: u16) -> (&str, &'static str) {
        match self.scn.faults.get(i as usize) {
            Some(f) => (f.name.as_str(), f.kind.name()),
            None => ("unknown", "unknown"),
        }
    }

    /// Seconds since the Unix epoch of simulated time `t`, to the millisecond.
    pub fn seconds(&self, t: u64) -> String {
        let ms = (self.epoch_ns + t) / 1_000_000;
        format!("{}.{:03}", ms / 1000, ms % 1000)
    }
}

/// The action's kind as the scenario spells it.
pub fn action_name(a: &Action) -> &'static str {
    match a {
        Action::FailoverService { .. } | Action::FailoverRegion { .. } => "failover",
        Action::KillSwitch { .. } => "kill_switch",
        Action::Shed { .. } => "shed",
        Action::Scale { .. } => "scale",
        Action::Rollback => "rollback",
    }
}

/// The temporary name a file is streamed into before it is renamed.
fn temporary(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// The sink: streams kept traces to the trace file, keeps the scrapes and
/// the two requests the report draws. The first I/O error stops writing
/// and is returned at the end.
struct Writer<'a> {
    names: &'a Names<'a>,
    traces: Option<BufWriter<File>>,
    metrics: Option<openmetrics::Store>,
    picks: waterfall::Picks,
    written: Written,
    error: Option<std::io::Error>,
    line: Vec<u8>,
}

impl TelemetrySink for Writer<'_> {
    fn trace(&mut self, trace: &Trace) {
        self.picks.offer(trace);
        let Some(out) = self.traces.as_mut() else { return };
        if self.error.is_some() {
            return;
        }
        self.line.clear();
        otlp::write_trace(&mut self.line, trace, self.names);
        self.line.push(b'\n');
        if let Err(e) = out.write_all(&self.line) {
            self.error = Some(e);
        }
        self.written.traces += 1;
        self.written.spans += trace.spans.len() as u64;
    }

    fn scrape(&mut self, time_ns: u64, series: &Series) {
        if let Some(m) = self.metrics.as_mut() {
            m.push(time_ns, series);
        }
    }
}

/// Runs replication `index` with telemetry and writes the files asked for;
/// returns what the replication measured (exactly as without telemetry).
pub fn run(
    topo: &Topology,
    scn: &Scenario,
    seed: u64,
    index: u64,
    req: &Request,
) -> std::io::Result<(ReplicationOutput, Written)> {
    let names = Names::new(topo, scn);
    let trace_tmp = req.trace.as_deref().map(temporary);
    let traces = match &trace_tmp {
        Some(p) => Some(BufWriter::new(File::create(p)?)),
        None => None,
    };
    let mut w = Writer {
        names: &names,
        traces,
        metrics: req.metrics.as_ref().map(|_| openmetrics::Store::default()),
        picks: waterfall::Picks::default(),
        written: Written::default(),
        error: None,
        line: Vec::new(),
    };
    let opts = TelemetryOptions {
        traces: req.trace.is_some(),
        metrics: req.metrics.is_some(),
        sample: req.sample,
        sample_troubled: req.sample_troubled.max(req.sample),
        scrape_interval_ns: scn.scrape_interval_ns,
    };
    let out = run_with_telemetry(topo, scn, seed, index, opts, &mut w);
    let finish = |w: &mut Writer| -> std::io::Result<()> {
        if let Some(e) = w.error.take() {
            return Err(e);
        }
        if let (Some(out), Some(tmp), Some(path)) = (w.traces.take(), &trace_tmp, &req.trace) {
            out.into_inner().map_err(|e| e.into_error())?;
            std::fs::rename(tmp, path)?;
        }
        if let (Some(store), Some(path)) = (w.metrics.take(), &req.metrics) {
            w.written.series = store.series();
            w.written.scrapes = store.scrapes();
            crate::results::files::write_with(path, |out| store.write(out, &names))?;
        }
        Ok(())
    };
    let result = finish(&mut w);
    if result.is_err()
        && let Some(tmp) = &trace_tmp
    {
        let _ = std::fs::remove_file(tmp);
    }
    result?;
    w.written.waterfalls = w.picks.waterfalls(&names);
    Ok((out, w.written))
}

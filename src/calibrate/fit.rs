//! How well the calibrated files reproduce the traces: the written
//! topology and scenario are loaded back through the ordinary loader,
//! simulated for a few replications at the observed load, and compared
//! with the traces per flow and per service — requests, p50/p90/p99
//! latency, error rate. A poor fit is flagged with its likely cause.

use std::fmt::Write as _;

use serde::Serialize;

use super::infer::{Calibrated, DistFit, ServiceFit};
use crate::input::LoadedScenario;
use crate::montecarlo::{Aggregate, RunOptions, run_scenario};
use crate::observe::Histogram;

/// Latency and error figures of one flow or service.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Figures {
    /// Requests (flows) or server spans / tries reaching it (services),
    /// over the observed window (simulated counts are scaled to it).
    pub requests: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub error_rate: f64,
}

impl Figures {
    fn of(h: &Histogram, requests: f64, errors: f64, count: f64) -> Figures {
        let ms = |q: f64| (h.quantile(q) as f64 / 1e3).round() / 1e3;
        Figures {
            requests: (requests * 10.0).round() / 10.0,
            p50_ms: ms(0.5),
            p90_ms: ms(0.9),
            p99_ms: ms(0.99),
            error_rate: if count > 0.0 {
                (errors / count * 1e6).round() / 1e6
            } else {
                0.0
            },
        }
    }
}

/// One flow or service: observed and simulated.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Row {
    pub name: String,
    pub observed: Figures,
    /// Absent when the fit was not simulated.
    pub simulated: Option<Figures>,
    pub poor: bool,
    /// What is off, and its likely causes.
    pub causes: Vec<String>,
}

/// The simulation the fit ran.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Simulation {
    pub replications: u64,
    /// Subtracted from the simulated latency of flows whose root spans are
    /// SERVER spans: the model's client→entry hop (both ways, the median
    /// intra-region latency), which such a root span does not contain.
    pub entry_hop_ms: f64,
    pub seed: u64,
    pub duration_s: f64,
    pub warmup_s: f64,
}

/// `calibration.json`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FitReport {
    pub topology: String,
    pub scenario: String,
    pub files: Vec<String>,
    pub spans: u64,
    pub traces: u64,
    pub requests: u64,
    pub window_s: f64,
    /// Warnings about the input (counted problems).
    pub warnings: Vec<String>,
    /// What the inference had to give up or guess.
    pub notes: Vec<String>,
    pub simulation: Option<Simulation>,
    /// Relative tolerance on p50 and p99.
    pub tolerance: f64,
    pub flows: Vec<Row>,
    pub services: Vec<Row>,
}

/// How the fit simulates.
#[derive(Clone, Debug)]
pub struct FitOptions {
    /// 0: no simulation (observed figures only).
    pub replications: u64,
    pub seed: u64,
    pub threads: usize,
    pub tolerance: f64,
    /// The simulated window is cut to this many seconds (after warm-up).
    pub max_window_s: f64,
}

/// Below this many observations a p99 says little; see [`p99_interval`].
pub const FEW_SPANS: u64 = 100;

/// Simulates the written files and compares (see the module docs).
pub fn fit(c: &Calibrated, loaded: &LoadedScenario, opts: &FitOptions) -> (Vec<Row>, Vec<Row>, Option<Simulation>) {
    let mut scn = loaded.scenario.clone();
    let warmup_s = scn.warmup_ns as f64 / 1e9;
    let window_s = (scn.duration_ns as f64 / 1e9 - warmup_s)
        .min(opts.max_window_s)
        .max(1.0);
    scn.duration_ns = ((warmup_s + window_s) * 1e9) as u64;
    let topo = &loaded.topology;
    let hop_ms = entry_hop_ms(c);
    let (agg, sim) = if opts.replications > 0 {
        let run = RunOptions::first(opts.replications, opts.seed, opts.threads.max(1));
        let agg = run_scenario(topo, &scn, &run, &mut |_, _| {});
        let sim = Simulation {
            replications: opts.replications,
            entry_hop_ms: hop_ms,
            seed: opts.seed,
            duration_s: warmup_s + window_s,
            warmup_s,
        };
        (Some(agg), Some(sim))
    } else {
        (None, None)
    };
    // Simulated counts per replication, scaled from the counted window to the observed one.
    let scale = c.window_s.max(1e-9) / window_s / opts.replications.max(1) as f64;
    let scale = if c.window_s > 0.0 {
        scale
    } else {
        1.0 / opts.replications.max(1) as f64
    };
    let mut flows = Vec::new();
    for f in &c.flows {
        let observed = Figures::of(&f.latency, f.requests as f64, f.errors as f64, f.requests as f64);
        let simulated = agg.as_ref().and_then(|a| {
            let id = topo.flow_by_name(&f.name)?;
            let s = &a.flows[id.index()];
            let mut fig = Figures::of(
                &s.latency,
                s.requests as f64 * scale,
                s.failed as f64,
                s.requests as f64,
            );
            if f.server_roots * 2 >= f.requests {
                for q in [&mut fig.p50_ms, &mut fig.p90_ms, &mut fig.p99_ms] {
                    *q = round3((*q - hop_ms).max(0.0));
                }
            }
            Some(fig)
        });
        flows.push(judge(
            &f.name,
            observed,
            simulated,
            f.requests,
            &f.latency,
            opts.tolerance,
        ));
    }
    let mut services = Vec::new();
    for s in &c.services {
        let observed = Figures::of(&s.latency, s.spans as f64, s.errors as f64, s.spans as f64);
        let simulated = agg.as_ref().and_then(|a| simulated_service(a, loaded, &s.name, scale));
        let n = s.spans.max(s.latency.count());
        let mut row = judge(&s.name, observed, simulated, n, &s.latency, opts.tolerance);
        if row.poor {
            service_causes(&mut row, s);
        }
        services.push(row);
    }
    let poor_services: Vec<String> = services.iter().filter(|r| r.poor).map(|r| r.name.clone()).collect();
    for row in flows.iter_mut().filter(|r| r.poor) {
        if !poor_services.is_empty() {
            row.causes.push(format!(
                "services that fit poorly (below): {}",
                poor_services.join(", ")
            ));
        }
    }
    (flows, services, sim)
}

/// The client→entry hop the model adds to every request (there and back,
/// the median intra-region latency each way).
fn entry_hop_ms(c: &Calibrated) -> f64 {
    let one_way = match c.intra.as_ref().map(|n| &n.latency) {
        Some(DistFit::Percentiles { p50, .. }) => *p50,
        Some(DistFit::Empirical(v)) => v.get(v.len() / 2).copied().unwrap_or(0.0),
        None => 0.0,
    };
    round3(2.0 * one_way)
}

fn simulated_service(a: &Aggregate, loaded: &LoadedScenario, name: &str, scale: f64) -> Option<Figures> {
    let topo = &loaded.topology;
    let s = topo.service_by_name(name)?.index();
    let nr = topo.regions.len();
    let mut h = Histogram::new();
    let (mut requests, mut errors) = (0u64, 0u64);
    for g in &a.groups[s * nr..(s + 1) * nr] {
        h.merge(&g.latency);
        requests += g.requests;
        errors += g.errors;
    }
    Some(Figures::of(&h, requests as f64 * scale, errors as f64, requests as f64))
}

/// The 95% interval of a p99 estimated from `h` (order statistics:
/// ranks n·0.99 ± 1.96·√(n·0.99·0.01)).
pub fn p99_interval(h: &Histogram) -> (f64, f64) {
    let n = h.count() as f64;
    if n < 1.0 {
        return (0.0, f64::INFINITY);
    }
    let half = 1.96 * (n * 0.99 * 0.01).sqrt();
    let lo = ((n * 0.99 - half) / n).clamp(0.0, 1.0);
    let hi = ((n * 0.99 + half + 1.0) / n).clamp(0.0, 1.0);
    let hi_ms = if n * 0.99 + half + 1.0 > n {
        f64::INFINITY
    } else {
        h.quantile(hi) as f64 / 1e6
    };
    (h.quantile(lo) as f64 / 1e6, hi_ms)
}

/// Compares: p50 and p99 within the tolerance, error rate within 3
/// standard errors (plus 0.001); notes a p99 too uncertain to judge.
fn judge(name: &str, observed: Figures, simulated: Option<Figures>, n: u64, h: &Histogram, tol: f64) -> Row {
    let mut causes = Vec::new();
    let mut poor = false;
    if let Some(sim) = &simulated {
        if sim.requests == 0.0 && observed.requests > 0.0 {
            poor = true;
            causes.push("never reached in the simulation".to_string());
        }
        for (what, o, s) in [
            ("p50", observed.p50_ms, sim.p50_ms),
            ("p99", observed.p99_ms, sim.p99_ms),
        ] {
            if o > 0.0 && ((s / o) - 1.0).abs() > tol {
                poor = true;
                causes.push(format!(
                    "{what} off by {:+.0}% ({o} ms observed, {s} ms simulated)",
                    (s / o - 1.0) * 100.0
                ));
            }
        }
        let (po, ps) = (observed.error_rate, sim.error_rate);
        let nsim = (sim.requests).max(1.0);
        let pooled = (po * n as f64 + ps * nsim) / (n as f64 + nsim);
        let se = (pooled * (1.0 - pooled) * (1.0 / (n.max(1) as f64) + 1.0 / nsim)).sqrt();
        if (po - ps).abs() > 3.0 * se + 0.001 {
            poor = true;
            causes.push(format!("error rate {po} observed, {ps} simulated"));
        }
        if poor {
            let (lo, hi) = p99_interval(h);
            if n < FEW_SPANS || (sim.p99_ms >= lo && sim.p99_ms <= hi) {
                causes.push(format!(
                    "too few spans: the observed p99 of {n} is only known within {}–{} ms (95%)",
                    round3(lo),
                    if hi.is_finite() {
                        round3(hi).to_string()
                    } else {
                        "∞".to_string()
                    }
                ));
            }
        }
    }
    Row {
        name: name.to_string(),
        observed,
        simulated,
        poor,
        causes,
    }
}

fn round3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

/// Likely causes of a service's poor fit, from what the traces showed.
fn service_causes(row: &mut Row, s: &ServiceFit) {
    let before = row.causes.len();
    let p50 = row.observed.p50_ms;
    if s.hidden_wait_ms > (0.1 * p50).max(1.0) {
        row.causes.push(format!(
            "a queueing effect the traces hide: calls to it wait {} ms (median) outside its server spans beyond the network, which the model does not reproduce",
            round3(s.hidden_wait_ms)
        ));
    }
    if s.replicas_lower_bound && s.spans > 0 {
        row.causes.push(
            "a missing instance: some region's spans are too few to be sure every instance was seen (replicas is a lower bound)"
                .to_string(),
        );
    }
    if s.unpaired_tries > 0 || s.spans == 0 {
        row.causes.push(format!(
            "a missing instance: {} client span(s) to it have no server span (an uninstrumented or unsampled instance)",
            s.unpaired_tries
        ));
    }
    if row.causes.len() == before && !row.causes.iter().any(|c| c.starts_with("too few spans")) {
        row.causes.push(
            "not explained by sample size, hidden queueing or missing instances: check its calls (conditional, fallbacks) and the shape of its service time"
                .to_string(),
        );
    }
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// `calibration.md`.
pub fn markdown(r: &FitReport) -> String {
    let mut m = String::new();
    let _ = writeln!(m, "# Calibration: {}\n", md_cell(&r.topology));
    let _ = writeln!(
        m,
        "Read {} file(s): {} spans in {} traces, {} requests over {} s. Wrote `{}` and the starter scenario `{}`.\n",
        r.files.len(),
        r.spans,
        r.traces,
        r.requests,
        round3(r.window_s),
        md_cell(&r.topology),
        md_cell(&r.scenario)
    );
    match &r.simulation {
        Some(s) => {
            let _ = writeln!(
                m,
                "Simulated: {} replication(s), seed {}, {} s each ({} s warm-up), at the observed load; \
                 flows whose root spans are SERVER spans are compared less the {} ms client→entry hop those spans do not contain \
                 (a root CLIENT span, as at a gateway, contains it). \
                 A fit is poor when p50 or p99 is off by more than {:.0}%, or the error rate by more than 3 standard errors.\n",
                s.replications,
                s.seed,
                round3(s.duration_s),
                round3(s.warmup_s),
                s.entry_hop_ms,
                r.tolerance * 100.0
            );
        }
        None => m.push_str("Not simulated (`--fit-replications 0`): observed figures only.\n\n"),
    }
    for (title, rows) in [("Flows", &r.flows), ("Services", &r.services)] {
        let _ = writeln!(m, "## {title}\n");
        m.push_str("| name | requests (obs / sim) | p50 ms | p90 ms | p99 ms | error rate | fit |\n");
        m.push_str("|---|---|---|---|---|---|---|\n");
        for row in rows.iter() {
            let o = &row.observed;
            let pair = |a: f64, b: Option<f64>| match b {
                Some(b) => format!("{a} / {b}"),
                None => a.to_string(),
            };
            let s = row.simulated.as_ref();
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} | {} | {} | {} |",
                md_cell(&row.name),
                pair(o.requests, s.map(|s| s.requests)),
                pair(o.p50_ms, s.map(|s| s.p50_ms)),
                pair(o.p90_ms, s.map(|s| s.p90_ms)),
                pair(o.p99_ms, s.map(|s| s.p99_ms)),
                pair(o.error_rate, s.map(|s| s.error_rate)),
                if s.is_none() {
                    "–"
                } else if row.poor {
                    "poor"
                } else {
                    "ok"
                }
            );
        }
        m.push('\n');
    }
    let poor: Vec<&Row> = r.flows.iter().chain(&r.services).filter(|x| x.poor).collect();
    if !poor.is_empty() {
        m.push_str("## Poor fits\n\n");
        for row in poor {
            let _ = writeln!(m, "- **{}**: {}", md_cell(&row.name), md_cell(&row.causes.join("; ")));
        }
        m.push('\n');
    }
    for (title, items) in [
        ("What the inference had to decide", &r.notes),
        ("Warnings about the traces", &r.warnings),
    ] {
        if !items.is_empty() {
            let _ = writeln!(m, "## {title}\n");
            for w in items.iter() {
                let _ = writeln!(m, "- {}", md_cell(w));
            }
            m.push('\n');
        }
    }
    m.push_str(
        "Not in traces, left at safe defaults in the topology: concurrency and waiting rooms, circuit breakers, \
         bulkheads, health checks, retry budgets, queue consumers. See docs/calibrate.md.\n",
    );
    m
}

//! Outputs: `summary.json`, `replications.csv`, `services.csv` (stable
//! interfaces, documented in `docs/outputs.md`), `run.json` (wall-clock
//! figures, kept apart so the others stay byte-identical) and the console
//! summary.

pub mod charts;
pub mod html;

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::model::{CallTarget, NS_PER_MS, NS_PER_S, Scenario, SloKind, Topology};
use crate::montecarlo::{Aggregate, wilson95};
use crate::observe::BreakerPhase;
use crate::observe::Histogram;

/// Milliseconds from nanoseconds, rounded to the microsecond.
fn ms(ns: f64) -> f64 {
    (ns / NS_PER_MS * 1000.0).round() / 1000.0
}

/// Rounds a ratio to 9 significant decimals, for stable, readable output.
fn r9(x: f64) -> f64 {
    (x * 1e9).round() / 1e9
}

#[derive(Serialize)]
pub struct LatencyMs {
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl LatencyMs {
    fn of(h: &Histogram) -> Self {
        LatencyMs {
            mean: ms(h.mean()),
            p50: ms(h.quantile(0.5) as f64),
            p90: ms(h.quantile(0.9) as f64),
            p99: ms(h.quantile(0.99) as f64),
            max: ms(h.max() as f64),
        }
    }
}

#[derive(Serialize)]
pub struct Spread {
    pub mean: f64,
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    /// Sample standard deviation over replications (n − 1 in the
    /// denominator; 0 below two replications), for two-sample tests.
    pub sd: f64,
}

impl Spread {
    /// Distribution of one figure over replications (sorted copy; exact ranks).
    fn of(values: &[f64]) -> Self {
        let mut v: Vec<f64> = values.to_vec();
        v.sort_by(f64::total_cmp);
        let q = |p: f64| {
            if v.is_empty() {
                return 0.0;
            }
            let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
            r9(v[rank - 1])
        };
        // An empty sum is -0.0 in Rust; an empty spread reads 0.
        let mean = if v.is_empty() {
            0.0
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        };
        let sd = if v.len() < 2 {
            0.0
        } else {
            (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
        };
        Spread {
            mean: r9(mean),
            sd: r9(sd),
            min: v.first().map(|x| r9(*x)).unwrap_or(0.0),
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            max: q(1.0),
        }
    }
}

#[derive(Serialize)]
pub struct SloSummary {
    pub name: String,
    pub kind: String,
    pub flow: Option<String>,
    pub objective: f64,
    pub violations: u64,
    pub probability: f64,
    pub ci95: [f64; 2],
    /// Good/valid per replication.
    pub attainment: Spread,
    /// Error budget consumed per replication (1 = all of it).
    pub budget_consumed: Spread,
    /// A latency or backlog SLO's threshold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold_ms: Option<f64>,
    /// The `[expect]` limit on the violation probability, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_violation_probability: Option<f64>,
}

/// What one guardrail did over the replications.
#[derive(Serialize)]
pub struct GuardrailSummary {
    pub name: String,
    pub action: String,
    /// Replications in which it fired, their share and its 95% interval.
    pub fired: u64,
    pub probability: f64,
    pub ci95: [f64; 2],
    /// From the first fault start to the alert, over replications where it
    /// fired (null when it never fired).
    pub time_to_detect_s: Option<Spread>,
    /// From the first fault start to the action taking effect (null when it never did).
    pub time_to_mitigate_s: Option<Spread>,
    /// Share of the SLO's error budget spent before mitigation (all of it when it never acted).
    pub budget_burned_before_mitigation: Spread,
    pub shed_requests: u64,
}

#[derive(Serialize)]
pub struct FlowSummary {
    pub name: String,
    pub requests: u64,
    pub succeeded: u64,
    pub degraded: u64,
    pub failed: u64,
    pub availability: f64,
    pub latency_ms: LatencyMs,
}

#[derive(Serialize)]
pub struct WaitMs {
    pub mean: f64,
    pub p99: f64,
}

#[derive(Serialize)]
pub struct ServiceLatencyMs {
    pub mean: f64,
    pub p50: f64,
    pub p99: f64,
}

#[derive(Serialize)]
pub struct ServiceSummary {
    pub service: String,
    pub region: String,
    pub requests: u64,
    pub rejected: u64,
    pub errors: u64,
    pub timeouts: u64,
    pub rate_limited: u64,
    pub expired: u64,
    pub ejections: u64,
    pub utilization: f64,
    pub latency_ms: ServiceLatencyMs,
    pub queue_wait_ms: WaitMs,
}

#[derive(Serialize)]
pub struct Money {
    pub failed_value: f64,
    pub wrong_outputs: u64,
    pub wrong_output_loss: f64,
    /// Wrong outputs a validating service caught (not in `wrong_outputs`).
    pub wrong_caught: u64,
    pub duplicate_charges: u64,
    pub duplicate_charge_value: f64,
}

/// One call site: what the caller's resilience mechanisms did.
#[derive(Serialize)]
pub struct CallSummary {
    pub caller: String,
    pub to: String,
    pub calls: u64,
    pub tries: u64,
    pub retries: u64,
    pub budget_denied: u64,
    pub short_circuited: u64,
    pub bulkhead_rejected: u64,
    pub fallbacks: u64,
    pub failed: u64,
    pub breaker_opens: u64,
    /// Mean time per replication that this site's breakers spent open, summed over caller replicas.
    pub breaker_open_s: f64,
    pub duplicate_charges: u64,
    pub duplicate_charge_value: f64,
    pub duplicates_prevented: u64,
}

#[derive(Serialize)]
pub struct Backlog {
    /// Time-averaged depth over the counted horizon, per replication.
    pub mean: f64,
    pub max: u64,
}

#[derive(Serialize)]
pub struct QueueSummary {
    pub queue: String,
    pub region: String,
    pub published: u64,
    pub rejected: u64,
    pub delivered: u64,
    pub redelivered: u64,
    pub dead_lettered: u64,
    pub backlog: Backlog,
    pub age_ms: WaitMs,
}

#[derive(Serialize)]
pub struct Declared {
    pub max_services: Option<u32>,
    pub max_regions: Option<u32>,
}

#[derive(Serialize)]
pub struct PairSummary {
    pub service: String,
    pub region: String,
    /// Share of replications in which the pair was degraded.
    pub degraded_share: f64,
}

#[derive(Serialize)]
pub struct Attribution {
    pub fault: String,
    /// Failed requests (all replications) whose path met this fault while active.
    pub failed_requests: u64,
}

/// How far the damage spread, over replications.
#[derive(Serialize)]
pub struct BlastSummary {
    pub services: Spread,
    pub regions: Spread,
    pub share_affected: Spread,
    pub containment_breach_probability: f64,
    pub breach_ci95: [f64; 2],
    pub declared: Declared,
    /// Every transitive caller of a fault target, from the graph.
    pub static_services: Vec<String>,
    /// `[degraded services, replications]`, for 0 up to the maximum seen.
    pub histogram: Vec<[u64; 2]>,
    pub pairs: Vec<PairSummary>,
    /// Path-based attribution: failed requests whose path met each fault.
    pub attributed_failures: Vec<Attribution>,
    /// Against each replication's counterfactual twin (runs with `--counterfactual`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counterfactual: Option<CounterfactualSummary>,
}

/// What the faults did, measured against each replication's twin run with
/// the faults off (same seed, same streams).
#[derive(Serialize)]
pub struct CounterfactualSummary {
    /// Replications that had a twin.
    pub replications: u64,
    /// Failed requests arriving in the fault window minus the twin's, per replication (all flows).
    pub excess_failures: Spread,
    pub flows: Vec<FlowExcess>,
    /// Services and regions degraded against the twin, per replication.
    pub services: Spread,
    pub regions: Spread,
    pub containment_breach_probability: f64,
    pub breach_ci95: [f64; 2],
    /// Share of replications in which each pair was degraded against the twin.
    pub pairs: Vec<PairSummary>,
}

#[derive(Serialize)]
pub struct FlowExcess {
    pub flow: String,
    pub excess_failures: Spread,
    /// p99 latency in the fault window minus the twin's, ms.
    pub excess_latency_p99_ms: Spread,
}

#[derive(Serialize)]
pub struct FaultSummary {
    pub name: String,
    pub kind: String,
    pub target: String,
}

/// `summary.json`: the machine-readable result of one scenario.
#[derive(Serialize)]
pub struct Summary {
    pub experiment: String,
    /// The scenario file, as given on the command line.
    pub scenario: String,
    /// The command that reproduces this result.
    pub command: String,
    pub owner: String,
    pub hypothesis: String,
    pub topology: String,
    pub seed: u64,
    pub replications: u64,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub faults: Vec<FaultSummary>,
    pub slos: Vec<SloSummary>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub guardrails: Vec<GuardrailSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blast_radius: Option<BlastSummary>,
    pub flows: Vec<FlowSummary>,
    pub services: Vec<ServiceSummary>,
    pub calls: Vec<CallSummary>,
    pub queues: Vec<QueueSummary>,
    pub money: Money,
    pub events: u64,
}

pub fn summarize(topo: &Topology, scn: &Scenario, agg: &Aggregate) -> Summary {
    let n = agg.replications();
    let nr = topo.regions.len();
    let slos = scn
        .slos
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let k = agg.slo_violations[i];
            let (lo, hi) = wilson95(k, n);
            let att: Vec<f64> = agg.rows.iter().map(|r| r.slos[i].attainment).collect();
            let budget: Vec<f64> = agg.rows.iter().map(|r| r.slos[i].budget_consumed).collect();
            SloSummary {
                name: s.name.clone(),
                kind: match s.kind {
                    SloKind::Availability => "availability",
                    SloKind::Latency => "latency",
                    SloKind::Correctness => "correctness",
                    SloKind::Backlog => "backlog",
                }
                .to_string(),
                flow: s.flow.map(|f| topo.flows[f.index()].name.clone()),
                objective: s.objective,
                violations: k,
                probability: r9(if n == 0 { 0.0 } else { k as f64 / n as f64 }),
                ci95: [r9(lo), r9(hi)],
                attainment: Spread::of(&att),
                budget_consumed: Spread::of(&budget),
                threshold_ms: s.threshold_ns.map(|t| ms(t as f64)),
                max_violation_probability: scn
                    .expect
                    .max_violation_probability
                    .iter()
                    .find(|(name, _)| *name == s.name)
                    .map(|(_, p)| *p),
            }
        })
        .collect();
    let flows = topo
        .flows
        .iter()
        .zip(&agg.flows)
        .map(|(f, s)| FlowSummary {
            name: f.name.clone(),
            requests: s.requests,
            succeeded: s.succeeded,
            degraded: s.degraded,
            failed: s.failed,
            availability: r9(if s.requests == 0 {
                1.0
            } else {
                s.succeeded as f64 / s.requests as f64
            }),
            latency_ms: LatencyMs::of(&s.latency),
        })
        .collect();
    let mut services = Vec::new();
    for (si, s) in topo.services.iter().enumerate() {
        for r in 0..nr {
            if !s.present[r] {
                continue;
            }
            let g = &agg.groups[si * nr + r];
            services.push(ServiceSummary {
                service: s.name.clone(),
                region: topo.regions[r].clone(),
                requests: g.requests,
                rejected: g.rejected,
                errors: g.errors,
                timeouts: g.timeouts,
                rate_limited: g.rate_limited,
                expired: g.expired,
                ejections: g.ejections,
                utilization: r9(g.utilization()),
                latency_ms: ServiceLatencyMs {
                    mean: ms(g.latency.mean()),
                    p50: ms(g.latency.quantile(0.5) as f64),
                    p99: ms(g.latency.quantile(0.99) as f64),
                },
                queue_wait_ms: WaitMs {
                    mean: ms(g.queue_wait.mean()),
                    p99: ms(g.queue_wait.quantile(0.99) as f64),
                },
            });
        }
    }
    let reps = n.max(1) as f64;
    let mut calls = Vec::new();
    let mut site = 0;
    for s in &topo.services {
        for c in &s.calls {
            let x = &agg.sites[site];
            site += 1;
            let to = match c.to {
                CallTarget::Service(t) => topo.services[t.index()].name.clone(),
                CallTarget::Queue(q) => topo.queues[q.index()].name.clone(),
            };
            calls.push(CallSummary {
                caller: s.name.clone(),
                to,
                calls: x.calls,
                tries: x.tries,
                retries: x.retries,
                budget_denied: x.budget_denied,
                short_circuited: x.short_circuited,
                bulkhead_rejected: x.bulkhead_rejected,
                fallbacks: x.fallbacks,
                failed: x.failed,
                breaker_opens: x.breaker_opens,
                breaker_open_s: r9(x.breaker_open_ns as f64 / NS_PER_S / reps),
                duplicate_charges: x.duplicate_charges,
                duplicate_charge_value: x.duplicate_charge_cents as f64 / 100.0,
                duplicates_prevented: x.duplicates_prevented,
            });
        }
    }
    let horizon_ns = (scn.duration_ns - scn.warmup_ns) as f64;
    let mut queues = Vec::new();
    for (qi, q) in topo.queues.iter().enumerate() {
        for r in 0..nr {
            if !q.present[r] {
                continue;
            }
            let x = &agg.queues[qi * nr + r];
            queues.push(QueueSummary {
                queue: q.name.clone(),
                region: topo.regions[r].clone(),
                published: x.published,
                rejected: x.rejected,
                delivered: x.delivered,
                redelivered: x.redelivered,
                dead_lettered: x.dead_lettered,
                backlog: Backlog {
                    mean: r9(x.depth_ns as f64 / horizon_ns / reps),
                    max: x.depth_max,
                },
                age_ms: WaitMs {
                    mean: ms(x.age.mean()),
                    p99: ms(x.age.quantile(0.99) as f64),
                },
            });
        }
    }
    let faults = scn
        .faults
        .iter()
        .map(|f| {
            let regions: Vec<&str> = (0..nr)
                .filter(|&r| f.regions[r])
                .map(|r| topo.regions[r].as_str())
                .collect();
            let service = f.service.map(|s| topo.services[s.index()].name.as_str()).unwrap_or("-");
            FaultSummary {
                name: f.name.clone(),
                kind: format!("{:?}", f.kind).to_lowercase(),
                target: format!("{service}@{}", regions.join("+")),
            }
        })
        .collect();
    let blast_radius = (!scn.faults.is_empty()).then(|| blast_summary(topo, scn, agg));
    let guardrails = guardrail_summaries(scn, agg);
    Summary {
        experiment: scn.name.clone(),
        scenario: scn.path.display().to_string(),
        guardrails,
        command: format!(
            "chaoscal run {} --seed {} --replications {n}",
            scn.path.display(),
            agg.seed
        ),
        blast_radius,
        owner: scn.owner.clone(),
        hypothesis: scn.hypothesis.clone(),
        topology: topo.name.clone(),
        seed: agg.seed,
        replications: n,
        duration_s: scn.duration_ns as f64 / NS_PER_S,
        warmup_s: scn.warmup_ns as f64 / NS_PER_S,
        faults,
        slos,
        flows,
        services,
        money: Money {
            failed_value: agg.flows.iter().map(|f| f.failed_cents).sum::<u64>() as f64 / 100.0,
            wrong_outputs: agg.flows.iter().map(|f| f.wrong_outputs).sum(),
            wrong_output_loss: agg.flows.iter().map(|f| f.wrong_output_cents).sum::<u64>() as f64 / 100.0,
            wrong_caught: agg.wrong_caught,
            duplicate_charges: agg.sites.iter().map(|s| s.duplicate_charges).sum(),
            duplicate_charge_value: agg.sites.iter().map(|s| s.duplicate_charge_cents).sum::<u64>() as f64 / 100.0,
        },
        calls,
        queues,
        events: agg.events,
    }
}

fn guardrail_summaries(scn: &Scenario, agg: &Aggregate) -> Vec<GuardrailSummary> {
    let n = agg.replications();
    scn.guardrails
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let mut detect = Vec::new();
            let mut mitigate = Vec::new();
            let mut budget = Vec::new();
            let mut shed = 0;
            for row in &agg.rows {
                let Some(o) = row.guardrails.get(i) else { continue };
                // Measured from the first fault start (from the run's start without faults).
                let origin = row.fault_windows.iter().map(|w| w.start_ns).min().unwrap_or(0);
                if let Some(f) = o.fired_ns {
                    detect.push(f.saturating_sub(origin) as f64 / NS_PER_S);
                }
                if let Some(m) = o.mitigated_ns {
                    mitigate.push(m.saturating_sub(origin) as f64 / NS_PER_S);
                }
                budget.push(o.budget_before);
                shed += o.shed;
            }
            let fired = detect.len() as u64;
            let (lo, hi) = wilson95(fired, n);
            let action = match &g.action {
                crate::model::Action::FailoverService { .. } | crate::model::Action::FailoverRegion { .. } => {
                    "failover"
                }
                crate::model::Action::KillSwitch { .. } => "kill_switch",
                crate::model::Action::Shed { .. } => "shed",
                crate::model::Action::Scale { .. } => "scale",
                crate::model::Action::Rollback => "rollback",
            };
            GuardrailSummary {
                name: g.name.clone(),
                action: action.to_string(),
                fired,
                probability: r9(if n == 0 { 0.0 } else { fired as f64 / n as f64 }),
                ci95: [r9(lo), r9(hi)],
                time_to_detect_s: (!detect.is_empty()).then(|| Spread::of(&detect)),
                time_to_mitigate_s: (!mitigate.is_empty()).then(|| Spread::of(&mitigate)),
                budget_burned_before_mitigation: Spread::of(&budget),
                shed_requests: shed,
            }
        })
        .collect()
}

fn blast_summary(topo: &Topology, scn: &Scenario, agg: &Aggregate) -> BlastSummary {
    let n = agg.replications();
    let values = |f: &dyn Fn(&crate::observe::BlastOutcome) -> f64| -> Vec<f64> {
        agg.rows.iter().map(|r| f(&r.blast)).collect()
    };
    let max = agg.rows.iter().map(|r| r.blast.services).max().unwrap_or(0);
    let histogram = (0..=max as u64)
        .map(|k| {
            [
                k,
                agg.rows.iter().filter(|r| r.blast.services as u64 == k).count() as u64,
            ]
        })
        .collect();
    let pairs = pair_shares(topo, &agg.degraded, n);
    let (lo, hi) = wilson95(agg.breaches, n);
    let counterfactual = counterfactual_summary(topo, agg);
    BlastSummary {
        counterfactual,
        services: Spread::of(&values(&|b| b.services as f64)),
        regions: Spread::of(&values(&|b| b.regions as f64)),
        share_affected: Spread::of(&values(&|b| b.share_affected)),
        containment_breach_probability: r9(agg.breaches as f64 / n.max(1) as f64),
        breach_ci95: [r9(lo), r9(hi)],
        declared: Declared {
            max_services: scn.blast_radius.as_ref().and_then(|b| b.max_services),
            max_regions: scn.blast_radius.as_ref().and_then(|b| b.max_regions),
        },
        static_services: crate::observe::static_blast_radius(topo, scn)
            .into_iter()
            .map(|s| topo.services[s].name.clone())
            .collect(),
        histogram,
        pairs,
        attributed_failures: scn
            .faults
            .iter()
            .zip(&agg.attributed)
            .map(|(f, a)| Attribution {
                fault: f.name.clone(),
                failed_requests: *a,
            })
            .collect(),
    }
}

/// The comparison with the twins, over the replications that had one.
fn counterfactual_summary(topo: &Topology, agg: &Aggregate) -> Option<CounterfactualSummary> {
    let twins: Vec<&crate::observe::TwinOutcome> = agg.rows.iter().filter_map(|r| r.twin.as_ref()).collect();
    if twins.is_empty() {
        return None;
    }
    let n = twins.len() as u64;
    let nr = topo.regions.len();
    let spread =
        |f: &dyn Fn(&crate::observe::TwinOutcome) -> f64| Spread::of(&twins.iter().map(|t| f(t)).collect::<Vec<_>>());
    let mut degraded = vec![0u64; topo.services.len() * nr];
    for t in &twins {
        for &g in &t.pairs {
            degraded[g] += 1;
        }
    }
    let breaches = twins.iter().filter(|t| t.breach).count() as u64;
    let (lo, hi) = wilson95(breaches, n);
    Some(CounterfactualSummary {
        replications: n,
        excess_failures: spread(&|t| t.excess_failed_total() as f64),
        flows: topo
            .flows
            .iter()
            .enumerate()
            .map(|(f, flow)| FlowExcess {
                flow: flow.name.clone(),
                excess_failures: spread(&|t| t.excess_failed[f] as f64),
                excess_latency_p99_ms: spread(&|t| ms(t.excess_p99_ns[f] as f64)),
            })
            .collect(),
        services: spread(&|t| t.services as f64),
        regions: spread(&|t| t.regions as f64),
        containment_breach_probability: r9(breaches as f64 / n as f64),
        breach_ci95: [r9(lo), r9(hi)],
        pairs: pair_shares(topo, &degraded, n),
    })
}

/// Per service × region where it runs: the share of `n` replications in which it was degraded.
fn pair_shares(topo: &Topology, degraded: &[u64], n: u64) -> Vec<PairSummary> {
    let nr = topo.regions.len();
    let mut pairs = Vec::new();
    for (si, s) in topo.services.iter().enumerate() {
        for r in 0..nr {
            if s.present[r] {
                pairs.push(PairSummary {
                    service: s.name.clone(),
                    region: topo.regions[r].clone(),
                    degraded_share: r9(degraded[si * nr + r] as f64 / n.max(1) as f64),
                });
            }
        }
    }
    pairs
}

/// Writes `summary.json`, `replications.csv` and `services.csv` into `dir`.
pub fn write_results(dir: &Path, topo: &Topology, scn: &Scenario, agg: &Aggregate) -> std::io::Result<Summary> {
    std::fs::create_dir_all(dir)?;
    let summary = summarize(topo, scn, agg);
    let mut json = serde_json::to_string_pretty(&summary).map_err(std::io::Error::other)?;
    json.push('\n');
    std::fs::write(dir.join("summary.json"), json)?;
    write_replications(&dir.join("replications.csv"), topo, scn, agg)?;
    write_services(&dir.join("services.csv"), &summary)?;
    write_transitions(&dir.join("breakers.csv"), topo, agg)?;
    write_fault_timeline(&dir.join("faults.csv"), scn, agg)?;
    write_timeseries(&dir.join("timeseries.csv"), topo, scn, agg)?;
    write_latency_cdf(&dir.join("latency_cdf.csv"), topo, scn, agg)?;
    Ok(summary)
}

fn write_replications(path: &Path, topo: &Topology, scn: &Scenario, agg: &Aggregate) -> std::io::Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    let mut header = vec!["replication".to_string(), "events".to_string()];
    for f in &topo.flows {
        for col in ["requests", "failed", "latency_p99_ms"] {
            header.push(format!("{}.{col}", f.name));
        }
    }
    for s in &scn.slos {
        for col in ["attainment", "worst_window", "violated", "budget_consumed"] {
            header.push(format!("{}.{col}", s.name));
        }
    }
    for f in &scn.faults {
        header.push(format!("{}.start_s", f.name));
        header.push(format!("{}.end_s", f.name));
    }
    header.push("failed_value".to_string());
    header.push("breaker_opens".to_string());
    header.push("duplicate_charges".to_string());
    header.push("wrong_outputs".to_string());
    for col in [
        "blast.services",
        "blast.regions",
        "blast.share_affected",
        "blast.breach",
    ] {
        header.push(col.to_string());
    }
    for g in &scn.guardrails {
        for col in ["fired_s", "mitigated_s", "budget_before"] {
            header.push(format!("{}.{col}", g.name));
        }
    }
    let twins = agg.rows.iter().any(|r| r.twin.is_some());
    if twins {
        for f in &topo.flows {
            header.push(format!("twin.{}.excess_failed", f.name));
            header.push(format!("twin.{}.excess_p99_ms", f.name));
        }
        for col in ["twin.services", "twin.regions", "twin.breach"] {
            header.push(col.to_string());
        }
    }
    w.write_record(&header)?;
    for row in &agg.rows {
        let mut rec = vec![row.index.to_string(), row.events.to_string()];
        for (req, failed, p99) in &row.flows {
            rec.push(req.to_string());
            rec.push(failed.to_string());
            rec.push(ms(*p99 as f64).to_string());
        }
        for o in &row.slos {
            rec.push(r9(o.attainment).to_string());
            rec.push(o.worst_window.map(|w| r9(w).to_string()).unwrap_or_default());
            rec.push((o.violated as u8).to_string());
            rec.push(r9(o.budget_consumed).to_string());
        }
        // The first window of each fault (every window is in faults.csv).
        for (i, _) in scn.faults.iter().enumerate() {
            match row.fault_windows.iter().find(|w| w.fault as usize == i) {
                Some(fw) => {
                    rec.push((fw.start_ns as f64 / NS_PER_S).to_string());
                    rec.push(fw.end_ns.map(|e| (e as f64 / NS_PER_S).to_string()).unwrap_or_default());
                }
                None => {
                    rec.push(String::new());
                    rec.push(String::new());
                }
            }
        }
        rec.push((row.failed_cents as f64 / 100.0).to_string());
        rec.push(row.breaker_opens.to_string());
        rec.push(row.duplicate_charges.to_string());
        rec.push(row.wrong_outputs.to_string());
        rec.push(row.blast.services.to_string());
        rec.push(row.blast.regions.to_string());
        rec.push(r9(row.blast.share_affected).to_string());
        rec.push((row.blast.breach as u8).to_string());
        for i in 0..scn.guardrails.len() {
            let o = row.guardrails.get(i).copied().unwrap_or_default();
            let secs = |t: Option<u64>| t.map(|t| (t as f64 / NS_PER_S).to_string()).unwrap_or_default();
            rec.push(secs(o.fired_ns));
            rec.push(secs(o.mitigated_ns));
            rec.push(r9(o.budget_before).to_string());
        }
        if twins {
            match &row.twin {
                Some(t) => {
                    for (f, p99) in t.excess_failed.iter().zip(&t.excess_p99_ns) {
                        rec.push(f.to_string());
                        rec.push(ms(*p99 as f64).to_string());
                    }
                    rec.push(t.services.to_string());
                    rec.push(t.regions.to_string());
                    rec.push((t.breach as u8).to_string());
                }
                None => rec.extend(std::iter::repeat_n(String::new(), 2 * topo.flows.len() + 3)),
            }
        }
        w.write_record(&rec)?;
    }
    w.flush()
}

/// Every fault window of every replication.
fn write_fault_timeline(path: &Path, scn: &Scenario, agg: &Aggregate) -> std::io::Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    w.write_record(["replication", "fault", "unit", "start_s", "end_s"])?;
    for row in &agg.rows {
        for fw in &row.fault_windows {
            w.write_record([
                row.index.to_string(),
                scn.faults[fw.fault as usize].name.clone(),
                fw.unit.to_string(),
                (fw.start_ns as f64 / NS_PER_S).to_string(),
                fw.end_ns.map(|e| (e as f64 / NS_PER_S).to_string()).unwrap_or_default(),
            ])?;
        }
    }
    w.flush()
}

/// The q-quantile of values by exact rank (⌈q·n⌉-th smallest).
fn rank_quantile(sorted: &[f32], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64
}

/// Per time bucket and flow: quantile bands across replications.
fn write_timeseries(path: &Path, topo: &Topology, scn: &Scenario, agg: &Aggregate) -> std::io::Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    let mut header = vec!["time_s".to_string(), "flow".to_string()];
    for m in ["requests_per_s", "error_rate", "latency_p50_ms", "latency_p99_ms"] {
        for q in ["p10", "p50", "p90"] {
            header.push(format!("{m}_{q}"));
        }
    }
    header.push("fault_active_share".to_string());
    header.push("breaker_opens".to_string());
    header.push("guardrail_actions".to_string());
    w.write_record(&header)?;
    let nf = topo.flows.len();
    let nb = agg.rows.first().map(|r| r.fault_active.len()).unwrap_or(0);
    let n = agg.rows.len().max(1) as f64;
    let mut values: Vec<f32> = Vec::with_capacity(agg.rows.len());
    for b in 0..nb {
        let time_s = (scn.warmup_ns + b as u64 * crate::observe::BUCKET_NS) as f64 / NS_PER_S;
        let active = agg.rows.iter().filter(|r| r.fault_active[b]).count() as f64 / n;
        let opens = agg.rows.iter().map(|r| r.breaker_opens_at[b] as f64).sum::<f64>() / n;
        // Guardrail actions taking effect in the bucket, per replication.
        let b0 = scn.warmup_ns + b as u64 * crate::observe::BUCKET_NS;
        let b1 = b0 + crate::observe::BUCKET_NS;
        let actions = agg
            .rows
            .iter()
            .flat_map(|r| r.guardrails.iter())
            .filter(|g| g.mitigated_ns.is_some_and(|t| t >= b0 && t < b1))
            .count() as f64
            / n;
        for (f, flow) in topo.flows.iter().enumerate() {
            let mut rec = vec![time_s.to_string(), flow.name.clone()];
            for m in 0..4 {
                values.clear();
                values.extend(agg.rows.iter().map(|r| r.series[b * nf + f][m]));
                values.sort_by(f32::total_cmp);
                for q in [0.1, 0.5, 0.9] {
                    // f32's own shortest form (164.4, not 164.399994).
                    rec.push((rank_quantile(&values, q) as f32).to_string());
                }
            }
            rec.push(r9(active).to_string());
            rec.push(r9(opens).to_string());
            rec.push(r9(actions).to_string());
            w.write_record(&rec)?;
        }
    }
    w.flush()
}

/// Latency CDFs per flow: baseline, during the faults, and all requests.
fn write_latency_cdf(path: &Path, topo: &Topology, scn: &Scenario, agg: &Aggregate) -> std::io::Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    w.write_record(["flow", "phase", "latency_ms", "cumulative"])?;
    let mut probs: Vec<f64> = vec![0.001, 0.005];
    probs.extend((1..100).map(|k| k as f64 / 100.0));
    probs.extend([0.995, 0.999, 0.9999, 1.0]);
    for (f, flow) in topo.flows.iter().enumerate() {
        let s = &agg.flows[f];
        let mut phases = Vec::new();
        if !scn.faults.is_empty() {
            phases.push(("baseline", &s.latency_baseline));
            phases.push(("fault", &s.latency_fault));
        }
        phases.push(("all", &s.latency));
        for (phase, h) in phases {
            if h.count() == 0 {
                continue;
            }
            for &p in &probs {
                w.write_record([
                    flow.name.clone(),
                    phase.to_string(),
                    ms(h.quantile(p) as f64).to_string(),
                    p.to_string(),
                ])?;
            }
        }
    }
    w.flush()
}

/// Circuit-breaker state changes of every replication (up to 4096 each).
fn write_transitions(path: &Path, topo: &Topology, agg: &Aggregate) -> std::io::Result<()> {
    let mut sites = Vec::new();
    for s in &topo.services {
        for c in &s.calls {
            let to = match c.to {
                CallTarget::Service(t) => topo.services[t.index()].name.as_str(),
                CallTarget::Queue(q) => topo.queues[q.index()].name.as_str(),
            };
            sites.push((s.name.as_str(), to));
        }
    }
    let mut w = csv::Writer::from_path(path)?;
    w.write_record(["replication", "time_s", "caller", "to", "caller_replica", "state"])?;
    for row in &agg.rows {
        for t in &row.transitions {
            let (caller, to) = sites[t.site as usize];
            let state = match t.to {
                BreakerPhase::Closed => "closed",
                BreakerPhase::Open => "open",
                BreakerPhase::HalfOpen => "half_open",
            };
            w.write_record([
                row.index.to_string(),
                (t.time_ns as f64 / NS_PER_S).to_string(),
                caller.to_string(),
                to.to_string(),
                t.replica.to_string(),
                state.to_string(),
            ])?;
        }
    }
    w.flush()
}

fn write_services(path: &Path, summary: &Summary) -> std::io::Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    w.write_record([
        "service",
        "region",
        "requests",
        "rejected",
        "errors",
        "timeouts",
        "rate_limited",
        "expired",
        "ejections",
        "utilization",
        "latency_mean_ms",
        "latency_p50_ms",
        "latency_p99_ms",
        "queue_wait_mean_ms",
        "queue_wait_p99_ms",
    ])?;
    for s in &summary.services {
        w.write_record([
            s.service.clone(),
            s.region.clone(),
            s.requests.to_string(),
            s.rejected.to_string(),
            s.errors.to_string(),
            s.timeouts.to_string(),
            s.rate_limited.to_string(),
            s.expired.to_string(),
            s.ejections.to_string(),
            s.utilization.to_string(),
            s.latency_ms.mean.to_string(),
            s.latency_ms.p50.to_string(),
            s.latency_ms.p99.to_string(),
            s.queue_wait_ms.mean.to_string(),
            s.queue_wait_ms.p99.to_string(),
        ])?;
    }
    w.flush()
}

/// The console summary of one scenario.
/// Whether the console gets colour: stdout is a terminal and `NO_COLOR` is unset.
fn colour_enabled() -> bool {
    use std::io::IsTerminal;
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// Wraps text in an ANSI colour when the console takes colour.
fn paint(text: &str, code: &str) -> String {
    if colour_enabled() {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

pub fn print_summary(out: &mut dyn Write, s: &Summary) -> std::io::Result<()> {
    writeln!(
        out,
        "== {} ({} replications, seed {})",
        s.experiment, s.replications, s.seed
    )?;
    if !s.hypothesis.is_empty() {
        writeln!(out, "   hypothesis: {}", s.hypothesis)?;
    }
    if !s.slos.is_empty() {
        writeln!(
            out,
            "   {:<32} {:>10} {:>22}  verdict",
            "SLO", "P(violate)", "95% interval"
        )?;
        for slo in &s.slos {
            let (verdict, colour) = if slo.ci95[0] > 0.5 {
                ("usually violated", "31")
            } else if slo.violations == 0 {
                ("held in every replication", "32")
            } else {
                ("at risk", "33")
            };
            let verdict = paint(verdict, colour);
            writeln!(
                out,
                "   {:<32} {:>10.4} {:>22}  {verdict}",
                slo.name,
                slo.probability,
                format!("[{:.4}, {:.4}]", slo.ci95[0], slo.ci95[1])
            )?;
        }
    }
    writeln!(
        out,
        "   {:<16} {:>12} {:>12} {:>10} {:>10} {:>10}",
        "flow", "requests", "availability", "p50 ms", "p99 ms", "max ms"
    )?;
    for f in &s.flows {
        writeln!(
            out,
            "   {:<16} {:>12} {:>12.6} {:>10.1} {:>10.1} {:>10.1}",
            f.name, f.requests, f.availability, f.latency_ms.p50, f.latency_ms.p99, f.latency_ms.max
        )?;
    }
    if let Some(b) = &s.blast_radius {
        let declared = match (b.declared.max_services, b.declared.max_regions) {
            (Some(ms), Some(mr)) => format!(" (declared: {ms} services, {mr} regions)"),
            (Some(ms), None) => format!(" (declared: {ms} services)"),
            (None, Some(mr)) => format!(" (declared: {mr} regions)"),
            (None, None) => String::new(),
        };
        writeln!(
            out,
            "   blast radius: {:.1} services (p90 {}, max {}), {:.1} regions{declared}; static radius {} services",
            b.services.mean,
            b.services.p90,
            b.services.max,
            b.regions.mean,
            b.static_services.len()
        )?;
        writeln!(
            out,
            "   containment breached in {:.1}% of replications [{:.1}%, {:.1}%]; {:.2}% of requests in the fault window affected",
            100.0 * b.containment_breach_probability,
            100.0 * b.breach_ci95[0],
            100.0 * b.breach_ci95[1],
            100.0 * b.share_affected.mean
        )?;
        if let Some(c) = &b.counterfactual {
            writeln!(
                out,
                "   against the same replications without the faults: {:+.0} failed requests per replication (p90 {:+.0}), {:.1} services degraded, containment breached in {:.1}%",
                c.excess_failures.mean,
                c.excess_failures.p90,
                c.services.mean,
                100.0 * c.containment_breach_probability
            )?;
        }
        let attributed: Vec<String> = b
            .attributed_failures
            .iter()
            .map(|a| {
                format!(
                    "{} {:.1}",
                    a.fault,
                    a.failed_requests as f64 / s.replications.max(1) as f64
                )
            })
            .collect();
        writeln!(
            out,
            "   failed requests whose path met a fault, per replication: {}",
            attributed.join(", ")
        )?;
    }
    if s.money.wrong_outputs > 0 || s.money.wrong_caught > 0 {
        writeln!(
            out,
            "   AI: {} wrong outputs reached customers ({:.2} lost), {} caught by validation",
            s.money.wrong_outputs, s.money.wrong_output_loss, s.money.wrong_caught
        )?;
    }
    for g in &s.guardrails {
        if g.fired == 0 {
            writeln!(out, "   guardrail \"{}\" ({}): never fired", g.name, g.action)?;
        } else {
            let median = |s: &Option<Spread>| s.as_ref().map_or("-".to_string(), |s| format!("{:.0} s", s.p50));
            writeln!(
                out,
                "   guardrail \"{}\" ({}): fired in {:.0}% of replications; detected after {}, mitigated after {} (median); {:.2} of the error budget burned first",
                g.name,
                g.action,
                100.0 * g.probability,
                median(&g.time_to_detect_s),
                median(&g.time_to_mitigate_s),
                g.budget_burned_before_mitigation.p50
            )?;
        }
    }
    let opens: u64 = s.calls.iter().map(|c| c.breaker_opens).sum();
    let retries: u64 = s.calls.iter().map(|c| c.retries).sum();
    if opens > 0 || retries > 0 {
        writeln!(out, "   resilience: {retries} retries, {opens} breaker openings")?;
    }
    for q in &s.queues {
        writeln!(
            out,
            "   queue {}@{}: {} published, {} dead-lettered, backlog mean {:.1} max {}, age p99 {:.1} ms",
            q.queue, q.region, q.published, q.dead_lettered, q.backlog.mean, q.backlog.max, q.age_ms.p99
        )?;
    }
    write!(out, "   money at risk: {:.2} in failed orders", s.money.failed_value)?;
    if s.money.duplicate_charges > 0 {
        write!(
            out,
            ", {} duplicate charges ({:.2})",
            s.money.duplicate_charges, s.money.duplicate_charge_value
        )?;
    }
    writeln!(out)
}

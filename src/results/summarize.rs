//! [`Summary::of`]: the figures of `summary.json`, computed from a run's
//! [`Aggregate`] and the model it ran (names, order, declared limits).

use super::summary::{
    Attribution, Backlog, BlastSummary, CallSummary, CounterfactualSummary, Declared, FaultSummary, FlowExcess,
    FlowSummary, GuardrailSummary, LatencyMs, Money, PairSummary, QueueSummary, RolloutSummary, ServiceLatencyMs,
    ServiceSummary, SloSummary, Spread, Summary, WaitMs,
};
use super::{ms, r9};
use crate::model::{Action, CallTarget, NS_PER_S, Scenario, SloKind, Topology};
use crate::montecarlo::{Aggregate, wilson95};
use crate::observe::{BlastOutcome, Histogram, TwinOutcome};
use crate::sim::Withdrawal;

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

impl Spread {
    /// Distribution of one figure over replications (sorted copy; exact ranks).
    pub fn of(values: &[f64]) -> Self {
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
            sd: Some(r9(sd)),
            min: v.first().map(|x| r9(*x)).unwrap_or(0.0),
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            max: q(1.0),
        }
    }
}

impl Summary {
    /// The summary of a run of `scn` on `topo`.
    pub fn of(topo: &Topology, scn: &Scenario, agg: &Aggregate) -> Summary {
        let n = agg.replications();
        Summary {
            experiment: scn.name.clone(),
            scenario: scn.path.display().to_string(),
            command: format!(
                "chaoscal run {} --seed {} --replications {n}",
                scn.path.display(),
                agg.seed
            ),
            owner: scn.owner.clone(),
            hypothesis: scn.hypothesis.clone(),
            topology: topo.name.clone(),
            seed: agg.seed,
            replications: n,
            duration_s: scn.duration_ns as f64 / NS_PER_S,
            warmup_s: scn.warmup_ns as f64 / NS_PER_S,
            faults: fault_summaries(topo, scn),
            slos: slo_summaries(topo, scn, agg),
            guardrails: guardrail_summaries(scn, agg),
            rollout: rollout_summary(topo, scn, agg),
            blast_radius: scn.has_change().then(|| blast_summary(topo, scn, agg)),
            flows: flow_summaries(topo, agg),
            services: service_summaries(topo, agg),
            calls: call_summaries(topo, agg),
            queues: queue_summaries(topo, scn, agg),
            money: money(agg),
            events: agg.events,
        }
    }
}

fn slo_summaries(topo: &Topology, scn: &Scenario, agg: &Aggregate) -> Vec<SloSummary> {
    let n = agg.replications();
    scn.slos
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
                attainment: Some(Spread::of(&att)),
                budget_consumed: Some(Spread::of(&budget)),
                threshold_ms: s.threshold_ns.map(|t| ms(t as f64)),
                max_violation_probability: scn
                    .expect
                    .max_violation_probability
                    .iter()
                    .find(|(name, _)| *name == s.name)
                    .map(|(_, p)| *p),
            }
        })
        .collect()
}

fn flow_summaries(topo: &Topology, agg: &Aggregate) -> Vec<FlowSummary> {
    topo.flows
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
        .collect()
}

/// Per service × region where it runs.
fn service_summaries(topo: &Topology, agg: &Aggregate) -> Vec<ServiceSummary> {
    let nr = topo.regions.len();
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
    services
}

/// The name of what a call site calls: a service or a queue.
pub(crate) fn callee(topo: &Topology, to: CallTarget) -> &str {
    match to {
        CallTarget::Service(t) => &topo.services[t.index()].name,
        CallTarget::Queue(q) => &topo.queues[q.index()].name,
    }
}

/// Per call site, in the topology's order (services, then their calls).
fn call_summaries(topo: &Topology, agg: &Aggregate) -> Vec<CallSummary> {
    let reps = agg.replications().max(1) as f64;
    let sites = topo.services.iter().flat_map(|s| s.calls.iter().map(move |c| (s, c)));
    sites
        .zip(&agg.sites)
        .map(|((s, c), x)| CallSummary {
            caller: s.name.clone(),
            to: callee(topo, c.to).to_string(),
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
        })
        .collect()
}

/// Per queue × region where it runs.
fn queue_summaries(topo: &Topology, scn: &Scenario, agg: &Aggregate) -> Vec<QueueSummary> {
    let nr = topo.regions.len();
    let reps = agg.replications().max(1) as f64;
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
    queues
}

fn fault_summaries(topo: &Topology, scn: &Scenario) -> Vec<FaultSummary> {
    let nr = topo.regions.len();
    scn.faults
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
        .collect()
}

fn money(agg: &Aggregate) -> Money {
    let cents = |c: u64| c as f64 / 100.0;
    Money {
        failed_value: Some(cents(agg.flows.iter().map(|f| f.failed_cents).sum())),
        wrong_outputs: Some(agg.flows.iter().map(|f| f.wrong_outputs).sum()),
        wrong_output_loss: Some(cents(agg.flows.iter().map(|f| f.wrong_output_cents).sum())),
        wrong_caught: Some(agg.wrong_caught),
        duplicate_charges: Some(agg.sites.iter().map(|s| s.duplicate_charges).sum()),
        duplicate_charge_value: Some(cents(agg.sites.iter().map(|s| s.duplicate_charge_cents).sum())),
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
            let mut firings = Vec::new();
            let mut mitigated_s = Vec::new();
            for row in &agg.rows {
                let Some(o) = row.guardrails.get(i) else { continue };
                // Measured from the first fault start or the rollout's start
                // (from the run's start without either).
                let rollout_start = scn.rollout.as_ref().map(|r| r.start_ns);
                let origin = (row.fault_windows.iter().map(|w| w.start_ns))
                    .chain(rollout_start)
                    .min()
                    .unwrap_or(0);
                firings.push(o.firings as f64);
                mitigated_s.push(o.mitigated_total_ns as f64 / NS_PER_S);
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
                Action::FailoverService { .. } | Action::FailoverRegion { .. } => "failover",
                Action::KillSwitch { .. } => "kill_switch",
                Action::Shed { .. } => "shed",
                Action::Scale { .. } => "scale",
                Action::Rollback => "rollback",
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
                firings: Some(Spread::of(&firings)),
                time_mitigated_s: Some(Spread::of(&mitigated_s)),
            }
        })
        .collect()
}

/// What the rollout did, over the replications (with a `[rollout]`).
fn rollout_summary(topo: &Topology, scn: &Scenario, agg: &Aggregate) -> Option<RolloutSummary> {
    let ro = scn.rollout.as_ref()?;
    let n = agg.replications();
    let outcomes: Vec<_> = agg.rows.iter().filter_map(|r| r.rollout.as_ref()).collect();
    let count = |f: &dyn Fn(&crate::sim::RolloutOutcome) -> bool| outcomes.iter().filter(|o| f(o)).count() as u64;
    let reached = count(&|o| o.reached_full_ns.is_some());
    let (lo, hi) = wilson95(reached, n);
    let withdrawn: Vec<f64> = (outcomes.iter())
        .filter_map(|o| o.rolled_back_ns)
        .map(|t| t.saturating_sub(ro.start_ns) as f64 / NS_PER_S)
        .collect();
    let by = |w: Withdrawal| count(&|o| o.rolled_back_by == Some(w));
    let spread = |f: &dyn Fn(&crate::sim::RolloutOutcome) -> u64| {
        Spread::of(&outcomes.iter().map(|o| f(o) as f64).collect::<Vec<_>>())
    };
    Some(RolloutSummary {
        service: topo.services[ro.service.index()].name.clone(),
        start_s: ro.start_ns as f64 / NS_PER_S,
        reached_full: reached,
        probability: r9(if n == 0 { 0.0 } else { reached as f64 / n as f64 }),
        ci95: [r9(lo), r9(hi)],
        rolled_back: withdrawn.len() as u64,
        rolled_back_by_analysis: by(Withdrawal::Analysis),
        rolled_back_by_guardrail: by(Withdrawal::Guardrail),
        rolled_back_s: (!withdrawn.is_empty()).then(|| Spread::of(&withdrawn)),
        paused: count(&|o| o.paused_ns.is_some()),
        exposed_requests: spread(&|o| o.exposed_requests),
        exposed_failed: spread(&|o| o.exposed_failed),
    })
}

fn blast_summary(topo: &Topology, scn: &Scenario, agg: &Aggregate) -> BlastSummary {
    let n = agg.replications();
    let values = |f: &dyn Fn(&BlastOutcome) -> f64| -> Vec<f64> { agg.rows.iter().map(|r| f(&r.blast)).collect() };
    let max = agg.rows.iter().map(|r| r.blast.services).max().unwrap_or(0);
    let histogram = (0..=max as u64)
        .map(|k| {
            [
                k,
                agg.rows.iter().filter(|r| r.blast.services as u64 == k).count() as u64,
            ]
        })
        .collect();
    let (lo, hi) = wilson95(agg.breaches, n);
    BlastSummary {
        services: Spread::of(&values(&|b| b.services as f64)),
        regions: Spread::of(&values(&|b| b.regions as f64)),
        share_affected: Spread::of(&values(&|b| b.share_affected)),
        containment_breach_probability: r9(agg.breaches as f64 / n.max(1) as f64),
        breach_ci95: [r9(lo), r9(hi)],
        breach_count: Some(agg.breaches),
        declared: Declared {
            max_services: scn.blast_radius.as_ref().and_then(|b| b.max_services).map(u64::from),
            max_regions: scn.blast_radius.as_ref().and_then(|b| b.max_regions).map(u64::from),
        },
        static_services: crate::observe::static_blast_radius(topo, scn)
            .into_iter()
            .map(|s| topo.services[s].name.clone())
            .collect(),
        histogram,
        pairs: pair_shares(topo, &agg.degraded, n),
        attributed_failures: scn
            .faults
            .iter()
            .zip(&agg.attributed)
            .map(|(f, a)| Attribution {
                fault: f.name.clone(),
                failed_requests: *a,
            })
            .collect(),
        counterfactual: counterfactual_summary(topo, agg),
    }
}

/// The comparison with the twins, over the replications that had one.
fn counterfactual_summary(topo: &Topology, agg: &Aggregate) -> Option<CounterfactualSummary> {
    let twins: Vec<&TwinOutcome> = agg.rows.iter().filter_map(|r| r.twin.as_ref()).collect();
    if twins.is_empty() {
        return None;
    }
    let n = twins.len() as u64;
    let nr = topo.regions.len();
    let spread = |f: &dyn Fn(&TwinOutcome) -> f64| Spread::of(&twins.iter().map(|t| f(t)).collect::<Vec<_>>());
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

//! `summary.json`'s `uncertainty[]`: each uncertain input's draws and, per
//! SLO and for containment, how much the outcome hangs on it
//! ([`crate::uncertain::sensitivity`]; the estimators are documented in
//! `docs/uncertainty.md`).

use super::r9;
use super::summary::{Crossing, CurveBin, SensitivitySummary, Spread, UncertainSummary};
use crate::model::Scenario;
use crate::montecarlo::{Aggregate, ReplicationRow, wilson95};
use crate::uncertain::sensitivity::{self, Bin};

/// The limit a violation curve is held against when `[expect]` sets none
/// (`sweep` holds its points against the same).
pub const DEFAULT_LIMIT: f64 = 0.05;

/// One outcome per replication: its continuous measure and whether it failed.
struct Outcome {
    name: String,
    kind: &'static str,
    measure: Vec<f64>,
    failed: Vec<bool>,
    limit: f64,
}

/// The outcomes sensitivity is measured for: every SLO (its attainment as
/// judged: the worse of the horizon's and the worst window's), then
/// containment when the scenario has faults and a declared radius (the
/// headroom: declared minus degraded, the smaller of services and regions).
fn outcomes(scn: &Scenario, rows: &[&ReplicationRow]) -> Vec<Outcome> {
    let mut out: Vec<Outcome> = scn
        .slos
        .iter()
        .enumerate()
        .map(|(i, s)| Outcome {
            name: s.name.clone(),
            kind: "slo",
            measure: rows
                .iter()
                .map(|r| r.slos[i].attainment.min(r.slos[i].worst_window.unwrap_or(1.0)))
                .collect(),
            failed: rows.iter().map(|r| r.slos[i].violated).collect(),
            limit: scn
                .expect
                .max_violation_probability
                .iter()
                .find(|(n, _)| *n == s.name)
                .map_or(DEFAULT_LIMIT, |(_, l)| *l),
        })
        .collect();
    let declared = scn
        .blast_radius
        .as_ref()
        .map(|b| (b.max_services, b.max_regions))
        .filter(|(s, r)| s.is_some() || r.is_some());
    if let (false, Some((max_s, max_r))) = (scn.faults.is_empty(), declared) {
        let headroom = |r: &&ReplicationRow| {
            let s = max_s.map_or(f64::INFINITY, |m| m as f64 - r.blast.services as f64);
            let g = max_r.map_or(f64::INFINITY, |m| m as f64 - r.blast.regions as f64);
            s.min(g)
        };
        out.push(Outcome {
            name: "containment_breach".to_string(),
            kind: "containment",
            measure: rows.iter().map(headroom).collect(),
            failed: rows.iter().map(|r| r.blast.breach).collect(),
            limit: scn.expect.max_containment_breach_probability.unwrap_or(DEFAULT_LIMIT),
        });
    }
    out
}

fn curve_bin(b: &Bin) -> CurveBin {
    let (lo, hi) = wilson95(b.violations, b.replications);
    CurveBin {
        from: r9(b.from),
        median: r9(b.median),
        to: r9(b.to),
        replications: b.replications,
        violations: b.violations,
        probability: r9(b.probability()),
        ci95: [r9(lo), r9(hi)],
    }
}

/// `uncertainty[]`, empty when the scenario has no uncertain inputs.
pub(super) fn summaries(scn: &Scenario, agg: &Aggregate) -> Vec<UncertainSummary> {
    let Some(u) = scn.uncertain.as_deref() else {
        return Vec::new();
    };
    // Every row has a value per input (`merge` checks shards for it).
    let rows: Vec<&ReplicationRow> = agg.rows.iter().filter(|r| r.inputs.len() == u.inputs.len()).collect();
    let outcomes = outcomes(scn, &rows);
    u.inputs
        .iter()
        .enumerate()
        .map(|(j, input)| {
            let x: Vec<f64> = rows.iter().map(|r| r.inputs[j]).collect();
            let sensitivity = outcomes
                .iter()
                .map(|o| {
                    let bins = sensitivity::curve(&x, &o.failed);
                    SensitivitySummary {
                        outcome: o.name.clone(),
                        kind: o.kind.to_string(),
                        first_order: sensitivity::first_order(&x, &o.measure).map(r9),
                        rank_correlation: sensitivity::spearman(&x, &o.measure).map(r9),
                        limit: o.limit,
                        crosses_limit: sensitivity::crossing(&bins, o.limit).map(|(v, side)| Crossing {
                            value: r9(v),
                            when: side.word().to_string(),
                        }),
                        curve: bins.iter().map(curve_bin).collect(),
                    }
                })
                .collect();
            UncertainSummary {
                set: input.set.clone(),
                dist: input.written.clone(),
                range: [r9(input.lo), r9(input.hi)],
                drawn: Spread::of(&x),
                sensitivity,
            }
        })
        .collect()
}

//! The CSV files of a run (columns documented in `docs/outputs.md`):
//! `replications.csv`, `services.csv`, `breakers.csv`, `faults.csv`,
//! `timeseries.csv` and `latency_cdf.csv`.

use std::io::Write;
use std::path::Path;

use super::files;
use super::summarize::callee;
use super::summary::Summary;
use super::{ms, r9};
use crate::model::{NS_PER_S, Scenario, Topology};
use crate::montecarlo::{Aggregate, ReplicationRow};
use crate::observe::{BUCKET_NS, BreakerPhase};

type Csv<'a> = csv::Writer<&'a mut dyn Write>;

/// Seconds from nanoseconds, as written in the CSVs.
fn secs(ns: u64) -> String {
    (ns as f64 / NS_PER_S).to_string()
}

/// Writes every CSV file of a run into `dir`.
pub(super) fn write_all(
    dir: &Path,
    topo: &Topology,
    scn: &Scenario,
    agg: &Aggregate,
    summary: &Summary,
) -> std::io::Result<()> {
    files::write_csv(&dir.join("replications.csv"), |w| write_replications(w, topo, scn, agg))?;
    files::write_csv(&dir.join("services.csv"), |w| write_services(w, summary))?;
    files::write_csv(&dir.join("breakers.csv"), |w| write_transitions(w, topo, agg))?;
    files::write_csv(&dir.join("faults.csv"), |w| write_fault_timeline(w, scn, agg))?;
    files::write_csv(&dir.join("timeseries.csv"), |w| write_timeseries(w, topo, scn, agg))?;
    files::write_csv(&dir.join("latency_cdf.csv"), |w| write_latency_cdf(w, topo, scn, agg))
}

/// The header of `replications.csv`.
fn replications_header(topo: &Topology, scn: &Scenario, twins: bool) -> Vec<String> {
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
    for col in [
        "failed_value",
        "breaker_opens",
        "duplicate_charges",
        "wrong_outputs",
        "blast.services",
        "blast.regions",
        "blast.share_affected",
        "blast.breach",
    ] {
        header.push(col.to_string());
    }
    for g in &scn.guardrails {
        for col in [
            "fired_s",
            "mitigated_s",
            "budget_before",
            "firings",
            "mitigated_total_s",
        ] {
            header.push(format!("{}.{col}", g.name));
        }
    }
    if scn.rollout.is_some() {
        for col in [
            "reached_full_s",
            "rolled_back_s",
            "rolled_back_by",
            "paused_s",
            "exposed_requests",
            "exposed_failed",
        ] {
            header.push(format!("rollout.{col}"));
        }
    }
    if twins {
        for f in &topo.flows {
            header.push(format!("twin.{}.excess_failed", f.name));
            header.push(format!("twin.{}.excess_p99_ms", f.name));
        }
        for col in ["twin.services", "twin.regions", "twin.breach"] {
            header.push(col.to_string());
        }
    }
    header
}

/// One row of `replications.csv`.
fn replication_record(row: &ReplicationRow, topo: &Topology, scn: &Scenario, twins: bool) -> Vec<String> {
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
                rec.push(secs(fw.start_ns));
                rec.push(fw.end_ns.map(secs).unwrap_or_default());
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
        rec.push(o.fired_ns.map(secs).unwrap_or_default());
        rec.push(o.mitigated_ns.map(secs).unwrap_or_default());
        rec.push(r9(o.budget_before).to_string());
        rec.push(o.firings.to_string());
        rec.push(secs(o.mitigated_total_ns));
    }
    if let Some(ro) = &scn.rollout {
        // Times from the rollout's start; empty: never.
        let since = |t: Option<u64>| t.map(|t| secs(t.saturating_sub(ro.start_ns))).unwrap_or_default();
        let o = row.rollout.clone().unwrap_or_default();
        rec.push(since(o.reached_full_ns));
        rec.push(since(o.rolled_back_ns));
        rec.push(
            o.rolled_back_by
                .map(|w| super::shard::withdrawal_name(w).to_string())
                .unwrap_or_default(),
        );
        rec.push(since(o.paused_ns));
        rec.push(o.exposed_requests.to_string());
        rec.push(o.exposed_failed.to_string());
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
    rec
}

/// One row per replication.
fn write_replications(w: &mut Csv, topo: &Topology, scn: &Scenario, agg: &Aggregate) -> std::io::Result<()> {
    let twins = agg.rows.iter().any(|r| r.twin.is_some());
    w.write_record(replications_header(topo, scn, twins))?;
    for row in &agg.rows {
        w.write_record(replication_record(row, topo, scn, twins))?;
    }
    Ok(())
}

/// Every fault window of every replication.
fn write_fault_timeline(w: &mut Csv, scn: &Scenario, agg: &Aggregate) -> std::io::Result<()> {
    w.write_record(["replication", "fault", "unit", "start_s", "end_s"])?;
    for row in &agg.rows {
        for fw in &row.fault_windows {
            w.write_record([
                row.index.to_string(),
                scn.faults[fw.fault as usize].name.clone(),
                fw.unit.to_string(),
                secs(fw.start_ns),
                fw.end_ns.map(secs).unwrap_or_default(),
            ])?;
        }
    }
    Ok(())
}

/// The q-quantile of values by exact rank (⌈q·n⌉-th smallest).
fn rank_quantile(sorted: &[f32], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64
}

/// A figure of `timeseries.csv` computed per replication, then banded.
enum Band {
    /// The error rate over the last minute ([`crate::montecarlo::ROLLING_BUCKETS`] buckets).
    RollingErrorRate,
    /// The rollout's weight (percent), averaged over the bucket.
    RolloutWeight,
}

impl Band {
    /// Replication `r`'s figure for bucket `b` and flow `f` (of `nf`).
    fn value(&self, r: &ReplicationRow, scn: &Scenario, b: usize, nf: usize, f: usize) -> f32 {
        match self {
            Band::RollingErrorRate => r.error_rate_rolling.get(b * nf + f).copied().unwrap_or(0.0),
            Band::RolloutWeight => {
                let b0 = scn.warmup_ns + b as u64 * BUCKET_NS;
                let b1 = (b0 + BUCKET_NS).min(scn.duration_ns).max(b0 + 1);
                let log = r.rollout.as_ref().map(|o| o.weights.as_slice()).unwrap_or(&[]);
                mean_weight(log, b0, b1) as f32
            }
        }
    }
}

/// The weight (percent) averaged over `[b0, b1)`, from its log of changes
/// (0 before the first).
fn mean_weight(log: &[(u64, f64)], b0: u64, b1: u64) -> f64 {
    let (mut area, mut w, mut t) = (0.0, 0.0, b0);
    for &(at, x) in log {
        if at >= b1 {
            break;
        }
        if at > b0 {
            area += w * (at - t) as f64;
            t = at;
        }
        w = x;
    }
    area += w * (b1 - t) as f64;
    area / (b1 - b0) as f64
}

/// Per time bucket and flow: quantile bands across replications.
fn write_timeseries(w: &mut Csv, topo: &Topology, scn: &Scenario, agg: &Aggregate) -> std::io::Result<()> {
    let mut header = vec!["time_s".to_string(), "flow".to_string()];
    for m in ["requests_per_s", "error_rate", "latency_p50_ms", "latency_p99_ms"] {
        for q in ["p10", "p50", "p90"] {
            header.push(format!("{m}_{q}"));
        }
    }
    header.push("fault_active_share".to_string());
    header.push("breaker_opens".to_string());
    header.push("guardrail_actions".to_string());
    let mut bands = vec![("error_rate_60s", Band::RollingErrorRate)];
    if scn.rollout.is_some() {
        bands.push(("rollout_weight", Band::RolloutWeight));
    }
    for (m, _) in &bands {
        for q in ["p10", "p50", "p90"] {
            header.push(format!("{m}_{q}"));
        }
    }
    w.write_record(&header)?;
    let nf = topo.flows.len();
    let nb = agg.rows.first().map(|r| r.fault_active.len()).unwrap_or(0);
    let n = agg.rows.len().max(1) as f64;
    let mut values: Vec<f32> = Vec::with_capacity(agg.rows.len());
    for b in 0..nb {
        let time_s = (scn.warmup_ns + b as u64 * BUCKET_NS) as f64 / NS_PER_S;
        let active = agg.rows.iter().filter(|r| r.fault_active[b]).count() as f64 / n;
        let opens = agg.rows.iter().map(|r| r.breaker_opens_at[b] as f64).sum::<f64>() / n;
        // Guardrail actions taking effect in the bucket, per replication.
        let b0 = scn.warmup_ns + b as u64 * BUCKET_NS;
        let b1 = b0 + BUCKET_NS;
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
            for (_, band) in &bands {
                values.clear();
                values.extend(agg.rows.iter().map(|r| band.value(r, scn, b, nf, f)));
                values.sort_by(f32::total_cmp);
                for q in [0.1, 0.5, 0.9] {
                    rec.push((rank_quantile(&values, q) as f32).to_string());
                }
            }
            w.write_record(&rec)?;
        }
    }
    Ok(())
}

/// Latency CDFs per flow: baseline, during the faults, and all requests.
fn write_latency_cdf(w: &mut Csv, topo: &Topology, scn: &Scenario, agg: &Aggregate) -> std::io::Result<()> {
    w.write_record(["flow", "phase", "latency_ms", "cumulative"])?;
    let mut probs: Vec<f64> = vec![0.001, 0.005];
    probs.extend((1..100).map(|k| k as f64 / 100.0));
    probs.extend([0.995, 0.999, 0.9999, 1.0]);
    for (f, flow) in topo.flows.iter().enumerate() {
        let s = &agg.flows[f];
        let mut phases = Vec::new();
        if scn.has_change() {
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
    Ok(())
}

/// Circuit-breaker state changes of every replication (up to 4096 each).
fn write_transitions(w: &mut Csv, topo: &Topology, agg: &Aggregate) -> std::io::Result<()> {
    let sites: Vec<(&str, &str)> = topo
        .services
        .iter()
        .flat_map(|s| s.calls.iter().map(move |c| (s.name.as_str(), callee(topo, c.to))))
        .collect();
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
                secs(t.time_ns),
                caller.to_string(),
                to.to_string(),
                t.replica.to_string(),
                state.to_string(),
            ])?;
        }
    }
    Ok(())
}

/// The `services[]` of `summary.json` as a table.
fn write_services(w: &mut Csv, summary: &Summary) -> std::io::Result<()> {
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
    Ok(())
}

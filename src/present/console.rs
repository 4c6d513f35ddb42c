//! What the terminal shows: the summary of a run (`run`, `merge`) and the
//! report of a regression check (`check`). Colour only when stdout is a
//! terminal and `NO_COLOR` is unset.

use std::fmt::Write as _;
use std::io::Write;

use super::charts::Verdict;
use crate::gate::ExperimentCheck;
use crate::results::Summary;
use crate::results::summary::{BlastSummary, RolloutSummary, Spread};

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

/// The console summary of one scenario, after `run` or `merge`.
pub fn run_summary(out: &mut dyn Write, s: &Summary) -> std::io::Result<()> {
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
            // The report's rule (one rule, so the console and the page never disagree).
            let (verdict, colour) = match Verdict::of(slo) {
                Verdict::Violated => ("usually violated", "31"),
                Verdict::Held => ("held in every replication", "32"),
                Verdict::AtRisk => ("at risk", "33"),
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
        blast_lines(out, b, s.replications)?;
    }
    let m = &s.money;
    let (wrong, caught) = (m.wrong_outputs.unwrap_or(0), m.wrong_caught.unwrap_or(0));
    if wrong > 0 || caught > 0 {
        writeln!(
            out,
            "   AI: {wrong} wrong outputs reached customers ({:.2} lost), {caught} caught by validation",
            m.wrong_output_loss.unwrap_or(0.0)
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
            if let (Some(f), Some(t)) = (&g.firings, &g.time_mitigated_s)
                && f.max > 1.0
            {
                writeln!(
                    out,
                    "     flapping: fired {:.1} times per replication (max {:.0}); mitigated {:.0} s per replication (mean)",
                    f.mean, f.max, t.mean
                )?;
            }
        }
    }
    if let Some(r) = &s.rollout {
        rollout_line(out, r, s.replications)?;
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
    write!(
        out,
        "   money at risk: {:.2} in failed orders",
        m.failed_value.unwrap_or(0.0)
    )?;
    if let Some(d) = m.duplicate_charges.filter(|d| *d > 0) {
        write!(
            out,
            ", {d} duplicate charges ({:.2})",
            m.duplicate_charge_value.unwrap_or(0.0)
        )?;
    }
    writeln!(out)
}

/// What the rollout did: reached 100%, withdrawn (by what, how fast), paused, exposure.
fn rollout_line(out: &mut dyn Write, r: &RolloutSummary, replications: u64) -> std::io::Result<()> {
    write!(
        out,
        "   rollout of {}: reached 100% in {} of {replications} replications [{:.1}%, {:.1}%]",
        r.service,
        r.reached_full,
        100.0 * r.ci95[0],
        100.0 * r.ci95[1]
    )?;
    if r.rolled_back > 0 {
        write!(
            out,
            "; rolled back in {} ({} by analysis, {} by guardrail)",
            r.rolled_back, r.rolled_back_by_analysis, r.rolled_back_by_guardrail
        )?;
        if let Some(t) = &r.rolled_back_s {
            write!(out, " {:.0} s after the start (median)", t.p50)?;
        }
    }
    if r.paused > 0 {
        write!(out, "; paused in {}", r.paused)?;
    }
    writeln!(
        out,
        "; {:.0} requests exposed per replication ({:.0} failed)",
        r.exposed_requests.mean, r.exposed_failed.mean
    )
}

/// The blast radius, its containment and the failures attributed to each fault.
fn blast_lines(out: &mut dyn Write, b: &BlastSummary, replications: u64) -> std::io::Result<()> {
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
                a.failed_requests as f64 / replications.max(1) as f64
            )
        })
        .collect();
    // A rollout without faults attributes nothing: no empty line.
    if !attributed.is_empty() {
        writeln!(
            out,
            "   failed requests whose path met a fault, per replication: {}",
            attributed.join(", ")
        )?;
    }
    Ok(())
}

/// The console report of one experiment's checks.
pub fn check_report(out: &mut String, c: &ExperimentCheck) {
    let _ = writeln!(
        out,
        "== {} ({} replications, seed {}; {})",
        c.experiment, c.replications, c.seed, c.source
    );
    if let Some(b) = &c.baseline {
        let _ = writeln!(out, "   baseline: {b}");
    }
    if c.findings.is_empty() {
        let _ = writeln!(out, "   nothing to check (no [expect] and no baseline)");
    }
    for f in &c.findings {
        let _ = writeln!(out, "   {:<12} {}: {}", f.verdict.label(), f.name, f.observed);
        let _ = writeln!(out, "   {:<12} {}", "", f.message);
    }
}

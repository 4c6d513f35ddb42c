//! `report.html`: one experiment's hypothesis, verdict per SLO, blast
//! radius, charts, tables and the command that reproduces it.

use std::fmt::Write as _;

use super::{esc, figure, int, money, ms, nines, pct, seconds, sparse_table, table, verdict_badge};
use super::{page_end, page_start};
use crate::present::charts::{Chart, Verdict};
use crate::results::saved::Saved;
use crate::results::summary::{CounterfactualSummary, Decision, Summary};

/// `report.html`.
pub(super) fn page(saved: &Saved, charts: &[Chart]) -> String {
    let s = &saved.summary;
    let mut out = String::new();
    page_start(&mut out, &format!("chaoscal · {}", s.experiment));
    let _ = writeln!(out, "<header>\n<h1>{}</h1>", esc(&s.experiment));
    let mut meta = Vec::new();
    if !s.owner.is_empty() {
        meta.push(format!("owner {}", esc(&s.owner)));
    }
    if !s.topology.is_empty() {
        meta.push(format!("topology {}", esc(&s.topology)));
    }
    meta.push(format!("{} replications", int(s.replications)));
    meta.push(format!("seed {}", s.seed));
    if s.duration_s > 0.0 {
        meta.push(format!(
            "{} s simulated per replication, the first {} s of warm-up not counted",
            seconds(s.duration_s),
            seconds(s.warmup_s)
        ));
    }
    let _ = writeln!(out, "<p class=\"meta\">{}</p>", meta.join(" · "));
    if !s.hypothesis.is_empty() {
        let _ = writeln!(
            out,
            "<blockquote><strong>Hypothesis.</strong> {}</blockquote>",
            esc(&s.hypothesis)
        );
    }
    out.push_str("</header>\n<main>\n");
    verdict_section(&mut out, s);
    super::changes::section(&mut out, s);
    blast_section(&mut out, s);
    graph_section(&mut out, saved);
    super::uncertainty::section(&mut out, s, charts);
    charts_section(&mut out, saved, charts);
    flows_section(&mut out, s);
    services_section(&mut out, s);
    calls_section(&mut out, s);
    queues_section(&mut out, s);
    money_section(&mut out, s);
    faults_section(&mut out, saved);
    reproduce_section(&mut out, s);
    out.push_str("</main>\n");
    page_end(
        &mut out,
        "the files in this folder (summary.json and, where present, replications.csv, timeseries.csv, latency_cdf.csv)",
    );
    out
}

fn verdict_section(out: &mut String, s: &Summary) {
    out.push_str("<section id=\"verdicts\">\n<h2>Verdict per SLO</h2>\n");
    if s.slos.is_empty() {
        out.push_str("<p>This experiment declares no SLO.</p>\n</section>\n");
        return;
    }
    let rows: Vec<Vec<String>> = s
        .slos
        .iter()
        .map(|x| {
            let v = Verdict::of(x);
            let budget = x
                .budget_consumed
                .as_ref()
                .map(|b| format!("{} / {}", pct(b.mean), pct(b.p90)))
                .unwrap_or_else(|| "–".to_string());
            vec![
                esc(&x.name),
                esc(&x.kind),
                esc(x.flow.as_deref().unwrap_or("every flow")),
                nines(x.objective),
                verdict_badge(v),
                format!("{} of {}", int(x.violations), int(s.replications)),
                pct(x.probability),
                format!("{} – {}", pct(x.ci95[0]), pct(x.ci95[1])),
                budget,
                x.decision.as_ref().map_or_else(|| "–".to_string(), decided_by),
            ]
        })
        .collect();
    table(
        out,
        &[
            "SLO",
            "kind",
            "flow",
            "objective",
            "verdict",
            "replications violating",
            "P(violated)",
            "95% interval",
            "error budget used (mean / p90)",
            "decided by",
        ],
        &rows,
        5,
    );
    if s.slos.iter().any(|x| x.decision.is_some()) {
        out.push_str(
            "<p class=\"note\"><strong>Decided by</strong>: how the run judged P(violated) against its limit \
             (the SLO's <code>[expect]</code> limit, else 50%): the <strong>normal</strong> model of every \
             replication's margin to the objective, used only when an Anderson–Darling test does not reject \
             normality, or the exact <strong>binomial</strong> count of violating replications. The bounds are \
             that method's, at the level that keeps a wrong verdict under 5% over all the looks the run could make.</p>\n",
        );
    }
    out.push_str(
        "<p class=\"note\"><strong>held</strong>: no replication violated the SLO; <strong>violated</strong>: \
         even the low end of the 95% Wilson interval is above 50%; <strong>at risk</strong>: in between. \
         The interval is what the replications allow: ",
    );
    let widest = s.slos.iter().map(|x| x.ci95[1] - x.ci95[0]).fold(0.0, f64::max);
    let _ = writeln!(
        out,
        "with {} replications it is up to {} wide here; run more replications to narrow it.</p>\n</section>",
        int(s.replications),
        pct(widest)
    );
}

/// The verdict, the method that decided it and its bounds against the limit,
/// e.g. "pass (normal): 0.00% – 0.31% vs limit 5.00%".
fn decided_by(d: &Decision) -> String {
    format!(
        "{} ({}): {} – {} vs limit {}",
        esc(&d.verdict),
        esc(&d.method),
        pct(d.interval[0]),
        pct(d.interval[1]),
        pct(d.limit)
    )
}

fn blast_section(out: &mut String, s: &Summary) {
    let Some(b) = &s.blast_radius else { return };
    out.push_str("<section id=\"blast-radius\">\n<h2>Blast radius</h2>\n");
    let mut facts = Vec::new();
    let [lo, hi] = b.breach_ci95;
    facts.push(format!(
        "P(containment breach) = <strong>{}</strong> (95% interval {} – {})",
        pct(b.containment_breach_probability),
        pct(lo),
        pct(hi)
    ));
    if let Some(d) = &b.breach_decision {
        facts.push(format!("the <code>[expect]</code> limit on it: {}", decided_by(d)));
    }
    let limit = |v: Option<u64>, noun: &str| match v {
        Some(1) => format!("at most 1 {noun}"),
        Some(n) => format!("at most {n} {noun}s"),
        None => format!("no {noun} limit"),
    };
    facts.push(format!(
        "declared: {}, {}",
        limit(b.declared.max_services, "service"),
        limit(b.declared.max_regions, "region")
    ));
    if !b.static_services.is_empty() {
        facts.push(format!(
            "static blast radius ({} services): {}",
            b.static_services.len(),
            esc(&b.static_services.join(", "))
        ));
    }
    let _ = writeln!(out, "<p>{}</p>", facts.join("; "));
    let mut rows = Vec::new();
    for (name, spread, as_pct) in [
        ("services degraded", &b.services, false),
        ("regions degraded", &b.regions, false),
        ("share of requests affected", &b.share_affected, true),
    ] {
        let f = |v: f64| {
            if as_pct {
                pct(v)
            } else {
                format!("{}", (v * 100.0).round() / 100.0)
            }
        };
        let x = spread;
        rows.push(vec![esc(name), f(x.mean), f(x.p50), f(x.p90), f(x.p99), f(x.max)]);
    }
    table(out, &["per replication", "mean", "p50", "p90", "p99", "max"], &rows, 1);
    if !b.attributed_failures.is_empty() {
        let rows: Vec<Vec<String>> = b
            .attributed_failures
            .iter()
            .map(|a| vec![esc(&a.fault), int(a.failed_requests)])
            .collect();
        table(out, &["fault", "failed requests whose path met it"], &rows, 1);
    }
    if let Some(c) = &b.counterfactual {
        counterfactual_part(out, c);
    }
    out.push_str("</section>\n");
}

/// The comparison with the faults-off twins (runs with `--counterfactual`).
fn counterfactual_part(out: &mut String, c: &CounterfactualSummary) {
    let _ = writeln!(
        out,
        "<p>Against the same replications run without the faults ({} twins): what the faults did, \
         whatever path the damage took. Against the twin, {} services and {} regions were degraded \
         on average; containment breached in {}.</p>",
        int(c.replications),
        (c.services.mean * 100.0).round() / 100.0,
        (c.regions.mean * 100.0).round() / 100.0,
        pct(c.containment_breach_probability)
    );
    let num = |v: f64| format!("{:+}", (v * 10.0).round() / 10.0);
    let mut rows = vec![{
        let x = &c.excess_failures;
        vec![
            "all flows: excess failed requests".to_string(),
            num(x.mean),
            num(x.p50),
            num(x.p90),
            num(x.max),
        ]
    }];
    for f in &c.flows {
        for (what, x) in [
            ("excess failed requests", &f.excess_failures),
            ("excess p99 latency, ms", &f.excess_latency_p99_ms),
        ] {
            rows.push(vec![
                format!("{}: {what}", esc(&f.flow)),
                num(x.mean),
                num(x.p50),
                num(x.p90),
                num(x.max),
            ]);
        }
    }
    table(
        out,
        &["per replication, vs its twin", "mean", "p50", "p90", "max"],
        &rows,
        1,
    );
}

fn charts_section(out: &mut String, saved: &Saved, charts: &[Chart]) {
    out.push_str("<section id=\"charts\">\n<h2>Charts</h2>\n");
    let mut missing = Vec::new();
    if saved.timeseries.is_none() {
        missing.push("timeseries.csv (error-rate and latency fan charts over time)");
    }
    if saved.latency_cdf.is_none() {
        missing.push("latency_cdf.csv (latency distributions, baseline vs fault)");
    }
    if saved.summary.blast_radius.is_none() {
        missing.push("blast_radius in summary.json (blast-radius histogram; the heat map shows error rates instead)");
    }
    if !missing.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"note\">Not in these results, so not drawn: {}.</p>",
            esc(&missing.join("; "))
        );
    }
    for c in charts.iter().filter(|c| !super::uncertainty::is_uncertainty_chart(c)) {
        figure(out, c, "");
    }
    out.push_str("</section>\n");
}

/// Totals and latency per flow.
fn flows_section(out: &mut String, s: &Summary) {
    out.push_str("<section id=\"flows\">\n<h2>Flows</h2>\n");
    let rows: Vec<Vec<String>> = s
        .flows
        .iter()
        .map(|f| {
            vec![
                esc(&f.name),
                int(f.requests),
                int(f.succeeded),
                int(f.degraded),
                int(f.failed),
                format!("{:.4}%", f.availability * 100.0),
                ms(f.latency_ms.mean),
                ms(f.latency_ms.p50),
                ms(f.latency_ms.p90),
                ms(f.latency_ms.p99),
                ms(f.latency_ms.max),
            ]
        })
        .collect();
    table(
        out,
        &[
            "flow",
            "requests",
            "succeeded",
            "degraded",
            "failed",
            "availability",
            "mean ms",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
        ],
        &rows,
        1,
    );
    out.push_str(
        "<p class=\"note\">Totals over every replication; succeeded includes degraded (a fallback or optional call was used).</p>\n</section>\n",
    );
}

/// Per service × region; idle mechanisms left out.
fn services_section(out: &mut String, s: &Summary) {
    out.push_str("<section id=\"services\">\n<h2>Services</h2>\n");
    let rows: Vec<Vec<String>> = s
        .services
        .iter()
        .map(|x| {
            let rate = if x.requests > 0 {
                pct(x.errors as f64 / x.requests as f64)
            } else {
                "–".to_string()
            };
            vec![
                esc(&x.service),
                esc(&x.region),
                int(x.requests),
                int(x.errors),
                rate,
                int(x.rejected),
                int(x.timeouts),
                int(x.rate_limited),
                int(x.expired),
                int(x.ejections),
                pct(x.utilization),
                ms(x.latency_ms.mean),
                ms(x.latency_ms.p99),
                ms(x.queue_wait_ms.mean),
                ms(x.queue_wait_ms.p99),
            ]
        })
        .collect();
    sparse_table(
        out,
        &[
            "service",
            "region",
            "requests",
            "errors",
            "error rate",
            "rejected",
            "timeouts",
            "rate limited",
            "expired",
            "ejections",
            "utilization",
            "latency mean ms",
            "latency p99 ms",
            "queue wait mean ms",
            "queue wait p99 ms",
        ],
        &rows,
        2,
        &[
            "requests",
            "errors",
            "error rate",
            "utilization",
            "latency mean ms",
            "latency p99 ms",
        ],
    );
    out.push_str("</section>\n");
}

/// Per call site: what the resilience mechanisms did.
fn calls_section(out: &mut String, s: &Summary) {
    if s.calls.is_empty() {
        return;
    }
    out.push_str("<section id=\"calls\">\n<h2>Calls and resilience</h2>\n");
    let rows: Vec<Vec<String>> = s
        .calls
        .iter()
        .map(|c| {
            vec![
                format!("{} → {}", esc(&c.caller), esc(&c.to)),
                int(c.calls),
                int(c.tries),
                int(c.retries),
                int(c.budget_denied),
                int(c.short_circuited),
                int(c.bulkhead_rejected),
                int(c.fallbacks),
                int(c.failed),
                int(c.breaker_opens),
                format!("{:.1}", c.breaker_open_s),
            ]
        })
        .collect();
    sparse_table(
        out,
        &[
            "call",
            "calls",
            "tries",
            "retries",
            "retry budget denied",
            "short-circuited",
            "bulkhead rejected",
            "fallbacks",
            "failed",
            "breaker openings",
            "breaker open s / replication",
        ],
        &rows,
        1,
        &["calls", "tries", "retries", "fallbacks", "failed"],
    );
    out.push_str("</section>\n");
}

/// Per queue × region.
fn queues_section(out: &mut String, s: &Summary) {
    if s.queues.is_empty() {
        return;
    }
    out.push_str("<section id=\"queues\">\n<h2>Queues</h2>\n");
    let rows: Vec<Vec<String>> = s
        .queues
        .iter()
        .map(|q| {
            vec![
                esc(&q.queue),
                esc(&q.region),
                int(q.published),
                int(q.rejected),
                int(q.delivered),
                int(q.redelivered),
                int(q.dead_lettered),
                format!("{:.1}", q.backlog.mean),
                format!("{:.0}", q.backlog.max),
                ms(q.age_ms.mean),
                ms(q.age_ms.p99),
            ]
        })
        .collect();
    table(
        out,
        &[
            "queue",
            "region",
            "published",
            "rejected",
            "delivered",
            "redelivered",
            "dead-lettered",
            "backlog mean",
            "backlog max",
            "age mean ms",
            "age p99 ms",
        ],
        &rows,
        2,
    );
    out.push_str("</section>\n");
}

/// Money at risk.
fn money_section(out: &mut String, s: &Summary) {
    out.push_str("<section id=\"money\">\n<h2>Money at risk</h2>\n");
    let m = &s.money;
    let mut rows = Vec::new();
    if let Some(v) = m.failed_value {
        rows.push(vec!["order value of failed requests".to_string(), money(v)]);
    }
    if let Some(v) = m.wrong_outputs {
        rows.push(vec!["wrong AI outputs that reached customers".to_string(), int(v)]);
    }
    if let Some(v) = m.wrong_output_loss {
        rows.push(vec!["loss from wrong AI outputs".to_string(), money(v)]);
    }
    if let Some(v) = m.duplicate_charges {
        rows.push(vec!["duplicate charges".to_string(), int(v)]);
    }
    if let Some(v) = m.duplicate_charge_value {
        rows.push(vec!["value charged twice".to_string(), money(v)]);
    }
    if rows.is_empty() {
        out.push_str("<p>No money figures in these results.</p>\n");
    } else {
        table(out, &["over every replication", "amount"], &rows, 1);
    }
    out.push_str("</section>\n");
}

/// Each fault: kind, target and when it was active.
fn faults_section(out: &mut String, saved: &Saved) {
    let s = &saved.summary;
    out.push_str("<section id=\"faults\">\n<h2>Faults</h2>\n");
    if s.faults.is_empty() {
        out.push_str("<p>No fault injected: this experiment measures the mesh under load alone.</p>\n");
    } else {
        let times = saved.fault_times.as_deref().unwrap_or(&[]);
        let rows: Vec<Vec<String>> = s
            .faults
            .iter()
            .map(|f| {
                let (start, end) = match times.iter().find(|t| t.name == f.name) {
                    Some(t) => {
                        let start = if t.start_s_min == t.start_s_max {
                            seconds(t.start_s_min)
                        } else {
                            format!("{} – {}", seconds(t.start_s_min), seconds(t.start_s_max))
                        };
                        let end = t.end_s_max.map(seconds).unwrap_or_else(|| "end of run".to_string());
                        (start, end)
                    }
                    None => ("–".to_string(), "–".to_string()),
                };
                vec![esc(&f.name), esc(&f.kind), esc(&f.target), start, end]
            })
            .collect();
        table(
            out,
            &["fault", "kind", "target", "starts at (s)", "last ends at (s)"],
            &rows,
            3,
        );
    }
    out.push_str("</section>\n");
}

fn reproduce_section(out: &mut String, s: &Summary) {
    let (cmd, recorded) = reproduce_command(s);
    let _ = writeln!(
        out,
        "<section id=\"reproduce\">\n<h2>Reproduce</h2>\n<p>Seed <strong>{}</strong>, {} replications. \
         The same files and seed give byte-identical results on any machine and thread count.</p>\n<pre><code>{}</code></pre>",
        s.seed,
        int(s.replications),
        esc(&cmd)
    );
    if !recorded {
        out.push_str(
            "<p class=\"note\">summary.json does not record the scenario's path; the command assumes the catalog \
             file is named after the experiment.</p>\n",
        );
    }
    out.push_str("</section>\n");
}

/// The command that reproduces the run: as recorded, else rebuilt from
/// what `summary.json` holds (it does not record the scenario's path).
fn reproduce_command(s: &Summary) -> (String, bool) {
    match s.command.trim() {
        "" => (
            format!(
                "chaoscal run scenarios/{}.toml --seed {} --replications {}",
                s.experiment, s.seed, s.replications
            ),
            false,
        ),
        _ => (s.command.clone(), true),
    }
}

/// The service graph `run` drew beside the results (`graph.svg`), inlined,
/// when the folder has it.
fn graph_section(out: &mut String, saved: &Saved) {
    let Ok(svg) = std::fs::read_to_string(saved.dir.join("graph.svg")) else {
        return;
    };
    if !svg.starts_with("<svg ") {
        return;
    }
    // As for the charts: the namespace is implied inside HTML.
    let svg = svg.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1).replacen(
        "<svg ",
        "<svg role=\"img\" aria-label=\"service graph\" ",
        1,
    );
    out.push_str("<section id=\"graph\">\n<h2>Service graph</h2>\n<figure id=\"graph-figure\">\n");
    out.push_str(svg.trim_end());
    out.push_str(
        "\n<figcaption>Every service and queue per region; red: this experiment&#39;s fault targets, orange: the \
         rest of its static blast radius; each box&#39;s radius: the services that would be hit if it failed \
         — <a href=\"graph.svg\">SVG</a> · <a href=\"graph.dot\">DOT</a></figcaption>\n</figure>\n</section>\n",
    );
}

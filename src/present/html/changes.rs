//! The report's "Rollout and guardrails" section: what the rollout did, in
//! words (how often the new version reached 100%, was withdrawn or paused,
//! and how many requests it served per replication), and what each
//! guardrail did (how often it fired, how fast, how often it let go).

use std::fmt::Write as _;

use super::{esc, int, pct, seconds, table};
use crate::results::summary::{RolloutSummary, Spread, Summary};

/// The section, when the experiment has a rollout or guardrails.
pub(super) fn section(out: &mut String, s: &Summary) {
    if s.rollout.is_none() && s.guardrails.is_empty() {
        return;
    }
    let title = match (&s.rollout, s.guardrails.is_empty()) {
        (Some(_), true) => "Rollout",
        (Some(_), false) => "Rollout and guardrails",
        (None, _) => "Guardrails",
    };
    let _ = writeln!(out, "<section id=\"rollout\">\n<h2>{title}</h2>");
    if let Some(r) = &s.rollout {
        let _ = writeln!(out, "<p>{}</p>", rollout_words(r, s.replications));
    }
    if !s.guardrails.is_empty() {
        guardrail_table(out, s);
    }
    out.push_str("</section>\n");
}

/// "The new version of ai-pricing reached 100% in 0 of 200 replications …".
pub(crate) fn rollout_words(r: &RolloutSummary, replications: u64) -> String {
    let mut words = format!(
        "The new version of <strong>{}</strong> (rolled out from {} s) reached 100% in <strong>{} of {}</strong> \
         replications (95% interval {} – {})",
        esc(&r.service),
        seconds(r.start_s),
        int(r.reached_full),
        int(replications),
        pct(r.ci95[0]),
        pct(r.ci95[1])
    );
    if r.rolled_back > 0 {
        let _ = write!(
            words,
            "; it was withdrawn in {} ({} by an analysis, {} by a guardrail)",
            int(r.rolled_back),
            int(r.rolled_back_by_analysis),
            int(r.rolled_back_by_guardrail)
        );
        if let Some(t) = &r.rolled_back_s {
            let _ = write!(
                words,
                ", a median {} s after the start (p90 {} s)",
                seconds(t.p50),
                seconds(t.p90)
            );
        }
    }
    if r.paused > 0 {
        let _ = write!(words, "; an inconclusive analysis paused it in {}", int(r.paused));
    }
    let x = &r.exposed_requests;
    let _ = write!(
        words,
        ". It served {} requests per replication (mean; p90 {}), of which {} failed.",
        count(x.mean),
        count(x.p90),
        count(r.exposed_failed.mean)
    );
    words
}

/// A count per replication: whole (with separators) from 100 on or when it
/// is whole, else one decimal.
fn count(v: f64) -> String {
    if v >= 100.0 || (v - v.round()).abs() < 1e-9 {
        int(v.round().max(0.0) as u64)
    } else {
        format!("{v:.1}")
    }
}

fn guardrail_table(out: &mut String, s: &Summary) {
    let median = |x: &Option<Spread>| x.as_ref().map_or("–".to_string(), |x| seconds(x.p50));
    let rows: Vec<Vec<String>> = s
        .guardrails
        .iter()
        .map(|g| {
            vec![
                esc(&g.name),
                esc(&g.action),
                format!("{} ({})", int(g.fired), pct(g.probability)),
                median(&g.time_to_detect_s),
                median(&g.time_to_mitigate_s),
                g.firings
                    .as_ref()
                    .map_or("–".to_string(), |f| format!("{} / {}", count(f.mean), count(f.max))),
                g.time_mitigated_s
                    .as_ref()
                    .map_or("–".to_string(), |t| seconds(t.mean.round())),
                pct(g.budget_burned_before_mitigation.p50),
            ]
        })
        .collect();
    table(
        out,
        &[
            "guardrail",
            "action",
            "replications it fired in",
            "time to detect, median s",
            "time to mitigate, median s",
            "firings per replication (mean / max)",
            "time mitigated per replication, mean s",
            "error budget burned before mitigation, median",
        ],
        &rows,
        2,
    );
    out.push_str(
        "<p class=\"note\">Times are from the first fault start (or the rollout's start). A guardrail with \
         <code>release</code> undoes its action once its SLO has recovered and may fire again: more than one \
         firing per replication is flapping.</p>\n",
    );
}

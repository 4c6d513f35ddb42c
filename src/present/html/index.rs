//! `index.html`: every experiment of a results folder, its SLO verdicts
//! and the catalog-wide SLO chart.

use std::fmt::Write as _;

use super::{esc, figure, href, int, page_end, page_start, pct, table, verdict_badge};
use crate::present::charts::{Chart, Verdict};
use crate::results::summary::Summary;

/// `index.html`.
pub(super) fn page(entries: &[(String, Summary)], chart: Option<&Chart>) -> String {
    let mut out = String::new();
    page_start(&mut out, "chaoscal · catalog results");
    let slos: usize = entries.iter().map(|(_, s)| s.slos.len()).sum();
    let count = |v: Verdict| {
        entries
            .iter()
            .flat_map(|(_, s)| s.slos.iter())
            .filter(|x| Verdict::of(x) == v)
            .count()
    };
    let _ = writeln!(
        out,
        "<header>\n<h1>Chaos catalog results</h1>\n<p class=\"meta\">{} experiments · {slos} SLOs: {} held, {} at risk, {} violated</p>\n</header>\n<main>",
        entries.len(),
        count(Verdict::Held),
        count(Verdict::AtRisk),
        count(Verdict::Violated)
    );
    out.push_str("<section id=\"experiments\">\n<h2>Experiments</h2>\n");
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|(folder, s)| {
            let mut verdicts = String::from("<ul class=\"verdicts\">");
            for x in &s.slos {
                let _ = write!(
                    verdicts,
                    "<li>{} {}: {} [{} – {}]</li>",
                    verdict_badge(Verdict::of(x)),
                    esc(&x.name),
                    pct(x.probability),
                    pct(x.ci95[0]),
                    pct(x.ci95[1])
                );
            }
            if s.slos.is_empty() {
                verdicts.push_str("<li>no SLO declared</li>");
            }
            verdicts.push_str("</ul>");
            let breach = s
                .blast_radius
                .as_ref()
                .map(|b| pct(b.containment_breach_probability))
                .unwrap_or_else(|| "–".to_string());
            vec![
                format!("<a href=\"{}/report.html\">{}</a>", href(folder), esc(&s.experiment)),
                esc(&s.owner),
                format!("<span class=\"wrap\">{}</span>", esc(&s.hypothesis)),
                format!("<div class=\"wrap\">{verdicts}</div>"),
                breach,
                int(s.replications),
                s.seed.to_string(),
            ]
        })
        .collect();
    table(
        &mut out,
        &[
            "experiment",
            "owner",
            "hypothesis",
            "SLO verdicts: P(violated) [95% interval]",
            "P(containment breach)",
            "replications",
            "seed",
        ],
        &rows,
        4,
    );
    out.push_str("</section>\n");
    if let Some(c) = chart {
        out.push_str("<section id=\"catalog-slos\">\n<h2>Every SLO of the catalog</h2>\n");
        figure(&mut out, c, "");
        out.push_str("</section>\n");
    }
    out.push_str("</main>\n");
    page_end(&mut out, "the summary.json of each experiment folder");
    out
}

//! `report.html`'s "What the risk hangs on" section: the uncertain inputs,
//! what was drawn, and per outcome the inputs it depends on most, with the
//! tornado and violation-curve charts.

use std::fmt::Write as _;

use super::{esc, figure, pct, table};
use crate::present::charts::Chart;
use crate::present::charts::uncertainty::{crossing_words, outcomes, ranked, sig};
use crate::results::summary::Summary;

/// Whether a chart belongs to this section rather than to "Charts".
pub(super) fn is_uncertainty_chart(c: &Chart) -> bool {
    c.stem.starts_with("tornado_") || c.stem.starts_with("hangs_on_")
}

pub(super) fn section(out: &mut String, s: &Summary, charts: &[Chart]) {
    if s.uncertainty.is_empty() {
        return;
    }
    out.push_str("<section id=\"uncertainty\">\n<h2>What the risk hangs on</h2>\n");
    out.push_str(
        "<p>Each replication drew these inputs from their distributions, so the probabilities above \
         include what is not known about them. S₁ is the share of an outcome's variance across \
         replications that the input explains alone; ρ its rank correlation with the SLO's attainment \
         (containment: the declared radius's headroom) — negative when larger values hurt.</p>\n",
    );
    let rows: Vec<Vec<String>> = s
        .uncertainty
        .iter()
        .map(|u| {
            vec![
                format!("<code>{}</code>", esc(&u.set)),
                esc(&u.dist),
                format!("{} – {}", sig(u.range[0]), sig(u.range[1])),
                sig(u.drawn.min),
                sig(u.drawn.p50),
                sig(u.drawn.max),
            ]
        })
        .collect();
    table(
        out,
        &["input", "distribution", "range", "drawn min", "median", "max"],
        &rows,
        3,
    );
    for outcome in outcomes(s) {
        let ranked = ranked(s, &outcome);
        let rows: Vec<Vec<String>> = ranked
            .iter()
            .map(|(u, x)| {
                let curve_p =
                    |b: Option<&crate::results::summary::CurveBin>| b.map_or("–".into(), |b| pct(b.probability));
                vec![
                    format!("<code>{}</code>", esc(&u.set)),
                    x.first_order.map_or("–".into(), |v| format!("{v:.2}")),
                    x.rank_correlation.map_or("–".into(), |v| format!("{v:+.2}")),
                    curve_p(x.curve.first()),
                    curve_p(x.curve.last()),
                    esc(&crossing_words(x).unwrap_or_else(|| "–".into())),
                ]
            })
            .collect();
        let _ = writeln!(out, "<h3>{}</h3>", esc(&outcome));
        table(
            out,
            &[
                "input",
                "S₁",
                "ρ",
                "P(violated), lowest bin",
                "highest bin",
                "crosses the limit",
            ],
            &rows,
            1,
        );
        let stem = crate::present::charts::file_stem(&outcome);
        for c in charts
            .iter()
            .filter(|c| c.stem == format!("tornado_{stem}") || c.stem == format!("hangs_on_{stem}"))
        {
            figure(out, c, "");
        }
    }
    out.push_str("</section>\n");
}

//! `check --markdown FILE`: the checks as Markdown for a pull-request
//! comment.

use std::fmt::Write as _;

use crate::gate::{self, ExperimentCheck, Finding, Verdict};

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn icon(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "✅",
        Verdict::Fail => "❌",
        Verdict::Inconclusive => "⚠️",
        Verdict::Skipped => "➖",
    }
}

/// A Markdown summary for a pull-request comment: a headline, the failed
/// and inconclusive checks first, every check in a collapsed section.
pub fn render(checks: &[ExperimentCheck], strict: bool) -> String {
    let [pass, fail, inconclusive, skip] = gate::totals(checks);
    let failed = gate::exit_code(checks, strict) != 0;
    let mut m = String::new();
    let _ = writeln!(
        m,
        "### {} chaoscal check: {fail} failed, {inconclusive} inconclusive, {pass} passed, {skip} skipped",
        if failed {
            "❌"
        } else if inconclusive > 0 {
            "⚠️"
        } else {
            "✅"
        }
    );
    let _ = writeln!(m);
    let _ = writeln!(
        m,
        "{} experiment(s). A limit passes when the 95% Wilson upper bound is below it and fails when the lower bound is \
         above it; baseline changes are one-sided tests at the significance level shown.",
        checks.len()
    );
    let _ = writeln!(m);
    let header = "| | experiment | check | observed | limit / baseline | why |\n|---|---|---|---|---|---|";
    let attention: Vec<(&ExperimentCheck, &Finding)> = checks
        .iter()
        .flat_map(|c| c.findings.iter().map(move |f| (c, f)))
        .filter(|(_, f)| matches!(f.verdict, Verdict::Fail | Verdict::Inconclusive))
        .collect();
    let row = |m: &mut String, c: &ExperimentCheck, f: &Finding| {
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {} | {} |",
            icon(f.verdict),
            md_cell(&c.experiment),
            md_cell(&f.name),
            md_cell(&f.observed),
            md_cell(&f.reference),
            md_cell(&f.message)
        );
    };
    if !attention.is_empty() {
        let _ = writeln!(m, "{header}");
        for (c, f) in &attention {
            row(&mut m, c, f);
        }
        let _ = writeln!(m);
    }
    let _ = writeln!(m, "<details><summary>All checks</summary>\n");
    let _ = writeln!(
        m,
        "| experiment | replications | seed | passed | failed | inconclusive | skipped |"
    );
    let _ = writeln!(m, "|---|---|---|---|---|---|---|");
    for c in checks {
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {} | {} | {} |",
            md_cell(&c.experiment),
            c.replications,
            c.seed,
            c.count(Verdict::Pass),
            c.count(Verdict::Fail),
            c.count(Verdict::Inconclusive),
            c.count(Verdict::Skipped)
        );
    }
    let _ = writeln!(m);
    let _ = writeln!(m, "{header}");
    for c in checks {
        for f in &c.findings {
            row(&mut m, c, f);
        }
    }
    let _ = writeln!(m, "\n</details>");
    m
}

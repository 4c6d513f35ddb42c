//! CI regression gates (`chaoscal check`): a scenario's `[expect]` limits
//! and a comparison with a baseline `summary.json`, judged with statistics
//! rather than point estimates, reported on the console, as JUnit XML and
//! as Markdown for a pull-request comment.
//!
//! # Verdicts
//! * **Limit on a probability** (`max_violation_probability`,
//!   `max_containment_breach_probability`): *pass* when the 95% Wilson
//!   interval lies wholly below the limit (upper bound < limit), *fail* when
//!   it lies wholly above (lower bound > limit), *inconclusive* otherwise,
//!   with the number of replications that would decide it if the observed
//!   proportion held ([`stats::replications_to_decide`]).
//! * **Against a baseline**: a violation or breach probability *fails*
//!   when Fisher's exact one-sided test says it rose (p < α); the mean
//!   number of degraded services fails when Welch's one-sided t-test says
//!   it rose. A significant fall is reported as an improvement (a pass).
//!
//! Everything here is a pure function of summaries; the command line does
//! the running and the file I/O.

pub mod stats;

use std::fmt::Write as _;

use serde::Deserialize;

use crate::model::Expect;
use crate::montecarlo::wilson95;
use stats::Sample;

/// The default significance level of baseline comparisons (one-sided).
pub const DEFAULT_ALPHA: f64 = 0.01;

/// The outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    Fail,
    Inconclusive,
    Skipped,
    Pass,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "FAIL",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Skipped => "skipped",
        }
    }
}

/// One checked expectation or baseline comparison (one JUnit test case).
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// `expect` or `baseline`.
    pub group: &'static str,
    /// What is checked, e.g. `P(violate checkout-availability) < 0.05`.
    pub name: String,
    pub verdict: Verdict,
    /// The current figure, e.g. `6/8 = 0.750 [0.409, 0.929]`.
    pub observed: String,
    /// The limit or the baseline figure.
    pub reference: String,
    /// One sentence saying why.
    pub message: String,
    /// For an inconclusive limit: replications that would decide it.
    pub replications_to_decide: Option<u64>,
}

/// The checks of one experiment.
#[derive(Clone, Debug, PartialEq)]
pub struct ExperimentCheck {
    pub experiment: String,
    pub seed: u64,
    pub replications: u64,
    /// Where the results came from (`simulated` or a summary path).
    pub source: String,
    /// The baseline it was compared with, if any.
    pub baseline: Option<String>,
    /// Seconds spent getting the results (simulating or reading).
    pub time_s: f64,
    pub findings: Vec<Finding>,
}

impl ExperimentCheck {
    pub fn count(&self, v: Verdict) -> usize {
        self.findings.iter().filter(|f| f.verdict == v).count()
    }
}

/// What the gates read from a `summary.json` (extra fields are ignored, so
/// summaries written by older chaoscal versions still read).
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Facts {
    pub experiment: String,
    #[serde(default)]
    pub seed: u64,
    pub replications: u64,
    #[serde(default)]
    pub slos: Vec<SloFacts>,
    #[serde(default)]
    pub blast_radius: Option<BlastFacts>,
    #[serde(default)]
    pub flows: Vec<FlowFacts>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct SloFacts {
    pub name: String,
    pub violations: u64,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct BlastFacts {
    pub services: SpreadFacts,
    pub containment_breach_probability: f64,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct SpreadFacts {
    pub mean: f64,
    /// Absent in summaries written before `sd` was added.
    #[serde(default)]
    pub sd: Option<f64>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct FlowFacts {
    pub name: String,
    #[serde(default)]
    pub availability: f64,
    pub latency_ms: FlowLatencyFacts,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct FlowLatencyFacts {
    pub p99: f64,
}

impl Facts {
    /// Replications in which containment was breached (exact: the
    /// probability is written to 9 decimals).
    pub fn breaches(&self) -> u64 {
        self.blast_radius
            .as_ref()
            .map(|b| (b.containment_breach_probability * self.replications as f64).round() as u64)
            .unwrap_or(0)
    }
}

fn proportion(k: u64, n: u64) -> String {
    let (lo, hi) = wilson95(k, n);
    let p = if n == 0 { 0.0 } else { k as f64 / n as f64 };
    format!("{k}/{n} = {p:.3} [{lo:.3}, {hi:.3}]")
}

fn fmt_p(p: f64) -> String {
    if p < 1e-4 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}

/// Judges `k` of `n` against a limit on the probability (see the module docs).
pub fn limit_finding(what: &str, k: u64, n: u64, limit: f64) -> Finding {
    let (lo, hi) = wilson95(k, n);
    let p = if n == 0 { 0.0 } else { k as f64 / n as f64 };
    let name = format!("{what} < {limit}");
    let observed = proportion(k, n);
    let reference = format!("< {limit}");
    let (verdict, message, plan) = if limit >= 1.0 {
        (Verdict::Pass, "a limit of 1 always holds".to_string(), None)
    } else if hi < limit {
        (
            Verdict::Pass,
            format!("the 95% upper bound {hi:.3} is below the limit {limit}"),
            None,
        )
    } else if lo > limit {
        (
            Verdict::Fail,
            format!("the 95% lower bound {lo:.3} is above the limit {limit}: the limit is exceeded"),
            None,
        )
    } else {
        let plan = stats::replications_to_decide(p, limit);
        let how = match plan {
            Some(m) => format!("about {m} replications would decide it if the observed {p:.3} held (now {n})"),
            None if p == limit => {
                "the observed proportion equals the limit: more replications move the estimate, not the verdict"
                    .to_string()
            }
            None => format!("not even {} replications would decide it", stats::PLAN_LIMIT),
        };
        (
            Verdict::Inconclusive,
            format!("the 95% interval [{lo:.3}, {hi:.3}] contains the limit {limit}; {how}"),
            plan,
        )
    };
    Finding {
        group: "expect",
        name,
        verdict,
        observed,
        reference,
        message,
        replications_to_decide: plan,
    }
}

/// Evaluates a scenario's `[expect]` against its results.
pub fn expectations(expect: &Expect, facts: &Facts) -> Vec<Finding> {
    let n = facts.replications;
    let mut out = Vec::new();
    for (slo, limit) in &expect.max_violation_probability {
        let what = format!("P(violate {slo})");
        match facts.slos.iter().find(|s| &s.name == slo) {
            Some(s) => out.push(limit_finding(&what, s.violations, n, *limit)),
            None => out.push(Finding {
                group: "expect",
                name: format!("{what} < {limit}"),
                verdict: Verdict::Fail,
                observed: "absent".to_string(),
                reference: format!("< {limit}"),
                message: format!("the results have no SLO named {slo:?} (results of another version of the scenario?)"),
                replications_to_decide: None,
            }),
        }
    }
    if let Some(limit) = expect.max_containment_breach_probability {
        out.push(limit_finding("P(containment breach)", facts.breaches(), n, limit));
    }
    out
}

/// A baseline comparison of a proportion (Fisher's exact test).
fn proportion_change(name: String, k1: u64, n1: u64, k0: u64, n0: u64, alpha: f64) -> Finding {
    let observed = proportion(k1, n1);
    let reference = format!("baseline {}", proportion(k0, n0));
    let (p1, p0) = (k1 as f64 / n1.max(1) as f64, k0 as f64 / n0.max(1) as f64);
    let rise = stats::fisher_one_sided(k1, n1, k0, n0);
    let fall = stats::fisher_one_sided(k0, n0, k1, n1);
    let (verdict, message) = if k1 == k0 && n1 == n0 {
        (Verdict::Pass, "unchanged".to_string())
    } else if rise < alpha {
        (
            Verdict::Fail,
            format!(
                "rose from {p0:.3} to {p1:.3}: significant (Fisher exact, one-sided p = {}, α = {alpha})",
                fmt_p(rise)
            ),
        )
    } else if fall < alpha {
        (
            Verdict::Pass,
            format!(
                "improved from {p0:.3} to {p1:.3} (Fisher exact, one-sided p = {})",
                fmt_p(fall)
            ),
        )
    } else {
        (
            Verdict::Pass,
            format!(
                "{p0:.3} → {p1:.3}: no significant rise (Fisher exact, one-sided p = {})",
                fmt_p(rise)
            ),
        )
    };
    Finding {
        group: "baseline",
        name,
        verdict,
        observed,
        reference,
        message,
        replications_to_decide: None,
    }
}

fn skipped(group: &'static str, name: String, message: String) -> Finding {
    Finding {
        group,
        name,
        verdict: Verdict::Skipped,
        observed: "-".to_string(),
        reference: "-".to_string(),
        message,
        replications_to_decide: None,
    }
}

/// Compares results with a baseline `summary.json` of the same experiment.
pub fn compare(current: &Facts, baseline: &Facts, alpha: f64) -> Vec<Finding> {
    let (n1, n0) = (current.replications, baseline.replications);
    let mut out = Vec::new();
    for s in &current.slos {
        let name = format!("P(violate {}) vs baseline", s.name);
        match baseline.slos.iter().find(|b| b.name == s.name) {
            Some(b) => out.push(proportion_change(name, s.violations, n1, b.violations, n0, alpha)),
            None => out.push(skipped(
                "baseline",
                name,
                "a new SLO: the baseline does not have it".into(),
            )),
        }
    }
    for b in &baseline.slos {
        if !current.slos.iter().any(|s| s.name == b.name) {
            out.push(skipped(
                "baseline",
                format!("P(violate {}) vs baseline", b.name),
                "the SLO is in the baseline but no longer in the scenario".into(),
            ));
        }
    }
    match (&current.blast_radius, &baseline.blast_radius) {
        (Some(c), Some(b)) => {
            out.push(proportion_change(
                "P(containment breach) vs baseline".to_string(),
                current.breaches(),
                n1,
                baseline.breaches(),
                n0,
                alpha,
            ));
            let name = "mean degraded services vs baseline".to_string();
            let observed = format!("{:.3} (sd {:.3})", c.services.mean, c.services.sd.unwrap_or(0.0));
            match (c.services.sd, b.services.sd) {
                (Some(sd1), Some(sd0)) => {
                    let cur = Sample {
                        n: n1,
                        mean: c.services.mean,
                        sd: sd1,
                    };
                    let base = Sample {
                        n: n0,
                        mean: b.services.mean,
                        sd: sd0,
                    };
                    let reference = format!("baseline {:.3} (sd {:.3})", b.services.mean, sd0);
                    let finding = |verdict, message| Finding {
                        group: "baseline",
                        name: name.clone(),
                        verdict,
                        observed: observed.clone(),
                        reference: reference.clone(),
                        message,
                        replications_to_decide: None,
                    };
                    match (stats::welch_one_sided(cur, base), stats::welch_one_sided(base, cur)) {
                        (Some(rise), Some(fall)) => {
                            let (m1, m0) = (c.services.mean, b.services.mean);
                            out.push(if m1 == m0 && sd1 == sd0 && n1 == n0 {
                                finding(Verdict::Pass, "unchanged".to_string())
                            } else if rise < alpha {
                                finding(
                                    Verdict::Fail,
                                    format!(
                                        "rose from {m0:.3} to {m1:.3}: significant (Welch t-test, one-sided p = {}, α = {alpha})",
                                        fmt_p(rise)
                                    ),
                                )
                            } else if fall < alpha {
                                finding(
                                    Verdict::Pass,
                                    format!("improved from {m0:.3} to {m1:.3} (Welch t-test, one-sided p = {})", fmt_p(fall)),
                                )
                            } else {
                                finding(
                                    Verdict::Pass,
                                    format!(
                                        "{m0:.3} → {m1:.3}: no significant rise (Welch t-test, one-sided p = {})",
                                        fmt_p(rise)
                                    ),
                                )
                            });
                        }
                        _ => out.push(skipped(
                            "baseline",
                            name,
                            "a t-test needs at least 2 replications on each side".into(),
                        )),
                    }
                }
                _ => out.push(skipped(
                    "baseline",
                    name,
                    "the baseline has no standard deviation (written by an older chaoscal): regenerate it".into(),
                )),
            }
        }
        (None, None) => {}
        (Some(_), None) => out.push(skipped(
            "baseline",
            "blast radius vs baseline".into(),
            "the baseline has no blast radius (it ran without faults)".into(),
        )),
        (None, Some(_)) => out.push(skipped(
            "baseline",
            "blast radius vs baseline".into(),
            "the scenario no longer has faults; the baseline did".into(),
        )),
    }
    out
}

/// Totals over experiments: (passed, failed, inconclusive, skipped).
pub fn totals(checks: &[ExperimentCheck]) -> [usize; 4] {
    let c = |v| checks.iter().map(|e| e.count(v)).sum();
    [
        c(Verdict::Pass),
        c(Verdict::Fail),
        c(Verdict::Inconclusive),
        c(Verdict::Skipped),
    ]
}

/// The exit code: 1 when something failed (or, with `strict`, was
/// inconclusive), else 0.
pub fn exit_code(checks: &[ExperimentCheck], strict: bool) -> i32 {
    let [_, failed, inconclusive, _] = totals(checks);
    if failed > 0 || (strict && inconclusive > 0) {
        1
    } else {
        0
    }
}

// ---------------------------------------------------------------- console

/// The console report of one experiment.
pub fn console(out: &mut String, c: &ExperimentCheck) {
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

// ---------------------------------------------------------------- JUnit

/// Text made safe for XML character data and attribute values: the five
/// special characters escaped, characters XML 1.0 forbids replaced.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(ch),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML in the shape GitLab, GitHub (test-reporter actions) and
/// Jenkins read: `<testsuites>` holding one `<testsuite>` per experiment,
/// one `<testcase>` per expectation or comparison; a failure is
/// `<failure message type>`, an inconclusive or skipped check `<skipped
/// message>` (an inconclusive one is a `<failure>` with `strict`).
pub fn junit(checks: &[ExperimentCheck], strict: bool) -> String {
    let is_failure = |v: Verdict| v == Verdict::Fail || (strict && v == Verdict::Inconclusive);
    let is_skipped = |v: Verdict| v == Verdict::Skipped || (!strict && v == Verdict::Inconclusive);
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let all: Vec<&Finding> = checks.iter().flat_map(|c| &c.findings).collect();
    let _ = writeln!(
        x,
        "<testsuites name=\"chaoscal check\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{:.3}\">",
        all.len(),
        all.iter().filter(|f| is_failure(f.verdict)).count(),
        all.iter().filter(|f| is_skipped(f.verdict)).count(),
        checks.iter().map(|c| c.time_s).sum::<f64>()
    );
    for c in checks {
        let _ = writeln!(
            x,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{:.3}\">",
            xml_escape(&c.experiment),
            c.findings.len(),
            c.findings.iter().filter(|f| is_failure(f.verdict)).count(),
            c.findings.iter().filter(|f| is_skipped(f.verdict)).count(),
            c.time_s
        );
        let _ = writeln!(x, "    <properties>");
        let mut props = vec![
            ("seed", c.seed.to_string()),
            ("replications", c.replications.to_string()),
            ("source", c.source.clone()),
        ];
        if let Some(b) = &c.baseline {
            props.push(("baseline", b.clone()));
        }
        for (k, v) in props {
            let _ = writeln!(
                x,
                "      <property name=\"{}\" value=\"{}\"/>",
                xml_escape(k),
                xml_escape(&v)
            );
        }
        let _ = writeln!(x, "    </properties>");
        for f in &c.findings {
            let classname = format!("chaoscal.{}.{}", c.experiment, f.group);
            let head = format!(
                "    <testcase name=\"{}\" classname=\"{}\" time=\"0\"",
                xml_escape(&f.name),
                xml_escape(&classname)
            );
            let body = format!("observed: {}\nreference: {}\n{}", f.observed, f.reference, f.message);
            if is_failure(f.verdict) {
                let kind = if f.verdict == Verdict::Fail {
                    if f.group == "expect" {
                        "expectation"
                    } else {
                        "regression"
                    }
                } else {
                    "inconclusive"
                };
                let _ = writeln!(
                    x,
                    "{head}>\n      <failure message=\"{}\" type=\"{kind}\">{}</failure>\n    </testcase>",
                    xml_escape(&f.message),
                    xml_escape(&body)
                );
            } else if is_skipped(f.verdict) {
                let _ = writeln!(
                    x,
                    "{head}>\n      <skipped message=\"{}\"/>\n    </testcase>",
                    xml_escape(&format!("{}: {}", f.verdict.label(), f.message))
                );
            } else {
                let _ = writeln!(
                    x,
                    "{head}>\n      <system-out>{}</system-out>\n    </testcase>",
                    xml_escape(&body)
                );
            }
        }
        let _ = writeln!(x, "  </testsuite>");
    }
    x.push_str("</testsuites>\n");
    x
}

// ---------------------------------------------------------------- Markdown

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
pub fn markdown(checks: &[ExperimentCheck], strict: bool) -> String {
    let [pass, fail, inconclusive, skip] = totals(checks);
    let failed = exit_code(checks, strict) != 0;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_land_in_three_zones() {
        // 0/100 is below 0.1, 30/100 above it, 10/100 straddles it (and a plan is given).
        assert_eq!(limit_finding("p", 0, 100, 0.1).verdict, Verdict::Pass);
        assert_eq!(limit_finding("p", 30, 100, 0.1).verdict, Verdict::Fail);
        let f = limit_finding("p", 5, 100, 0.1);
        assert_eq!(f.verdict, Verdict::Inconclusive);
        let m = f.replications_to_decide.unwrap();
        assert!(m > 100, "{m}");
    }

    #[test]
    fn escapes_make_xml_safe_text() {
        // Markup characters are escaped and control characters replaced.
        assert_eq!(xml_escape("a<b>&\"c'\u{1}"), "a&lt;b&gt;&amp;&quot;c&apos;\u{FFFD}");
    }
}

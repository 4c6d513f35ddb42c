//! CI regression gates (`chaoscal check`): a scenario's `[expect]` limits
//! and a comparison with a baseline `summary.json`, judged with statistics
//! rather than point estimates, reported on the console, as JUnit XML and
//! as Markdown for a pull-request comment.
//!
//! # Verdicts
//! * **Limit on a probability** (`max_violation_probability`,
//!   `max_containment_breach_probability`): the verdict the run decided
//!   ([`crate::decide`]: the exact binomial bounds, or a normal model of the
//!   per-replication margins when the data support it), which names its
//!   method; *inconclusive* when undecided, with the number of replications
//!   that would decide it by the count if the observed proportion held
//!   ([`stats::replications_to_decide`]). Results written before verdicts
//!   were decided are judged by their 95% Wilson interval: pass when it lies
//!   wholly below the limit, fail when wholly above.
//! * **Against a baseline**: a violation or breach probability *fails*
//!   when Fisher's exact one-sided test says it rose (p < α); the mean
//!   number of degraded services fails when Welch's one-sided t-test says
//!   it rose. A significant fall is reported as an improvement (a pass).
//!
//! Everything here is a pure function of results ([`Summary`], the schema
//! of `summary.json`: in memory after a run, or read back from a saved
//! file); the command line does the running and the file I/O, and
//! `crate::present` shows the findings (console, JUnit, Markdown).

pub mod stats;

use crate::model::Expect;
use crate::montecarlo::wilson95;
use crate::results::Summary;
use crate::results::summary::{Decision, Spread};
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

/// Judges `k` of `n` by the verdict the run decided (see [`crate::decide`]).
pub fn decision_finding(what: &str, k: u64, n: u64, d: &Decision) -> Finding {
    let limit = d.limit;
    let name = format!("{what} < {limit}");
    let p = if n == 0 { 0.0 } else { k as f64 / n as f64 };
    let [lo, hi] = d.interval;
    let bounds = format!("[{}, {}]", fmt_p(lo), fmt_p(hi));
    let how = match (d.method.as_str(), &d.normal) {
        ("normal", Some(c)) => format!(
            "normal model of the margins ({}; margin {} sd; Anderson–Darling p = {})",
            "every replication's attainment against the objective",
            c.margin_sd.map_or("-".to_string(), |m| format!("{m:.1}")),
            c.p_value.map_or("-".to_string(), |p| format!("{p:.2}"))
        ),
        (_, Some(c)) if !c.usable => format!("exact binomial count (normal model not used: {})", c.note),
        _ => "exact binomial count".to_string(),
    };
    let observed = format!("{} ; P(violate) in {bounds} by the {}", proportion(k, n), d.method);
    let (verdict, message, plan) = match d.verdict.as_str() {
        "pass" => (
            Verdict::Pass,
            format!("decided by the {how}: P is at most {} < {limit}", fmt_p(hi)),
            None,
        ),
        "fail" => (
            Verdict::Fail,
            format!(
                "decided by the {how}: P is at least {} > {limit}: the limit is exceeded",
                fmt_p(lo)
            ),
            None,
        ),
        _ => {
            let plan = stats::replications_to_decide(p, limit);
            let more = match plan {
                Some(m) => {
                    format!("about {m} replications would decide it by the count if the observed {p:.3} held (now {n})")
                }
                None => {
                    "the observed proportion equals the limit: more replications move the estimate, not the verdict"
                        .to_string()
                }
            };
            (
                Verdict::Inconclusive,
                format!("undecided after {n} replications ({how}: {bounds} contains {limit}); {more}"),
                plan,
            )
        }
    };
    Finding {
        group: "expect",
        name,
        verdict,
        observed,
        reference: format!("< {limit}"),
        message,
        replications_to_decide: plan,
    }
}

/// Replications in which containment was breached (none without faults).
fn breaches(s: &Summary) -> u64 {
    s.blast_radius.as_ref().map_or(0, |b| b.breaches(s.replications))
}

/// Evaluates a scenario's `[expect]` against its results.
pub fn expectations(expect: &Expect, results: &Summary) -> Vec<Finding> {
    let n = results.replications;
    let mut out = Vec::new();
    for (slo, limit) in &expect.max_violation_probability {
        let what = format!("P(violate {slo})");
        match results.slos.iter().find(|s| &s.name == slo) {
            Some(s) => match s
                .decision
                .as_ref()
                .filter(|d| d.limit == *limit && d.limit_from == "expect")
            {
                Some(d) => out.push(decision_finding(&what, s.violations, n, d)),
                None => out.push(limit_finding(&what, s.violations, n, *limit)),
            },
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
        let what = "P(containment breach)";
        let decided = results
            .blast_radius
            .as_ref()
            .and_then(|b| b.breach_decision.as_ref())
            .filter(|d| d.limit == limit);
        match decided {
            Some(d) => out.push(decision_finding(what, breaches(results), n, d)),
            None => out.push(limit_finding(what, breaches(results), n, limit)),
        }
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

/// A baseline comparison of a mean over replications (Welch's t-test);
/// skipped when either side lacks the standard deviation or has fewer than
/// two replications.
fn mean_change(name: String, current: &Spread, n1: u64, baseline: &Spread, n0: u64, alpha: f64) -> Finding {
    let (m1, m0) = (current.mean, baseline.mean);
    let (Some(sd1), Some(sd0)) = (current.sd, baseline.sd) else {
        return skipped(
            "baseline",
            name,
            "the baseline has no standard deviation (written by an older chaoscal): regenerate it".into(),
        );
    };
    let cur = Sample {
        n: n1,
        mean: m1,
        sd: sd1,
    };
    let base = Sample {
        n: n0,
        mean: m0,
        sd: sd0,
    };
    let (Some(rise), Some(fall)) = (stats::welch_one_sided(cur, base), stats::welch_one_sided(base, cur)) else {
        return skipped(
            "baseline",
            name,
            "a t-test needs at least 2 replications on each side".into(),
        );
    };
    let (verdict, message) = if m1 == m0 && sd1 == sd0 && n1 == n0 {
        (Verdict::Pass, "unchanged".to_string())
    } else if rise < alpha {
        (
            Verdict::Fail,
            format!(
                "rose from {m0:.3} to {m1:.3}: significant (Welch t-test, one-sided p = {}, α = {alpha})",
                fmt_p(rise)
            ),
        )
    } else if fall < alpha {
        (
            Verdict::Pass,
            format!(
                "improved from {m0:.3} to {m1:.3} (Welch t-test, one-sided p = {})",
                fmt_p(fall)
            ),
        )
    } else {
        (
            Verdict::Pass,
            format!(
                "{m0:.3} → {m1:.3}: no significant rise (Welch t-test, one-sided p = {})",
                fmt_p(rise)
            ),
        )
    };
    Finding {
        group: "baseline",
        name,
        verdict,
        observed: format!("{m1:.3} (sd {sd1:.3})"),
        reference: format!("baseline {m0:.3} (sd {sd0:.3})"),
        message,
        replications_to_decide: None,
    }
}

/// Compares results with a baseline `summary.json` of the same experiment.
pub fn compare(current: &Summary, baseline: &Summary, alpha: f64) -> Vec<Finding> {
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
                breaches(current),
                n1,
                breaches(baseline),
                n0,
                alpha,
            ));
            out.push(mean_change(
                "mean degraded services vs baseline".to_string(),
                &c.services,
                n1,
                &b.services,
                n0,
                alpha,
            ));
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
}

//! `check --junit FILE`: the checks as JUnit XML, one test case per
//! expectation or baseline comparison.

use std::fmt::Write as _;

use super::escape::xml;
use crate::gate::{ExperimentCheck, Finding, Verdict};

/// JUnit XML in the shape GitLab, GitHub (test-reporter actions) and
/// Jenkins read: `<testsuites>` holding one `<testsuite>` per experiment,
/// one `<testcase>` per expectation or comparison; a failure is
/// `<failure message type>`, an inconclusive or skipped check `<skipped
/// message>` (an inconclusive one is a `<failure>` with `strict`).
pub fn render(checks: &[ExperimentCheck], strict: bool) -> String {
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
            xml(&c.experiment),
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
            let _ = writeln!(x, "      <property name=\"{}\" value=\"{}\"/>", xml(k), xml(&v));
        }
        let _ = writeln!(x, "    </properties>");
        for f in &c.findings {
            let classname = format!("chaoscal.{}.{}", c.experiment, f.group);
            let head = format!(
                "    <testcase name=\"{}\" classname=\"{}\" time=\"0\"",
                xml(&f.name),
                xml(&classname)
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
                    xml(&f.message),
                    xml(&body)
                );
            } else if is_skipped(f.verdict) {
                let _ = writeln!(
                    x,
                    "{head}>\n      <skipped message=\"{}\"/>\n    </testcase>",
                    xml(&format!("{}: {}", f.verdict.label(), f.message))
                );
            } else {
                let _ = writeln!(
                    x,
                    "{head}>\n      <system-out>{}</system-out>\n    </testcase>",
                    xml(&body)
                );
            }
        }
        let _ = writeln!(x, "  </testsuite>");
    }
    x.push_str("</testsuites>\n");
    x
}

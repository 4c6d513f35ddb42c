//! PromQL the import understands, and `PrometheusRule` alerts written in
//! the SRE workbook's multiwindow, multi-burn-rate form, which become
//! `[[guardrails]]`. Any other expression is reported as not understood.
//!
//! Queries (Argo analyses, Litmus promProbes): the Istio success or error
//! ratio (`istio_requests_total` with a `response_code` matcher on 5xx in
//! the numerator, over the same without it) and the p99 of
//! `istio_request_duration_milliseconds_bucket`.

use super::units;
use super::yaml::{Node, join};
use super::{Cx, D, GuardrailOut};

/// What a query measures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Measure {
    /// Share of requests that did not fail with a 5xx.
    SuccessRatio,
    /// Share of requests that failed with a 5xx.
    ErrorRatio,
    /// p99 latency, milliseconds.
    P99Ms,
}

/// Recognises a query, ignoring labels and range windows.
pub fn measure(query: &str) -> Option<Measure> {
    let q: String = query.chars().filter(|c| !c.is_whitespace()).collect();
    if q.contains("histogram_quantile(0.99,") && q.contains("istio_request_duration_milliseconds_bucket") {
        return Some(Measure::P99Ms);
    }
    let (num, den) = split_ratio(&q)?;
    if !num.contains("istio_requests_total") || !den.contains("istio_requests_total") || den.contains("response_code") {
        return None;
    }
    let five = |op: &str| {
        ["5.*", "5..", "5xx", "5.+"]
            .iter()
            .any(|p| num.contains(&format!("response_code{op}\"{p}\"")))
    };
    if five("!~") {
        Some(Measure::SuccessRatio)
    } else if five("=~") {
        Some(Measure::ErrorRatio)
    } else {
        None
    }
}

/// `A / B` at the top level (outside parentheses and braces).
fn split_ratio(q: &str) -> Option<(&str, &str)> {
    let mut depth = 0i32;
    let mut in_str = false;
    for (i, c) in q.char_indices() {
        match c {
            '"' => in_str = !in_str,
            '(' | '{' | '[' if !in_str => depth += 1,
            ')' | '}' | ']' if !in_str => depth -= 1,
            '/' if !in_str && depth == 0 => return Some((&q[..i], &q[i + 1..])),
            _ => {}
        }
    }
    None
}

/// A condition on `result` (Argo's expr): `result[0] >= 0.95`,
/// `all(result, # < 500)`, `len(result) == 0 || result[0] >= 0.95`.
/// Returns the comparison and the number.
pub fn condition(expr: &str) -> Option<(&'static str, f64)> {
    let e: String = expr.chars().filter(|c| !c.is_whitespace()).collect();
    let e = e.strip_prefix("len(result)==0||").unwrap_or(&e).to_string();
    let body = if let Some(rest) = e.strip_prefix("all(result,#").and_then(|r| r.strip_suffix(')')) {
        rest.to_string()
    } else if let Some(rest) = e.strip_prefix("result[0]") {
        rest.to_string()
    } else {
        return None;
    };
    for op in [">=", "<=", ">", "<"] {
        if let Some(v) = body.strip_prefix(op) {
            let op: &'static str = match op {
                ">=" => ">=",
                "<=" => "<=",
                ">" => ">",
                _ => "<",
            };
            return v.parse::<f64>().ok().filter(|x| x.is_finite()).map(|x| (op, x));
        }
    }
    None
}

/// Converts a PrometheusRule: each alert in the workbook's form gives one
/// guardrail per OR-ed row.
pub fn convert(cx: &mut Cx, d: &D, root: &Node) {
    let Some(spec) = root.get("spec") else {
        cx.err(d, root, "spec", "a PrometheusRule needs `spec.groups`");
        return;
    };
    for (gi, g) in spec.get("groups").map(|g| g.items()).unwrap_or(&[]).iter().enumerate() {
        let gp = format!("spec.groups[{gi}]");
        g.get("name");
        g.get("interval");
        for (ri, r) in g.get("rules").map(|r| r.items()).unwrap_or(&[]).iter().enumerate() {
            let rp = format!("{gp}.rules[{ri}]");
            if r.get("record").is_some() {
                // Recording rules feed the alerts; their windows are read from their names.
                r.mark_all();
                continue;
            }
            let Some(alert) = r.get("alert").and_then(|a| a.scalar()).map(str::to_string) else {
                r.mark_all();
                continue;
            };
            let Some(expr_node) = r.get("expr") else {
                cx.err(d, r, &rp, "an alert needs `expr`");
                continue;
            };
            let expr = expr_node.scalar().unwrap_or("");
            let Some(rows) = burn_rate_rows(expr) else {
                cx.warn(
                    d,
                    expr_node,
                    &join(&rp, "expr"),
                    "not understood: expected the SRE workbook's multiwindow burn-rate form, `(errors_ratio_rate1h > (14.4*0.001) and errors_ratio_rate5m > (14.4*0.001)) or (...)`; skipped",
                );
                r.mark_all();
                continue;
            };
            let detect = match r.get("for") {
                Some(f) => match units::prometheus_duration_s(f.scalar().unwrap_or("")) {
                    Ok(s) => s,
                    Err(e) => {
                        cx.err(d, f, &join(&rp, "for"), e);
                        0.0
                    }
                },
                None => 0.0,
            };
            let labels: Vec<String> = r
                .get("labels")
                .map(|l| {
                    l.entries()
                        .iter()
                        .filter_map(|e| e.value.scalar().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let action = r
                .get("annotations")
                .and_then(|a| {
                    a.mark_all();
                    a.get("chaoscal.io/action")
                })
                .and_then(|a| a.scalar())
                .map(str::to_string);
            let mut selectors = Vec::new();
            for (i, row) in rows.iter().enumerate() {
                selectors.extend(row.labels.iter().cloned());
                let name = if rows.len() > 1 {
                    format!("{alert}-{}", i + 1)
                } else {
                    alert.clone()
                };
                cx.plan.guardrails.push(GuardrailOut {
                    origin: format!("{}, {rp}", d.origin()),
                    notes: vec![format!(
                        "burn rate {} over {} s and {} s (error budget {}){}",
                        row.burn_rate,
                        row.long_s,
                        row.short_s,
                        row.budget,
                        if detect > 0.0 {
                            format!(
                                "; `for: {}` is the detection delay",
                                r.get("for").and_then(|f| f.scalar()).unwrap_or("")
                            )
                        } else {
                            String::new()
                        }
                    )],
                    name,
                    slo: None,
                    budget: row.budget,
                    labels: labels.iter().cloned().chain(row.labels.iter().cloned()).collect(),
                    burn_rate: row.burn_rate,
                    window_s: row.long_s,
                    short_window_s: Some(row.short_s),
                    detect_delay_s: detect,
                    action: action.clone(),
                });
            }
        }
    }
}

/// One OR-ed row: both windows above `burn_rate × budget`.
#[derive(Debug, PartialEq)]
pub struct Row {
    pub burn_rate: f64,
    pub budget: f64,
    pub long_s: f64,
    pub short_s: f64,
    /// Label values of the selectors (`job="checkout"` gives `checkout`).
    pub labels: Vec<String>,
}

/// The rows of `(a > (B*E) and b > (B*E)) or (...)`, or `None`.
pub fn burn_rate_rows(expr: &str) -> Option<Vec<Row>> {
    let e: String = expr.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut rows = Vec::new();
    for part in split_top(&e, " or ") {
        let inner = strip_parens(part.trim());
        let sides = split_top(inner, " and ");
        if sides.len() != 2 {
            return None;
        }
        let a = comparison(strip_parens(sides[0].trim()))?;
        let b = comparison(strip_parens(sides[1].trim()))?;
        if (a.1 - b.1).abs() > 1e-12 * a.1.abs().max(1e-12) || (a.2 - b.2).abs() > 1e-12 {
            return None;
        }
        let (long, short) = if a.0 >= b.0 { (a.0, b.0) } else { (b.0, a.0) };
        let mut labels = a.3;
        labels.extend(b.3);
        labels.dedup();
        rows.push(Row {
            burn_rate: a.1,
            budget: a.2,
            long_s: long,
            short_s: short,
            labels,
        });
    }
    (!rows.is_empty()).then_some(rows)
}

/// `metric{...} > (B*E)` or `> B*E` or `> E` (burn rate 1): the metric's
/// window, the burn rate, the error budget and the selector's label values.
fn comparison(s: &str) -> Option<(f64, f64, f64, Vec<String>)> {
    let (lhs, rhs) = s.split_once(" > ")?;
    let window = window_of(lhs.trim())?;
    let rhs = strip_parens(rhs.trim());
    let (burn, budget) = match rhs.split_once('*') {
        Some((b, e)) => (b.trim().parse::<f64>().ok()?, e.trim().parse::<f64>().ok()?),
        None => (1.0, rhs.parse::<f64>().ok()?),
    };
    let ok = |x: f64| x.is_finite() && x > 0.0;
    if !ok(burn) || !ok(budget) || budget >= 1.0 {
        return None;
    }
    let labels = lhs
        .split_once('{')
        .map(|(_, l)| {
            l.trim_end_matches('}')
                .split(',')
                .filter_map(|kv| {
                    kv.split_once('=')
                        .map(|(_, v)| v.trim_matches(|c| c == '"' || c == '~' || c == ' ').to_string())
                })
                .filter(|v| !v.is_empty())
                .collect()
        })
        .unwrap_or_default();
    Some((window, burn, budget, labels))
}

/// The window of a recording rule named `…:ratio_rate1h` (the workbook's
/// naming), or of an inline `rate(x[1h]) / rate(y[1h])`.
fn window_of(metric: &str) -> Option<f64> {
    let name = metric.split('{').next()?.trim();
    if let Some(i) = name.rfind("_rate") {
        return units::prometheus_duration_s(&name[i + 5..]).ok();
    }
    let open = metric.find('[')?;
    let close = metric[open..].find(']')? + open;
    units::prometheus_duration_s(&metric[open + 1..close]).ok()
}

/// `s` split on `sep` outside parentheses.
fn split_top<'s>(s: &'s str, sep: &str) -> Vec<&'s str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < s.len() {
        match bytes[i] {
            b'(' | b'{' | b'[' => depth += 1,
            b')' | b'}' | b']' => depth -= 1,
            _ if depth == 0 && s[i..].starts_with(sep) => {
                out.push(&s[start..i]);
                i += sep.len();
                start = i;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&s[start..]);
    out
}

/// `(x)` → `x`, when the outer parentheses enclose everything.
fn strip_parens(s: &str) -> &str {
    let mut s = s.trim();
    while s.starts_with('(') && s.ends_with(')') {
        let inner = &s[1..s.len() - 1];
        let mut depth = 0i32;
        let balanced = inner.chars().all(|c| {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            depth >= 0
        });
        if !balanced || depth != 0 {
            break;
        }
        s = inner.trim();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workbook_alert_is_read_row_by_row() {
        // The SRE workbook's page alert: two rows, 14.4 over 1h/5m and 6 over 6h/30m, on a 99.9% SLO.
        let expr = r#"( job:slo_errors_per_request:ratio_rate1h{job="myjob"} > (14.4*0.001)
        and job:slo_errors_per_request:ratio_rate5m{job="myjob"} > (14.4*0.001) )
   or ( job:slo_errors_per_request:ratio_rate6h{job="myjob"} > (6*0.001)
        and job:slo_errors_per_request:ratio_rate30m{job="myjob"} > (6*0.001) )"#;
        let rows = burn_rate_rows(expr).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].burn_rate, rows[0].budget, rows[0].long_s, rows[0].short_s),
            (14.4, 0.001, 3600.0, 300.0)
        );
        assert_eq!(
            (rows[1].burn_rate, rows[1].long_s, rows[1].short_s),
            (6.0, 21_600.0, 1800.0)
        );
        assert_eq!(rows[0].labels, vec!["myjob".to_string()]);
        // The ticket row with a bare budget (burn rate 1).
        let t = burn_rate_rows("(a:ratio_rate3d > 0.001 and a:ratio_rate6h > 0.001)").unwrap();
        assert_eq!((t[0].burn_rate, t[0].long_s), (1.0, 259_200.0));
    }

    #[test]
    fn other_expressions_are_not_understood() {
        // A plain threshold alert, or rows whose windows disagree on the rate, are refused.
        assert!(burn_rate_rows("rate(http_errors_total[5m]) > 10").is_none());
        assert!(burn_rate_rows("(a:ratio_rate1h > (14.4*0.001) and a:ratio_rate5m > (6*0.001))").is_none());
    }

    #[test]
    fn queries_and_conditions() {
        // The Istio success-rate query of Argo's docs, a p99 query, and the usual condition forms.
        let q = r#"sum(irate(istio_requests_total{reporter="source",destination_service=~"{{args.service-name}}",response_code!~"5.*"}[5m])) /
          sum(irate(istio_requests_total{reporter="source",destination_service=~"{{args.service-name}}"}[5m]))"#;
        assert_eq!(measure(q), Some(Measure::SuccessRatio));
        let p = "histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket{x=\"y\"}[1m])) by (le))";
        assert_eq!(measure(p), Some(Measure::P99Ms));
        assert_eq!(measure("up"), None);
        assert_eq!(condition("result[0] >= 0.95"), Some((">=", 0.95)));
        assert_eq!(condition("all(result, # < 500)"), Some(("<", 500.0)));
        assert_eq!(condition("len(result) == 0 || result[0] >= 0.95"), Some((">=", 0.95)));
        assert_eq!(condition("result[0] in [1,2]"), None);
    }
}

//! Capacity and sensitivity sweeps (`chaoscal sweep`): a grid over numeric
//! fields of a scenario and its topology, every grid point run with the
//! same seed so that all points see the same arrivals, service times and
//! fault draws (common random numbers: the differences between points are
//! the parameter's doing, not the dice's).
//!
//! A key names a field by its path in the files ([`crate::input::keys`]:
//! `services.<name>.replicas`, `workload.rate_per_s.<region>`,
//! `workload.multiplier`, …). Each grid point edits the parsed TOML tables
//! and loads them like files ([`crate::input::scenario_from_str`]), so
//! every range and reference check of the loader applies to swept values
//! too. A scenario's `[[uncertain]]` inputs still vary per replication at
//! every point, except one whose key is swept: the sweep fixes it.
//!
//! A grid point's results are read off the run's [`Summary`] ([`Point::of`]);
//! `crate::present::sweep` writes `sweep.csv`, the table and the chart.

pub use crate::input::keys::{Inputs, unknown_key};
use crate::model::Expect;
use crate::results::Summary;

/// The most grid points a sweep may have (a limit on everything).
pub const MAX_POINTS: usize = 10_000;
/// The most values one `--set` may list or generate.
pub const MAX_VALUES: usize = 1_000;

/// One swept key and its values, in the order given.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    pub key: String,
    pub values: Vec<f64>,
}

/// Parses `KEY=A..B[:STEP]` (A, A+STEP, … up to B inclusive; STEP
/// defaults to 1) or `KEY=V1,V2,…`.
pub fn parse_set(text: &str) -> Result<Axis, String> {
    let usage = "expected KEY=A..B[:STEP] (e.g. services.psp.replicas=1..6) or KEY=V1,V2,...";
    let (key, spec) = text.split_once('=').ok_or_else(|| format!("--set {text:?}: {usage}"))?;
    let key = key.trim().to_string();
    if key.is_empty() {
        return Err(format!("--set {text:?}: the key is empty; {usage}"));
    }
    let num = |s: &str| -> Result<f64, String> {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| format!("--set {text:?}: {s:?} is not a number; {usage}"))
    };
    let values = if let Some((a, rest)) = spec.split_once("..") {
        let (b, step) = match rest.split_once(':') {
            Some((b, s)) => (b, num(s)?),
            None => (rest, 1.0),
        };
        let (a, b) = (num(a)?, num(b)?);
        if step <= 0.0 {
            return Err(format!("--set {text:?}: STEP must be positive"));
        }
        if b < a {
            return Err(format!(
                "--set {text:?}: the range {a}..{b} is empty (A must not exceed B)"
            ));
        }
        let count = ((b - a) / step + 1e-9).floor() + 1.0;
        if count > MAX_VALUES as f64 {
            return Err(format!(
                "--set {text:?}: {count} values; at most {MAX_VALUES} per key (use a larger STEP)"
            ));
        }
        (0..count as usize)
            .map(|i| {
                // A + i·STEP, not a running sum, and rounded to 12 significant digits, so 0.1 steps stay 0.3, not 0.30000000000000004.
                let v = a + i as f64 * step;
                let digits = 12 - v.abs().log10().ceil().max(0.0) as i32;
                let scale = 10f64.powi(digits.max(0));
                (v * scale).round() / scale
            })
            .collect()
    } else {
        let v: Result<Vec<f64>, String> = spec.split(',').map(num).collect();
        let v = v?;
        if v.len() > MAX_VALUES {
            return Err(format!("--set {text:?}: at most {MAX_VALUES} values per key"));
        }
        v
    };
    if values.is_empty() {
        return Err(format!("--set {text:?}: no values; {usage}"));
    }
    Ok(Axis { key, values })
}

/// Every point of the grid, the first axis varying slowest.
pub fn grid(axes: &[Axis]) -> Result<Vec<Vec<f64>>, String> {
    let total: usize = axes
        .iter()
        .try_fold(1usize, |acc, a| acc.checked_mul(a.values.len()))
        .unwrap_or(usize::MAX);
    if total > MAX_POINTS {
        return Err(format!(
            "the grid has {total} points; at most {MAX_POINTS} (fewer values or fewer keys)"
        ));
    }
    let mut points = vec![Vec::new()];
    for a in axes {
        points = points
            .into_iter()
            .flat_map(|p| {
                a.values.iter().map(move |v| {
                    let mut q = p.clone();
                    q.push(*v);
                    q
                })
            })
            .collect();
    }
    Ok(points)
}

/// One SLO at one grid point.
#[derive(Clone, Debug, PartialEq)]
pub struct SloPoint {
    pub name: String,
    pub violations: u64,
    pub probability: f64,
    pub ci95: [f64; 2],
    /// The scenario's `[expect]` limit for it, else [`DEFAULT_LIMIT`].
    pub limit: f64,
    /// Whether the 95% upper bound is at most the limit.
    pub meets: bool,
}

/// The violation probability a sweep asks of an SLO the scenario sets no limit for.
pub const DEFAULT_LIMIT: f64 = crate::results::DEFAULT_LIMIT;

/// The results of one grid point.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub values: Vec<f64>,
    pub replications: u64,
    pub slos: Vec<SloPoint>,
    /// Per flow: (name, availability, latency p99 ms).
    pub flows: Vec<(String, f64, f64)>,
    /// Mean degraded services and containment breach probability, when the scenario has faults.
    pub blast: Option<(f64, f64)>,
}

impl Point {
    pub fn meets_all(&self) -> bool {
        self.slos.iter().all(|s| s.meets)
    }

    /// Reads a grid point off its summary.
    pub fn of(values: Vec<f64>, summary: &Summary, expect: &Expect) -> Self {
        let slos = summary
            .slos
            .iter()
            .map(|s| {
                let limit = expect
                    .max_violation_probability
                    .iter()
                    .find(|(n, _)| *n == s.name)
                    .map(|(_, l)| *l)
                    .unwrap_or(DEFAULT_LIMIT);
                SloPoint {
                    name: s.name.clone(),
                    violations: s.violations,
                    probability: s.probability,
                    ci95: s.ci95,
                    limit,
                    meets: s.ci95[1] <= limit,
                }
            })
            .collect();
        Point {
            values,
            replications: summary.replications,
            slos,
            flows: summary
                .flows
                .iter()
                .map(|f| (f.name.clone(), f.availability, f.latency_ms.p99))
                .collect(),
            blast: summary
                .blast_radius
                .as_ref()
                .map(|b| (b.services.mean, b.containment_breach_probability)),
        }
    }
}

/// The grid points that meet every SLO and have no other meeting point at
/// or below them in every key (the smallest settings; one for one key).
pub fn minimal_points(points: &[Point]) -> Vec<&Point> {
    let meeting: Vec<&Point> = points.iter().filter(|p| p.meets_all()).collect();
    let mut out: Vec<&Point> = meeting
        .iter()
        .filter(|p| {
            !meeting
                .iter()
                .any(|q| q.values != p.values && q.values.iter().zip(&p.values).all(|(a, b)| a <= b))
        })
        .copied()
        .collect();
    out.sort_by(|a, b| {
        a.values
            .iter()
            .zip(&b.values)
            .map(|(x, y)| x.total_cmp(y))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    out.dedup_by(|a, b| a.values == b.values);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_lists_parse() {
        // A..B:STEP is inclusive and exact in decimal; lists keep their order; bad specs are refused.
        assert_eq!(parse_set("a.b=1..4").unwrap().values, vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(
            parse_set("a=0.1..0.5:0.1").unwrap().values,
            vec![0.1, 0.2, 0.3, 0.4, 0.5]
        );
        assert_eq!(parse_set("a=8,2,4").unwrap().values, vec![8.0, 2.0, 4.0]);
        for bad in ["a", "=1..2", "a=2..1", "a=1..2:0", "a=x..2", "a=1..100000", "a=1,,2"] {
            assert!(parse_set(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn grids_vary_the_last_key_fastest() {
        // Two keys of 2 and 3 values give 6 points, first key slowest.
        let axes = [
            Axis {
                key: "a".into(),
                values: vec![1.0, 2.0],
            },
            Axis {
                key: "b".into(),
                values: vec![5.0, 6.0, 7.0],
            },
        ];
        let g = grid(&axes).unwrap();
        assert_eq!(g.len(), 6);
        assert_eq!(g[0], vec![1.0, 5.0]);
        assert_eq!(g[1], vec![1.0, 6.0]);
        assert_eq!(g[5], vec![2.0, 7.0]);
    }
}

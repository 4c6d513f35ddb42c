//! Capacity and sensitivity sweeps (`chaoscal sweep`): a grid over numeric
//! fields of a scenario and its topology, every grid point run with the
//! same seed so that all points see the same arrivals, service times and
//! fault draws (common random numbers: the differences between points are
//! the parameter's doing, not the dice's).
//!
//! A key names a field by its path in the files, array elements by their
//! `name` (calls by their `to`, any element by its position):
//! `services.<name>.replicas`, `services.<name>.calls.<to>.timeout_ms`,
//! `services.<name>.calls.<to>.retry.attempts`, `workload.rate_per_s.<region>`,
//! `faults.<name or index>.duration_s`, `run.duration_s`, … plus
//! `workload.multiplier`, which scales every arrival rate. Each grid point
//! edits the parsed TOML tables and loads them like files
//! ([`crate::input::scenario_from_str`]), so every range and reference
//! check of the loader applies to swept values too.
//!
//! A grid point's results are read off the run's [`Summary`] ([`Point::of`]);
//! `crate::present::sweep` writes `sweep.csv`, the table and the chart.

use std::path::{Path, PathBuf};

use toml::{Table, Value};

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

/// A scenario and its topology as parsed TOML tables, ready to be edited.
#[derive(Clone, Debug)]
pub struct Inputs {
    pub scenario_path: PathBuf,
    pub topology_path: PathBuf,
    pub scenario: Table,
    pub topology: Table,
}

/// Top-level keys of a topology file (everything else belongs to the scenario).
const TOPOLOGY_KEYS: [&str; 6] = ["name", "description", "regions", "network", "flows", "services"];

fn is_topology_key(first: &str) -> bool {
    TOPOLOGY_KEYS.contains(&first) || first == "queues"
}

/// Keys a sweep must not touch: they are the sweep's own flags.
const RESERVED: [&str; 2] = ["run.seed", "run.replications"];

/// Optional integer fields a sweep may set even when the file leaves them
/// to their defaults (a service's, then a call's).
const SERVICE_DEFAULTS: [&str; 4] = ["replicas", "concurrency", "queue", "error_rate"];
const CALL_DEFAULTS: [&str; 4] = ["timeout_ms", "retry.attempts", "retry.budget", "p"];

impl Inputs {
    /// Parses the two texts (already known to load: the caller loaded them).
    pub fn new(scenario_path: &Path, scenario: &str, topology_path: &Path, topology: &str) -> Result<Self, String> {
        let scenario_tbl: Table = scenario
            .parse()
            .map_err(|e| format!("{}: {e}", scenario_path.display()))?;
        let topology_tbl: Table = topology
            .parse()
            .map_err(|e| format!("{}: {e}", topology_path.display()))?;
        Ok(Inputs {
            scenario_path: scenario_path.to_path_buf(),
            topology_path: topology_path.to_path_buf(),
            scenario: scenario_tbl,
            topology: topology_tbl,
        })
    }

    /// Every key a sweep may set, sorted: the numeric fields present in
    /// the files, the defaulted service and call fields, and `workload.multiplier`.
    pub fn keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        numeric_leaves(&self.topology, "", &mut keys);
        numeric_leaves(&self.scenario, "", &mut keys);
        for (svc, name) in named_elements(self.topology.get("services")) {
            for f in SERVICE_DEFAULTS {
                keys.push(format!("services.{name}.{f}"));
            }
            if let Some(t) = svc.as_table() {
                for (_, to) in named_elements(t.get("calls")) {
                    for f in CALL_DEFAULTS {
                        keys.push(format!("services.{name}.calls.{to}.{f}"));
                    }
                }
            }
        }
        if self
            .scenario
            .get("workload")
            .and_then(|w| w.get("rate_per_s"))
            .is_some()
        {
            keys.push("workload.multiplier".to_string());
        }
        keys.retain(|k| !RESERVED.contains(&k.as_str()));
        keys.sort();
        keys.dedup();
        keys
    }

    /// The two texts with `key = value` applied for every pair.
    pub fn apply(&self, settings: &[(String, f64)]) -> Result<(String, String), String> {
        let valid = self.keys();
        let mut scn = self.scenario.clone();
        let mut topo = self.topology.clone();
        for (key, value) in settings {
            if !valid.iter().any(|k| k == key) {
                return Err(unknown_key(key, &valid));
            }
            if key == "workload.multiplier" {
                scale_rates(&mut scn, *value)?;
                continue;
            }
            let segs: Vec<&str> = key.split('.').collect();
            let root = if is_topology_key(segs[0]) { &mut topo } else { &mut scn };
            set_path(root, &segs, *value).map_err(|e| format!("--set {key}: {e}"))?;
        }
        let topo_text = toml::to_string(&topo).map_err(|e| format!("cannot write the edited topology: {e}"))?;
        let scn_text = toml::to_string(&scn).map_err(|e| format!("cannot write the edited scenario: {e}"))?;
        Ok((topo_text, scn_text))
    }
}

/// The error for a key that is not settable, with the list of valid keys.
pub fn unknown_key(key: &str, valid: &[String]) -> String {
    let close: Vec<&String> = valid
        .iter()
        .filter(|k| {
            let last = key.rsplit('.').next().unwrap_or(key);
            k.ends_with(&format!(".{last}"))
        })
        .take(12)
        .collect();
    let mut msg = format!("unknown sweep key {key:?}");
    if !close.is_empty() {
        msg.push_str(&format!(
            "; keys ending the same way: {}",
            close.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        ));
    }
    msg.push_str(&format!("\nvalid keys ({}):\n  {}", valid.len(), valid.join("\n  ")));
    msg
}

/// Array-of-tables elements with the name a key uses for them: the
/// element's `name`, else its `to` (calls), else its position (0, 1, …);
/// a repeated name gets `#2`, `#3`…
fn named_elements(v: Option<&Value>) -> Vec<(&Value, String)> {
    let Some(Value::Array(items)) = v else {
        return Vec::new();
    };
    let mut seen: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(t) = item.as_table() else { continue };
        let base = t
            .get("name")
            .or_else(|| t.get("to"))
            .and_then(|v| v.as_str())
            .map(|s| s.to_string())
            .unwrap_or_else(|| i.to_string());
        let repeats = seen.iter().filter(|s| **s == base).count();
        seen.push(base.clone());
        let name = if repeats == 0 {
            base
        } else {
            format!("{base}#{}", repeats + 1)
        };
        out.push((item, name));
    }
    out
}

fn numeric_leaves(t: &Table, prefix: &str, out: &mut Vec<String>) {
    for (k, v) in t {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            Value::Integer(_) | Value::Float(_) => out.push(path),
            Value::Table(sub) => numeric_leaves(sub, &path, out),
            Value::Array(items) if items.iter().all(|i| i.is_table()) => {
                for (item, name) in named_elements(Some(v)) {
                    if let Some(sub) = item.as_table() {
                        numeric_leaves(sub, &format!("{path}.{name}"), out);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Sets the numeric field at `segs` (array elements by name or position),
/// creating missing tables on the way.
fn set_path(t: &mut Table, segs: &[&str], value: f64) -> Result<(), String> {
    let (first, rest) = segs.split_first().ok_or("empty key")?;
    if rest.is_empty() {
        let existing = t.get(*first);
        let integral = value.fract() == 0.0 && value.abs() < 9.0e15;
        let new = match existing {
            Some(Value::Float(_)) => Value::Float(value),
            Some(Value::Integer(_)) if !integral => {
                return Err(format!("{first} takes whole numbers; {value} is not one"));
            }
            Some(Value::Integer(_)) | None if integral => Value::Integer(value as i64),
            None => Value::Float(value),
            Some(other) => return Err(format!("{first} is a {}, not a number", other.type_str())),
        };
        t.insert(first.to_string(), new);
        return Ok(());
    }
    match t.get_mut(*first) {
        Some(Value::Table(sub)) => set_path(sub, rest, value),
        Some(v @ Value::Array(_)) => {
            // The element's name may itself contain dots: try the longest match first.
            let names: Vec<String> = named_elements(Some(v)).into_iter().map(|(_, n)| n).collect();
            let Value::Array(items) = v else {
                unreachable!("matched an array above")
            };
            for take in (1..=rest.len().saturating_sub(1)).rev() {
                let name = rest[..take].join(".");
                let pos = names
                    .iter()
                    .position(|n| *n == name)
                    .or_else(|| name.parse::<usize>().ok().filter(|&i| i < items.len()));
                if let Some(i) = pos
                    && let Some(sub) = items[i].as_table_mut()
                {
                    return set_path(sub, &rest[take..], value);
                }
            }
            Err(format!("no element of {first} named {:?}", rest[0]))
        }
        Some(other) => Err(format!("{first} is a {}, not a table", other.type_str())),
        None => {
            let mut sub = Table::new();
            set_path(&mut sub, rest, value)?;
            t.insert(first.to_string(), Value::Table(sub));
            Ok(())
        }
    }
}

/// `workload.multiplier`: every arrival rate times `factor`.
fn scale_rates(scn: &mut Table, factor: f64) -> Result<(), String> {
    if !(factor.is_finite() && factor >= 0.0) {
        return Err(format!(
            "workload.multiplier must be a non-negative number, not {factor}"
        ));
    }
    let rates = scn
        .get_mut("workload")
        .and_then(|w| w.as_table_mut())
        .and_then(|w| w.get_mut("rate_per_s"))
        .ok_or("the scenario has no workload.rate_per_s")?;
    let scale = |v: &mut Value| match v {
        Value::Integer(i) => *v = Value::Float(*i as f64 * factor),
        Value::Float(f) => *f *= factor,
        _ => {}
    };
    match rates {
        Value::Table(t) => t.iter_mut().for_each(|(_, v)| scale(v)),
        v => scale(v),
    }
    Ok(())
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
pub const DEFAULT_LIMIT: f64 = 0.05;

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

    #[test]
    fn keys_resolve_names_and_defaults() {
        // Services, calls and regions are addressed by name; defaulted fields can be set; unknown keys list the valid ones.
        let topo = "name = \"t\"\n[[regions]]\nname = \"r\"\n[[flows]]\nname = \"f\"\nentry = \"a\"\n\
                    [[services]]\nname = \"a\"\nregions = [\"r\"]\nservice_time = 1\n\
                    [[services.calls]]\nto = \"b\"\ntimeout_ms = 100\n\
                    [[services]]\nname = \"b\"\nregions = [\"r\"]\nreplicas = 2\nservice_time = { dist = \"exp\", mean_ms = 2 }\n";
        let scn = "[experiment]\nname = \"s\"\ntopology = \"t.toml\"\n[run]\nduration_s = 10\nseed = 3\n\
                   [workload]\nrate_per_s = { r = 10 }\n";
        let inputs = Inputs::new(Path::new("s.toml"), scn, Path::new("t.toml"), topo).unwrap();
        let keys = inputs.keys();
        for k in [
            "services.a.replicas",
            "services.b.replicas",
            "services.a.calls.b.timeout_ms",
            "services.a.calls.b.retry.attempts",
            "services.b.service_time.mean_ms",
            "workload.rate_per_s.r",
            "workload.multiplier",
            "run.duration_s",
        ] {
            assert!(keys.iter().any(|x| x == k), "{k} missing from {keys:?}");
        }
        assert!(!keys.iter().any(|x| x == "run.seed"));
        let (t, s) = inputs
            .apply(&[
                ("services.b.replicas".into(), 5.0),
                ("services.a.calls.b.retry.attempts".into(), 3.0),
                ("workload.multiplier".into(), 2.5),
            ])
            .unwrap();
        let t: Table = t.parse().unwrap();
        let s: Table = s.parse().unwrap();
        assert_eq!(t["services"][1]["replicas"].as_integer(), Some(5));
        assert_eq!(t["services"][0]["calls"][0]["retry"]["attempts"].as_integer(), Some(3));
        assert_eq!(s["workload"]["rate_per_s"]["r"].as_float(), Some(25.0));
        let err = inputs.apply(&[("services.c.replicas".into(), 1.0)]).unwrap_err();
        assert!(
            err.contains("unknown sweep key") && err.contains("services.a.replicas"),
            "{err}"
        );
        let err = inputs.apply(&[("services.b.replicas".into(), 1.5)]).unwrap_err();
        assert!(err.contains("whole numbers"), "{err}");
    }
}

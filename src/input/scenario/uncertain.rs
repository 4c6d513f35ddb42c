//! `[[uncertain]]`: inputs whose value is not known, each a settable key
//! (`crate::input::keys`, what `sweep --set` takes) and a distribution its
//! value is drawn from once per replication.
//!
//! Resolving happens in two steps. [`resolve`] reads each entry with the
//! rest of the file: the distribution (in the field's own unit: `uniform`,
//! `lognormal`, `percentiles`, `empirical` or `const`), the optional `min`
//! and `max` that clamp it, one entry per key. Once the whole scenario has
//! loaded, [`attach`] checks the keys against the files, finds which fields
//! take whole numbers, and loads the scenario again at the ends of every
//! input's range, so a value the scenario refuses is reported here, at the
//! entry's `dist`, and never met by a running replication:
//!
//! * each input at its lowest and highest value, the others at their medians;
//! * every pair of inputs at the four corners of their ranges;
//! * with at most [`FULL_CORNERS_MAX`] inputs, every corner of all of them.
//!
//! Every range and ordering rule of the loader is an interval or a linear
//! inequality, so a box whose corners load loads everywhere inside.

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use toml::{Table, Value};

use crate::input::diag::{Ctx, Diagnostic, KeyPath, Source};
use crate::input::dist::{self, DistKind, RawDist, Unit};
use crate::input::keys::{self, Inputs, Setting};
use crate::model::{Dist, InputDist, Scenario, UncertainInput, Uncertainty};

/// The most uncertain inputs a scenario may have (a limit on everything:
/// the load-time check loads the scenario about 2·n² times).
pub const MAX_INPUTS: usize = 16;

/// Up to this many inputs, every corner of their joint range is loaded.
pub const FULL_CORNERS_MAX: usize = 6;

/// Sections whose numbers judge the outcome (objectives, limits, the
/// declared radius): not uncertain inputs, since every replication must be
/// judged by the same rule.
const JUDGEMENT: [&str; 3] = ["slos.", "expect.", "blast_radius."];

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUncertain {
    pub set: String,
    pub dist: RawDist,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// Stage two for the entries themselves: keys (against `keys`, the
/// settable keys of the files; `None` when the files could not be read as
/// tables), distributions, clamps, one entry per key. The values' ranges
/// are checked against the scenario by [`attach`].
pub fn resolve(cx: &mut Ctx, raws: &[RawUncertain], base_dir: &Path, keys: Option<&[String]>) -> Vec<UncertainInput> {
    let root = KeyPath::root().k("uncertain");
    if raws.len() > MAX_INPUTS {
        cx.err(
            &root.i(MAX_INPUTS),
            format!(
                "{} uncertain inputs; at most {MAX_INPUTS} (sensitivity needs many replications per input)",
                raws.len()
            ),
        );
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, u) in raws.iter().enumerate() {
        let at = root.i(i);
        let set = u.set.trim();
        let set_ok = if set.is_empty() {
            cx.err(&at.k("set"), "empty; expected a key such as \"workload.multiplier\"");
            false
        } else if let Some(j) = raws[..i].iter().position(|p| p.set.trim() == set) {
            cx.err(&at.k("set"), format!("\"{set}\" is already drawn by uncertain[{j}]"));
            false
        } else if set.starts_with("run.") {
            cx.err(
                &at.k("set"),
                format!("\"{set}\": the run's settings are the same for every replication; choose a key of the workload, faults, services, …"),
            );
            false
        } else if let Some(section) = JUDGEMENT.iter().find(|p| set.starts_with(*p)) {
            cx.err(
                &at.k("set"),
                format!(
                    "\"{set}\": `{}` is how the outcome is judged, not something unknown about the world; every replication is judged alike (vary it with `sweep --set`)",
                    section.trim_end_matches('.')
                ),
            );
            false
        } else if let Some(valid) = keys
            && !valid.iter().any(|k| k == set)
        {
            cx.err(&at.k("set"), unknown_key_message(set, valid, &cx.src.path));
            false
        } else {
            true
        };
        let input = input_of(cx, &at, u, set, base_dir);
        if let (true, Some(input)) = (set_ok, input) {
            out.push(input);
        }
    }
    out
}

/// The settable keys of a scenario and its topology, as texts (the
/// `[[uncertain]]` entries' own numbers are not keys).
pub fn settable_keys(ssrc: &Source, topology_path: &Path, topology: &str) -> Option<Vec<String>> {
    Inputs::new(&ssrc.path, &ssrc.text, topology_path, topology)
        .ok()
        .map(|i| i.keys())
}

/// One entry: its distribution and range.
fn input_of(cx: &mut Ctx, at: &KeyPath, u: &RawUncertain, set: &str, base_dir: &Path) -> Option<UncertainInput> {
    let dp = at.k("dist");
    if let RawDist::Table(t) = &u.dist
        && let Some(kind @ (DistKind::Exp | DistKind::Gamma)) = t.dist
    {
        cx.err(
            &dp,
            format!(
                "dist = \"{}\" is not offered for uncertain inputs; use uniform, lognormal, percentiles, empirical or const (a range someone can state)",
                kind.name()
            ),
        );
        return None;
    }
    let d = dist::dist(cx, &dp, &u.dist, Unit::Plain, base_dir)?;
    let d = match d {
        Dist::Const(v) => InputDist::Const(v),
        Dist::Uniform { min, max } => InputDist::Uniform { min, max },
        Dist::Lognormal { mu, sigma } => InputDist::Lognormal { mu, sigma },
        Dist::Quantiles(points) => InputDist::Quantiles(points),
        Dist::Empirical(mut values) => {
            values.sort_by(f64::total_cmp);
            InputDist::Empirical(values)
        }
        Dist::Exp { .. } | Dist::Gamma(..) => return None,
    };
    let (mut lo, mut hi) = d.range();
    for (key, bound) in [("min", u.min), ("max", u.max)] {
        if let Some(b) = bound
            && !b.is_finite()
        {
            cx.err(&at.k(key), format!("expected a number, found {b}"));
            return None;
        }
    }
    if let (Some(a), Some(b)) = (u.min, u.max)
        && a > b
    {
        cx.err(&at.k("min"), format!("min ({a}) is above max ({b})"));
        return None;
    }
    lo = u.min.map_or(lo, |m| lo.max(m));
    hi = u.max.map_or(hi, |m| hi.min(m));
    if lo > hi {
        cx.err(
            &dp,
            format!(
                "the clamp [{}, {}] leaves none of the distribution's values ({}–{})",
                u.min.map_or("-".into(), |v| v.to_string()),
                u.max.map_or("-".into(), |v| v.to_string()),
                d.range().0,
                d.range().1
            ),
        );
        return None;
    }
    let mut written = describe(&u.dist);
    if u.min.is_some() || u.max.is_some() {
        written.push_str(&format!(
            " clamped to [{}, {}]",
            u.min.map_or("-".into(), |v| v.to_string()),
            u.max.map_or("-".into(), |v| v.to_string())
        ));
    }
    Some(UncertainInput {
        set: set.to_string(),
        dist: d,
        written,
        lo,
        hi,
        integral: false,
    })
}

/// A distribution as written, for people: `uniform(min = 100, max = 160)`.
fn describe(raw: &RawDist) -> String {
    let t = match raw {
        RawDist::Number(v) => return format!("const {v}"),
        RawDist::Table(t) => t,
    };
    let Some(kind) = t.dist else {
        return "?".to_string();
    };
    let pairs: Vec<String> = [
        ("value", t.value),
        ("min", t.min),
        ("median", t.median),
        ("p50", t.p50),
        ("p90", t.p90),
        ("p99", t.p99),
        ("max", t.max),
    ]
    .iter()
    .filter_map(|(k, v)| v.map(|v| format!("{k} = {v}")))
    .chain(t.file.iter().map(|f| format!("file = {f}")))
    .collect();
    format!("{}({})", kind.name(), pairs.join(", "))
}

/// Checks the resolved inputs against the files they edit and attaches
/// them to the scenario. `topology` is the topology file's text. Returns
/// the problems found (the scenario is refused when any is an error).
pub fn attach(
    ssrc: &Source,
    topology_path: &Path,
    topology: &str,
    inputs: Vec<UncertainInput>,
    scenario: &mut Scenario,
) -> Vec<Diagnostic> {
    if inputs.is_empty() {
        return Vec::new();
    }
    let mut cx = Ctx::new(ssrc);
    let mut base = match Inputs::new(&ssrc.path, &ssrc.text, topology_path, topology) {
        Ok(b) => b,
        Err(e) => {
            cx.err(&KeyPath::root().k("uncertain"), e);
            return cx.diags;
        }
    };
    base.scenario.remove("uncertain");
    // Every entry resolved (else the file failed before this), so input j is uncertain[j].
    let mut probe = Probe { base: &base, inputs };
    if probe.check(&mut cx) {
        scenario.uncertain = Some(Arc::new(Uncertainty {
            inputs: probe.inputs,
            scenario: base.scenario.clone(),
            topology: base.topology.clone(),
            scenario_path: base.scenario_path.clone(),
            topology_path: base.topology_path.clone(),
        }));
    }
    cx.diags
}

/// sweep's unknown-key message, as one diagnostic: the near matches, and
/// where to see every key.
fn unknown_key_message(key: &str, valid: &[String], scenario: &Path) -> String {
    let near = keys::near_keys(key, valid);
    let mut msg = format!("unknown key {key:?}");
    if !near.is_empty() {
        msg.push_str(&format!(
            "; near matches: {}",
            near.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        ));
    }
    msg.push_str(&format!(
        " ({} settable keys: `chaoscal sweep {}` lists them)",
        valid.len(),
        scenario.display()
    ));
    msg
}

/// Some inputs' values (input index, value), the others at their medians.
type WithMedians<'a> = dyn Fn(&[(usize, f64)]) -> Vec<(usize, f64)> + 'a;

/// Loads the scenario with some inputs set, to see whether it accepts them.
struct Probe<'a> {
    base: &'a Inputs,
    inputs: Vec<UncertainInput>,
}

impl Probe<'_> {
    /// Loads the files with input `j` at `value` for each pair (the rest as
    /// the files write them); the first problem's message if they do not load.
    fn load(&self, values: &[(usize, f64)]) -> Result<(), String> {
        let at: Vec<(&str, Value)> = values
            .iter()
            .map(|&(j, v)| (self.inputs[j].set.as_str(), toml_number(v, self.inputs[j].integral)))
            .collect();
        let b = self.base;
        load_with(&b.scenario, &b.topology, &b.scenario_path, &b.topology_path, &at).map(|_| ())
    }

    fn at(&self, j: usize) -> KeyPath {
        KeyPath::root().k("uncertain").i(j).k("dist")
    }

    /// Every check in turn; false when the scenario refuses some value.
    fn check(&mut self, cx: &mut Ctx) -> bool {
        let n = self.inputs.len();
        // Which fields take whole numbers: a float at the median is refused, its nearest whole number taken.
        for j in 0..n {
            let m = self.inputs[j].settle(self.inputs[j].dist.median());
            if self.load(&[(j, m)]).is_ok() {
                continue;
            }
            self.inputs[j].integral = true;
            let whole = (self.inputs[j].lo.ceil(), self.inputs[j].hi.floor());
            if whole.0 > whole.1 {
                cx.err(
                    &self.at(j),
                    format!(
                        "{} takes whole numbers, and none lies between {} and {}",
                        self.inputs[j].set, self.inputs[j].lo, self.inputs[j].hi
                    ),
                );
                continue;
            }
            if let Err(e) = self.load(&[(j, self.inputs[j].settle(m))]) {
                self.inputs[j].integral = false;
                cx.err(
                    &self.at(j),
                    format!("the scenario refuses {} = {m} (the median): {e}", self.inputs[j].set),
                );
            }
        }
        if cx.has_errors() {
            return false;
        }
        let medians: Vec<f64> = self.inputs.iter().map(|u| u.settle(u.dist.median())).collect();
        let with = |changes: &[(usize, f64)]| -> Vec<(usize, f64)> {
            let mut v: Vec<(usize, f64)> = medians.iter().copied().enumerate().collect();
            for &(j, x) in changes {
                v[j].1 = x;
            }
            v
        };
        for j in 0..n {
            let u = &self.inputs[j];
            for (end, x, bound) in [("lowest", u.lo, "min"), ("highest", u.hi, "max")] {
                let x = u.settle(x);
                if let Err(e) = self.load(&with(&[(j, x)])) {
                    cx.err(
                        &self.at(j),
                        format!(
                            "{} reaches {x} (its {end} value), which the scenario refuses: {e}; narrow the distribution or clamp it with `{bound} = …` beside `dist`",
                            u.set
                        ),
                    );
                }
            }
        }
        if cx.has_errors() {
            return false;
        }
        self.check_corners(cx, &with)
    }

    /// Pairs at their corners, then (few inputs) every corner.
    fn check_corners(&self, cx: &mut Ctx, with: &WithMedians) -> bool {
        let n = self.inputs.len();
        let ends = |j: usize| {
            let u = &self.inputs[j];
            [u.settle(u.lo), u.settle(u.hi)]
        };
        for a in 0..n {
            for b in a + 1..n {
                for xa in ends(a) {
                    for xb in ends(b) {
                        if let Err(e) = self.load(&with(&[(a, xa), (b, xb)])) {
                            cx.err(
                                &self.at(b),
                                format!(
                                    "with {} = {xa} and {} = {xb} (ends of their ranges) the scenario refuses: {e}",
                                    self.inputs[a].set, self.inputs[b].set
                                ),
                            );
                            return false;
                        }
                    }
                }
            }
        }
        if n > 2 && n <= FULL_CORNERS_MAX {
            for corner in 0..(1u32 << n) {
                let values: Vec<(usize, f64)> = (0..n).map(|j| (j, ends(j)[((corner >> j) & 1) as usize])).collect();
                if let Err(e) = self.load(&values) {
                    let at: Vec<String> = values
                        .iter()
                        .map(|&(j, x)| format!("{} = {x}", self.inputs[j].set))
                        .collect();
                    cx.err(
                        &self.at(n - 1),
                        format!(
                            "with {} (ends of their ranges) the scenario refuses: {e}",
                            at.join(", ")
                        ),
                    );
                    return false;
                }
            }
        }
        true
    }
}

/// A number as the TOML value a field takes: an integer for a field of
/// whole numbers, else a float.
fn toml_number(v: f64, integral: bool) -> Value {
    if integral {
        Value::Integer(v.round() as i64)
    } else {
        Value::Float(v)
    }
}

/// Loads the base files with each key set to a value; the first error's
/// message when they do not load.
fn load_with(
    scenario: &Table,
    topology: &Table,
    scenario_path: &Path,
    topology_path: &Path,
    values: &[(&str, Value)],
) -> Result<crate::input::LoadedScenario, String> {
    let mut scn = scenario.clone();
    let mut topo = topology.clone();
    for (key, v) in values {
        keys::set_key(&mut scn, &mut topo, key, &Setting::Exact(v.clone()))?;
    }
    let (topo_text, scn_text) = keys::texts(&topo, &scn)?;
    crate::input::scenario_from_str(topology_path, &topo_text, scenario_path, &scn_text)
        .map(|(l, _)| l)
        .map_err(|d| {
            d.iter()
                .find(|d| d.is_error())
                .map(|d| d.message.clone())
                .unwrap_or_else(|| "it does not load".to_string())
        })
}

/// The model one replication runs: the files with every uncertain input
/// set to its value (`values[j]` for input j, already settled).
pub fn replication_model(u: &Uncertainty, values: &[f64]) -> Result<crate::input::LoadedScenario, String> {
    let at: Vec<(&str, Value)> = u
        .inputs
        .iter()
        .zip(values)
        .map(|(input, &v)| (input.set.as_str(), toml_number(v, input.integral)))
        .collect();
    load_with(&u.scenario, &u.topology, &u.scenario_path, &u.topology_path, &at)
}

//! Distribution fields (`service_time`, `latency`, `delay`, `value`,
//! `start_s`, …): their shape as written, and their resolution into a
//! [`Dist`] in the field's base unit (nanoseconds for durations, plain
//! numbers for values).
//!
//! A field is a bare number (a constant in the field's unit) or a table
//! `{ dist = "<form>", … }`. Keys ending in `_ms` are milliseconds; keys
//! without a unit take the field's own unit ([`Unit`]). Default: a
//! `percentiles` table without `min` starts at 0 (`defaults::PERCENTILES_MIN`).
//!
//! Which keys each form takes is a hand-written table ([`DistKind::keys`])
//! checked against the flat [`RawDistTable`], not a serde enum tagged by
//! `dist`: with a tagged enum serde reports a key the form does not take as
//! "unknown field `ms`, expected `mean_ms` or `mean`" at the table's `{`
//! rather than "`ms` is not used by dist = \"exp\" (it takes: mean_ms,
//! mean)" at the key, a missing key as "missing field `cv`", and a bad value
//! inside the table at the `{` instead of at the value.

use std::fmt;
use std::path::Path;

use rand_distr::Gamma;
use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};

use super::defaults::PERCENTILES_MIN;
use super::diag::{Ctx, KeyPath};
use crate::model::{Dist, NS_PER_MS, NS_PER_S};

/// The most values an `empirical` file may hold (a limit on everything).
const EMPIRICAL_VALUES_MAX: usize = 10_000_000;

/// The largest number a distribution key takes (in its own unit).
const VALUE_MAX: f64 = 1e12;

/// The form of a distribution, `dist = "..."`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DistKind {
    Const,
    Exp,
    Uniform,
    Lognormal,
    Gamma,
    Percentiles,
    Empirical,
}

impl DistKind {
    /// The form as written.
    pub fn name(self) -> &'static str {
        match self {
            DistKind::Const => "const",
            DistKind::Exp => "exp",
            DistKind::Uniform => "uniform",
            DistKind::Lognormal => "lognormal",
            DistKind::Gamma => "gamma",
            DistKind::Percentiles => "percentiles",
            DistKind::Empirical => "empirical",
        }
    }

    /// The keys this form takes (besides `dist`), in the order error messages list them.
    pub fn keys(self) -> &'static [&'static str] {
        match self {
            DistKind::Const => &["ms", "value"],
            DistKind::Exp => &["mean_ms", "mean"],
            DistKind::Uniform => &["min_ms", "min", "max_ms", "max"],
            DistKind::Lognormal => &["median_ms", "median", "p99_ms", "p99"],
            DistKind::Gamma => &["mean_ms", "mean", "cv"],
            DistKind::Percentiles => &[
                "min_ms", "min", "p50_ms", "p50", "p90_ms", "p90", "p99_ms", "p99", "max_ms", "max",
            ],
            DistKind::Empirical => &["file", "column"],
        }
    }
}

/// A distribution table as written: every key any form takes. Which keys a
/// form needs is checked when resolving.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawDistTable {
    pub dist: Option<DistKind>,
    pub ms: Option<f64>,
    pub value: Option<f64>,
    pub mean_ms: Option<f64>,
    pub mean: Option<f64>,
    pub min_ms: Option<f64>,
    pub min: Option<f64>,
    pub max_ms: Option<f64>,
    pub max: Option<f64>,
    pub median_ms: Option<f64>,
    pub median: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p50: Option<f64>,
    pub p90_ms: Option<f64>,
    pub p90: Option<f64>,
    pub p99_ms: Option<f64>,
    pub p99: Option<f64>,
    pub cv: Option<f64>,
    pub file: Option<String>,
    pub column: Option<String>,
}

impl RawDistTable {
    /// Every key a table may carry, with whether it is written, in the
    /// order unused keys are reported.
    fn written(&self) -> [(&'static str, bool); 19] {
        [
            ("ms", self.ms.is_some()),
            ("value", self.value.is_some()),
            ("mean_ms", self.mean_ms.is_some()),
            ("mean", self.mean.is_some()),
            ("min_ms", self.min_ms.is_some()),
            ("min", self.min.is_some()),
            ("max_ms", self.max_ms.is_some()),
            ("max", self.max.is_some()),
            ("median_ms", self.median_ms.is_some()),
            ("median", self.median.is_some()),
            ("p50_ms", self.p50_ms.is_some()),
            ("p50", self.p50.is_some()),
            ("p90_ms", self.p90_ms.is_some()),
            ("p90", self.p90.is_some()),
            ("p99_ms", self.p99_ms.is_some()),
            ("p99", self.p99.is_some()),
            ("cv", self.cv.is_some()),
            ("file", self.file.is_some()),
            ("column", self.column.is_some()),
        ]
    }
}

/// A distribution field: a bare number (a constant in the field's unit) or a table.
#[derive(Clone, Debug, PartialEq)]
pub enum RawDist {
    Number(f64),
    Table(Box<RawDistTable>),
}

impl<'de> Deserialize<'de> for RawDist {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawDist;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or a distribution table such as { dist = \"exp\", mean_ms = 5 }")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawDist, E> {
                Ok(RawDist::Number(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawDist, E> {
                Ok(RawDist::Number(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawDist, E> {
                Ok(RawDist::Number(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawDist, A::Error> {
                RawDistTable::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|t| RawDist::Table(Box::new(t)))
            }
        }
        d.deserialize_any(V)
    }
}

/// The unit a distribution field takes for keys written without `_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Durations such as `service_time`, `delay`: unit-less keys are ms; result in ns.
    Ms,
    /// Fields ending in `_s`: unit-less keys are seconds; result in ns.
    Seconds,
    /// Values such as `value` (money): plain numbers; `_ms` keys are refused.
    Plain,
}

impl Unit {
    fn plain_scale(self) -> f64 {
        match self {
            Unit::Ms => NS_PER_MS,
            Unit::Seconds => NS_PER_S,
            Unit::Plain => 1.0,
        }
    }
}

/// Resolves a distribution field. `base_dir` anchors `empirical` files.
pub fn dist(cx: &mut Ctx, path: &KeyPath, raw: &RawDist, unit: Unit, base_dir: &Path) -> Option<Dist> {
    let t = match raw {
        RawDist::Number(v) => {
            if !v.is_finite() || *v < 0.0 || *v > VALUE_MAX {
                cx.err(path, format!("expected a non-negative number, found {v}"));
                return None;
            }
            return Some(Dist::Const(v * unit.plain_scale()));
        }
        RawDist::Table(t) => t,
    };
    let Some(form) = t.dist else {
        cx.err(
            path,
            "missing `dist`; expected one of: const, exp, uniform, lognormal, gamma, percentiles, empirical",
        );
        return None;
    };
    let before = cx.diags.len();
    // Keys the form does not use are reported rather than silently ignored.
    let allowed = form.keys();
    for (key, set) in t.written() {
        if set && !allowed.contains(&key) {
            cx.err(
                &path.k(key),
                format!(
                    "`{key}` is not used by dist = \"{}\" (it takes: {})",
                    form.name(),
                    allowed.join(", ")
                ),
            );
        }
    }
    let f = Field { path, unit, form };
    let d = match form {
        DistKind::Const => f.constant(cx, t),
        DistKind::Exp => f
            .quantity(cx, "mean", t.mean_ms, t.mean, true)
            .map(|mean| Dist::Exp { mean }),
        DistKind::Uniform => f.uniform(cx, t),
        DistKind::Lognormal => f.lognormal(cx, t),
        DistKind::Gamma => f.gamma(cx, t),
        DistKind::Percentiles => f.percentiles(cx, t),
        DistKind::Empirical => match &t.file {
            None => {
                cx.err(path, "dist = \"empirical\" needs `file` (a CSV of observed values)");
                None
            }
            Some(file) => empirical(cx, &path.k("file"), &base_dir.join(file), t.column.as_deref(), unit),
        },
    };
    if cx.diags.len() > before { None } else { d }
}

/// One distribution table being resolved: where it is, its unit and form.
struct Field<'a> {
    path: &'a KeyPath,
    unit: Unit,
    form: DistKind,
}

impl Field<'_> {
    /// One quantity written as `<name>_ms` or `<name>`: checked as written,
    /// returned in ns (or plain).
    fn quantity(&self, cx: &mut Ctx, name: &str, ms: Option<f64>, plain: Option<f64>, required: bool) -> Option<f64> {
        let (path, unit) = (self.path, self.unit);
        let (key, raw, scale) = match (ms, plain) {
            (Some(_), Some(_)) => {
                cx.err(path, format!("give either `{name}_ms` or `{name}`, not both"));
                return None;
            }
            (Some(v), None) => {
                if unit == Unit::Plain {
                    cx.err(
                        &path.k(&format!("{name}_ms")),
                        format!("this field is a value, not a duration: write `{name}` without `_ms`"),
                    );
                    return None;
                }
                (format!("{name}_ms"), v, NS_PER_MS)
            }
            (None, Some(v)) => (name.to_string(), v, unit.plain_scale()),
            (None, None) => {
                if required {
                    let hint = if unit == Unit::Plain {
                        name.to_string()
                    } else {
                        format!("{name}_ms")
                    };
                    cx.err(path, format!("dist = \"{}\" needs `{hint}`", self.form.name()));
                }
                return None;
            }
        };
        if !raw.is_finite() || !(0.0..=VALUE_MAX).contains(&raw) {
            cx.err(
                &path.k(&key),
                format!("`{key}` must be a non-negative number (at most 1e12), found {raw}"),
            );
            return None;
        }
        Some(raw * scale)
    }

    /// `const`: `ms` is the duration form; `value` takes the field's unit.
    fn constant(&self, cx: &mut Ctx, t: &RawDistTable) -> Option<Dist> {
        if self.unit == Unit::Plain {
            // A value field reads `ms` as `value_ms`, which it refuses.
            return self.quantity(cx, "value", t.ms, t.value, true).map(Dist::Const);
        }
        match (t.ms, t.value) {
            (Some(_), Some(_)) => {
                cx.err(self.path, "give either `ms` or `value`, not both");
                None
            }
            (None, None) => {
                cx.err(self.path, "dist = \"const\" needs `ms`");
                None
            }
            (ms, value) => {
                let (key, raw, scale) = match ms {
                    Some(v) => ("ms", v, NS_PER_MS),
                    None => ("value", value.unwrap_or(0.0), self.unit.plain_scale()),
                };
                if raw.is_finite() && (0.0..=VALUE_MAX).contains(&raw) {
                    Some(Dist::Const(raw * scale))
                } else {
                    cx.err(
                        &self.path.k(key),
                        format!("`{key}` must be a non-negative number, found {raw}"),
                    );
                    None
                }
            }
        }
    }

    fn uniform(&self, cx: &mut Ctx, t: &RawDistTable) -> Option<Dist> {
        let min = self.quantity(cx, "min", t.min_ms, t.min, true);
        let max = self.quantity(cx, "max", t.max_ms, t.max, true);
        match (min, max) {
            (Some(min), Some(max)) if min <= max => Some(Dist::Uniform { min, max }),
            (Some(_), Some(_)) => {
                cx.err(self.path, "uniform needs min ≤ max");
                None
            }
            _ => None,
        }
    }

    fn lognormal(&self, cx: &mut Ctx, t: &RawDistTable) -> Option<Dist> {
        let median = self.quantity(cx, "median", t.median_ms, t.median, true);
        let p99 = self.quantity(cx, "p99", t.p99_ms, t.p99, true);
        match (median, p99) {
            (Some(m), Some(p)) if m > 0.0 && p >= m => Some(Dist::lognormal(m, p)),
            (Some(_), Some(_)) => {
                cx.err(self.path, "lognormal needs 0 < median ≤ p99");
                None
            }
            _ => None,
        }
    }

    fn gamma(&self, cx: &mut Ctx, t: &RawDistTable) -> Option<Dist> {
        let mean = self.quantity(cx, "mean", t.mean_ms, t.mean, true);
        let cv = t.cv;
        if cv.is_none() {
            cx.err(self.path, "dist = \"gamma\" needs `cv` (coefficient of variation)");
        }
        match (mean, cv) {
            (Some(mean), Some(cv)) if mean > 0.0 && cv.is_finite() && cv > 0.0 && cv <= 100.0 => {
                let shape = 1.0 / (cv * cv);
                match Gamma::new(shape, mean / shape) {
                    Ok(g) => Some(Dist::Gamma(g, mean)),
                    Err(e) => {
                        cx.err(self.path, format!("gamma parameters rejected: {e}"));
                        None
                    }
                }
            }
            (Some(_), Some(cv)) => {
                cx.err(
                    self.path,
                    format!("gamma needs mean > 0 and 0 < cv ≤ 100, found cv = {cv}"),
                );
                None
            }
            _ => None,
        }
    }

    fn percentiles(&self, cx: &mut Ctx, t: &RawDistTable) -> Option<Dist> {
        let min = self
            .quantity(cx, "min", t.min_ms, t.min, false)
            .unwrap_or(PERCENTILES_MIN);
        let p50 = self.quantity(cx, "p50", t.p50_ms, t.p50, true);
        let p90 = self.quantity(cx, "p90", t.p90_ms, t.p90, true);
        let p99 = self.quantity(cx, "p99", t.p99_ms, t.p99, true);
        let max = self.quantity(cx, "max", t.max_ms, t.max, true);
        match (p50, p90, p99, max) {
            (Some(a), Some(b), Some(c), Some(d)) if min <= a && a <= b && b <= c && c <= d => {
                Some(Dist::Quantiles(vec![
                    (0.0, min),
                    (0.5, a),
                    (0.9, b),
                    (0.99, c),
                    (1.0, d),
                ]))
            }
            (Some(_), Some(_), Some(_), Some(_)) => {
                cx.err(self.path, "percentiles must not decrease: min ≤ p50 ≤ p90 ≤ p99 ≤ max");
                None
            }
            _ => None,
        }
    }
}

/// The largest CSV of observed values read: ten million values fit in it.
const EMPIRICAL_MAX_BYTES: u64 = 256 << 20;

/// Reads observed values from a CSV file: the named column, or the first one.
/// A header row is detected by its first field not being a number.
fn empirical(cx: &mut Ctx, path: &KeyPath, file: &Path, column: Option<&str>, unit: Unit) -> Option<Dist> {
    // Only a regular file of bounded size: a device such as /dev/zero would
    // be read until memory runs out, and opening a FIFO waits for a writer.
    // (A file that cannot be examined is reported when it is opened.)
    if let Ok(m) = std::fs::metadata(file) {
        if !m.is_file() {
            cx.err(
                path,
                format!(
                    "{} is not a regular file; expected a CSV of observed values",
                    file.display()
                ),
            );
            return None;
        }
        if m.len() > EMPIRICAL_MAX_BYTES {
            cx.err(
                path,
                format!(
                    "{}: larger than {} MiB; give a sample",
                    file.display(),
                    EMPIRICAL_MAX_BYTES >> 20
                ),
            );
            return None;
        }
    }
    let mut reader = match std::fs::File::open(file) {
        // `take`: the file may grow while it is read.
        Ok(f) => csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(std::io::Read::take(f, EMPIRICAL_MAX_BYTES)),
        Err(e) => {
            cx.err(path, format!("cannot read {}: {e}", file.display()));
            return None;
        }
    };
    let mut col = 0usize;
    let mut values = Vec::new();
    for (row_no, rec) in reader.records().enumerate() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                cx.err(path, format!("{}: {e}", file.display()));
                return None;
            }
        };
        let line = row_no + 1;
        if row_no == 0 && rec.get(0).map(|f| f.trim().parse::<f64>().is_err()).unwrap_or(false) {
            if let Some(name) = column {
                match rec.iter().position(|h| h.trim() == name) {
                    Some(i) => col = i,
                    None => {
                        cx.err(
                            path,
                            format!("{}: no column named `{name}` in the header", file.display()),
                        );
                        return None;
                    }
                }
            }
            continue;
        }
        let Some(field) = rec.get(col) else {
            cx.err(
                path,
                format!("{}:{line}: expected a value in column {}", file.display(), col + 1),
            );
            return None;
        };
        match field.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => values.push(v * unit.plain_scale()),
            _ => {
                cx.err(
                    path,
                    format!(
                        "{}:{line}: expected a non-negative number, found `{field}`",
                        file.display()
                    ),
                );
                return None;
            }
        }
        if values.len() > EMPIRICAL_VALUES_MAX {
            cx.err(
                path,
                format!("{}: more than 10 million values; give a sample", file.display()),
            );
            return None;
        }
    }
    if values.is_empty() {
        cx.err(path, format!("{}: no values", file.display()));
        return None;
    }
    Some(Dist::Empirical(values))
}

//! Stage two: from raw structs to the model. Names are resolved to ids,
//! ranges are enforced, defaults applied, and the call graph is checked for
//! cycles. Every problem is collected; nothing here panics on user input.

use std::collections::BTreeSet;
use std::fmt::Display;
use std::path::Path;

use petgraph::algo::kosaraju_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use rand_distr::Gamma;

use super::diag::{Diagnostic, KeyPath, Severity, Source};
use super::raw::*;
use crate::model::*;

/// Collects diagnostics for one file.
pub struct Ctx<'a> {
    pub src: &'a Source,
    pub diags: Vec<Diagnostic>,
}

impl<'a> Ctx<'a> {
    pub fn new(src: &'a Source) -> Self {
        Ctx { src, diags: Vec::new() }
    }
    pub fn err(&mut self, path: &KeyPath, msg: impl Display) {
        let d = self.src.error(path, msg);
        self.diags.push(d);
    }
    pub fn warn(&mut self, path: &KeyPath, msg: impl Display) {
        let d = self.src.warning(path, msg);
        self.diags.push(d);
    }
    /// A catalog rule broken: `validate` refuses it, `run` only warns.
    pub fn rule(&mut self, path: &KeyPath, msg: impl Display) {
        let mut d = self.src.warning(path, msg);
        d.severity = Severity::CatalogRule;
        self.diags.push(d);
    }
    pub fn has_errors(&self) -> bool {
        self.diags.iter().any(|d| d.is_error())
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

/// Checks a number is finite and within [lo, hi].
fn in_range(cx: &mut Ctx, path: &KeyPath, v: f64, lo: f64, hi: f64, what: &str) -> bool {
    if v.is_finite() && v >= lo && v <= hi {
        true
    } else {
        cx.err(path, format!("{what} must be between {lo} and {hi}, found {v}"));
        false
    }
}

fn int_in_range(cx: &mut Ctx, path: &KeyPath, v: Option<i64>, default: i64, lo: i64, hi: i64, what: &str) -> u32 {
    let v = v.unwrap_or(default);
    if v < lo || v > hi {
        cx.err(path, format!("{what} must be between {lo} and {hi}, found {v}"));
        return lo.max(0) as u32;
    }
    v as u32
}

/// Resolves a distribution field. `base_dir` anchors `empirical` files.
pub fn dist(cx: &mut Ctx, path: &KeyPath, raw: &RawDist, unit: Unit, base_dir: &Path) -> Option<Dist> {
    let t = match raw {
        RawDist::Number(v) => {
            if !v.is_finite() || *v < 0.0 || *v > 1e12 {
                cx.err(path, format!("expected a non-negative number, found {v}"));
                return None;
            }
            return Some(Dist::Const(v * unit.plain_scale()));
        }
        RawDist::Table(t) => t,
    };
    let Some(kind) = t.dist else {
        cx.err(
            path,
            "missing `dist`; expected one of: const, exp, uniform, lognormal, gamma, percentiles, empirical",
        );
        return None;
    };
    let before = cx.diags.len();
    // Every key a table may carry, with whether it is set, so keys that the
    // kind does not use are reported rather than silently ignored.
    let present: [(&str, bool); 19] = [
        ("ms", t.ms.is_some()),
        ("value", t.value.is_some()),
        ("mean_ms", t.mean_ms.is_some()),
        ("mean", t.mean.is_some()),
        ("min_ms", t.min_ms.is_some()),
        ("min", t.min.is_some()),
        ("max_ms", t.max_ms.is_some()),
        ("max", t.max.is_some()),
        ("median_ms", t.median_ms.is_some()),
        ("median", t.median.is_some()),
        ("p50_ms", t.p50_ms.is_some()),
        ("p50", t.p50.is_some()),
        ("p90_ms", t.p90_ms.is_some()),
        ("p90", t.p90.is_some()),
        ("p99_ms", t.p99_ms.is_some()),
        ("p99", t.p99.is_some()),
        ("cv", t.cv.is_some()),
        ("file", t.file.is_some()),
        ("column", t.column.is_some()),
    ];
    let allowed: &[&str] = match kind {
        DistKind::Const => &["ms", "value"],
        DistKind::Exp => &["mean_ms", "mean"],
        DistKind::Uniform => &["min_ms", "min", "max_ms", "max"],
        DistKind::Lognormal => &["median_ms", "median", "p99_ms", "p99"],
        DistKind::Gamma => &["mean_ms", "mean", "cv"],
        DistKind::Percentiles => &[
            "min_ms", "min", "p50_ms", "p50", "p90_ms", "p90", "p99_ms", "p99", "max_ms", "max",
        ],
        DistKind::Empirical => &["file", "column"],
    };
    let kind_name = format!("{kind:?}").to_lowercase();
    for (key, set) in present {
        if set && !allowed.contains(&key) {
            cx.err(
                &path.k(key),
                format!(
                    "`{key}` is not used by dist = \"{kind_name}\" (it takes: {})",
                    allowed.join(", ")
                ),
            );
        }
    }
    // One quantity written as `<name>_ms` or `<name>`: returns it in ns (or plain).
    // One quantity written as `<name>_ms` or `<name>`: checked as written,
    // returned in ns (or plain).
    let get = |cx: &mut Ctx, name: &str, ms: Option<f64>, plain: Option<f64>, required: bool| -> Option<f64> {
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
                    cx.err(path, format!("dist = \"{kind_name}\" needs `{hint}`"));
                }
                return None;
            }
        };
        if !raw.is_finite() || !(0.0..=1e12).contains(&raw) {
            cx.err(
                &path.k(&key),
                format!("`{key}` must be a non-negative number (at most 1e12), found {raw}"),
            );
            return None;
        }
        Some(raw * scale)
    };
    let d = match kind {
        DistKind::Const => {
            // `ms` is the duration form; `value` takes the field's unit.
            if unit == Unit::Plain {
                get(cx, "value", t.ms, t.value, true).map(Dist::Const)
            } else {
                match (t.ms, t.value) {
                    (Some(_), Some(_)) => {
                        cx.err(path, "give either `ms` or `value`, not both");
                        None
                    }
                    (None, None) => {
                        cx.err(path, "dist = \"const\" needs `ms`");
                        None
                    }
                    (ms, value) => {
                        let (key, raw, scale) = match ms {
                            Some(v) => ("ms", v, NS_PER_MS),
                            None => ("value", value.unwrap_or(0.0), unit.plain_scale()),
                        };
                        if raw.is_finite() && (0.0..=1e12).contains(&raw) {
                            Some(Dist::Const(raw * scale))
                        } else {
                            cx.err(
                                &path.k(key),
                                format!("`{key}` must be a non-negative number, found {raw}"),
                            );
                            None
                        }
                    }
                }
            }
        }
        DistKind::Exp => get(cx, "mean", t.mean_ms, t.mean, true).map(|mean| Dist::Exp { mean }),
        DistKind::Uniform => {
            let min = get(cx, "min", t.min_ms, t.min, true);
            let max = get(cx, "max", t.max_ms, t.max, true);
            match (min, max) {
                (Some(min), Some(max)) if min <= max => Some(Dist::Uniform { min, max }),
                (Some(_), Some(_)) => {
                    cx.err(path, "uniform needs min ≤ max");
                    None
                }
                _ => None,
            }
        }
        DistKind::Lognormal => {
            let median = get(cx, "median", t.median_ms, t.median, true);
            let p99 = get(cx, "p99", t.p99_ms, t.p99, true);
            match (median, p99) {
                (Some(m), Some(p)) if m > 0.0 && p >= m => Some(Dist::lognormal(m, p)),
                (Some(_), Some(_)) => {
                    cx.err(path, "lognormal needs 0 < median ≤ p99");
                    None
                }
                _ => None,
            }
        }
        DistKind::Gamma => {
            let mean = get(cx, "mean", t.mean_ms, t.mean, true);
            let cv = t.cv;
            if cv.is_none() {
                cx.err(path, "dist = \"gamma\" needs `cv` (coefficient of variation)");
            }
            match (mean, cv) {
                (Some(mean), Some(cv)) if mean > 0.0 && cv.is_finite() && cv > 0.0 && cv <= 100.0 => {
                    let shape = 1.0 / (cv * cv);
                    match Gamma::new(shape, mean / shape) {
                        Ok(g) => Some(Dist::Gamma(g, mean)),
                        Err(e) => {
                            cx.err(path, format!("gamma parameters rejected: {e}"));
                            None
                        }
                    }
                }
                (Some(_), Some(cv)) => {
                    cx.err(path, format!("gamma needs mean > 0 and 0 < cv ≤ 100, found cv = {cv}"));
                    None
                }
                _ => None,
            }
        }
        DistKind::Percentiles => {
            let min = get(cx, "min", t.min_ms, t.min, false).unwrap_or(0.0);
            let p50 = get(cx, "p50", t.p50_ms, t.p50, true);
            let p90 = get(cx, "p90", t.p90_ms, t.p90, true);
            let p99 = get(cx, "p99", t.p99_ms, t.p99, true);
            let max = get(cx, "max", t.max_ms, t.max, true);
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
                    cx.err(path, "percentiles must not decrease: min ≤ p50 ≤ p90 ≤ p99 ≤ max");
                    None
                }
                _ => None,
            }
        }
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
        if values.len() > 10_000_000 {
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

fn duplicate_names<'n>(cx: &mut Ctx, section: &str, names: impl Iterator<Item = &'n str>) {
    let mut seen = BTreeSet::new();
    for (i, n) in names.enumerate() {
        let p = KeyPath::root().k(section).i(i).k("name");
        if n.trim().is_empty() {
            cx.err(&p, "a name must not be empty");
        } else if !seen.insert(n) {
            cx.err(&p, format!("duplicate name \"{n}\""));
        }
    }
}

fn region_mask(cx: &mut Ctx, path: &KeyPath, names: &[String], regions: &[String]) -> Vec<bool> {
    let mut mask = vec![false; regions.len()];
    if names.is_empty() {
        cx.err(path, "expected at least one region");
    }
    for (i, n) in names.iter().enumerate() {
        match regions.iter().position(|r| r == n) {
            Some(r) => mask[r] = true,
            None => cx.err(
                &path.i(i),
                format!("unknown region \"{n}\" (known: {})", regions.join(", ")),
            ),
        }
    }
    mask
}

/// Resolves a parsed topology. Returns the model and its warnings, or every
/// problem found.
pub fn resolve_topology(src: &Source, raw: &RawTopology) -> Result<(Topology, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut cx = Ctx::new(src);
    let base_dir = src.path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let root = KeyPath::root();

    // Every list a mesh needs must have something in it.
    for (key, empty, what) in [
        (
            "regions",
            raw.regions.is_empty(),
            "a topology needs at least one region",
        ),
        (
            "flows",
            raw.flows.is_empty(),
            "a topology needs at least one request flow",
        ),
        (
            "services",
            raw.services.is_empty(),
            "a topology needs at least one service",
        ),
    ] {
        if empty {
            cx.err(&root.k(key), format!("empty list: {what}"));
        }
    }

    // Regions.
    duplicate_names(&mut cx, "regions", raw.regions.iter().map(|r| r.name.as_str()));
    if raw.regions.len() > 256 {
        cx.err(&root.k("regions"), "at most 256 regions");
    }
    let regions: Vec<String> = raw.regions.iter().map(|r| r.name.clone()).collect();
    let nr = regions.len();

    // Network.
    let mut latency: Vec<Option<Dist>> = vec![None; nr * nr];
    let intra = match &raw.network.intra_region {
        Some(d) => dist(&mut cx, &root.k("network").k("intra_region"), d, Unit::Ms, &base_dir),
        None => Some(Dist::Const(0.0)),
    };
    for r in 0..nr {
        latency[r * nr + r] = intra.clone();
    }
    for (i, link) in raw.network.links.iter().enumerate() {
        let p = root.k("network").k("links").i(i);
        let ends: Vec<Option<usize>> = link
            .between
            .iter()
            .enumerate()
            .map(|(j, n)| {
                let r = regions.iter().position(|r| r == n);
                if r.is_none() {
                    cx.err(
                        &p.k("between").i(j),
                        format!("unknown region \"{n}\" (known: {})", regions.join(", ")),
                    );
                }
                r
            })
            .collect();
        let d = dist(&mut cx, &p.k("latency"), &link.latency, Unit::Ms, &base_dir);
        if ends.len() != 2 {
            cx.err(
                &p.k("between"),
                format!("a link joins exactly two regions, found {}", ends.len()),
            );
            continue;
        }
        if let (Some(a), Some(b), Some(d)) = (ends[0], ends[1], d) {
            if a == b {
                cx.err(
                    &p.k("between"),
                    "a link joins two different regions; use network.intra_region for one",
                );
            } else if latency[a * nr + b].is_some() {
                cx.err(
                    &p.k("between"),
                    format!("a second link between {} and {}", regions[a], regions[b]),
                );
            } else {
                latency[a * nr + b] = Some(d.clone());
                latency[b * nr + a] = Some(d);
            }
        }
    }
    let mut nearest = Vec::with_capacity(nr);
    for a in 0..nr {
        let mut others: Vec<(f64, usize)> = (0..nr)
            .filter(|&b| b != a)
            .filter_map(|b| latency[a * nr + b].as_ref().map(|d| (d.median(), b)))
            .collect();
        others.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
        let mut order = vec![RegionId::from_index(a)];
        order.extend(others.into_iter().map(|(_, b)| RegionId::from_index(b)));
        nearest.push(order);
    }

    // Names of services, queues and flows.
    duplicate_names(&mut cx, "services", raw.services.iter().map(|s| s.name.as_str()));
    duplicate_names(&mut cx, "queues", raw.queues.iter().map(|q| q.name.as_str()));
    duplicate_names(&mut cx, "flows", raw.flows.iter().map(|f| f.name.as_str()));
    for (i, q) in raw.queues.iter().enumerate() {
        if raw.services.iter().any(|s| s.name == q.name) {
            cx.err(
                &root.k("queues").i(i).k("name"),
                format!("\"{}\" is already a service name", q.name),
            );
        }
    }
    if raw.flows.len() > MAX_FLOWS {
        cx.err(&root.k("flows"), format!("at most {MAX_FLOWS} flows"));
    }
    if raw.services.len() > 100_000 {
        cx.err(&root.k("services"), "at most 100000 services");
    }
    let service_names: Vec<&str> = raw.services.iter().map(|s| s.name.as_str()).collect();
    // In file order, each name once (a duplicate is reported on its own).
    let mut unique_services: Vec<&str> = Vec::new();
    for n in &service_names {
        if !unique_services.contains(n) {
            unique_services.push(n);
        }
    }
    let flow_names: Vec<&str> = raw.flows.iter().map(|f| f.name.as_str()).collect();
    let find_service = |n: &str| service_names.iter().position(|s| *s == n);
    let find_queue = |n: &str| raw.queues.iter().position(|q| q.name == n);
    let known_targets = || {
        let mut v: Vec<&str> = service_names.clone();
        v.extend(raw.queues.iter().map(|q| q.name.as_str()));
        v.join(", ")
    };

    // Flows.
    let with_share = raw.flows.iter().filter(|f| f.share.is_some()).count();
    if with_share != 0 && with_share != raw.flows.len() {
        cx.err(&root.k("flows"), "give every flow a `share`, or none (equal shares)");
    }
    let mut flows = Vec::new();
    for (i, f) in raw.flows.iter().enumerate() {
        let p = root.k("flows").i(i);
        let entry = match find_service(&f.entry) {
            Some(s) => ServiceId::from_index(s),
            None => {
                cx.err(
                    &p.k("entry"),
                    format!(
                        "unknown service \"{}\" (known: {})",
                        f.entry,
                        unique_services.join(", ")
                    ),
                );
                ServiceId(0)
            }
        };
        let share = f.share.unwrap_or(1.0);
        in_range(&mut cx, &p.k("share"), share, 0.0, 1e9, "share");
        let value = f
            .value
            .as_ref()
            .and_then(|v| dist(&mut cx, &p.k("value"), v, Unit::Plain, &base_dir));
        flows.push(Flow {
            name: f.name.clone(),
            entry,
            share,
            value,
        });
    }
    let total_share: f64 = flows.iter().map(|f| f.share).sum();
    if !flows.is_empty() && total_share <= 0.0 {
        cx.err(
            &root.k("flows"),
            "the flows' shares sum to 0; at least one must be positive",
        );
    } else {
        for f in &mut flows {
            f.share /= total_share;
        }
    }

    // Services and their calls.
    let mut services = Vec::new();
    let mut graph: DiGraph<usize, (usize, usize)> = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..raw.services.len()).map(|i| graph.add_node(i)).collect();
    for (si, s) in raw.services.iter().enumerate() {
        let p = root.k("services").i(si);
        let present = region_mask(&mut cx, &p.k("regions"), &s.regions, &regions);
        let replicas = int_in_range(&mut cx, &p.k("replicas"), s.replicas, 1, 1, 10_000, "replicas");
        let concurrency = int_in_range(
            &mut cx,
            &p.k("concurrency"),
            s.concurrency,
            1,
            1,
            1_000_000,
            "concurrency",
        );
        let queue = int_in_range(&mut cx, &p.k("queue"), s.queue, 0, 0, 100_000_000, "queue");
        let service_time = dist(&mut cx, &p.k("service_time"), &s.service_time, Unit::Ms, &base_dir);
        let error_rate = s.error_rate.unwrap_or(0.0);
        in_range(&mut cx, &p.k("error_rate"), error_rate, 0.0, 1.0, "error_rate");
        let health_check = s.health_check.as_ref().map(|h| {
            in_range(
                &mut cx,
                &p.k("health_check").k("interval_ms"),
                h.interval_ms,
                1.0,
                86_400_000.0,
                "interval_ms",
            );
            if h.unhealthy_after == 0 || h.unhealthy_after > 1000 {
                cx.err(
                    &p.k("health_check").k("unhealthy_after"),
                    "unhealthy_after must be between 1 and 1000",
                );
            }
            HealthCheck {
                interval_ns: (h.interval_ms * NS_PER_MS) as u64,
                unhealthy_after: h.unhealthy_after,
            }
        });
        let rate_limit = s.rate_limit.as_ref().map(|r| {
            let rp = p.k("rate_limit");
            in_range(&mut cx, &rp.k("per_s"), r.per_s, 0.0, 1e9, "per_s");
            let burst = r.burst.unwrap_or(r.per_s.max(1.0));
            in_range(&mut cx, &rp.k("burst"), burst, 1.0, 1e9, "burst");
            RateLimit { per_s: r.per_s, burst }
        });
        let queue_timeout_ns = s.queue_timeout_ms.and_then(|t| {
            in_range(
                &mut cx,
                &p.k("queue_timeout_ms"),
                t,
                0.001,
                86_400_000.0,
                "queue_timeout_ms",
            )
            .then_some((t.clamp(0.0, 86_400_000.0) * NS_PER_MS) as u64)
        });
        let outlier_detection = s.outlier_detection.as_ref().map(|o| {
            let op = p.k("outlier_detection");
            if o.consecutive_errors == 0 || o.consecutive_errors > 10_000 {
                cx.err(
                    &op.k("consecutive_errors"),
                    "consecutive_errors must be between 1 and 10000",
                );
            }
            let base = o.base_ejection_ms.unwrap_or(30_000.0);
            in_range(
                &mut cx,
                &op.k("base_ejection_ms"),
                base,
                0.0,
                86_400_000.0,
                "base_ejection_ms",
            );
            let max = o.max_ejection_percent.unwrap_or(10.0);
            in_range(
                &mut cx,
                &op.k("max_ejection_percent"),
                max,
                0.0,
                100.0,
                "max_ejection_percent",
            );
            Outlier {
                consecutive_errors: o.consecutive_errors.max(1),
                base_ejection_ns: (base.clamp(0.0, 86_400_000.0) * NS_PER_MS) as u64,
                max_ejection_percent: max,
            }
        });
        let quality = s.quality.as_ref().map(|q| {
            in_range(
                &mut cx,
                &p.k("quality").k("wrong_rate"),
                q.wrong_rate,
                0.0,
                1.0,
                "wrong_rate",
            );
            let discount = q.wrong_effect.as_ref().and_then(|e| e.discount).unwrap_or(0.0);
            in_range(
                &mut cx,
                &p.k("quality").k("wrong_effect").k("discount"),
                discount,
                0.0,
                1.0,
                "discount",
            );
            Quality {
                wrong_rate: q.wrong_rate,
                discount,
            }
        });
        let validates = s.validates.as_ref().map(|v| {
            in_range(&mut cx, &p.k("validates").k("catches"), v.catches, 0.0, 1.0, "catches");
            Validates {
                catches: v.catches,
                on_catch: v.on_catch,
            }
        });
        if s.calls.len() > 1000 {
            cx.err(&p.k("calls"), "at most 1000 calls per service");
        }
        let mut calls = Vec::new();
        for (ci, c) in s.calls.iter().enumerate() {
            let cp = p.k("calls").i(ci);
            let to = if let Some(t) = find_service(&c.to) {
                if t == si {
                    cx.err(&cp.k("to"), format!("service \"{}\" calls itself", s.name));
                } else {
                    graph.add_edge(nodes[si], nodes[t], (si, ci));
                }
                CallTarget::Service(ServiceId::from_index(t))
            } else if let Some(q) = find_queue(&c.to) {
                CallTarget::Queue(QueueId::from_index(q))
            } else {
                cx.err(
                    &cp.k("to"),
                    format!("unknown service or queue \"{}\" (known: {})", c.to, known_targets()),
                );
                CallTarget::Service(ServiceId(0))
            };
            let mut mask = 0u64;
            match &c.flows {
                None => mask = u64::MAX,
                Some(fs) => {
                    if fs.is_empty() {
                        cx.err(
                            &cp.k("flows"),
                            "an empty list means the call is never made; leave `flows` out for every flow",
                        );
                    }
                    for (fi, f) in fs.iter().enumerate() {
                        match flow_names.iter().position(|n| n == f) {
                            Some(x) if x < 64 => mask |= 1 << x,
                            _ => cx.err(
                                &cp.k("flows").i(fi),
                                format!("unknown flow \"{f}\" (known: {})", flow_names.join(", ")),
                            ),
                        }
                    }
                }
            }
            let pr = c.p.unwrap_or(1.0);
            in_range(&mut cx, &cp.k("p"), pr, 0.0, 1.0, "p");
            let timeout_ns = c.timeout_ms.and_then(|t| {
                in_range(&mut cx, &cp.k("timeout_ms"), t, 0.001, 86_400_000.0, "timeout_ms")
                    .then(|| (t * NS_PER_MS).round() as u64)
            });
            let retry = c.retry.as_ref().map(|r| {
                let rp = cp.k("retry");
                if r.attempts == 0 || r.attempts > 100 {
                    cx.err(
                        &rp.k("attempts"),
                        format!(
                            "attempts counts every try, the first included: between 1 and 100, found {}",
                            r.attempts
                        ),
                    );
                }
                let backoff = r.backoff_ms.unwrap_or(25.0);
                in_range(&mut cx, &rp.k("backoff_ms"), backoff, 0.0, 3_600_000.0, "backoff_ms");
                // Default: ten times the base backoff, capped at the limit so a
                // default never breaks a rule the user did not write.
                let max_backoff = r.max_backoff_ms.unwrap_or((backoff.max(1.0) * 10.0).min(3_600_000.0));
                if in_range(
                    &mut cx,
                    &rp.k("max_backoff_ms"),
                    max_backoff,
                    0.0,
                    3_600_000.0,
                    "max_backoff_ms",
                ) && max_backoff < backoff
                {
                    cx.err(&rp.k("max_backoff_ms"), "max_backoff_ms must be at least backoff_ms");
                }
                if let Some(b) = r.budget {
                    in_range(&mut cx, &rp.k("budget"), b, 0.0, 100.0, "budget");
                }
                Retry {
                    attempts: r.attempts.clamp(1, 100),
                    backoff_ns: (backoff.max(0.0) * NS_PER_MS) as u64,
                    max_backoff_ns: (max_backoff.max(0.0) * NS_PER_MS) as u64,
                    jitter: r.jitter.unwrap_or_default(),
                    budget: r.budget,
                }
            });
            let per_try_timeout_ns = c.per_try_timeout_ms.and_then(|t| {
                in_range(
                    &mut cx,
                    &cp.k("per_try_timeout_ms"),
                    t,
                    0.001,
                    86_400_000.0,
                    "per_try_timeout_ms",
                )
                .then_some((t.clamp(0.0, 86_400_000.0) * NS_PER_MS).round() as u64)
            });
            if let (Some(t), Some(pt)) = (c.timeout_ms, c.per_try_timeout_ms)
                && pt > t
            {
                cx.err(
                    &cp.k("per_try_timeout_ms"),
                    format!("per_try_timeout_ms ({pt}) must not exceed timeout_ms ({t})"),
                );
            }
            let max_in_flight = c.max_in_flight.map(|m| {
                if !(1..=10_000_000).contains(&m) {
                    cx.err(
                        &cp.k("max_in_flight"),
                        format!("max_in_flight must be between 1 and 10000000, found {m}"),
                    );
                }
                m.clamp(1, 10_000_000) as u32
            });
            let breaker = c.circuit_breaker.as_ref().map(|b| {
                let bp = cp.k("circuit_breaker");
                if b.failure_rate.is_none() && b.slow_call_rate.is_none() {
                    cx.err(
                        &bp,
                        "a circuit breaker needs `failure_rate` and/or `slow_call_rate` (with `slow_call_ms`)",
                    );
                }
                let failure_rate = b.failure_rate.unwrap_or(2.0);
                if let Some(r) = b.failure_rate {
                    in_range(&mut cx, &bp.k("failure_rate"), r, 0.0, 1.0, "failure_rate");
                }
                let slow_call_rate = b.slow_call_rate.unwrap_or(2.0);
                if let Some(r) = b.slow_call_rate {
                    in_range(&mut cx, &bp.k("slow_call_rate"), r, 0.0, 1.0, "slow_call_rate");
                    if b.slow_call_ms.is_none() {
                        cx.err(&bp, "slow_call_rate needs `slow_call_ms` (how slow is slow)");
                    }
                }
                let slow_call_ms = b.slow_call_ms.unwrap_or(60_000.0);
                in_range(
                    &mut cx,
                    &bp.k("slow_call_ms"),
                    slow_call_ms,
                    0.0,
                    86_400_000.0,
                    "slow_call_ms",
                );
                if b.window == 0 || b.window > 100_000 {
                    cx.err(&bp.k("window"), "window must be between 1 and 100000 calls");
                }
                in_range(&mut cx, &bp.k("open_ms"), b.open_ms, 0.0, 86_400_000.0, "open_ms");
                let min_calls = b.min_calls.unwrap_or(b.window.min(100));
                if min_calls > b.window {
                    cx.warn(
                        &bp.k("min_calls"),
                        format!(
                            "min_calls ({min_calls}) exceeds the window ({w}): the breaker decides after {w} calls (Resilience4j)",
                            w = b.window
                        ),
                    );
                }
                let half_open_calls = b.half_open_calls.unwrap_or(10);
                if half_open_calls == 0 || half_open_calls > 100_000 {
                    cx.err(&bp.k("half_open_calls"), "half_open_calls must be between 1 and 100000");
                }
                Breaker {
                    failure_rate,
                    slow_call_rate,
                    slow_call_ns: (slow_call_ms.clamp(0.0, 86_400_000.0) * NS_PER_MS) as u64,
                    window: b.window.max(1),
                    min_calls,
                    open_ns: (b.open_ms.max(0.0) * NS_PER_MS) as u64,
                    half_open_calls: half_open_calls.max(1),
                }
            });
            let fallback = c.fallback.as_ref().and_then(|f| {
                if f == "degrade" {
                    return Some(Fallback::Degrade);
                }
                match find_service(f) {
                    Some(t) if t == si => {
                        cx.err(&cp.k("fallback"), "a service cannot be its own fallback");
                        None
                    }
                    Some(t) => {
                        if CallTarget::Service(ServiceId::from_index(t)) == to {
                            cx.err(
                                &cp.k("fallback"),
                                "the fallback is the call's own target; name another service or \"degrade\"",
                            );
                        }
                        graph.add_edge(nodes[si], nodes[t], (si, ci));
                        Some(Fallback::Service(ServiceId::from_index(t)))
                    }
                    None => {
                        cx.err(
                            &cp.k("fallback"),
                            format!(
                                "unknown service \"{f}\"; expected a service name or \"degrade\" (services: {})",
                                unique_services.join(", ")
                            ),
                        );
                        None
                    }
                }
            });
            if matches!(to, CallTarget::Queue(_)) && (c.retry.is_some() || c.circuit_breaker.is_some()) {
                cx.err(
                    &cp,
                    "a publish to a queue takes no retry or circuit_breaker (redelivery is the queue's)",
                );
            }
            if c.stage.is_some_and(|st| st > 1_000_000) {
                cx.err(&cp.k("stage"), "stage must be at most 1000000");
            }
            calls.push(Call {
                to,
                flows: mask,
                stage: c.stage.unwrap_or(ci as u32).min(1_000_000),
                p: pr,
                timeout_ns,
                retry,
                breaker,
                fallback,
                required: c.required.unwrap_or(true),
                per_try_timeout_ns,
                max_in_flight,
                idempotency: c.idempotency,
            });
        }
        // Execution plan per flow: stages in order, calls of a stage together.
        let plan = (0..flows.len().max(1))
            .map(|f| {
                let stages: BTreeSet<u32> = calls
                    .iter()
                    .filter(|c| c.flows & (1 << f) != 0)
                    .map(|c| c.stage)
                    .collect();
                stages
                    .into_iter()
                    .map(|st| {
                        (0..calls.len())
                            .filter(|&i| calls[i].stage == st && calls[i].flows & (1 << f) != 0)
                            .map(|i| i as u16)
                            .collect()
                    })
                    .collect()
            })
            .collect();
        services.push(Service {
            name: s.name.clone(),
            kind: s.kind.clone().unwrap_or_else(|| "service".to_string()),
            present,
            replicas,
            concurrency,
            queue,
            service_time: service_time.unwrap_or(Dist::Const(0.0)),
            error_rate,
            balancer: s.balancer.unwrap_or_default(),
            locality: s.locality.unwrap_or_default(),
            health_check,
            rate_limit,
            queue_timeout_ns,
            outlier_detection,
            quality,
            validates,
            calls,
            plan,
        });
    }

    // Queues.
    let mut queues = Vec::new();
    for (qi, q) in raw.queues.iter().enumerate() {
        let p = root.k("queues").i(qi);
        let present = region_mask(&mut cx, &p.k("regions"), &q.regions, &regions);
        let consumer = match find_service(&q.consumer) {
            Some(s) => ServiceId::from_index(s),
            None => {
                cx.err(
                    &p.k("consumer"),
                    format!(
                        "unknown service \"{}\" (known: {})",
                        q.consumer,
                        unique_services.join(", ")
                    ),
                );
                ServiceId(0)
            }
        };
        let consumers = int_in_range(&mut cx, &p.k("consumers"), q.consumers, 1, 1, 1_000_000, "consumers");
        let max_depth = int_in_range(
            &mut cx,
            &p.k("max_depth"),
            q.max_depth,
            100_000,
            1,
            1_000_000_000,
            "max_depth",
        );
        let (attempts, backoff) = match &q.redeliver {
            Some(r) => {
                if r.attempts == 0 || r.attempts > 100 {
                    cx.err(&p.k("redeliver").k("attempts"), "attempts must be between 1 and 100");
                }
                let b = r.backoff_ms.unwrap_or(1000.0);
                in_range(
                    &mut cx,
                    &p.k("redeliver").k("backoff_ms"),
                    b,
                    0.0,
                    86_400_000.0,
                    "backoff_ms",
                );
                (r.attempts.max(1), b)
            }
            None => (1, 0.0),
        };
        queues.push(Queue {
            name: q.name.clone(),
            present,
            consumer,
            consumers,
            max_depth: max_depth as u64,
            redeliver_attempts: attempts,
            redeliver_backoff_ns: (backoff.max(0.0) * NS_PER_MS) as u64,
        });
    }

    // Synchronous call cycles (a request would wait on itself forever).
    for scc in kosaraju_scc(&graph) {
        if scc.len() < 2 {
            continue;
        }
        let members: BTreeSet<usize> = scc.iter().map(|n| graph[*n]).collect();
        let start = *members.iter().next().expect("scc is not empty");
        let mut path = vec![start];
        let mut cur = start;
        let mut first_edge = None;
        // Walk edges inside the component until a service repeats.
        for _ in 0..=members.len() {
            let next = graph
                .edges(nodes[cur])
                .map(|e| (graph[petgraph::visit::EdgeRef::target(&e)], *e.weight()))
                .filter(|(t, _)| members.contains(t))
                .min();
            let Some((t, w)) = next else { break };
            first_edge.get_or_insert(w);
            if let Some(pos) = path.iter().position(|&x| x == t) {
                path.drain(..pos);
                path.push(t);
                break;
            }
            path.push(t);
            cur = t;
        }
        let names: Vec<&str> = path.iter().map(|&i| service_names[i]).collect();
        let (si, ci) = first_edge.unwrap_or((start, 0));
        cx.err(
            &root.k("services").i(si).k("calls").i(ci).k("to"),
            format!(
                "call cycle: {} (synchronous calls must not loop back)",
                names.join(" → ")
            ),
        );
    }

    // Reachability of flows: every region's arrivals must reach the entry.
    for (fi, f) in flows.iter().enumerate() {
        if cx.has_errors() {
            break;
        }
        let entry = &services[f.entry.index()];
        for r in 0..nr {
            let reachable = nearest[r].iter().any(|x| entry.present[x.index()]);
            if !reachable {
                cx.warn(&root.k("flows").i(fi).k("entry"), format!("arrivals in region {} cannot reach \"{}\" (no replica there and no link to a region that has one)", regions[r], entry.name));
            }
        }
    }
    if cx.has_errors() {
        return Err(cx.diags);
    }
    let topo = Topology {
        name: raw.name.clone().unwrap_or_default(),
        description: raw.description.clone().unwrap_or_default(),
        path: src.path.clone(),
        regions,
        latency,
        nearest,
        flows,
        services,
        queues,
    };
    Ok((topo, cx.diags))
}

//! The self-contained HTML report of one experiment (`report.html`) and the
//! index of a catalog run (`index.html` at the results root), made — like
//! the charts — from the saved result files only.
//!
//! Self-contained means: one file, charts inlined as SVG, styles inline, no
//! script, no network reference, so it opens the same from a CI artifact, a
//! mail attachment or a laptop on a plane. Deterministic: no timestamps or
//! absolute paths, so `chaoscal report` rewrites the bytes `run` wrote.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::charts::saved::{Saved, Summary, read_summary};
use super::charts::{self, Chart, Verdict};

pub use super::charts::saved::ReportError;

/// What one `report` call wrote.
#[derive(Debug, Default)]
pub struct Written {
    /// Each experiment folder that got its charts and `report.html`.
    pub experiments: Vec<PathBuf>,
    /// The catalog index, when the folder held several experiments.
    pub index: Option<PathBuf>,
}

/// Draws the charts of the experiment folder `dir` and writes them with
/// `report.html` into it. Returns the path of the report.
pub fn write_experiment(dir: &Path) -> Result<PathBuf, ReportError> {
    let saved = Saved::load(dir)?;
    let charts = charts::experiment_charts(&saved)?;
    for c in &charts {
        c.write(dir)?;
    }
    let html = experiment_page(&saved, &charts);
    let path = dir.join("report.html");
    std::fs::write(&path, html).map_err(|source| ReportError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// The experiment folders directly under `root` (those holding a
/// `summary.json`), sorted by name.
pub fn experiment_dirs(root: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let entries = std::fs::read_dir(root).map_err(|source| ReportError::Read {
        path: root.to_path_buf(),
        source,
    })?;
    let mut dirs = Vec::new();
    for e in entries {
        let e = e.map_err(|source| ReportError::Read {
            path: root.to_path_buf(),
            source,
        })?;
        let p = e.path();
        if p.is_dir() && p.join("summary.json").is_file() {
            dirs.push(p);
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// Writes `index.html` and the catalog-wide SLO chart (`slo_catalog.svg`,
/// `.png`) into `root`, listing every experiment folder under it.
pub fn write_index(root: &Path) -> Result<PathBuf, ReportError> {
    let dirs = experiment_dirs(root)?;
    if dirs.is_empty() {
        return Err(ReportError::NoResults {
            path: root.to_path_buf(),
        });
    }
    let mut entries = Vec::new();
    for d in &dirs {
        let folder = d
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        entries.push((folder, read_summary(d)?));
    }
    let summaries: Vec<&Summary> = entries.iter().map(|(_, s)| s).collect();
    let chart = charts::catalog_slo_chart(&summaries)?;
    if let Some(c) = &chart {
        c.write(root)?;
    }
    let html = index_page(&entries, chart.as_ref());
    let path = root.join("index.html");
    std::fs::write(&path, html).map_err(|source| ReportError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// `chaoscal report DIR`: an experiment folder gets its charts and report;
/// a folder of experiment folders gets each of those plus the index. Every
/// experiment is attempted; all problems are returned together.
pub fn regenerate(dir: &Path) -> Result<Written, Vec<ReportError>> {
    if !dir.is_dir() {
        return Err(vec![ReportError::Read {
            path: dir.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such folder"),
        }]);
    }
    let mut written = Written::default();
    if dir.join("summary.json").exists() {
        write_experiment(dir).map_err(|e| vec![e])?;
        written.experiments.push(dir.to_path_buf());
        return Ok(written);
    }
    let dirs = experiment_dirs(dir).map_err(|e| vec![e])?;
    if dirs.is_empty() {
        return Err(vec![ReportError::NoResults {
            path: dir.to_path_buf(),
        }]);
    }
    let mut errors = Vec::new();
    for d in dirs {
        match write_experiment(&d) {
            Ok(_) => written.experiments.push(d),
            Err(e) => errors.push(e),
        }
    }
    match write_index(dir) {
        Ok(p) => written.index = Some(p),
        Err(e) => errors.push(e),
    }
    if errors.is_empty() { Ok(written) } else { Err(errors) }
}

// ---------------------------------------------------------------------------
// Formatting.

/// Escapes text for HTML element content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a folder name for a relative link.
fn href(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A count with thousands separators: 1,681,674.
fn int(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Milliseconds with one decimal (three below 1 ms).
fn ms(v: f64) -> String {
    if !v.is_finite() {
        "–".to_string()
    } else if v != 0.0 && v.abs() < 1.0 {
        format!("{v:.3}")
    } else {
        format!("{v:.1}")
    }
}

/// A share as a percentage (charts' rule: three significant digits).
fn pct(v: f64) -> String {
    if v.is_finite() {
        esc(&charts::pct(v))
    } else {
        "–".to_string()
    }
}

/// An availability or objective: as many decimals as its nines need.
fn nines(v: f64) -> String {
    if !v.is_finite() {
        return "–".to_string();
    }
    let p = v * 100.0;
    for d in 0..6 {
        let s = format!("{p:.d$}");
        if (s.parse::<f64>().unwrap_or(p) - p).abs() < 1e-9 {
            return format!("{s}%");
        }
    }
    format!("{p:.6}%")
}

fn money(v: f64) -> String {
    if !v.is_finite() {
        return "–".to_string();
    }
    let cents = (v * 100.0).round() as i64;
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.unsigned_abs();
    format!("{sign}{}.{:02}", int(cents / 100), cents % 100)
}

fn seconds(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

const STYLE: &str = "
:root { color-scheme: light; }
body { font-family: 'DejaVu Sans', system-ui, -apple-system, 'Segoe UI', sans-serif; color: #212529;
  margin: 0 auto; max-width: 1100px; padding: 24px 28px 48px; line-height: 1.45; background: #fff; }
h1 { font-size: 1.7rem; margin: 0 0 4px; }
h2 { font-size: 1.25rem; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 1px solid #dee2e6; }
p.meta, p.note, figcaption, footer { color: #5c636a; font-size: 0.9rem; }
blockquote { margin: 12px 0; padding: 8px 14px; border-left: 4px solid #1f6aa5; background: #f3f7fb; }
table { border-collapse: collapse; font-size: 0.88rem; margin: 8px 0; width: 100%; }
th, td { padding: 4px 8px; border-bottom: 1px solid #e9ecef; text-align: right; vertical-align: top; }
th { background: #f8f9fa; font-weight: 600; }
th:first-child, td:first-child, td.text, th.text { text-align: left; }
td a, td.text { white-space: nowrap; }
td .wrap { white-space: normal; }
div.scroll { overflow-x: auto; }
td.num { font-variant-numeric: tabular-nums; }
.verdict { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 600; font-size: 0.85rem;
  white-space: nowrap; }
.held { background: #d8f0dc; color: #1d6b2f; }
.at-risk { background: #fdebc8; color: #8a5300; }
.violated { background: #f8d3d5; color: #9b1c23; }
figure { margin: 18px 0 28px; }
figure svg { width: 100%; height: auto; border: 1px solid #e9ecef; }
pre { background: #f8f9fa; border: 1px solid #e9ecef; padding: 10px 12px; overflow-x: auto; }
code { font-family: 'DejaVu Sans Mono', ui-monospace, monospace; font-size: 0.88rem; }
ul.verdicts { list-style: none; margin: 0; padding: 0; }
ul.verdicts li { margin: 2px 0; }
";

fn page_start(out: &mut String, title: &str) {
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(out, "<title>{}</title>", esc(title));
    let _ = writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>");
}

fn page_end(out: &mut String, made_from: &str) {
    let _ = writeln!(
        out,
        "<footer>\n<p>Made by chaoscal {} from {made_from}; regenerate with <code>chaoscal report &lt;this folder&gt;</code>.</p>\n</footer>\n</body>\n</html>",
        env!("CARGO_PKG_VERSION")
    );
}

/// A table from a header and rows of already-escaped cells; the first
/// `text_cols` columns are text (left-aligned), the rest numbers.
fn table(out: &mut String, header: &[&str], rows: &[Vec<String>], text_cols: usize) {
    out.push_str("<div class=\"scroll\">\n<table>\n<thead><tr>");
    for (i, h) in header.iter().enumerate() {
        let class = if i < text_cols { " class=\"text\"" } else { "" };
        let _ = write!(out, "<th{class}>{}</th>", esc(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let class = if i < text_cols { "text" } else { "num" };
            let _ = write!(out, "<td class=\"{class}\">{cell}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
}

/// Like [`table`], but leaves out the numeric columns (other than those in
/// `keep`) that are zero in every row, and says which, so wide tables of
/// mostly idle mechanisms stay readable.
fn sparse_table(out: &mut String, header: &[&str], rows: &[Vec<String>], text_cols: usize, keep: &[&str]) {
    let zero = |c: &str| matches!(c, "0" | "0.0" | "0.00" | "0.000" | "0%" | "–");
    let shown: Vec<usize> = (0..header.len())
        .filter(|&i| i < text_cols || keep.contains(&header[i]) || !rows.iter().all(|r| zero(&r[i])))
        .collect();
    let h: Vec<&str> = shown.iter().map(|&i| header[i]).collect();
    let r: Vec<Vec<String>> = rows
        .iter()
        .map(|row| shown.iter().map(|&i| row[i].clone()).collect())
        .collect();
    table(out, &h, &r, text_cols);
    let hidden: Vec<&str> = (0..header.len())
        .filter(|i| !shown.contains(i))
        .map(|i| header[i])
        .collect();
    if !hidden.is_empty() && !rows.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"note\">Zero everywhere, so not shown: {}.</p>",
            esc(&hidden.join(", "))
        );
    }
}

fn verdict_badge(v: Verdict) -> String {
    let class = match v {
        Verdict::Held => "held",
        Verdict::AtRisk => "at-risk",
        Verdict::Violated => "violated",
    };
    format!("<span class=\"verdict {class}\">{}</span>", v.label())
}

/// A chart as an inline SVG figure, with links to its files.
fn figure(out: &mut String, c: &Chart, link_prefix: &str) {
    // The SVG namespace is implied inside HTML; dropping the attribute keeps
    // the page free of any URL-looking text.
    let svg = c.svg.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1).replacen(
        "<svg ",
        &format!("<svg role=\"img\" aria-label=\"{}\" ", esc(&c.title)),
        1,
    );
    let _ = writeln!(out, "<figure id=\"{}\">", esc(&c.stem));
    out.push_str(svg.trim_end());
    let _ = writeln!(
        out,
        "\n<figcaption>{} — <a href=\"{link_prefix}{stem}.svg\">SVG</a> · <a href=\"{link_prefix}{stem}.png\">PNG</a></figcaption>\n</figure>",
        esc(&c.title),
        stem = href(&c.stem)
    );
}

/// The command that reproduces the run: as recorded, else rebuilt from
/// what `summary.json` holds (it does not record the scenario's path).
fn reproduce_command(s: &Summary) -> (String, bool) {
    match &s.command {
        Some(c) if !c.trim().is_empty() => (c.clone(), true),
        _ => (
            format!(
                "chaoscal run scenarios/{}.toml --seed {} --replications {}",
                s.experiment, s.seed, s.replications
            ),
            false,
        ),
    }
}

// ---------------------------------------------------------------------------
// The experiment page.

fn experiment_page(saved: &Saved, charts: &[Chart]) -> String {
    let s = &saved.summary;
    let mut out = String::new();
    page_start(&mut out, &format!("chaoscal · {}", s.experiment));
    let _ = writeln!(out, "<header>\n<h1>{}</h1>", esc(&s.experiment));
    let mut meta = Vec::new();
    if !s.owner.is_empty() {
        meta.push(format!("owner {}", esc(&s.owner)));
    }
    if !s.topology.is_empty() {
        meta.push(format!("topology {}", esc(&s.topology)));
    }
    meta.push(format!("{} replications", int(s.replications)));
    meta.push(format!("seed {}", s.seed));
    if s.duration_s > 0.0 {
        meta.push(format!(
            "{} s simulated per replication, the first {} s of warm-up not counted",
            seconds(s.duration_s),
            seconds(s.warmup_s)
        ));
    }
    let _ = writeln!(out, "<p class=\"meta\">{}</p>", meta.join(" · "));
    if !s.hypothesis.is_empty() {
        let _ = writeln!(
            out,
            "<blockquote><strong>Hypothesis.</strong> {}</blockquote>",
            esc(&s.hypothesis)
        );
    }
    out.push_str("</header>\n<main>\n");
    verdict_section(&mut out, s);
    blast_section(&mut out, s);
    charts_section(&mut out, saved, charts);
    tables_section(&mut out, saved);
    reproduce_section(&mut out, s);
    out.push_str("</main>\n");
    page_end(
        &mut out,
        "the files in this folder (summary.json and, where present, replications.csv, timeseries.csv, latency_cdf.csv)",
    );
    out
}

fn verdict_section(out: &mut String, s: &Summary) {
    out.push_str("<section id=\"verdicts\">\n<h2>Verdict per SLO</h2>\n");
    if s.slos.is_empty() {
        out.push_str("<p>This experiment declares no SLO.</p>\n</section>\n");
        return;
    }
    let rows: Vec<Vec<String>> = s
        .slos
        .iter()
        .map(|x| {
            let v = Verdict::of(x);
            let budget = x
                .budget_consumed
                .as_ref()
                .map(|b| format!("{} / {}", pct(b.mean), pct(b.p90)))
                .unwrap_or_else(|| "–".to_string());
            vec![
                esc(&x.name),
                esc(&x.kind),
                esc(x.flow.as_deref().unwrap_or("every flow")),
                nines(x.objective),
                verdict_badge(v),
                format!("{} of {}", int(x.violations), int(s.replications)),
                pct(x.probability),
                format!("{} – {}", pct(x.ci95[0]), pct(x.ci95[1])),
                budget,
            ]
        })
        .collect();
    table(
        out,
        &[
            "SLO",
            "kind",
            "flow",
            "objective",
            "verdict",
            "replications violating",
            "P(violated)",
            "95% interval",
            "error budget used (mean / p90)",
        ],
        &rows,
        5,
    );
    out.push_str(
        "<p class=\"note\"><strong>held</strong>: no replication violated the SLO; <strong>violated</strong>: \
         even the low end of the 95% Wilson interval is above 50%; <strong>at risk</strong>: in between. \
         The interval is what the replications allow: ",
    );
    let widest = s.slos.iter().map(|x| x.ci95[1] - x.ci95[0]).fold(0.0, f64::max);
    let _ = writeln!(
        out,
        "with {} replications it is up to {} wide here; run more replications to narrow it.</p>\n</section>",
        int(s.replications),
        pct(widest)
    );
}

fn blast_section(out: &mut String, s: &Summary) {
    let Some(b) = &s.blast_radius else { return };
    out.push_str("<section id=\"blast-radius\">\n<h2>Blast radius</h2>\n");
    let mut facts = Vec::new();
    if let Some(p) = b.containment_breach_probability {
        let interval = b
            .breach_ci95
            .map(|[lo, hi]| format!(" (95% interval {} – {})", pct(lo), pct(hi)))
            .unwrap_or_default();
        facts.push(format!("P(containment breach) = <strong>{}</strong>{interval}", pct(p)));
    }
    let limit = |v: Option<u64>, noun: &str| match v {
        Some(1) => format!("at most 1 {noun}"),
        Some(n) => format!("at most {n} {noun}s"),
        None => format!("no {noun} limit"),
    };
    facts.push(format!(
        "declared: {}, {}",
        limit(b.declared.max_services, "service"),
        limit(b.declared.max_regions, "region")
    ));
    if !b.static_services.is_empty() {
        facts.push(format!(
            "static blast radius ({} services): {}",
            b.static_services.len(),
            esc(&b.static_services.join(", "))
        ));
    }
    let _ = writeln!(out, "<p>{}</p>", facts.join("; "));
    let mut rows = Vec::new();
    for (name, spread, as_pct) in [
        ("services degraded", &b.services, false),
        ("regions degraded", &b.regions, false),
        ("share of requests affected", &b.share_affected, true),
    ] {
        if let Some(x) = spread {
            let f = |v: f64| {
                if as_pct {
                    pct(v)
                } else {
                    format!("{}", (v * 100.0).round() / 100.0)
                }
            };
            rows.push(vec![esc(name), f(x.mean), f(x.p50), f(x.p90), f(x.p99), f(x.max)]);
        }
    }
    if !rows.is_empty() {
        table(out, &["per replication", "mean", "p50", "p90", "p99", "max"], &rows, 1);
    }
    if !b.attributed_failures.is_empty() {
        let rows: Vec<Vec<String>> = b
            .attributed_failures
            .iter()
            .map(|a| vec![esc(&a.fault), int(a.failed_requests)])
            .collect();
        table(out, &["fault", "failed requests whose path met it"], &rows, 1);
    }
    if let Some(c) = &b.counterfactual {
        let _ = writeln!(
            out,
            "<p>Against the same replications run without the faults ({} twins): what the faults did, \
             whatever path the damage took. Against the twin, {} services and {} regions were degraded \
             on average; containment breached in {}.</p>",
            int(c.replications),
            (c.services.mean * 100.0).round() / 100.0,
            (c.regions.mean * 100.0).round() / 100.0,
            pct(c.containment_breach_probability)
        );
        let num = |v: f64| format!("{:+}", (v * 10.0).round() / 10.0);
        let mut rows = vec![{
            let x = &c.excess_failures;
            vec![
                "all flows: excess failed requests".to_string(),
                num(x.mean),
                num(x.p50),
                num(x.p90),
                num(x.max),
            ]
        }];
        for f in &c.flows {
            for (what, x) in [
                ("excess failed requests", &f.excess_failures),
                ("excess p99 latency, ms", &f.excess_latency_p99_ms),
            ] {
                rows.push(vec![
                    format!("{}: {what}", esc(&f.flow)),
                    num(x.mean),
                    num(x.p50),
                    num(x.p90),
                    num(x.max),
                ]);
            }
        }
        table(
            out,
            &["per replication, vs its twin", "mean", "p50", "p90", "max"],
            &rows,
            1,
        );
    }
    out.push_str("</section>\n");
}

fn charts_section(out: &mut String, saved: &Saved, charts: &[Chart]) {
    out.push_str("<section id=\"charts\">\n<h2>Charts</h2>\n");
    let mut missing = Vec::new();
    if saved.timeseries.is_none() {
        missing.push("timeseries.csv (error-rate and latency fan charts over time)");
    }
    if saved.latency_cdf.is_none() {
        missing.push("latency_cdf.csv (latency distributions, baseline vs fault)");
    }
    if saved.summary.blast_radius.is_none() {
        missing.push("blast_radius in summary.json (blast-radius histogram; the heat map shows error rates instead)");
    }
    if !missing.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"note\">Not in these results, so not drawn: {}.</p>",
            esc(&missing.join("; "))
        );
    }
    for c in charts {
        figure(out, c, "");
    }
    out.push_str("</section>\n");
}

fn tables_section(out: &mut String, saved: &Saved) {
    let s = &saved.summary;
    out.push_str("<section id=\"flows\">\n<h2>Flows</h2>\n");
    let rows: Vec<Vec<String>> = s
        .flows
        .iter()
        .map(|f| {
            vec![
                esc(&f.name),
                int(f.requests),
                int(f.succeeded),
                int(f.degraded),
                int(f.failed),
                format!("{:.4}%", f.availability * 100.0),
                ms(f.latency_ms.mean),
                ms(f.latency_ms.p50),
                ms(f.latency_ms.p90),
                ms(f.latency_ms.p99),
                ms(f.latency_ms.max),
            ]
        })
        .collect();
    table(
        out,
        &[
            "flow",
            "requests",
            "succeeded",
            "degraded",
            "failed",
            "availability",
            "mean ms",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
        ],
        &rows,
        1,
    );
    out.push_str(
        "<p class=\"note\">Totals over every replication; succeeded includes degraded (a fallback or optional call was used).</p>\n</section>\n",
    );

    out.push_str("<section id=\"services\">\n<h2>Services</h2>\n");
    let rows: Vec<Vec<String>> = s
        .services
        .iter()
        .map(|x| {
            let rate = if x.requests > 0 {
                pct(x.errors as f64 / x.requests as f64)
            } else {
                "–".to_string()
            };
            vec![
                esc(&x.service),
                esc(&x.region),
                int(x.requests),
                int(x.errors),
                rate,
                int(x.rejected),
                int(x.timeouts),
                int(x.rate_limited),
                int(x.expired),
                int(x.ejections),
                pct(x.utilization),
                ms(x.latency_ms.mean),
                ms(x.latency_ms.p99),
                ms(x.queue_wait_ms.mean),
                ms(x.queue_wait_ms.p99),
            ]
        })
        .collect();
    sparse_table(
        out,
        &[
            "service",
            "region",
            "requests",
            "errors",
            "error rate",
            "rejected",
            "timeouts",
            "rate limited",
            "expired",
            "ejections",
            "utilization",
            "latency mean ms",
            "latency p99 ms",
            "queue wait mean ms",
            "queue wait p99 ms",
        ],
        &rows,
        2,
        &[
            "requests",
            "errors",
            "error rate",
            "utilization",
            "latency mean ms",
            "latency p99 ms",
        ],
    );
    out.push_str("</section>\n");

    if !s.calls.is_empty() {
        out.push_str("<section id=\"calls\">\n<h2>Calls and resilience</h2>\n");
        let rows: Vec<Vec<String>> = s
            .calls
            .iter()
            .map(|c| {
                vec![
                    format!("{} → {}", esc(&c.caller), esc(&c.to)),
                    int(c.calls),
                    int(c.tries),
                    int(c.retries),
                    int(c.budget_denied),
                    int(c.short_circuited),
                    int(c.bulkhead_rejected),
                    int(c.fallbacks),
                    int(c.failed),
                    int(c.breaker_opens),
                    format!("{:.1}", c.breaker_open_s),
                ]
            })
            .collect();
        sparse_table(
            out,
            &[
                "call",
                "calls",
                "tries",
                "retries",
                "retry budget denied",
                "short-circuited",
                "bulkhead rejected",
                "fallbacks",
                "failed",
                "breaker openings",
                "breaker open s / replication",
            ],
            &rows,
            1,
            &["calls", "tries", "retries", "fallbacks", "failed"],
        );
        out.push_str("</section>\n");
    }

    if !s.queues.is_empty() {
        out.push_str("<section id=\"queues\">\n<h2>Queues</h2>\n");
        let rows: Vec<Vec<String>> = s
            .queues
            .iter()
            .map(|q| {
                vec![
                    esc(&q.queue),
                    esc(&q.region),
                    int(q.published),
                    int(q.rejected),
                    int(q.delivered),
                    int(q.redelivered),
                    int(q.dead_lettered),
                    format!("{:.1}", q.backlog.mean),
                    format!("{:.0}", q.backlog.max),
                    ms(q.age_ms.mean),
                    ms(q.age_ms.p99),
                ]
            })
            .collect();
        table(
            out,
            &[
                "queue",
                "region",
                "published",
                "rejected",
                "delivered",
                "redelivered",
                "dead-lettered",
                "backlog mean",
                "backlog max",
                "age mean ms",
                "age p99 ms",
            ],
            &rows,
            2,
        );
        out.push_str("</section>\n");
    }

    out.push_str("<section id=\"money\">\n<h2>Money at risk</h2>\n");
    let m = &s.money;
    let mut rows = Vec::new();
    if let Some(v) = m.failed_value {
        rows.push(vec!["order value of failed requests".to_string(), money(v)]);
    }
    if let Some(v) = m.wrong_outputs {
        rows.push(vec!["wrong AI outputs that reached customers".to_string(), int(v)]);
    }
    if let Some(v) = m.wrong_output_loss {
        rows.push(vec!["loss from wrong AI outputs".to_string(), money(v)]);
    }
    if let Some(v) = m.duplicate_charges {
        rows.push(vec!["duplicate charges".to_string(), int(v)]);
    }
    if let Some(v) = m.duplicate_charge_value {
        rows.push(vec!["value charged twice".to_string(), money(v)]);
    }
    if rows.is_empty() {
        out.push_str("<p>No money figures in these results.</p>\n");
    } else {
        table(out, &["over every replication", "amount"], &rows, 1);
    }
    out.push_str("</section>\n");

    out.push_str("<section id=\"faults\">\n<h2>Faults</h2>\n");
    if s.faults.is_empty() {
        out.push_str("<p>No fault injected: this experiment measures the mesh under load alone.</p>\n");
    } else {
        let times = saved.fault_times.as_deref().unwrap_or(&[]);
        let rows: Vec<Vec<String>> = s
            .faults
            .iter()
            .map(|f| {
                let (start, end) = match times.iter().find(|t| t.name == f.name) {
                    Some(t) => {
                        let start = if t.start_s_min == t.start_s_max {
                            seconds(t.start_s_min)
                        } else {
                            format!("{} – {}", seconds(t.start_s_min), seconds(t.start_s_max))
                        };
                        let end = t.end_s_max.map(seconds).unwrap_or_else(|| "end of run".to_string());
                        (start, end)
                    }
                    None => ("–".to_string(), "–".to_string()),
                };
                vec![esc(&f.name), esc(&f.kind), esc(&f.target), start, end]
            })
            .collect();
        table(
            out,
            &["fault", "kind", "target", "starts at (s)", "last ends at (s)"],
            &rows,
            3,
        );
    }
    out.push_str("</section>\n");
}

fn reproduce_section(out: &mut String, s: &Summary) {
    let (cmd, recorded) = reproduce_command(s);
    let _ = writeln!(
        out,
        "<section id=\"reproduce\">\n<h2>Reproduce</h2>\n<p>Seed <strong>{}</strong>, {} replications. \
         The same files and seed give byte-identical results on any machine and thread count.</p>\n<pre><code>{}</code></pre>",
        s.seed,
        int(s.replications),
        esc(&cmd)
    );
    if !recorded {
        out.push_str(
            "<p class=\"note\">summary.json does not record the scenario's path; the command assumes the catalog \
             file is named after the experiment.</p>\n",
        );
    }
    out.push_str("</section>\n");
}

// ---------------------------------------------------------------------------
// The catalog index.

fn index_page(entries: &[(String, Summary)], chart: Option<&Chart>) -> String {
    let mut out = String::new();
    page_start(&mut out, "chaoscal · catalog results");
    let slos: usize = entries.iter().map(|(_, s)| s.slos.len()).sum();
    let count = |v: Verdict| {
        entries
            .iter()
            .flat_map(|(_, s)| s.slos.iter())
            .filter(|x| Verdict::of(x) == v)
            .count()
    };
    let _ = writeln!(
        out,
        "<header>\n<h1>Chaos catalog results</h1>\n<p class=\"meta\">{} experiments · {slos} SLOs: {} held, {} at risk, {} violated</p>\n</header>\n<main>",
        entries.len(),
        count(Verdict::Held),
        count(Verdict::AtRisk),
        count(Verdict::Violated)
    );
    out.push_str("<section id=\"experiments\">\n<h2>Experiments</h2>\n");
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|(folder, s)| {
            let mut verdicts = String::from("<ul class=\"verdicts\">");
            for x in &s.slos {
                let _ = write!(
                    verdicts,
                    "<li>{} {}: {} [{} – {}]</li>",
                    verdict_badge(Verdict::of(x)),
                    esc(&x.name),
                    pct(x.probability),
                    pct(x.ci95[0]),
                    pct(x.ci95[1])
                );
            }
            if s.slos.is_empty() {
                verdicts.push_str("<li>no SLO declared</li>");
            }
            verdicts.push_str("</ul>");
            let breach = s
                .blast_radius
                .as_ref()
                .and_then(|b| b.containment_breach_probability)
                .map(pct)
                .unwrap_or_else(|| "–".to_string());
            vec![
                format!("<a href=\"{}/report.html\">{}</a>", href(folder), esc(&s.experiment)),
                esc(&s.owner),
                format!("<span class=\"wrap\">{}</span>", esc(&s.hypothesis)),
                format!("<div class=\"wrap\">{verdicts}</div>"),
                breach,
                int(s.replications),
                s.seed.to_string(),
            ]
        })
        .collect();
    table(
        &mut out,
        &[
            "experiment",
            "owner",
            "hypothesis",
            "SLO verdicts: P(violated) [95% interval]",
            "P(containment breach)",
            "replications",
            "seed",
        ],
        &rows,
        4,
    );
    out.push_str("</section>\n");
    if let Some(c) = chart {
        out.push_str("<section id=\"catalog-slos\">\n<h2>Every SLO of the catalog</h2>\n");
        figure(&mut out, c, "");
        out.push_str("</section>\n");
    }
    out.push_str("</main>\n");
    page_end(&mut out, "the summary.json of each experiment folder");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_counts_money_and_objectives_for_people() {
        assert_eq!(int(0), "0");
        assert_eq!(int(1681674), "1,681,674");
        assert_eq!(int(999), "999");
        assert_eq!(money(30696.25), "30,696.25");
        assert_eq!(nines(0.999), "99.9%");
        assert_eq!(nines(0.99), "99%");
        assert_eq!(nines(0.9995), "99.95%");
        assert_eq!(esc("<a & 'b'>"), "&lt;a &amp; &#39;b&#39;&gt;");
        assert_eq!(href("psp latency/1"), "psp%20latency%2F1");
    }
}

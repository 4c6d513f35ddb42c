//! The self-contained HTML report of one experiment (`report.html`) and the
//! index of a catalog run (`index.html` at the results root), made — like
//! the charts — from the saved result files only.
//!
//! Self-contained means: one file, charts inlined as SVG, styles inline, no
//! script, no network reference, so it opens the same from a CI artifact, a
//! mail attachment or a laptop on a plane. Deterministic: no timestamps or
//! absolute paths, so `chaoscal report` rewrites the bytes `run` wrote.
//!
//! This file holds what both pages share (writing them, the look, number
//! formats, tables, figures); `experiment` and `index` the pages.

mod changes;
mod experiment;
mod index;
mod uncertainty;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::ReportError;
use super::charts::{self, Chart, Verdict};
use super::escape::html as esc;
use crate::results::files;
use crate::results::saved::{ReadError, Saved, experiment_dirs, read_summary};
use crate::results::summary::Summary;

/// What one `report` call wrote.
#[derive(Debug, Default)]
pub struct Written {
    /// Each experiment folder that got its charts and `report.html`.
    pub experiments: Vec<PathBuf>,
    /// The catalog index, when the folder held several experiments.
    pub index: Option<PathBuf>,
}

/// Writes one page.
fn write_page(path: PathBuf, html: String) -> Result<PathBuf, ReportError> {
    files::write(&path, html).map_err(|source| ReportError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// Draws the charts of the experiment folder `dir` and writes them with
/// `report.html` into it. Returns the path of the report.
pub fn write_experiment(dir: &Path) -> Result<PathBuf, ReportError> {
    let saved = Saved::load(dir)?;
    let charts = charts::experiment_charts(&saved)?;
    for c in &charts {
        c.write(dir)?;
    }
    write_page(dir.join("report.html"), experiment::page(&saved, &charts))
}

/// Writes `index.html` and the catalog-wide SLO chart (`slo_catalog.svg`,
/// `.png`) into `root`, listing every experiment folder under it.
pub fn write_index(root: &Path) -> Result<PathBuf, ReportError> {
    let dirs = experiment_dirs(root)?;
    if dirs.is_empty() {
        return Err(ReadError::NoResults {
            path: root.to_path_buf(),
        }
        .into());
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
    write_page(root.join("index.html"), index::page(&entries, chart.as_ref()))
}

/// `chaoscal report DIR`: an experiment folder gets its charts and report;
/// a folder of experiment folders gets each of those plus the index. Every
/// experiment is attempted; all problems are returned together.
pub fn regenerate(dir: &Path) -> Result<Written, Vec<ReportError>> {
    if !dir.is_dir() {
        return Err(vec![
            ReadError::Read {
                path: dir.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such folder"),
            }
            .into(),
        ]);
    }
    let mut written = Written::default();
    if dir.join("summary.json").exists() {
        write_experiment(dir).map_err(|e| vec![e])?;
        written.experiments.push(dir.to_path_buf());
        return Ok(written);
    }
    let dirs = experiment_dirs(dir).map_err(|e| vec![e.into()])?;
    if dirs.is_empty() {
        return Err(vec![
            ReadError::NoResults {
                path: dir.to_path_buf(),
            }
            .into(),
        ]);
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

//! Charts of one experiment (and of a catalog run), drawn with plotters from
//! the saved result files, each written as `<stem>.svg` and `<stem>.png`.
//!
//! | file stem | chart | drawn from |
//! |---|---|---|
//! | `slo_violation` | P(violation) per SLO with its 95% Wilson interval | `summary.json` `slos` |
//! | `error_rate_<flow>` | fan chart of the error rate over time (over a rolling minute): p10–p90 band across replications, p50 line, fault windows shaded | `timeseries.csv` |
//! | `rollout_weight` | fan chart of a rollout's new-version weight over time, under the first flow's error rate | `timeseries.csv` |
//! | `latency_p99_<flow>` | the same for the p99 latency | `timeseries.csv` |
//! | `latency_cdf_<flow>` | latency CDF, baseline vs during the fault, log latency axis | `latency_cdf.csv` |
//! | `blast_radius` | services degraded per replication (histogram), declared limit marked | `summary.json` `blast_radius` |
//! | `degradation_heatmap` | service × region: share of replications degraded, else error rate | `summary.json` |
//! | `tornado_<outcome>` | per uncertain input, the first-order share of an SLO's (or containment's) variance, signed by the direction | `summary.json` `uncertainty` |
//! | `hangs_on_<outcome>` | P(violation) per bin of the top three inputs, 95% intervals, the limit and where it is crossed | `summary.json` `uncertainty` |
//! | `slo_catalog` (results root) | P(violation) of every SLO of every experiment | each `summary.json` |
//! | `sweep` (SVG only, sweep folder) | P(violation) per SLO against the first swept key | the sweep's grid points |
//! | `waterfall_failed`, `waterfall_slowest` | a failed request and the slowest successful one as trace waterfalls | `waterfalls.json` (`run --replication I --trace`) |
//!
//! A chart whose data is absent (an older results folder, a run without
//! faults) is left out, never drawn empty. Output is a pure function of
//! the files: no timestamps, no hash-map order, the font compiled in
//! (`font`), so `chaoscal report` rewrites the same bytes `run` wrote.

mod blast;
mod cdf;
mod fan;
mod font;
mod heatmap;
mod raster;
mod slo;
mod sweep;
pub(crate) mod uncertainty;
mod waterfall;

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::ReportError;
use crate::results::files;
use crate::results::saved::Saved;
use crate::results::summary::{SloSummary, Summary};
use crate::sweep::{Axis, Point};

/// One drawn chart, both encodings.
#[derive(Debug, Clone)]
pub struct Chart {
    /// File name without extension (`error_rate_checkout`).
    pub stem: String,
    /// The chart's title, also its caption in the HTML report.
    pub title: String,
    pub width: u32,
    pub height: u32,
    pub svg: String,
    pub png: Vec<u8>,
}

impl Chart {
    /// Writes `<stem>.svg` and `<stem>.png` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), ReportError> {
        for (ext, bytes) in [("svg", self.svg.as_bytes()), ("png", self.png.as_slice())] {
            let path = dir.join(format!("{}.{ext}", self.stem));
            files::write(&path, bytes).map_err(|source| ReportError::Write { path, source })?;
        }
        Ok(())
    }
}

/// Every chart of one experiment, in the order the report shows them.
pub fn experiment_charts(saved: &Saved) -> Result<Vec<Chart>, ReportError> {
    let s = &saved.summary;
    let mut charts = Vec::new();
    if !s.slos.is_empty() {
        let rows: Vec<slo::Row> = s.slos.iter().map(|x| slo::Row::of("", &x.name, x)).collect();
        let title = format!("{}: probability that each SLO is violated", s.experiment);
        charts.push(render(
            "slo_violation",
            &title,
            &slo::SloChart::new(&title, rows, s.replications),
        )?);
    }
    if let Some(ts) = &saved.timeseries {
        for (i, flow) in fan::flows_in(s, ts).iter().enumerate() {
            // The rollout's weight (the same in every flow's rows) under the first error-rate chart.
            let weight = (i == 0 && s.rollout.is_some()).then_some(fan::Metric::RolloutWeight);
            let metrics = [Some(fan::Metric::ErrorRate), weight, Some(fan::Metric::LatencyP99)];
            for metric in metrics.into_iter().flatten() {
                if let Some(chart) = fan::FanChart::new(s, ts, flow, metric) {
                    charts.push(render(&chart.stem(), &chart.title(), &chart)?);
                }
            }
        }
    }
    if let Some(points) = &saved.latency_cdf {
        for flow in cdf::flows_in(s, points) {
            if let Some(chart) = cdf::CdfChart::new(s, points, &flow) {
                charts.push(render(&chart.stem(), &chart.title(), &chart)?);
            }
        }
    }
    if let Some(chart) = blast::BlastChart::new(s, saved.blast_services.as_deref()) {
        charts.push(render("blast_radius", &chart.title(), &chart)?);
    }
    if let Some(chart) = heatmap::HeatMap::new(s) {
        charts.push(render("degradation_heatmap", &chart.title(), &chart)?);
    }
    if let Some(w) = read_waterfalls(&saved.dir)? {
        let picks = [
            ("a failed", "waterfall_failed", &w.failed),
            ("the slowest successful", "waterfall_slowest", &w.slowest),
        ];
        for (what, stem, wf) in picks {
            if let Some(w) = wf {
                let chart = waterfall::WaterfallChart {
                    experiment: &s.experiment,
                    what,
                    w,
                };
                charts.push(render(stem, &chart.title(), &chart)?);
            }
        }
    }
    for outcome in uncertainty::outcomes(s) {
        if let Some(chart) = uncertainty::TornadoChart::new(s, &outcome) {
            charts.push(render(
                &format!("tornado_{}", file_stem(&outcome)),
                &chart.title(),
                &chart,
            )?);
        }
        if let Some(chart) = uncertainty::CurvesChart::new(s, &outcome) {
            charts.push(render(
                &format!("hangs_on_{}", file_stem(&outcome)),
                &chart.title(),
                &chart,
            )?);
        }
    }
    Ok(charts)
}

/// `waterfalls.json` of a `--trace` run, if the folder has one (a file
/// chaoscal wrote; a malformed one is an error naming it).
fn read_waterfalls(dir: &Path) -> Result<Option<crate::telemetry::Waterfalls>, ReportError> {
    let path = dir.join(crate::telemetry::waterfall::FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(crate::results::saved::ReadError::Read { path, source }.into()),
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        crate::results::saved::ReadError::Json {
            path,
            line: e.line(),
            column: e.column(),
            message: e.to_string().split(" at line ").next().unwrap_or_default().to_string(),
        }
        .into()
    })
}

/// The catalog-wide SLO chart: every SLO of every experiment, grouped by
/// experiment in the given order. `None` when no experiment has an SLO.
pub fn catalog_slo_chart(summaries: &[&Summary]) -> Result<Option<Chart>, ReportError> {
    let mut rows = Vec::new();
    for s in summaries {
        for x in &s.slos {
            rows.push(slo::Row::of(&s.experiment, &format!("{}: {}", s.experiment, x.name), x));
        }
    }
    if rows.is_empty() {
        return Ok(None);
    }
    let replications: Vec<u64> = summaries.iter().map(|s| s.replications).collect();
    let min = replications.iter().min().copied().unwrap_or(0);
    let max = replications.iter().max().copied().unwrap_or(0);
    let title = format!(
        "Catalog: probability that each SLO is violated ({} experiments)",
        summaries.len()
    );
    let mut chart = slo::SloChart::new(&title, rows, min);
    if min != max {
        chart.replications_note = format!("{min} to {max} replications per experiment");
    }
    render("slo_catalog", &title, &chart).map(Some)
}

/// The SVG of a sweep (`sweep.svg`): `None` when there is nothing to draw.
pub fn sweep_svg(experiment: &str, axes: &[Axis], points: &[Point]) -> Result<Option<String>, ReportError> {
    match sweep::SweepChart::new(experiment, axes, points) {
        Some(chart) => render_svg("sweep", &chart).map(Some),
        None => Ok(None),
    }
}

/// A file-name-safe version of a flow or experiment name.
pub fn file_stem(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() { "_".to_string() } else { s }
}

// ---------------------------------------------------------------------------
// Drawing on any backend, encoding to SVG and PNG.

/// Error while drawing: the backend's message (drawing into memory only
/// fails on a bug, so the message is for the bug report).
#[derive(Debug)]
pub(crate) struct DrawError(String);

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for DrawError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        DrawError(e.to_string())
    }
}

/// A chart that can draw itself on any plotters backend, so the SVG and the
/// PNG come from one drawing routine.
pub(crate) trait Plot {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError>;
}

fn render(stem: &str, title: &str, plot: &impl Plot) -> Result<Chart, ReportError> {
    let fail = |message: String| ReportError::Render {
        chart: stem.to_string(),
        message,
    };
    let svg = render_svg(stem, plot)?;
    let (width, height) = plot.size();
    let mut rgb = vec![0u8; width as usize * height as usize * 3];
    {
        let face = font::face().map_err(fail)?;
        let backend = raster::Crisp::new(BitMapBackend::with_buffer(&mut rgb, (width, height)), face);
        let root = backend.into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
        plot.draw(&root).map_err(|e| fail(e.0))?;
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    let png = encode_png(&rgb, width, height).map_err(fail)?;
    Ok(Chart {
        stem: stem.to_string(),
        title: title.to_string(),
        width,
        height,
        svg,
        png,
    })
}

/// Draws `plot` as SVG text.
fn render_svg(stem: &str, plot: &impl Plot) -> Result<String, ReportError> {
    let fail = |message: String| ReportError::Render {
        chart: stem.to_string(),
        message,
    };
    font::ensure_registered().map_err(fail)?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, plot.size()).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
        plot.draw(&root).map_err(|e| fail(e.0))?;
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    Ok(svg)
}

/// RGB8 pixels to PNG bytes. Encoding settings are fixed, so the bytes are
/// a function of the pixels only.
fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, width, height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Balanced);
    let mut w = enc.write_header().map_err(|e| e.to_string())?;
    w.write_image_data(rgb).map_err(|e| e.to_string())?;
    w.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

// ---------------------------------------------------------------------------
// The house look: colours, type sizes, title block, legend row.

pub(crate) const INK: RGBColor = RGBColor(33, 37, 41);
pub(crate) const MUTED: RGBColor = RGBColor(100, 108, 116);
pub(crate) const GRID: RGBColor = RGBColor(226, 229, 233);
pub(crate) const BLUE: RGBColor = RGBColor(31, 106, 165);
pub(crate) const RED: RGBColor = RGBColor(200, 35, 45);
pub(crate) const AMBER: RGBColor = RGBColor(222, 140, 0);
pub(crate) const GREEN: RGBColor = RGBColor(40, 140, 60);
pub(crate) const FAULT: RGBColor = RGBColor(240, 120, 60);

pub(crate) fn font(size: u32) -> TextStyle<'static> {
    TextStyle::from((font::FAMILY, size).into_font()).color(&INK)
}

pub(crate) fn muted(size: u32) -> TextStyle<'static> {
    TextStyle::from((font::FAMILY, size).into_font()).color(&MUTED)
}

/// How a legend entry is drawn.
pub(crate) enum Swatch {
    /// A filled box.
    Fill(RGBAColor),
    /// A line.
    Line(RGBColor, u32),
    /// A dashed line.
    Dashed(RGBColor),
    /// An interval: a line with end caps.
    Whisker(RGBColor),
}

pub(crate) struct LegendItem {
    pub swatch: Swatch,
    pub label: String,
}

impl LegendItem {
    pub fn new(swatch: Swatch, label: impl Into<String>) -> Self {
        LegendItem {
            swatch,
            label: label.into(),
        }
    }
}

/// Height of the title block drawn by [`title_block`] for `legend_rows` rows of legend.
pub(crate) fn header_height(legend_rows: u32) -> u32 {
    62 + 24 * legend_rows
}

/// Draws the title, a subtitle and a legend row across the top of `root`
/// (outside the plot, so the legend never hides data) and returns the area
/// left for the plot.
pub(crate) fn title_block<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &str,
    legend: &[LegendItem],
) -> Result<DrawingArea<DB, Shift>, DrawError> {
    let (w, _) = root.dim_in_pixel();
    let rows = legend_rows(root, legend, w)?;
    let (head, body) = root.split_vertically(header_height(rows.len() as u32));
    head.draw(&Text::new(title.to_string(), (16, 10), font(20)))?;
    head.draw(&Text::new(subtitle.to_string(), (16, 38), muted(13)))?;
    for (r, row) in rows.iter().enumerate() {
        let y = 70 + 24 * r as i32;
        for &(x, i) in row {
            let item = &legend[i];
            draw_swatch(&head, &item.swatch, x, y)?;
            let style = font(13).pos(Pos::new(HPos::Left, VPos::Center));
            head.draw(&Text::new(item.label.clone(), (x + 28, y), style))?;
        }
    }
    Ok(body)
}

/// Lays legend items out left to right, wrapping to a new row when the width runs out.
fn legend_rows<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    legend: &[LegendItem],
    width: u32,
) -> Result<Vec<Vec<(i32, usize)>>, DrawError> {
    let mut rows: Vec<Vec<(i32, usize)>> = Vec::new();
    let mut x = 16;
    for (i, item) in legend.iter().enumerate() {
        let (tw, _) = root.estimate_text_size(&item.label, &font(13))?;
        let span = 28 + tw as i32 + 26;
        if rows.is_empty() || (x + span > width as i32 - 8 && x > 16) {
            rows.push(Vec::new());
            x = 16;
        }
        if let Some(row) = rows.last_mut() {
            row.push((x, i));
        }
        x += span;
    }
    Ok(rows)
}

fn draw_swatch<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    swatch: &Swatch,
    x: i32,
    y: i32,
) -> Result<(), DrawError> {
    match swatch {
        Swatch::Fill(c) => {
            area.draw(&Rectangle::new([(x, y - 7), (x + 20, y + 7)], c.filled()))?;
        }
        Swatch::Line(c, w) => {
            area.draw(&PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(*w)))?;
        }
        Swatch::Dashed(c) => {
            for dx in [0, 13] {
                area.draw(&PathElement::new(vec![(x + dx, y), (x + dx + 7, y)], c.stroke_width(2)))?;
            }
        }
        Swatch::Whisker(c) => {
            let s = c.stroke_width(2);
            area.draw(&PathElement::new(vec![(x, y), (x + 20, y)], s))?;
            area.draw(&PathElement::new(vec![(x, y - 5), (x, y + 5)], s))?;
            area.draw(&PathElement::new(vec![(x + 20, y - 5), (x + 20, y + 5)], s))?;
        }
    }
    Ok(())
}

/// Tick label with as many decimals as the axis span needs (no "0.30000000000000004").
pub(crate) fn tick(v: f64, span: f64) -> String {
    let step = span / 5.0;
    let decimals = if step >= 1.0 || step <= 0.0 || !step.is_finite() {
        0
    } else {
        ((-step.log10()).ceil() as usize).min(6)
    };
    let s = format!("{v:.decimals$}");
    if s.starts_with('-') && s.trim_start_matches(['-', '0', '.']).is_empty() {
        s[1..].to_string()
    } else {
        s
    }
}

/// A percentage for labels: 3 significant digits (2 below 0.01%), never an exponent.
pub(crate) fn pct(share: f64) -> String {
    let v = share * 100.0;
    if v == 0.0 {
        "0%".to_string()
    } else if v >= 10.0 {
        format!("{v:.1}%")
    } else if v >= 1.0 {
        format!("{v:.2}%")
    } else if v >= 0.01 {
        format!("{v:.3}%")
    } else if v >= 1e-6 {
        // Two significant digits, written out: 0.0085%, not 8.5e-3%.
        let decimals = (-v.log10()).ceil() as usize + 1;
        format!("{v:.decimals$}%")
    } else {
        "<0.000001%".to_string()
    }
}

/// The time axis of a run: minutes for runs of 20 minutes or more, seconds otherwise.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimeAxis {
    pub divisor: f64,
    pub unit: &'static str,
}

impl TimeAxis {
    pub fn for_duration(duration_s: f64) -> TimeAxis {
        if duration_s >= 1200.0 {
            TimeAxis {
                divisor: 60.0,
                unit: "min",
            }
        } else {
            TimeAxis {
                divisor: 1.0,
                unit: "s",
            }
        }
    }
}

/// What the report says about one SLO, from its violation count and interval.
///
/// * `Held`: no replication violated it (the interval still bounds the risk);
/// * `Violated`: even the interval's low end is above one half — it is
///   usually violated under this experiment;
/// * `AtRisk`: anything in between.
///
/// The same rule as the console summary, so the two never disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Held,
    AtRisk,
    Violated,
}

impl Verdict {
    pub fn of(slo: &SloSummary) -> Verdict {
        if slo.ci95[0] > 0.5 {
            Verdict::Violated
        } else if slo.violations == 0 {
            Verdict::Held
        } else {
            Verdict::AtRisk
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Verdict::Held => "held",
            Verdict::AtRisk => "at risk",
            Verdict::Violated => "violated",
        }
    }

    pub(crate) fn color(self) -> RGBColor {
        match self {
            Verdict::Held => GREEN,
            Verdict::AtRisk => AMBER,
            Verdict::Violated => RED,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_short_and_never_in_exponent_form() {
        assert_eq!(pct(0.0), "0%");
        assert_eq!(pct(1.0), "100.0%");
        assert_eq!(pct(0.037), "3.70%");
        assert_eq!(pct(0.00012), "0.012%");
        assert_eq!(pct(0.000085), "0.0085%");
        assert_eq!(tick(0.30000000000000004, 1.0), "0.3");
        assert_eq!(tick(1500.0, 3000.0), "1500");
        assert_eq!(tick(-0.0, 1.0), "0.0");
        assert_eq!(file_stem("Check out/EU"), "check_out_eu");
    }

    #[test]
    fn verdicts_follow_the_console_rule() {
        let slo = |violations, lo| SloSummary {
            name: "s".into(),
            kind: "availability".into(),
            flow: None,
            objective: 0.999,
            violations,
            probability: 0.0,
            ci95: [lo, 1.0],
            attainment: None,
            budget_consumed: None,
            threshold_ms: None,
            max_violation_probability: None,
            decision: None,
        };
        assert_eq!(Verdict::of(&slo(0, 0.0)), Verdict::Held);
        assert_eq!(Verdict::of(&slo(3, 0.1)), Verdict::AtRisk);
        assert_eq!(Verdict::of(&slo(40, 0.91)), Verdict::Violated);
    }
}

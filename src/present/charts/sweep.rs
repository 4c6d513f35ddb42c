//! `sweep.svg`: violation probability against the first swept key, one
//! line per SLO (and per combination of the other keys' values), each point
//! with its 95% Wilson interval as an error bar, points that meet their
//! limit filled, and each SLO's limit dashed.

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{DrawError, LegendItem, MUTED, Plot, RED, Swatch, font, title_block};
use crate::sweep::{Axis, Point};

/// Colour-blind-safe palette (Okabe–Ito); series beyond it are dashed.
const COLOURS: [RGBColor; 8] = [
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0x00, 0x00, 0x00),
    RGBColor(0xF0, 0xE4, 0x42),
];

/// The most series named in the legend (all are drawn).
const MAX_LEGEND: usize = 24;

/// A number as a label: whole numbers without decimals, others with up to four.
pub(crate) fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e12 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// "Nice" tick values covering [lo, hi] (about five).
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = (hi - lo).max(1e-12);
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| span / s <= 6.0)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() * step;
    (0..=((hi - first) / step + 1e-9).floor() as usize)
        .map(|i| first + i as f64 * step)
        .collect()
}

/// One line: an SLO at one combination of the other keys' values.
struct Series {
    colour: RGBColor,
    dashed: bool,
    label: String,
    /// (first key's value, probability, 95% interval, meets its limit), by value.
    points: Vec<(f64, f64, [f64; 2], bool)>,
}

pub(crate) struct SweepChart {
    title: String,
    key: String,
    replications: u64,
    x_range: (f64, f64),
    x_ticks: Vec<f64>,
    series: Vec<Series>,
    limits: Vec<f64>,
}

impl SweepChart {
    /// `None` without a swept key or a point.
    pub fn new(experiment: &str, axes: &[Axis], points: &[Point]) -> Option<SweepChart> {
        let first_axis = axes.first()?;
        let first = points.first()?;
        let (lo, hi) = points
            .iter()
            .map(|p| p.values[0])
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
        let (lo, hi) = if hi > lo { (lo, hi) } else { (lo - 1.0, lo + 1.0) };
        let pad = (hi - lo) * 0.04;
        let x_ticks = if first_axis.values.len() <= 12 {
            let mut v = first_axis.values.clone();
            v.sort_by(f64::total_cmp);
            v.dedup();
            v
        } else {
            ticks(lo, hi)
        };
        let (series, limits) = series(axes, points);
        Some(SweepChart {
            title: format!("{experiment}: P(SLO violated) vs {}", first_axis.key),
            key: first_axis.key.clone(),
            replications: first.replications,
            x_range: (lo - pad, hi + pad),
            x_ticks,
            series,
            limits,
        })
    }
}

/// The lines, per SLO and per combination of the other keys' values (in
/// the order the grid first meets them), and the distinct limits.
fn series(axes: &[Axis], points: &[Point]) -> (Vec<Series>, Vec<f64>) {
    let mut combos: Vec<&[f64]> = Vec::new();
    for p in points {
        if !combos.contains(&&p.values[1..]) {
            combos.push(&p.values[1..]);
        }
    }
    let nslo = points.first().map(|p| p.slos.len()).unwrap_or(0);
    let mut series = Vec::new();
    let mut limits: Vec<f64> = Vec::new();
    for si in 0..nslo {
        for combo in &combos {
            let mut pts: Vec<&Point> = points.iter().filter(|p| p.values[1..] == **combo).collect();
            pts.sort_by(|a, b| a.values[0].total_cmp(&b.values[0]));
            let mut label = pts.first().map(|p| p.slos[si].name.clone()).unwrap_or_default();
            for (a, v) in axes[1..].iter().zip(combo.iter()) {
                label.push_str(&format!(
                    " @ {}={}",
                    a.key.rsplit('.').next().unwrap_or(&a.key),
                    num(*v)
                ));
            }
            if label.chars().count() > 44 {
                label = label.chars().take(43).collect::<String>() + "…";
            }
            if let Some(p) = pts.first()
                && !limits.contains(&p.slos[si].limit)
            {
                limits.push(p.slos[si].limit);
            }
            let n = series.len();
            series.push(Series {
                colour: COLOURS[n % COLOURS.len()],
                dashed: n >= COLOURS.len(),
                label,
                points: pts
                    .iter()
                    .map(|p| {
                        let s = &p.slos[si];
                        (p.values[0], s.probability, s.ci95, s.meets)
                    })
                    .collect(),
            });
        }
    }
    (series, limits)
}

impl Plot for SweepChart {
    fn size(&self) -> (u32, u32) {
        (1000, 560)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        let legend: Vec<LegendItem> = self
            .series
            .iter()
            .take(MAX_LEGEND)
            .map(|s| {
                let swatch = if s.dashed {
                    Swatch::Dashed(s.colour)
                } else {
                    Swatch::Line(s.colour, 2)
                };
                LegendItem::new(swatch, s.label.clone())
            })
            .collect();
        let subtitle = format!(
            "{} replications per point, the same seed at every point; bars: 95% Wilson interval; \
             filled: meets its limit at 95%; dashed red: the limit",
            self.replications
        );
        let body = title_block(root, &self.title, &subtitle, &legend)?;
        let (x0, x1) = self.x_range;
        let mut chart = ChartBuilder::on(&body)
            .margin(14)
            .margin_left(8)
            .x_label_area_size(46)
            .y_label_area_size(76)
            .build_cartesian_2d(
                Ticked::new(x0..x1, self.x_ticks.clone()),
                Ticked::new(0.0..1.0, vec![0.0, 0.25, 0.5, 0.75, 1.0]),
            )?;
        chart
            .configure_mesh()
            .x_label_formatter(&|v| num(*v))
            .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
            .x_desc(self.key.as_str())
            .y_desc("P(violation), 95% interval")
            .axis_desc_style(font(14))
            .label_style(font(13))
            .bold_line_style(super::GRID)
            .axis_style(MUTED)
            .draw()?;
        for &l in &self.limits {
            chart.draw_series(DashedLineSeries::new(vec![(x0, l), (x1, l)], 6, 4, RED.stroke_width(1)))?;
            let style = font(12).color(&RED).pos(Pos::new(HPos::Right, VPos::Bottom));
            chart.draw_series(std::iter::once(Text::new(format!("limit {}", num(l)), (x1, l), style)))?;
        }
        // Series that coincide would hide each other: each is shifted a few pixels sideways.
        let width_px = chart.plotting_area().dim_in_pixel().0.max(1) as f64;
        let per_px = (x1 - x0) / width_px;
        let total = self.series.len();
        let dodge_px = if total > 1 {
            (12.0 / (total - 1) as f64).min(3.0)
        } else {
            0.0
        };
        for (i, s) in self.series.iter().enumerate() {
            let shift = (i as f64 - (total as f64 - 1.0) / 2.0) * dodge_px * per_px;
            draw_series(&mut chart, s, shift, 4.0 * per_px)?;
        }
        Ok(())
    }
}

type Sweep2d<'a, DB> = ChartContext<'a, DB, Cartesian2d<Ticked, Ticked>>;

/// An f64 axis with its ticks where we say (the swept values, or round
/// numbers), labelled by the chart's own formatter.
struct Ticked {
    inner: RangedCoordf64,
    ticks: Vec<f64>,
}

impl Ticked {
    fn new(range: std::ops::Range<f64>, ticks: Vec<f64>) -> Self {
        Ticked {
            inner: range.into(),
            ticks,
        }
    }
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // Grid lines and labels at the ticks only (no light lines between them).
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.inner.range()
    }
}

/// One series: its line, then each point's error bar and marker.
fn draw_series<DB: DrawingBackend>(
    chart: &mut Sweep2d<'_, DB>,
    s: &Series,
    shift: f64,
    cap: f64,
) -> Result<(), DrawError> {
    let line: Vec<(f64, f64)> = s.points.iter().map(|p| (p.0 + shift, p.1)).collect();
    if s.dashed {
        chart.draw_series(DashedLineSeries::new(line, 2, 2, s.colour.stroke_width(2)))?;
    } else {
        chart.draw_series(LineSeries::new(line, s.colour.stroke_width(2)))?;
    }
    for &(x, p, [lo, hi], meets) in &s.points {
        let x = x + shift;
        let bar = s.colour.stroke_width(1);
        chart.draw_series([
            PathElement::new(vec![(x, lo), (x, hi)], bar),
            PathElement::new(vec![(x - cap, lo), (x + cap, lo)], bar),
            PathElement::new(vec![(x - cap, hi), (x + cap, hi)], bar),
        ])?;
        let fill = if meets { s.colour } else { WHITE };
        chart.draw_series([
            Circle::new((x, p), 4, fill.filled()),
            Circle::new((x, p), 4, s.colour.stroke_width(1)),
        ])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_numbers() {
        // Ticks over 0..10 are 0, 2, 4, …, 10.
        assert_eq!(ticks(0.0, 10.0), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert!(ticks(3.0, 3.5).len() >= 3);
    }
}

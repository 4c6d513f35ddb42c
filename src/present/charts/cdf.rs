//! Latency CDFs per flow: the baseline (after warm-up, before the first
//! fault) against the fault window, on a logarithmic latency axis.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{BLUE, DrawError, LegendItem, MUTED, Plot, RED, Swatch, file_stem, font, muted, title_block};
use crate::results::saved::CdfPoint;
use crate::results::summary::Summary;

/// Flows in `latency_cdf.csv`, in `summary.json`'s order, then any others in file order.
pub(crate) fn flows_in(s: &Summary, points: &[CdfPoint]) -> Vec<String> {
    let mut flows: Vec<String> = s
        .flows
        .iter()
        .filter(|f| points.iter().any(|p| p.flow == f.name))
        .map(|f| f.name.clone())
        .collect();
    for p in points {
        if !flows.contains(&p.flow) {
            flows.push(p.flow.clone());
        }
    }
    flows
}

struct Curve {
    label: &'static str,
    colour: RGBColor,
    width: u32,
    /// (latency ms > 0, cumulative %), sorted by latency.
    points: Vec<(f64, f64)>,
}

pub(crate) struct CdfChart {
    flow: String,
    curves: Vec<Curve>,
    x_range: (f64, f64),
}

impl CdfChart {
    /// `None` when the flow has no point with a positive latency.
    pub fn new(_s: &Summary, points: &[CdfPoint], flow: &str) -> Option<CdfChart> {
        let curve = |phase: &str| -> Vec<(f64, f64)> {
            let mut v: Vec<(f64, f64)> = points
                .iter()
                .filter(|p| p.flow == flow && p.phase == phase && p.latency_ms > 0.0)
                .map(|p| (p.latency_ms, p.cumulative * 100.0))
                .collect();
            v.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
            v
        };
        let (baseline, fault, all) = (curve("baseline"), curve("fault"), curve("all"));
        let mut curves = Vec::new();
        let both = !baseline.is_empty() && !fault.is_empty();
        if !both && !all.is_empty() {
            curves.push(Curve {
                label: "all requests after warm-up",
                colour: MUTED,
                width: 2,
                points: all,
            });
        }
        if !baseline.is_empty() {
            curves.push(Curve {
                label: "baseline: before the first fault",
                colour: BLUE,
                width: 2,
                points: baseline,
            });
        }
        if !fault.is_empty() {
            curves.push(Curve {
                label: "during the fault",
                colour: RED,
                width: 4,
                points: fault,
            });
        }
        let lo = curves
            .iter()
            .flat_map(|c| c.points.iter().map(|p| p.0))
            .fold(f64::INFINITY, f64::min);
        let hi = curves
            .iter()
            .flat_map(|c| c.points.iter().map(|p| p.0))
            .fold(0.0, f64::max);
        if !lo.is_finite() || hi <= 0.0 {
            return None;
        }
        // Whole decades around the data, so the log axis gets round labels.
        let lo = 10f64.powf((lo * 0.999).log10().floor());
        let hi = 10f64.powf((hi * 1.001).log10().ceil()).max(lo * 10.0);
        Some(CdfChart {
            flow: flow.to_string(),
            curves,
            x_range: (lo, hi),
        })
    }

    pub fn stem(&self) -> String {
        format!("latency_cdf_{}", file_stem(&self.flow))
    }

    pub fn title(&self) -> String {
        format!("{}: latency distribution, baseline vs during the fault", self.flow)
    }
}

/// Latency label: no trailing zeros, no exponent.
fn ms_label(v: f64) -> String {
    if v >= 1.0 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

impl Plot for CdfChart {
    fn size(&self) -> (u32, u32) {
        (1000, 560)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        let legend: Vec<LegendItem> = self
            .curves
            .iter()
            .map(|c| LegendItem::new(Swatch::Line(c.colour, c.width), c.label))
            .collect();
        let body = title_block(
            root,
            &self.title(),
            "Share of requests answered within a latency (merged over every replication); a curve further right is slower",
            &legend,
        )?;
        let (lo, hi) = self.x_range;
        let mut chart = ChartBuilder::on(&body)
            .margin(14)
            .margin_left(8)
            .margin_right(44)
            .x_label_area_size(46)
            .y_label_area_size(76)
            .build_cartesian_2d((lo..hi).log_scale(), 0.0..100.0)?;
        chart
            .configure_mesh()
            .x_labels(12)
            .y_labels(11)
            .x_label_formatter(&|v| ms_label(*v))
            .y_label_formatter(&|v| format!("{v:.0}%"))
            .x_desc("latency (ms, logarithmic scale)")
            .y_desc("requests answered within (cumulative %)")
            .axis_desc_style(font(14))
            .label_style(font(13))
            .y_max_light_lines(1)
            .light_line_style(super::GRID.mix(0.5))
            .bold_line_style(super::GRID)
            .axis_style(MUTED)
            .draw()?;
        for q in [50.0, 99.0] {
            chart.draw_series(DashedLineSeries::new(
                vec![(lo, q), (hi, q)],
                6,
                6,
                MUTED.mix(0.7).stroke_width(1),
            ))?;
            let (x, y) = chart.backend_coord(&(hi, q));
            let style = muted(12).pos(Pos::new(HPos::Left, VPos::Center));
            root.draw(&Text::new(format!("p{q:.0}"), (x + 6, y), style))?;
        }
        // Last curve first and wider, so a baseline the fault did not move still shows on top.
        for c in self.curves.iter().rev() {
            chart.draw_series(LineSeries::new(
                c.points.iter().copied(),
                c.colour.stroke_width(c.width),
            ))?;
        }
        Ok(())
    }
}

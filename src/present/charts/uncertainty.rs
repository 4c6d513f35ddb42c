//! What the risk hangs on, from `summary.json`'s `uncertainty[]`:
//!
//! * `tornado_<outcome>`: one bar per uncertain input, as long as the share
//!   of the outcome's variance it explains alone (first order), widest on
//!   top; to the left when larger values of the input lower the SLO's
//!   attainment (or the containment headroom), to the right when they raise it;
//! * `hangs_on_<outcome>`: for the three inputs with the largest shares,
//!   the violation probability per bin of the input with its 95% Wilson
//!   interval, the `[expect]` limit dashed, and the value where the curve
//!   crosses the limit. Drawn only for outcomes some replication violated.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{BLUE, DrawError, INK, LegendItem, MUTED, Plot, RED, Swatch, font, header_height, muted, pct, title_block};
use crate::results::summary::{SensitivitySummary, Summary, UncertainSummary};

/// Inputs drawn per violation-curve chart.
pub const CURVES: usize = 3;

/// The inputs ranked by what `outcome` hangs on: first-order share, largest
/// first (an unknown share last), then the size of the rank correlation,
/// then the file's order.
pub(crate) fn ranked<'a>(s: &'a Summary, outcome: &str) -> Vec<(&'a UncertainSummary, &'a SensitivitySummary)> {
    let mut v: Vec<(usize, &UncertainSummary, &SensitivitySummary)> = s
        .uncertainty
        .iter()
        .enumerate()
        .filter_map(|(i, u)| u.sensitivity.iter().find(|x| x.outcome == outcome).map(|x| (i, u, x)))
        .collect();
    let key = |x: &SensitivitySummary| {
        (
            x.first_order.unwrap_or(-1.0),
            x.rank_correlation.map(f64::abs).unwrap_or(-1.0),
        )
    };
    v.sort_by(|a, b| {
        let (ka, kb) = (key(a.2), key(b.2));
        kb.0.total_cmp(&ka.0).then(kb.1.total_cmp(&ka.1)).then(a.0.cmp(&b.0))
    });
    v.into_iter().map(|(_, u, x)| (u, x)).collect()
}

/// The outcomes of `uncertainty[]`, in order (SLOs, then containment).
pub(crate) fn outcomes(s: &Summary) -> Vec<String> {
    s.uncertainty
        .first()
        .map(|u| u.sensitivity.iter().map(|x| x.outcome.clone()).collect())
        .unwrap_or_default()
}

/// A number for labels: four significant digits, no exponent in the usual range.
pub(crate) fn sig(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let digits = (3 - v.abs().log10().floor() as i32).clamp(0, 9) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// "violations start above 1312" (or "breaches start …"), when the curve crosses its limit.
pub(crate) fn crossing_words(x: &SensitivitySummary) -> Option<String> {
    let c = x.crosses_limit.as_ref()?;
    let what = if x.kind == "containment" {
        "breaches"
    } else {
        "violations"
    };
    Some(format!(
        "{what} pass {} when it is {} {}",
        pct(x.limit),
        c.when,
        sig(c.value)
    ))
}

struct TornadoRow {
    label: String,
    share: Option<f64>,
    rho: Option<f64>,
    note: String,
}

pub(crate) struct TornadoChart {
    title: String,
    measure: &'static str,
    replications: u64,
    rows: Vec<TornadoRow>,
}

impl TornadoChart {
    /// `None` when no input has a first-order share for `outcome`.
    pub fn new(s: &Summary, outcome: &str) -> Option<TornadoChart> {
        let ranked = ranked(s, outcome);
        if ranked.iter().all(|(_, x)| x.first_order.is_none()) {
            return None;
        }
        let containment = ranked.first().is_some_and(|(_, x)| x.kind == "containment");
        let rows = ranked
            .iter()
            .map(|(u, x)| {
                let mut note = format!(
                    "S₁ {}  ρ {}",
                    x.first_order.map_or("–".into(), |v| format!("{v:.2}")),
                    x.rank_correlation.map_or("–".into(), |v| format!("{v:+.2}"))
                );
                if let Some(w) = crossing_words(x) {
                    note.push_str(&format!("  · {w}"));
                }
                TornadoRow {
                    label: u.set.clone(),
                    share: x.first_order,
                    rho: x.rank_correlation,
                    note,
                }
            })
            .collect();
        Some(TornadoChart {
            title: format!("{}: what {outcome} hangs on", s.experiment),
            measure: if containment {
                "the containment headroom"
            } else {
                "the SLO's attainment"
            },
            replications: s.replications,
            rows,
        })
    }

    pub fn title(&self) -> String {
        self.title.clone()
    }

    fn label_px(&self) -> u32 {
        let longest = self.rows.iter().map(|r| r.label.chars().count()).max().unwrap_or(0) as u32;
        (longest * 8 + 24).clamp(140, 420)
    }
}

const ROW_PX: u32 = 38;
const NOTE_PX: u32 = 380;

impl Plot for TornadoChart {
    fn size(&self) -> (u32, u32) {
        (
            (480 + self.label_px() + NOTE_PX).max(1000),
            header_height(1) + 24 + ROW_PX * self.rows.len() as u32 + 70,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        let legend = [
            LegendItem::new(Swatch::Fill(RED.mix(0.75)), "larger values lower it"),
            LegendItem::new(Swatch::Fill(BLUE.mix(0.75)), "larger values raise it"),
        ];
        let subtitle = format!(
            "Bar: share of the variance of {} across {} replications that the input explains alone (first order, S₁); ρ: Spearman",
            self.measure, self.replications
        );
        let body = title_block(root, &self.title, &subtitle, &legend)?;
        let n = self.rows.len().max(1) as f64;
        let mut chart = ChartBuilder::on(&body)
            .margin_top(12)
            .margin_left(8)
            .margin_right(NOTE_PX)
            .margin_bottom(8)
            .x_label_area_size(52)
            .y_label_area_size(self.label_px())
            .build_cartesian_2d(-1.0..1.0, 0.0..n)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_labels(11)
            .x_label_formatter(&|v: &f64| format!("{:.0}%", v.abs() * 100.0))
            .x_desc("share of the variance explained alone (first order)")
            .axis_desc_style(font(14))
            .label_style(font(13))
            .x_max_light_lines(1)
            .light_line_style(super::GRID.mix(0.6))
            .bold_line_style(super::GRID)
            .axis_style(MUTED)
            .draw()?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(0.0, 0.0), (0.0, n)],
            INK.stroke_width(1),
        )))?;
        let plot_right = chart.backend_coord(&(1.0, 0.0)).0;
        for (j, r) in self.rows.iter().enumerate() {
            let base = n - 1.0 - j as f64;
            let share = r.share.unwrap_or(0.0).clamp(0.0, 1.0);
            let (end, colour) = if r.rho.unwrap_or(0.0) < 0.0 {
                (-share, RED)
            } else {
                (share, BLUE)
            };
            chart.draw_series(std::iter::once(Rectangle::new(
                [(0.0, base + 0.22), (end, base + 0.78)],
                colour.mix(0.75).filled(),
            )))?;
            let (x0, y) = chart.backend_coord(&(-1.0, base + 0.5));
            let right = font(13).pos(Pos::new(HPos::Right, VPos::Center));
            root.draw(&Text::new(r.label.clone(), (x0 - 10, y), right))?;
            let left = muted(13).pos(Pos::new(HPos::Left, VPos::Center));
            root.draw(&Text::new(r.note.clone(), (plot_right + 14, y), left))?;
        }
        Ok(())
    }
}

/// One panel: the violation curve of one input.
struct Panel {
    key: String,
    /// (median, probability, 95% interval) per bin.
    points: Vec<(f64, f64, [f64; 2])>,
    range: (f64, f64),
    limit: f64,
    crossing: Option<(f64, String)>,
}

pub(crate) struct CurvesChart {
    title: String,
    outcome_kind: String,
    panels: Vec<Panel>,
}

impl CurvesChart {
    /// `None` when no replication violated `outcome` (every curve is flat at 0).
    pub fn new(s: &Summary, outcome: &str) -> Option<CurvesChart> {
        let ranked = ranked(s, outcome);
        let violated = ranked
            .first()
            .is_some_and(|(_, x)| x.curve.iter().any(|b| b.violations > 0));
        if !violated {
            return None;
        }
        let panels: Vec<Panel> = ranked
            .iter()
            .take(CURVES)
            .filter(|(_, x)| !x.curve.is_empty())
            .map(|(u, x)| {
                let lo = x.curve.first().map_or(u.range[0], |b| b.from);
                let hi = x.curve.last().map_or(u.range[1], |b| b.to);
                Panel {
                    key: u.set.clone(),
                    points: x
                        .curve
                        .iter()
                        .map(|b| (b.median, b.probability.clamp(0.0, 1.0), b.ci95))
                        .collect(),
                    range: if hi > lo { (lo, hi) } else { (lo - 1.0, lo + 1.0) },
                    limit: x.limit.clamp(0.0, 1.0),
                    crossing: x.crosses_limit.as_ref().map(|c| (c.value, c.when.clone())),
                }
            })
            .collect();
        if panels.is_empty() {
            return None;
        }
        let kind = ranked.first().map_or("slo", |(_, x)| x.kind.as_str()).to_string();
        Some(CurvesChart {
            title: format!(
                "{}: P({outcome} {}) against the inputs it hangs on",
                s.experiment,
                if kind == "containment" { "breached" } else { "violated" }
            ),
            outcome_kind: kind,
            panels,
        })
    }

    pub fn title(&self) -> String {
        self.title.clone()
    }
}

impl Plot for CurvesChart {
    fn size(&self) -> (u32, u32) {
        (1200, 500)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        let legend = [
            LegendItem::new(
                Swatch::Line(BLUE, 2),
                "share of replications violated, per bin of the input",
            ),
            LegendItem::new(Swatch::Whisker(BLUE), "95% Wilson interval"),
            LegendItem::new(Swatch::Dashed(RED), "limit"),
            LegendItem::new(Swatch::Line(INK, 1), "where it crosses the limit"),
        ];
        let what = if self.outcome_kind == "containment" {
            "breaches"
        } else {
            "violations"
        };
        let subtitle = format!(
            "Replications binned by each input's drawn value (equal counts); the {} inputs with the largest first-order shares; {what} per bin",
            self.panels.len()
        );
        let body = title_block(root, &self.title, &subtitle, &legend)?;
        let areas = body.split_evenly((1, CURVES));
        for (panel, area) in self.panels.iter().zip(areas.iter()) {
            draw_panel(area, panel)?;
        }
        Ok(())
    }
}

fn draw_panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, p: &Panel) -> Result<(), DrawError> {
    let (x0, x1) = p.range;
    let pad = (x1 - x0) * 0.04;
    let (x0, x1) = (x0 - pad, x1 + pad);
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(52)
        .build_cartesian_2d(x0..x1, 0.0..1.0)?;
    let span = x1 - x0;
    chart
        .configure_mesh()
        .x_labels(5)
        .y_labels(5)
        .x_label_formatter(&|v| super::tick(*v, span))
        .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
        .x_desc(short_key(&p.key))
        .axis_desc_style(font(13))
        .label_style(font(12))
        .light_line_style(super::GRID.mix(0.5))
        .bold_line_style(super::GRID)
        .axis_style(MUTED)
        .draw()?;
    chart.draw_series(DashedLineSeries::new(
        vec![(x0, p.limit), (x1, p.limit)],
        6,
        4,
        RED.stroke_width(1),
    ))?;
    chart.draw_series(LineSeries::new(
        p.points.iter().map(|&(x, y, _)| (x, y)),
        BLUE.stroke_width(2),
    ))?;
    let cap = span * 0.01;
    for &(x, y, [lo, hi]) in &p.points {
        let bar = BLUE.stroke_width(1);
        chart.draw_series([
            PathElement::new(vec![(x, lo), (x, hi)], bar),
            PathElement::new(vec![(x - cap, lo), (x + cap, lo)], bar),
            PathElement::new(vec![(x - cap, hi), (x + cap, hi)], bar),
        ])?;
        chart.draw_series(std::iter::once(Circle::new((x, y), 4, BLUE.filled())))?;
    }
    if let Some((v, when)) = &p.crossing {
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(*v, 0.0), (*v, 1.0)],
            INK.stroke_width(1),
        )))?;
        let style = font(12).pos(Pos::new(HPos::Left, VPos::Top));
        chart.draw_series(std::iter::once(Text::new(
            format!(" {when} {}", sig(*v)),
            (*v, 0.97),
            style,
        )))?;
    }
    Ok(())
}

/// A key short enough for an axis: its last three segments.
fn short_key(key: &str) -> String {
    let segs: Vec<&str> = key.split('.').collect();
    if segs.len() <= 3 {
        key.to_string()
    } else {
        format!("…{}", segs[segs.len() - 3..].join("."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_four_significant_digits() {
        // Labels read as people write numbers: 1312, 0.001234, 2.5.
        assert_eq!(sig(1312.4567), "1312");
        assert_eq!(sig(0.0012344), "0.001234");
        assert_eq!(sig(2.5), "2.5");
        assert_eq!(sig(0.0), "0");
    }
}

//! SLO violation probability with its 95% interval, one row per SLO.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{DrawError, INK, LegendItem, MUTED, Plot, Swatch, Verdict, font, header_height, pct, title_block};
use crate::results::summary::SloSummary;

pub(crate) struct Row {
    label: String,
    /// Rows of one group (experiment, in the catalog chart) are kept together, with a rule between groups.
    group: String,
    probability: f64,
    ci95: [f64; 2],
    verdict: Verdict,
    /// The `[expect]` limit on the violation probability, drawn as a tick.
    limit: Option<f64>,
}

impl Row {
    pub fn of(group: &str, label: &str, slo: &SloSummary) -> Row {
        let clean = |x: f64| if x.is_finite() { x.clamp(0.0, 1.0) } else { 0.0 };
        Row {
            label: label.to_string(),
            group: group.to_string(),
            probability: clean(slo.probability),
            ci95: [clean(slo.ci95[0]), clean(slo.ci95[1])],
            verdict: Verdict::of(slo),
            limit: slo
                .max_violation_probability
                .filter(|l| l.is_finite())
                .map(|l| l.clamp(0.0, 1.0)),
        }
    }
}

pub(crate) struct SloChart {
    title: String,
    rows: Vec<Row>,
    pub replications_note: String,
}

const ROW_PX: u32 = 40;
const NUMBERS_PX: u32 = 230;

impl SloChart {
    pub fn new(title: &str, rows: Vec<Row>, replications: u64) -> SloChart {
        SloChart {
            title: title.to_string(),
            rows,
            replications_note: format!("{replications} replications"),
        }
    }

    fn label_px(&self) -> u32 {
        // Measured against the embedded font when drawing; this is the budget for the layout.
        let longest = self.rows.iter().map(|r| r.label.chars().count()).max().unwrap_or(0) as u32;
        (longest * 8 + 24).clamp(120, 460)
    }
}

impl Plot for SloChart {
    fn size(&self) -> (u32, u32) {
        let width = (560 + self.label_px() + NUMBERS_PX).max(1000);
        (width, header_height(1) + 24 + ROW_PX * self.rows.len() as u32 + 64)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        let mut legend = vec![
            LegendItem::new(
                Swatch::Fill(Verdict::Held.color().mix(0.8)),
                "held: no replication violated it",
            ),
            LegendItem::new(Swatch::Fill(Verdict::AtRisk.color().mix(0.8)), "at risk"),
            LegendItem::new(
                Swatch::Fill(Verdict::Violated.color().mix(0.8)),
                "violated: 95% interval above 50%",
            ),
            LegendItem::new(Swatch::Whisker(INK), "95% Wilson interval"),
        ];
        if self.rows.iter().any(|r| r.limit.is_some()) {
            legend.push(LegendItem::new(Swatch::Line(super::RED, 3), "[expect] limit (CI gate)"));
        }
        let subtitle = format!(
            "Bar: share of replications in which the SLO was missed ({}); whiskers: its 95% interval",
            self.replications_note
        );
        let body = title_block(root, &self.title, &subtitle, &legend)?;
        let n = self.rows.len().max(1) as f64;
        let mut chart = ChartBuilder::on(&body)
            .margin_top(12)
            .margin_left(8)
            .margin_right(NUMBERS_PX)
            .margin_bottom(8)
            .x_label_area_size(52)
            .y_label_area_size(self.label_px())
            .build_cartesian_2d(0.0..100.0, 0.0..n)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_labels(11)
            .x_label_formatter(&|v| format!("{v:.0}%"))
            .x_desc("probability that the SLO is violated in a replication")
            .axis_desc_style(font(14))
            .label_style(font(13))
            .x_max_light_lines(1)
            .light_line_style(super::GRID.mix(0.6))
            .bold_line_style(super::GRID)
            .axis_style(MUTED)
            .draw()?;
        let plot_right = chart.backend_coord(&(100.0, 0.0)).0;
        for (j, r) in self.rows.iter().enumerate() {
            let base = n - 1.0 - j as f64;
            let yc = base + 0.5;
            let (p, lo, hi) = (r.probability * 100.0, r.ci95[0] * 100.0, r.ci95[1] * 100.0);
            let colour = r.verdict.color();
            chart.draw_series(std::iter::once(Rectangle::new(
                [(0.0, base + 0.27), (p, base + 0.73)],
                colour.mix(0.8).filled(),
            )))?;
            let whisker = INK.stroke_width(2);
            chart.draw_series([
                PathElement::new(vec![(lo, yc), (hi, yc)], whisker),
                PathElement::new(vec![(lo, base + 0.2), (lo, base + 0.8)], whisker),
                PathElement::new(vec![(hi, base + 0.2), (hi, base + 0.8)], whisker),
            ])?;
            chart.draw_series([
                Circle::new((p, yc), 5, colour.filled()),
                Circle::new((p, yc), 5, INK.stroke_width(1)),
            ])?;
            if let Some(limit) = r.limit {
                // The CI gate's limit: a tall tick across the row.
                let x = limit * 100.0;
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(x, base + 0.08), (x, base + 0.92)],
                    super::RED.stroke_width(3),
                )))?;
            }
            if j > 0 && self.rows[j - 1].group != r.group {
                let top = base + 1.0;
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(0.0, top), (100.0, top)],
                    MUTED.mix(0.6).stroke_width(1),
                )))?;
            }
            let (x0, y) = chart.backend_coord(&(0.0, yc));
            let right = font(13).pos(Pos::new(HPos::Right, VPos::Center));
            root.draw(&Text::new(r.label.clone(), (x0 - 10, y), right))?;
            let left = font(13).pos(Pos::new(HPos::Left, VPos::Center));
            let numbers = format!(
                "{}  [{}, {}]  {}",
                pct(r.probability),
                pct(r.ci95[0]),
                pct(r.ci95[1]),
                r.verdict.label()
            );
            root.draw(&Text::new(numbers, (plot_right + 14, y), left))?;
        }
        Ok(())
    }
}

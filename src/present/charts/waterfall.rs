//! A request's trace as a trace viewer draws it: one row per span in tree
//! order (the service and region on the left, indented by depth), time on
//! the x axis from the request's start, failed spans red, queue waits grey,
//! and a mark where a fault met the span. Drawn from `waterfalls.json`,
//! which `run --replication I --trace FILE` writes.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{
    BLUE, DrawError, FAULT, GRID, LegendItem, MUTED, Plot, RED, Swatch, font, header_height, muted, title_block,
};
use crate::telemetry::waterfall::Waterfall;

/// The most rows drawn; a longer trace says how many were left out.
const MAX_ROWS: usize = 80;
const ROW: i32 = 20;
const LABEL_W: i32 = 380;

pub(crate) struct WaterfallChart<'a> {
    pub experiment: &'a str,
    pub what: &'a str,
    pub w: &'a Waterfall,
}

impl WaterfallChart<'_> {
    pub fn title(&self) -> String {
        format!(
            "{}: {} request ({}, {:.1} ms) as a trace",
            self.experiment, self.what, self.w.flow, self.w.duration_ms
        )
    }

    fn rows(&self) -> usize {
        self.w.rows.len().min(MAX_ROWS)
    }
}

/// A tick step of 1, 2 or 5 × 10^k giving about `n` ticks over `span`.
fn step(span: f64, n: f64) -> f64 {
    let raw = (span / n).max(1e-9);
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * p)
}

impl Plot for WaterfallChart<'_> {
    fn size(&self) -> (u32, u32) {
        let extra = if self.w.rows.len() > MAX_ROWS { ROW } else { 0 };
        (
            1100,
            header_height(1) + 40 + (self.rows() as i32 * ROW + extra) as u32 + 16,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        let legend = [
            LegendItem::new(Swatch::Fill(BLUE.mix(0.8)), "span"),
            LegendItem::new(Swatch::Fill(RED.mix(0.85)), "failed span"),
            LegendItem::new(Swatch::Fill(MUTED.mix(0.45)), "queue wait"),
            LegendItem::new(Swatch::Fill(FAULT.to_rgba()), "fault met"),
        ];
        let subtitle = format!(
            "trace {} · rows: spans in tree order (service, region, what) · x: ms since the request arrived",
            self.w.trace_id
        );
        let body = title_block(root, &self.title(), &subtitle, &legend)?;
        let (w, _) = body.dim_in_pixel();
        let x0 = LABEL_W;
        let x1 = w as i32 - 24;
        let span_ms = self
            .w
            .duration_ms
            .max(self.w.rows.iter().map(|r| r.end_ms).fold(0.0, f64::max))
            .max(1e-3);
        let x = |ms: f64| x0 + ((ms / span_ms).clamp(0.0, 1.0) * (x1 - x0) as f64).round() as i32;
        let top = 28;
        // Axis: ticks and grid lines.
        let st = step(span_ms, 8.0);
        let mut t = 0.0;
        let bottom = top + self.rows() as i32 * ROW;
        while t <= span_ms + 1e-9 {
            let px = x(t);
            body.draw(&PathElement::new(vec![(px, top - 4), (px, bottom)], GRID))?;
            let style = muted(11).pos(Pos::new(HPos::Center, VPos::Bottom));
            body.draw(&Text::new(format!("{t}"), (px, top - 6), style))?;
            t += st;
        }
        for (i, r) in self.w.rows.iter().take(MAX_ROWS).enumerate() {
            let y = top + i as i32 * ROW;
            let label = format!(
                "{}{} ({}) {}",
                "  ".repeat(r.depth.min(12) as usize),
                r.service,
                r.region,
                r.name
            );
            let style = font(11).pos(Pos::new(HPos::Left, VPos::Center));
            body.draw(&Text::new(label, (8, y + ROW / 2), style))?;
            let color = if r.error.is_some() {
                RED.mix(0.85)
            } else if r.kind == "internal" {
                MUTED.mix(0.45)
            } else {
                BLUE.mix(0.8)
            };
            let (a, b) = (x(r.start_ms), x(r.end_ms).max(x(r.start_ms) + 2));
            body.draw(&Rectangle::new([(a, y + 4), (b, y + ROW - 4)], color.filled()))?;
            if let Some(e) = &r.error {
                // After the bar; else inside its right end (white); else before it.
                let (at, h, color) = if b + 6 + 90 < x1 {
                    (b + 6, HPos::Left, RED)
                } else if b - a > 8 * e.len() as i32 + 8 {
                    (b - 4, HPos::Right, WHITE)
                } else {
                    (a - 4, HPos::Right, RED)
                };
                let style = font(10).color(&color).pos(Pos::new(h, VPos::Center));
                body.draw(&Text::new(e.clone(), (at, y + ROW / 2), style))?;
            }
            for m in &r.faults {
                let px = x(m.at_ms);
                let tri = vec![(px, y + 2), (px - 5, y - 5), (px + 5, y - 5)];
                body.draw(&Polygon::new(tri, FAULT.filled()))?;
            }
        }
        if self.w.rows.len() > MAX_ROWS {
            let note = format!("… {} more spans in the trace file", self.w.rows.len() - MAX_ROWS);
            body.draw(&Text::new(note, (8, bottom + ROW / 2), muted(11)))?;
        }
        Ok(())
    }
}

//! Service × region heat map of degradation: the share of replications in
//! which each (service, region) pair was degraded (`blast_radius.pairs`), or,
//! for results without blast-radius figures, the pair's error rate
//! (errors / requests over every replication) on a logarithmic colour scale.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{DrawError, GRID, INK, MUTED, Plot, font, muted, pct, title_block};
use crate::results::summary::Summary;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Measure {
    DegradedShare,
    ErrorRate,
}

pub(crate) struct HeatMap {
    experiment: String,
    measure: Measure,
    services: Vec<String>,
    regions: Vec<String>,
    /// `cells[service][region]`: None where the service does not run in the region
    /// (or had no requests, for the error rate).
    cells: Vec<Vec<Option<f64>>>,
    replications: u64,
}

/// Lowest error rate the colour scale tells apart (0.01%); below it looks like zero.
const ERROR_RATE_FLOOR: f64 = 1e-4;

impl HeatMap {
    /// `None` when there is no service × region figure at all.
    pub fn new(s: &Summary) -> Option<HeatMap> {
        let pairs = s.blast_radius.as_ref().map(|b| b.pairs.as_slice()).unwrap_or(&[]);
        let measure = if pairs.is_empty() {
            Measure::ErrorRate
        } else {
            Measure::DegradedShare
        };
        let mut services: Vec<String> = Vec::new();
        let mut regions: Vec<String> = Vec::new();
        let mut note = |svc: &str, reg: &str| {
            if !services.iter().any(|x| x == svc) {
                services.push(svc.to_string());
            }
            if !regions.iter().any(|x| x == reg) {
                regions.push(reg.to_string());
            }
        };
        for x in &s.services {
            note(&x.service, &x.region);
        }
        for p in pairs {
            note(&p.service, &p.region);
        }
        if services.is_empty() {
            return None;
        }
        let mut cells = vec![vec![None; regions.len()]; services.len()];
        let at = |svc: &str, reg: &str| {
            (
                services.iter().position(|x| x == svc).unwrap_or(0),
                regions.iter().position(|x| x == reg).unwrap_or(0),
            )
        };
        match measure {
            Measure::DegradedShare => {
                // A pair that runs but is not listed was never degraded.
                for x in &s.services {
                    let (i, j) = at(&x.service, &x.region);
                    cells[i][j] = Some(0.0);
                }
                for p in pairs {
                    let (i, j) = at(&p.service, &p.region);
                    let v = if p.degraded_share.is_finite() {
                        p.degraded_share.clamp(0.0, 1.0)
                    } else {
                        0.0
                    };
                    cells[i][j] = Some(v);
                }
            }
            Measure::ErrorRate => {
                for x in &s.services {
                    let (i, j) = at(&x.service, &x.region);
                    if x.requests > 0 {
                        cells[i][j] = Some((x.errors as f64 / x.requests as f64).clamp(0.0, 1.0));
                    }
                }
            }
        }
        Some(HeatMap {
            experiment: s.experiment.clone(),
            measure,
            services,
            regions,
            cells,
            replications: s.replications,
        })
    }

    pub fn title(&self) -> String {
        match self.measure {
            Measure::DegradedShare => format!("{}: where the fault degraded the mesh", self.experiment),
            Measure::ErrorRate => format!("{}: error rate by service and region", self.experiment),
        }
    }

    /// Position of a value on the colour scale, 0..1.
    fn scale(&self, v: f64) -> f64 {
        match self.measure {
            Measure::DegradedShare => v.clamp(0.0, 1.0),
            Measure::ErrorRate => {
                if v <= ERROR_RATE_FLOOR {
                    0.0
                } else {
                    ((v.log10() - ERROR_RATE_FLOOR.log10()) / -ERROR_RATE_FLOOR.log10()).clamp(0.0, 1.0)
                }
            }
        }
    }

    fn label_px(&self) -> u32 {
        let longest = self.services.iter().map(|s| s.chars().count()).max().unwrap_or(0) as u32;
        (longest * 8 + 24).clamp(100, 320)
    }
}

/// White → yellow → orange → dark red.
fn ramp(t: f64) -> RGBColor {
    const STOPS: [(f64, (f64, f64, f64)); 4] = [
        (0.0, (250.0, 250.0, 250.0)),
        (0.33, (254.0, 217.0, 118.0)),
        (0.66, (240.0, 100.0, 50.0)),
        (1.0, (150.0, 0.0, 35.0)),
    ];
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    let mut k = 0;
    while k + 2 < STOPS.len() && t > STOPS[k + 1].0 {
        k += 1;
    }
    let (t0, a) = STOPS[k];
    let (t1, b) = STOPS[k + 1];
    let u = (t - t0) / (t1 - t0);
    let mix = |x: f64, y: f64| (x + (y - x) * u).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

const ROW_PX: u32 = 38;
const SCALE_PX: u32 = 150;

impl Plot for HeatMap {
    fn size(&self) -> (u32, u32) {
        (
            1000,
            super::header_height(0) + 16 + ROW_PX * self.services.len().max(4) as u32 + 56,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        let subtitle = match self.measure {
            Measure::DegradedShare => format!(
                "Share of {} replications in which the pair's error rate or p99 crossed the degradation threshold during the fault",
                self.replications
            ),
            Measure::ErrorRate => format!(
                "Errors / requests over {} replications (no blast-radius figures in these results); grey: not deployed there",
                self.replications
            ),
        };
        let body = title_block(root, &self.title(), &subtitle, &[])?;
        let (nr, nc) = (self.services.len() as f64, self.regions.len().max(1) as f64);
        let mut chart = ChartBuilder::on(&body)
            .margin_top(16)
            .margin_left(8)
            .margin_right(SCALE_PX)
            .margin_bottom(8)
            .x_label_area_size(44)
            .y_label_area_size(self.label_px())
            .build_cartesian_2d(0.0..nc, 0.0..nr)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(0)
            .y_labels(0)
            .axis_style(MUTED)
            .draw()?;
        for (i, svc) in self.services.iter().enumerate() {
            let y = nr - 1.0 - i as f64;
            for (j, cell) in self.cells[i].iter().enumerate() {
                let x = j as f64;
                let (fill, text, text_colour) = match cell {
                    Some(v) => {
                        let t = self.scale(*v);
                        (ramp(t), pct(*v), if t > 0.6 { WHITE } else { INK })
                    }
                    None => (GRID, "—".to_string(), MUTED),
                };
                let mut rect = Rectangle::new([(x, y), (x + 1.0, y + 1.0)], fill.filled());
                rect.set_margin(1, 1, 1, 1);
                chart.draw_series(std::iter::once(rect))?;
                let (cx, cy) = chart.backend_coord(&(x + 0.5, y + 0.5));
                let style = font(13).color(&text_colour).pos(Pos::new(HPos::Center, VPos::Center));
                root.draw(&Text::new(text, (cx, cy), style))?;
            }
            let (x0, cy) = chart.backend_coord(&(0.0, y + 0.5));
            let style = font(13).pos(Pos::new(HPos::Right, VPos::Center));
            root.draw(&Text::new(svc.clone(), (x0 - 10, cy), style))?;
        }
        for (j, reg) in self.regions.iter().enumerate() {
            let (cx, y0) = chart.backend_coord(&(j as f64 + 0.5, 0.0));
            let style = font(13).pos(Pos::new(HPos::Center, VPos::Top));
            root.draw(&Text::new(reg.clone(), (cx, y0 + 10), style))?;
        }
        let (_, y_axis) = chart.backend_coord(&(0.0, 0.0));
        let (x_right, y_top) = chart.backend_coord(&(nc, nr));
        self.draw_scale(root, x_right + 40, y_top, y_axis)
    }
}

impl HeatMap {
    /// The colour scale beside the grid, with its ticks.
    fn draw_scale<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        x: i32,
        top: i32,
        bottom: i32,
    ) -> Result<(), DrawError> {
        let height = (bottom - top).max(40);
        let bottom = top + height;
        let steps = 64;
        for k in 0..steps {
            let t0 = k as f64 / steps as f64;
            let y1 = bottom - (height as f64 * t0).round() as i32;
            let y0 = bottom - (height as f64 * (k + 1) as f64 / steps as f64).round() as i32;
            // One pixel of overlap, so no seam shows between steps when a browser scales the SVG.
            let y0 = (y0 - 1).max(bottom - height);
            root.draw(&Rectangle::new(
                [(x, y0), (x + 18, y1)],
                ramp(t0 + 0.5 / steps as f64).filled(),
            ))?;
        }
        root.draw(&Rectangle::new([(x, top), (x + 18, bottom)], MUTED.stroke_width(1)))?;
        let ticks: Vec<(f64, String)> = match self.measure {
            Measure::DegradedShare => [0.0, 0.25, 0.5, 0.75, 1.0]
                .iter()
                .map(|v| (*v, format!("{:.0}%", v * 100.0)))
                .collect(),
            Measure::ErrorRate => [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
                .iter()
                .zip(["≤0.01%", "0.1%", "1%", "10%", "100%"])
                .map(|(v, label)| (self.scale(*v), label.to_string()))
                .collect(),
        };
        for (t, label) in ticks {
            let y = bottom - (height as f64 * t).round() as i32;
            root.draw(&PathElement::new(vec![(x + 18, y), (x + 23, y)], MUTED.stroke_width(1)))?;
            let style = muted(12).pos(Pos::new(HPos::Left, VPos::Center));
            root.draw(&Text::new(label, (x + 27, y), style))?;
        }
        Ok(())
    }
}

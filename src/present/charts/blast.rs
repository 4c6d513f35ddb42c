//! The blast-radius distribution: how many services a replication saw
//! degraded, as a histogram over replications, with the declared limit
//! (`[blast_radius] max_services`) and the static blast radius marked.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{BLUE, DrawError, LegendItem, MUTED, Plot, RED, Swatch, font, pct, title_block};
use crate::results::summary::Summary;

pub(crate) struct BlastChart {
    experiment: String,
    /// Replications per number of services degraded, index = services.
    counts: Vec<f64>,
    replications: f64,
    declared: Option<u64>,
    static_services: Option<usize>,
    breach_probability: f64,
    breach_ci95: [f64; 2],
}

impl BlastChart {
    /// `None` unless `summary.json` has a `blast_radius` with a histogram
    /// (or `replications.csv` has `blast.services`).
    pub fn new(s: &Summary, per_replication: Option<&[f64]>) -> Option<BlastChart> {
        let b = s.blast_radius.as_ref()?;
        // Bounded: a histogram wider than the mesh could ever be is cut at 1000 services.
        const MAX_BARS: usize = 1000;
        let mut counts: Vec<f64> = Vec::new();
        let mut add = |services: f64, reps: f64| {
            if services.is_finite() && services >= 0.0 && reps.is_finite() && reps > 0.0 {
                let k = (services.round() as usize).min(MAX_BARS);
                if counts.len() <= k {
                    counts.resize(k + 1, 0.0);
                }
                counts[k] += reps;
            }
        };
        if !b.histogram.is_empty() {
            for [services, reps] in &b.histogram {
                add(*services as f64, *reps as f64);
            }
        } else if let Some(values) = per_replication {
            for v in values {
                add(*v, 1.0);
            }
        }
        if counts.is_empty() {
            return None;
        }
        let replications = counts.iter().sum();
        Some(BlastChart {
            experiment: s.experiment.clone(),
            counts,
            replications,
            declared: b.declared.max_services,
            static_services: (!b.static_services.is_empty()).then_some(b.static_services.len()),
            breach_probability: b.containment_breach_probability,
            breach_ci95: b.breach_ci95,
        })
    }

    pub fn title(&self) -> String {
        format!("{}: blast radius, services degraded per replication", self.experiment)
    }
}

impl Plot for BlastChart {
    fn size(&self) -> (u32, u32) {
        (1000, 540)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        let limit = self.declared.map(|d| d as f64);
        let mut legend = vec![LegendItem::new(
            Swatch::Fill(BLUE.mix(0.75)),
            "replications within the limit",
        )];
        match self.declared {
            Some(d) => {
                legend.push(LegendItem::new(
                    Swatch::Fill(RED.mix(0.75)),
                    "replications breaching it",
                ));
                legend.push(LegendItem::new(
                    Swatch::Dashed(RED),
                    format!("declared limit: at most {d} service{}", if d == 1 { "" } else { "s" }),
                ));
            }
            None => legend[0] = LegendItem::new(Swatch::Fill(BLUE.mix(0.75)), "replications (no declared limit)"),
        }
        if let Some(n) = self.static_services {
            legend.push(LegendItem::new(
                Swatch::Dashed(MUTED),
                format!("static blast radius: {n}"),
            ));
        }
        let mut subtitle = format!(
            "Services with a (service, region) pair degraded during the fault window, over {} replications",
            self.replications
        );
        let [lo, hi] = self.breach_ci95;
        subtitle.push_str(&format!(
            "; P(containment breach) = {} [{}, {}]",
            pct(self.breach_probability),
            pct(lo),
            pct(hi)
        ));
        let body = title_block(root, &self.title(), &subtitle, &legend)?;

        let last = (self.counts.len() - 1) as f64;
        let x_max = last
            .max(limit.map(|l| l + 1.0).unwrap_or(0.0))
            .max(self.static_services.unwrap_or(0) as f64)
            + 0.5;
        let y_top = self.counts.iter().copied().fold(0.0, f64::max).max(1.0) * 1.12;
        let mut chart = ChartBuilder::on(&body)
            .margin(14)
            .margin_left(8)
            .x_label_area_size(46)
            .y_label_area_size(76)
            .build_cartesian_2d(-0.5..x_max, 0.0..y_top)?;
        let integer = |v: &f64| {
            if (v - v.round()).abs() < 1e-9 {
                format!("{:.0}", v)
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(((x_max + 1.0) as usize).min(30))
            .y_labels(8)
            .x_label_formatter(&integer)
            .y_label_formatter(&integer)
            .x_desc("services degraded in the replication")
            .y_desc("replications")
            .axis_desc_style(font(14))
            .label_style(font(13))
            .y_max_light_lines(0)
            .light_line_style(super::GRID.mix(0.5))
            .bold_line_style(super::GRID)
            .axis_style(MUTED)
            .draw()?;
        chart.draw_series(self.counts.iter().enumerate().filter(|(_, c)| **c > 0.0).map(|(k, c)| {
            let k = k as f64;
            let colour = match limit {
                Some(l) if k > l => RED,
                _ => BLUE,
            };
            Rectangle::new([(k - 0.38, 0.0), (k + 0.38, *c)], colour.mix(0.75).filled())
        }))?;
        if let Some(n) = self.static_services {
            let x = n as f64 + 0.5;
            chart.draw_series(DashedLineSeries::new(
                vec![(x, 0.0), (x, y_top)],
                4,
                5,
                MUTED.stroke_width(2),
            ))?;
        }
        if let Some(l) = limit {
            let x = l + 0.5;
            chart.draw_series(DashedLineSeries::new(
                vec![(x, 0.0), (x, y_top)],
                8,
                6,
                RED.stroke_width(2),
            ))?;
        }
        Ok(())
    }
}

//! Fan charts over time: per flow, the p10–p90 band across replications and
//! the p50 line of one figure per time bucket, with the buckets in which a
//! fault was active shaded (darker where it was active in more replications).
//! The error rate is drawn over a rolling minute (`error_rate_60s`) where the
//! results have it: per 10 s bucket a low rate is mostly zeros and single
//! failures. A rollout's weight gets a fan of its own (one for all flows).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{
    BLUE, DrawError, FAULT, LegendItem, MUTED, Plot, RED, Swatch, TimeAxis, file_stem, font, pct, tick, title_block,
};
use crate::results::saved::TimeBucket;
use crate::results::summary::Summary;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Metric {
    ErrorRate,
    LatencyP99,
    /// The rollout's new version's weight (percent of its service's calls).
    RolloutWeight,
}

/// Flows in `timeseries.csv`, in `summary.json`'s order, then any others in file order.
pub(crate) fn flows_in(s: &Summary, ts: &[TimeBucket]) -> Vec<String> {
    let mut flows: Vec<String> = s
        .flows
        .iter()
        .filter(|f| ts.iter().any(|b| b.flow == f.name))
        .map(|f| f.name.clone())
        .collect();
    for b in ts {
        if !flows.contains(&b.flow) {
            flows.push(b.flow.clone());
        }
    }
    flows
}

pub(crate) struct FanChart {
    flow: String,
    metric: Metric,
    /// (bucket start, bucket end, p10, p50, p90, fault share), in display units.
    buckets: Vec<(f64, f64, [f64; 3], f64)>,
    axis: TimeAxis,
    x_range: (f64, f64),
    bucket_s: f64,
    replications: u64,
    /// Dashed objective lines with their legend text: the error budget of
    /// the flow's availability SLOs (error rate %), or the threshold of its
    /// latency SLOs (ms).
    objectives: Vec<(f64, String)>,
    breaker_opens: f64,
    /// The error rate is over a rolling minute (not per bucket).
    rolling: bool,
    /// The rollout's service (for the weight chart's title).
    service: String,
}

impl FanChart {
    /// `None` when the flow has no bucket with a figure to draw.
    pub fn new(s: &Summary, ts: &[TimeBucket], flow: &str, metric: Metric) -> Option<FanChart> {
        let mut rows: Vec<&TimeBucket> = ts.iter().filter(|b| b.flow == flow).collect();
        rows.sort_by(|a, b| a.time_s.total_cmp(&b.time_s));
        let bucket_s = bucket_width(&rows);
        let axis = TimeAxis::for_duration(
            s.duration_s
                .max(rows.last().map(|b| b.time_s + bucket_s).unwrap_or(0.0)),
        );
        let scale = match metric {
            Metric::ErrorRate => 100.0,
            Metric::LatencyP99 | Metric::RolloutWeight => 1.0,
        };
        let rolling =
            metric == Metric::ErrorRate && rows.iter().any(|b| b.error_rate_60s.iter().any(|v| v.is_finite()));
        let buckets: Vec<(f64, f64, [f64; 3], f64)> = rows
            .iter()
            .map(|b| {
                let q = match metric {
                    Metric::ErrorRate if rolling => b.error_rate_60s,
                    Metric::ErrorRate => b.error_rate,
                    Metric::LatencyP99 => b.latency_p99_ms,
                    Metric::RolloutWeight => b.rollout_weight,
                };
                (
                    b.time_s / axis.divisor,
                    (b.time_s + bucket_s) / axis.divisor,
                    q.map(|v| v * scale),
                    b.fault_active_share,
                )
            })
            .collect();
        if !buckets.iter().any(|b| b.2.iter().any(|v| v.is_finite())) {
            return None;
        }
        let first = buckets.first().map(|b| b.0).unwrap_or(0.0);
        let last = buckets.last().map(|b| b.1).unwrap_or(1.0);
        let start = if s.duration_s > 0.0 {
            first.min(s.warmup_s / axis.divisor)
        } else {
            first
        };
        let end = if s.duration_s > 0.0 {
            last.max(s.duration_s / axis.divisor)
        } else {
            last
        };
        let objectives = match metric {
            Metric::ErrorRate => s
                .slos
                .iter()
                .filter(|x| x.kind == "availability" && x.flow.as_deref() == Some(flow) && x.objective < 1.0)
                .map(|x| {
                    let v = (1.0 - x.objective) * 100.0;
                    (v, format!("{} budget: {} errors", x.name, pct(v / 100.0)))
                })
                .collect(),
            // A latency SLO counts requests under its threshold: the line is
            // where its p99 would sit if exactly 1% were slower.
            Metric::LatencyP99 => s
                .slos
                .iter()
                .filter(|x| x.kind == "latency" && x.flow.as_deref().is_none_or(|f| f == flow))
                .filter_map(|x| x.threshold_ms.map(|t| (t, format!("{} threshold: {t} ms", x.name))))
                .collect(),
            Metric::RolloutWeight => Vec::new(),
        };
        Some(FanChart {
            flow: flow.to_string(),
            metric,
            buckets,
            axis,
            x_range: (start, end.max(start + 1e-9)),
            bucket_s,
            replications: s.replications,
            objectives,
            breaker_opens: rows.iter().map(|b| b.breaker_opens).filter(|v| v.is_finite()).sum(),
            rolling,
            service: s.rollout.as_ref().map(|r| r.service.clone()).unwrap_or_default(),
        })
    }

    pub fn stem(&self) -> String {
        match self.metric {
            Metric::ErrorRate => format!("error_rate_{}", file_stem(&self.flow)),
            Metric::LatencyP99 => format!("latency_p99_{}", file_stem(&self.flow)),
            Metric::RolloutWeight => "rollout_weight".to_string(),
        }
    }

    pub fn title(&self) -> String {
        match self.metric {
            Metric::ErrorRate => format!("{}: error rate over time", self.flow),
            Metric::LatencyP99 => format!("{}: p99 latency over time", self.flow),
            Metric::RolloutWeight => format!("{}: the new version's weight over time", self.service),
        }
    }

    fn y_desc(&self) -> &'static str {
        match self.metric {
            Metric::ErrorRate => "error rate (% of requests failed)",
            Metric::LatencyP99 => "p99 latency (ms)",
            Metric::RolloutWeight => "weight (% of the service's calls)",
        }
    }
}

/// The bucket width: the smallest gap between consecutive bucket starts (10 s when unknown).
fn bucket_width(rows: &[&TimeBucket]) -> f64 {
    let w = rows
        .windows(2)
        .map(|p| p[1].time_s - p[0].time_s)
        .filter(|d| *d > 0.0)
        .fold(f64::INFINITY, f64::min);
    if w.is_finite() { w } else { 10.0 }
}

/// Maximal runs of consecutive buckets where `ok` holds.
fn runs<T>(items: &[T], ok: impl Fn(&T) -> bool) -> Vec<&[T]> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, it) in items.iter().enumerate() {
        match (ok(it), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push(&items[s..i]);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(&items[s..]);
    }
    out
}

impl Plot for FanChart {
    fn size(&self) -> (u32, u32) {
        (1000, 560)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        let finite = |v: &f64| v.is_finite();
        let mut y_max = self
            .buckets
            .iter()
            .flat_map(|b| b.2.iter().copied())
            .filter(finite)
            .fold(0.0, f64::max);
        for (v, _) in &self.objectives {
            // Show the budget line unless it would squash the data flat.
            if *v <= y_max * 4.0 || y_max == 0.0 {
                y_max = y_max.max(*v);
            }
        }
        let y_max = if y_max > 0.0 { y_max * 1.1 } else { 1.0 };
        // An error rate never exceeds 100%: no axis up to 110%; a weight's axis is 0–100%.
        let y_max = match self.metric {
            Metric::ErrorRate => y_max.min(105.0),
            Metric::RolloutWeight => 105.0,
            Metric::LatencyP99 => y_max,
        };
        let any_fault = self.buckets.iter().any(|b| b.3 > 0.0);
        let mut legend = vec![
            LegendItem::new(Swatch::Fill(BLUE.mix(0.25)), "p10–p90 across replications"),
            LegendItem::new(Swatch::Line(BLUE, 2), "median (p50)"),
        ];
        if any_fault {
            legend.push(LegendItem::new(
                Swatch::Fill(FAULT.mix(0.26)),
                "fault active (darker: in more replications)",
            ));
        }
        for (_, label) in self.objectives.iter().filter(|(v, _)| *v <= y_max) {
            legend.push(LegendItem::new(Swatch::Dashed(RED), label.clone()));
        }
        let bucket = tick(self.bucket_s, self.bucket_s * 5.0);
        let what = match self.metric {
            Metric::ErrorRate if self.rolling => {
                format!("Failed requests / requests over the last minute, at each {bucket} s")
            }
            Metric::ErrorRate => format!("Failed requests / requests per {bucket} s bucket"),
            Metric::LatencyP99 => format!("99th-percentile latency per {bucket} s bucket"),
            Metric::RolloutWeight => format!("Share of calls sent to the new version, mean per {bucket} s bucket"),
        };
        let mut subtitle = format!(
            "{what}; band and median are quantiles across {} replications",
            self.replications
        );
        if self.breaker_opens > 0.0 && self.metric == Metric::ErrorRate {
            subtitle.push_str(&format!("; {:.1} breaker openings per replication", self.breaker_opens));
        }
        let body = title_block(root, &self.title(), &subtitle, &legend)?;

        let (x0, x1) = self.x_range;
        let mut chart = ChartBuilder::on(&body)
            .margin(14)
            .margin_left(8)
            .x_label_area_size(46)
            .y_label_area_size(76)
            .build_cartesian_2d(x0..x1, 0.0..y_max)?;
        let x_span = x1 - x0;
        let x_fmt = |v: &f64| tick(*v, x_span);
        let y_fmt = |v: &f64| tick(*v, y_max);
        let x_desc = format!("time since the run started ({})", self.axis.unit);
        chart
            .configure_mesh()
            .x_labels(12)
            .y_labels(8)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .x_desc(x_desc)
            .y_desc(self.y_desc())
            .axis_desc_style(font(14))
            .label_style(font(13))
            .max_light_lines(2)
            .light_line_style(super::GRID.mix(0.5))
            .bold_line_style(super::GRID)
            .axis_style(MUTED)
            .draw()?;

        // Fault shading first, so the band and line stay on top.
        chart.draw_series(
            self.buckets
                .iter()
                .filter(|b| b.3 > 0.0)
                .map(|b| Rectangle::new([(b.0, 0.0), (b.1, y_max)], FAULT.mix(0.06 + 0.2 * b.3).filled())),
        )?;
        // Steps, not a line through bucket midpoints: each figure holds for its whole bucket.
        let steps = |run: &[(f64, f64, [f64; 3], f64)], q: usize| -> Vec<(f64, f64)> {
            run.iter()
                .flat_map(|b| [(b.0, b.2[q].min(y_max)), (b.1, b.2[q].min(y_max))])
                .collect()
        };
        for run in runs(&self.buckets, |b| b.2[0].is_finite() && b.2[2].is_finite()) {
            let mut pts = steps(run, 2);
            let mut low = steps(run, 0);
            low.reverse();
            pts.extend(low);
            chart.draw_series(std::iter::once(Polygon::new(pts, BLUE.mix(0.25).filled())))?;
        }
        for run in runs(&self.buckets, |b| b.2[1].is_finite()) {
            chart.draw_series(LineSeries::new(steps(run, 1), BLUE.stroke_width(2)))?;
        }
        for (v, _) in &self.objectives {
            if *v <= y_max {
                chart.draw_series(DashedLineSeries::new(
                    vec![(x0, *v), (x1, *v)],
                    8,
                    6,
                    RED.stroke_width(2),
                ))?;
            }
        }
        Ok(())
    }
}

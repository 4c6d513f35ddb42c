//! `sweep.svg`: violation probability against the first swept key, one
//! line per SLO (and per combination of the other keys), each point with
//! its 95% Wilson interval as an error bar and each SLO's limit dashed.
//!
//! Written by hand as plain SVG (no fonts to embed: the viewer draws the
//! text), deterministic byte for byte like every other output.

use std::fmt::Write as _;

use super::{Axis, Point};

const W: f64 = 900.0;
const H: f64 = 440.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 300.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 56.0;

/// Colour-blind-safe palette (Okabe–Ito).
const COLOURS: [&str; 8] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn num(v: f64) -> String {
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

/// The chart as SVG text.
pub fn svg(experiment: &str, axes: &[Axis], points: &[Point]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" \
         font-family=\"sans-serif\" font-size=\"12\">"
    );
    let _ = writeln!(s, "<rect width=\"{W}\" height=\"{H}\" fill=\"white\"/>");
    let Some(first_axis) = axes.first() else {
        s.push_str("</svg>\n");
        return s;
    };
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{}: P(SLO violated) vs {}</text>",
        (LEFT + W - RIGHT) / 2.0,
        esc(experiment),
        esc(&first_axis.key)
    );
    let xs: Vec<f64> = points.iter().map(|p| p.values[0]).collect();
    let (xlo, xhi) = xs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
    let (xlo, xhi) = if xlo.is_finite() && xhi > xlo {
        (xlo, xhi)
    } else {
        (xlo - 1.0, xlo + 1.0)
    };
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let pad = (xhi - xlo) * 0.04;
    let (x0, x1) = (xlo - pad, xhi + pad);
    let px = |x: f64| LEFT + (x - x0) / (x1 - x0) * pw;
    let py = |y: f64| TOP + (1.0 - y.clamp(0.0, 1.0)) * ph;
    // Axes, grid and ticks.
    for t in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let y = py(t);
        let _ = writeln!(
            s,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#e5e5e5\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT + pw,
            LEFT - 6.0,
            y + 4.0,
            num(t)
        );
    }
    let xticks: Vec<f64> = if first_axis.values.len() <= 12 {
        let mut v = first_axis.values.clone();
        v.sort_by(f64::total_cmp);
        v.dedup();
        v
    } else {
        ticks(xlo, xhi)
    };
    for t in xticks {
        let x = px(t);
        let _ = writeln!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#999\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            TOP + ph,
            TOP + ph + 5.0,
            TOP + ph + 19.0,
            num(t)
        );
    }
    let _ = writeln!(
        s,
        "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#333\"/>"
    );
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
        LEFT + pw / 2.0,
        H - 14.0,
        esc(&first_axis.key)
    );
    let _ = writeln!(
        s,
        "<text transform=\"translate(16 {:.1}) rotate(-90)\" text-anchor=\"middle\">P(violation), 95% interval</text>",
        TOP + ph / 2.0
    );
    // Series: per SLO and per combination of the other keys' values.
    let nslo = points.first().map(|p| p.slos.len()).unwrap_or(0);
    let mut rest: Vec<Vec<f64>> = points.iter().map(|p| p.values[1..].to_vec()).collect();
    rest.dedup();
    let mut combos: Vec<Vec<f64>> = Vec::new();
    for r in rest {
        if !combos.contains(&r) {
            combos.push(r);
        }
    }
    let mut legend = Vec::new();
    let mut limits: Vec<f64> = Vec::new();
    let mut series = 0usize;
    // Series that coincide would hide each other: each is shifted a few pixels sideways.
    let total_series = nslo * combos.len();
    let dodge_px = if total_series > 1 {
        (12.0 / (total_series - 1) as f64).min(3.0)
    } else {
        0.0
    };
    for si in 0..nslo {
        for combo in &combos {
            let colour = COLOURS[series % COLOURS.len()];
            let dash = if series / COLOURS.len() > 0 {
                " stroke-dasharray=\"2 2\""
            } else {
                ""
            };
            let shift = (series as f64 - (total_series as f64 - 1.0) / 2.0) * dodge_px;
            series += 1;
            let px = |x: f64| px(x) + shift;
            let mut pts: Vec<&Point> = points.iter().filter(|p| p.values[1..] == combo[..]).collect();
            pts.sort_by(|a, b| a.values[0].total_cmp(&b.values[0]));
            let path: Vec<String> = pts
                .iter()
                .map(|p| format!("{:.1},{:.1}", px(p.values[0]), py(p.slos[si].probability)))
                .collect();
            let _ = writeln!(
                s,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"{dash}/>",
                path.join(" ")
            );
            for p in &pts {
                let x = px(p.values[0]);
                let slo = &p.slos[si];
                let (ylo, yhi) = (py(slo.ci95[0]), py(slo.ci95[1]));
                let _ = writeln!(
                    s,
                    "<line x1=\"{x:.1}\" y1=\"{ylo:.1}\" x2=\"{x:.1}\" y2=\"{yhi:.1}\" stroke=\"{colour}\"/>\
                     <line x1=\"{:.1}\" y1=\"{ylo:.1}\" x2=\"{:.1}\" y2=\"{ylo:.1}\" stroke=\"{colour}\"/>\
                     <line x1=\"{:.1}\" y1=\"{yhi:.1}\" x2=\"{:.1}\" y2=\"{yhi:.1}\" stroke=\"{colour}\"/>\
                     <circle cx=\"{x:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"{}\" stroke=\"{colour}\"/>",
                    x - 4.0,
                    x + 4.0,
                    x - 4.0,
                    x + 4.0,
                    py(slo.probability),
                    if slo.meets { colour } else { "white" }
                );
            }
            let mut label = pts.first().map(|p| p.slos[si].name.clone()).unwrap_or_default();
            for (a, v) in axes[1..].iter().zip(combo) {
                let _ = write!(label, " @ {}={}", a.key.rsplit('.').next().unwrap_or(&a.key), num(*v));
            }
            if label.chars().count() > 44 {
                label = label.chars().take(43).collect::<String>() + "…";
            }
            legend.push((colour, dash, label));
            if let Some(p) = pts.first()
                && !limits.contains(&p.slos[si].limit)
            {
                limits.push(p.slos[si].limit);
            }
        }
    }
    for l in &limits {
        let y = py(*l);
        let _ = writeln!(
            s,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#c00\" stroke-dasharray=\"6 4\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#c00\">limit {}</text>",
            LEFT + pw,
            LEFT + pw - 4.0,
            y - 4.0,
            num(*l)
        );
    }
    for (i, (colour, dash, label)) in legend.iter().enumerate().take(24) {
        let y = TOP + 8.0 + i as f64 * 18.0;
        let x = LEFT + pw + 14.0;
        let _ = writeln!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"{colour}\" stroke-width=\"2\"{dash}/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            x + 22.0,
            x + 28.0,
            y + 4.0,
            esc(label)
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#555\">filled: meets its limit at 95%</text>",
        LEFT + pw + 14.0,
        H - 14.0
    );
    s.push_str("</svg>\n");
    s
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

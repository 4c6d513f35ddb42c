//! The outputs of a sweep: `sweep.csv` (columns documented in
//! `docs/ci-and-scale.md`), `sweep.svg` (see [`super::charts`]) and the
//! table on stdout.

use std::io::Write;
use std::path::Path;

use super::charts;
use crate::results::files;
use crate::sweep::{Axis, Point};

/// A swept value as people write it: whole numbers without a decimal point.
pub fn value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Writes `sweep.csv` and `sweep.svg` into `out` (created if needed).
pub fn write(out: &Path, experiment: &str, axes: &[Axis], points: &[Point]) -> std::io::Result<()> {
    std::fs::create_dir_all(out)?;
    files::write_csv(&out.join("sweep.csv"), |w| write_csv(w, axes, points))?;
    // Drawing into memory fails only on a bug; it is reported like a failed write.
    let svg = charts::sweep_svg(experiment, axes, points).map_err(|e| std::io::Error::other(e.to_string()))?;
    if let Some(svg) = svg {
        files::write(&out.join("sweep.svg"), svg)?;
    }
    Ok(())
}

/// `sweep.csv`: one row per grid point.
fn write_csv(w: &mut csv::Writer<&mut dyn Write>, axes: &[Axis], points: &[Point]) -> std::io::Result<()> {
    let mut header: Vec<String> = axes.iter().map(|a| a.key.clone()).collect();
    header.push("replications".into());
    if let Some(p) = points.first() {
        for s in &p.slos {
            for col in ["violations", "probability", "ci95_low", "ci95_high", "limit", "meets"] {
                header.push(format!("{}.{col}", s.name));
            }
        }
        for (f, _, _) in &p.flows {
            header.push(format!("{f}.availability"));
            header.push(format!("{f}.latency_p99_ms"));
        }
        if p.blast.is_some() {
            header.push("blast.services_mean".into());
            header.push("blast.breach_probability".into());
        }
    }
    header.push("meets_all".into());
    w.write_record(&header)?;
    for p in points {
        let mut rec: Vec<String> = p.values.iter().map(|v| v.to_string()).collect();
        rec.push(p.replications.to_string());
        for s in &p.slos {
            rec.push(s.violations.to_string());
            rec.push(s.probability.to_string());
            rec.push(s.ci95[0].to_string());
            rec.push(s.ci95[1].to_string());
            rec.push(s.limit.to_string());
            rec.push((s.meets as u8).to_string());
        }
        for (_, a, p99) in &p.flows {
            rec.push(a.to_string());
            rec.push(p99.to_string());
        }
        if let Some((m, b)) = p.blast {
            rec.push(m.to_string());
            rec.push(b.to_string());
        }
        rec.push((p.meets_all() as u8).to_string());
        w.write_record(&rec)?;
    }
    Ok(())
}

/// The table `sweep` prints on stdout: one row per grid point.
pub fn print_table(out: &mut dyn Write, axes: &[Axis], points: &[Point]) {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut header: Vec<String> = axes
        .iter()
        .map(|a| {
            a.key
                .rsplit('.')
                .take(2)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join(".")
        })
        .collect();
    if let Some(p) = points.first() {
        for s in &p.slos {
            header.push(format!("P({}) ≤ {}", s.name, s.limit));
        }
        for (f, _, _) in &p.flows {
            header.push(format!("{f} p99 ms"));
        }
    }
    header.push("meets".into());
    rows.push(header);
    for p in points {
        let mut r: Vec<String> = p.values.iter().map(|v| value(*v)).collect();
        for s in &p.slos {
            r.push(format!("{:.3} [{:.3}, {:.3}]", s.probability, s.ci95[0], s.ci95[1]));
        }
        for (_, _, p99) in &p.flows {
            r.push(format!("{p99:.1}"));
        }
        r.push(if p.meets_all() { "yes".into() } else { "no".into() });
        rows.push(r);
    }
    let cols = rows[0].len();
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map(|x| x.chars().count()).unwrap_or(0))
                .max()
                .unwrap_or(0)
        })
        .collect();
    for (i, r) in rows.iter().enumerate() {
        let line: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:>w$}")).collect();
        let _ = writeln!(out, "{}", line.join("  "));
        if i == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            let _ = writeln!(out, "{}", rule.join("  "));
        }
    }
}

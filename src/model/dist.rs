//! Distributions of durations and values, sampled from a ChaCha stream.
//!
//! Values are in the field's base unit: nanoseconds for durations, plain
//! numbers for money. Sampling never returns a negative or non-finite value.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp1, Gamma, StandardNormal};

/// z such that P(N(0,1) ≤ z) = 0.99.
pub const Z99: f64 = 2.326_347_874_040_840_8;

#[derive(Clone, Debug)]
pub enum Dist {
    Const(f64),
    Exp {
        mean: f64,
    },
    Uniform {
        min: f64,
        max: f64,
    },
    /// ln X ~ N(mu, sigma²).
    Lognormal {
        mu: f64,
        sigma: f64,
    },
    Gamma(Gamma<f64>, f64),
    /// Piecewise-linear quantile function through (probability, value) points,
    /// the first at probability 0 and the last at 1.
    Quantiles(Vec<(f64, f64)>),
    /// Observed values, drawn uniformly (bootstrap).
    Empirical(Vec<f64>),
}

impl PartialEq for Dist {
    fn eq(&self, other: &Self) -> bool {
        format!("{self:?}") == format!("{other:?}")
    }
}

impl Dist {
    /// Lognormal from its median and 99th percentile (what dashboards show).
    pub fn lognormal(median: f64, p99: f64) -> Dist {
        if p99 <= median {
            return Dist::Const(median);
        }
        Dist::Lognormal {
            mu: median.ln(),
            sigma: (p99.ln() - median.ln()) / Z99,
        }
    }

    pub fn sample(&self, rng: &mut ChaCha8Rng) -> f64 {
        let x = match self {
            Dist::Const(v) => *v,
            Dist::Exp { mean } => {
                let e: f64 = Exp1.sample(rng);
                e * mean
            }
            Dist::Uniform { min, max } => min + (max - min) * rng.random::<f64>(),
            Dist::Lognormal { mu, sigma } => {
                let z: f64 = StandardNormal.sample(rng);
                (mu + sigma * z).exp()
            }
            Dist::Gamma(g, _) => g.sample(rng),
            Dist::Quantiles(points) => {
                let u: f64 = rng.random();
                quantile(points, u)
            }
            Dist::Empirical(values) => values[rng.random_range(0..values.len())],
        };
        if x.is_finite() && x > 0.0 { x } else { 0.0 }
    }

    /// A sampled duration in integer nanoseconds (capped at about 11.5 days,
    /// far beyond any run, so that sums of durations cannot overflow).
    pub fn sample_ns(&self, rng: &mut ChaCha8Rng) -> u64 {
        const CAP_NS: f64 = 1e15;
        // Samples are non-negative, so adding ½ and truncating rounds to the
        // nearest integer without a libm call (f64::round is not inlined
        // on baseline x86-64).
        (self.sample(rng).min(CAP_NS) + 0.5) as u64
    }

    /// The median (used to order regions by link latency).
    pub fn median(&self) -> f64 {
        match self {
            Dist::Const(v) => *v,
            Dist::Exp { mean } => mean * std::f64::consts::LN_2,
            Dist::Uniform { min, max } => (min + max) / 2.0,
            Dist::Lognormal { mu, .. } => mu.exp(),
            Dist::Gamma(_, mean) => *mean,
            Dist::Quantiles(p) => quantile(p, 0.5),
            Dist::Empirical(v) => {
                let mut s = v.clone();
                s.sort_by(f64::total_cmp);
                s[s.len() / 2]
            }
        }
    }

    /// The mean where it has a closed form (for tests and diagnostics; the engine only samples).
    pub fn mean(&self) -> f64 {
        match self {
            Dist::Const(v) => *v,
            Dist::Exp { mean } => *mean,
            Dist::Uniform { min, max } => (min + max) / 2.0,
            Dist::Lognormal { mu, sigma } => (mu + sigma * sigma / 2.0).exp(),
            Dist::Gamma(_, mean) => *mean,
            Dist::Quantiles(p) => p.windows(2).map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0).sum(),
            Dist::Empirical(v) => v.iter().sum::<f64>() / v.len() as f64,
        }
    }
}

fn quantile(points: &[(f64, f64)], u: f64) -> f64 {
    for w in points.windows(2) {
        let ((q0, v0), (q1, v1)) = (w[0], w[1]);
        if u <= q1 {
            if q1 <= q0 {
                return v1;
            }
            return v0 + (v1 - v0) * (u - q0) / (q1 - q0);
        }
    }
    points.last().map(|p| p.1).unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn lognormal_hits_its_median_and_p99() {
        // The lognormal built from (median, p99) has those quantiles.
        let d = Dist::lognormal(2.0, 9.0);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut xs: Vec<f64> = (0..200_000).map(|_| d.sample(&mut rng)).collect();
        xs.sort_by(f64::total_cmp);
        let med = xs[100_000];
        let p99 = xs[198_000];
        assert!((med / 2.0 - 1.0).abs() < 0.02, "median {med}");
        assert!((p99 / 9.0 - 1.0).abs() < 0.05, "p99 {p99}");
    }

    #[test]
    fn quantile_function_interpolates() {
        // The percentiles form reads back its own points and interpolates between them.
        let pts = vec![(0.0, 0.0), (0.5, 10.0), (0.9, 30.0), (1.0, 100.0)];
        assert_eq!(quantile(&pts, 0.5), 10.0);
        assert!((quantile(&pts, 0.7) - 20.0).abs() < 1e-12);
        assert_eq!(quantile(&pts, 1.0), 100.0);
        // Mean = area under the quantile function: 0.5·5 + 0.4·20 + 0.1·65 = 17.
        assert!((Dist::Quantiles(pts).mean() - 17.0).abs() < 1e-9);
    }
}

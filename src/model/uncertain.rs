//! Uncertain inputs (`[[uncertain]]`): what is not known about the world
//! (the size of the peak, how slow the PSP gets, how long the outage
//! lasts), each a settable key of the files and a distribution its value is
//! drawn from, once per replication.
//!
//! A draw is the distribution's quantile function at a uniform number
//! (`crate::uncertain` draws the number from the input's own stream), so
//! the range of values an input can take is known in advance: the
//! distribution's bounds, with unbounded tails cut at the 10⁻⁶ and 1 − 10⁻⁶
//! quantiles, narrowed by the entry's `min`/`max`. The loader checks that
//! the scenario accepts the values at the ends of these ranges.

use std::path::PathBuf;

use toml::Table;

/// The tail share cut from each end of an unbounded distribution.
pub const TAIL: f64 = 1e-6;

/// A distribution of an uncertain input, in the field's own unit.
#[derive(Clone, Debug, PartialEq)]
pub enum InputDist {
    Const(f64),
    Uniform {
        min: f64,
        max: f64,
    },
    /// ln X ~ N(mu, sigma²).
    Lognormal {
        mu: f64,
        sigma: f64,
    },
    /// Piecewise-linear quantile function through (probability, value)
    /// points, the first at probability 0 and the last at 1.
    Quantiles(Vec<(f64, f64)>),
    /// Observed values, sorted: each equally likely.
    Empirical(Vec<f64>),
}

impl InputDist {
    /// The value at probability `u` (clamped to [0, 1]; unbounded tails
    /// are cut at `TAIL`).
    pub fn quantile(&self, u: f64) -> f64 {
        let u = if u.is_finite() { u.clamp(0.0, 1.0) } else { 0.5 };
        match self {
            InputDist::Const(v) => *v,
            InputDist::Uniform { min, max } => min + (max - min) * u,
            InputDist::Lognormal { mu, sigma } => (mu + sigma * normal_quantile(u.clamp(TAIL, 1.0 - TAIL))).exp(),
            InputDist::Quantiles(points) => {
                for w in points.windows(2) {
                    let ((q0, v0), (q1, v1)) = (w[0], w[1]);
                    if u <= q1 {
                        return if q1 <= q0 {
                            v1
                        } else {
                            v0 + (v1 - v0) * (u - q0) / (q1 - q0)
                        };
                    }
                }
                points.last().map(|p| p.1).unwrap_or(0.0)
            }
            InputDist::Empirical(values) => {
                let i = ((u * values.len() as f64) as usize).min(values.len().saturating_sub(1));
                values.get(i).copied().unwrap_or(0.0)
            }
        }
    }

    /// The lowest and highest values a draw can take.
    pub fn range(&self) -> (f64, f64) {
        (self.quantile(0.0), self.quantile(1.0))
    }

    /// The median.
    pub fn median(&self) -> f64 {
        self.quantile(0.5)
    }
}

/// One uncertain input.
#[derive(Clone, Debug, PartialEq)]
pub struct UncertainInput {
    /// The settable key it sets (`services.psp-primary.error_rate`).
    pub set: String,
    pub dist: InputDist,
    /// The distribution as written, for people: `uniform(100, 160)`.
    pub written: String,
    /// Every value used lies in [lo, hi]: the distribution's range,
    /// narrowed by the entry's `min` and `max` (draws beyond are clamped).
    pub lo: f64,
    pub hi: f64,
    /// The field takes whole numbers: values are rounded to the nearest.
    pub integral: bool,
}

impl UncertainInput {
    /// The value used at probability `u`: the quantile, clamped into
    /// [lo, hi], rounded when the field takes whole numbers.
    pub fn value_at(&self, u: f64) -> f64 {
        self.settle(self.dist.quantile(u))
    }

    /// A value clamped into [lo, hi] and rounded when the field takes whole numbers.
    pub fn settle(&self, x: f64) -> f64 {
        let x = x.clamp(self.lo, self.hi);
        if self.integral {
            x.round().clamp(self.lo.ceil(), self.hi.floor())
        } else {
            x
        }
    }
}

/// A scenario's uncertain inputs and the files each replication's model is
/// resolved from.
#[derive(Clone, Debug)]
pub struct Uncertainty {
    pub inputs: Vec<UncertainInput>,
    /// The scenario file as a table, without its `[[uncertain]]` entries.
    pub scenario: Table,
    pub topology: Table,
    pub scenario_path: PathBuf,
    pub topology_path: PathBuf,
}

/// The standard normal quantile Φ⁻¹(p), 0 < p < 1 (Acklam's rational
/// approximation, relative error below 1.2·10⁻⁹: ample for drawing inputs).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const LOW: f64 = 0.024_25;
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p <= 1.0 - LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The standard normal quantile at 1 − 10⁻⁶.
    const Z_TAIL: f64 = 4.753_424_308_822_899;

    #[test]
    fn normal_quantile_matches_tables() {
        // Φ⁻¹ at the textbook points: 0.5 → 0, 0.975 → 1.959964, 0.99 → 2.326348, 1e-6 → −4.753424.
        for (p, z) in [
            (0.5, 0.0),
            (0.975, 1.959_963_985),
            (0.99, 2.326_347_874),
            (0.01, -2.326_347_874),
            (1e-6, -Z_TAIL),
        ] {
            assert!(
                (normal_quantile(p) - z).abs() < 1e-8,
                "Φ⁻¹({p}) = {}",
                normal_quantile(p)
            );
        }
    }

    #[test]
    fn ranges_are_the_bounds_or_the_cut_tails() {
        // Bounded forms reach their bounds; a lognormal's range is its 1e-6 and 1 − 1e-6 quantiles.
        let u = InputDist::Uniform { min: 100.0, max: 160.0 };
        assert_eq!(u.range(), (100.0, 160.0));
        assert_eq!(u.median(), 130.0);
        let (mu, sigma) = (900f64.ln(), (1400f64 / 900.0).ln() / 2.326_347_874_040_840_8);
        let l = InputDist::Lognormal { mu, sigma };
        let (lo, hi) = l.range();
        assert!(((lo.ln() - mu) / sigma + Z_TAIL).abs() < 1e-6, "{lo}");
        assert!(((hi.ln() - mu) / sigma - Z_TAIL).abs() < 1e-6, "{hi}");
        assert!((l.quantile(0.99) - 1400.0).abs() < 1e-3);
        let e = InputDist::Empirical(vec![1.0, 2.0, 5.0, 9.0]);
        assert_eq!(e.range(), (1.0, 9.0));
        assert_eq!(e.quantile(0.3), 2.0);
    }

    #[test]
    fn whole_number_fields_round_inside_the_range() {
        // A field of whole numbers takes the nearest whole number within [lo, hi].
        let input = UncertainInput {
            set: "services.a.replicas".into(),
            dist: InputDist::Uniform { min: 1.6, max: 4.4 },
            written: String::new(),
            lo: 1.6,
            hi: 4.4,
            integral: true,
        };
        assert_eq!(input.value_at(0.0), 2.0);
        assert_eq!(input.value_at(1.0), 4.0);
        assert_eq!(input.settle(3.49), 3.0);
    }
}

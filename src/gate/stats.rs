//! The few statistical functions the gates need, written out rather than
//! pulled from a statistics crate (statrs, the usual one, brings nalgebra
//! and minutes of build time for a few dozen lines).
//!
//! * [`replications_to_decide`]: how many replications would put a Wilson
//!   interval clear of a limit, if the observed proportion held;
//! * [`fisher_one_sided`]: Fisher's exact test for a rise in a proportion
//!   (two independent binomial samples; exact at any sample size, which
//!   matters at CI's handful of replications);
//! * [`welch_one_sided`]: Welch's t-test for a rise in a mean (unequal variances).

use crate::montecarlo::{smallest_n, wilson95_at};

/// The largest replication count a plan will name.
pub const PLAN_LIMIT: u64 = 1_000_000_000;

/// The smallest number of replications at which the 95% Wilson interval
/// around proportion `p` would lie wholly below `limit` (when `p < limit`)
/// or wholly above it (when `p > limit`); `None` when `p == limit` or when
/// not even [`PLAN_LIMIT`] replications would do.
pub fn replications_to_decide(p: f64, limit: f64) -> Option<u64> {
    if p < limit {
        smallest_n(PLAN_LIMIT, |n| wilson95_at(p, n as f64).1 < limit)
    } else if p > limit {
        smallest_n(PLAN_LIMIT, |n| wilson95_at(p, n as f64).0 > limit)
    } else {
        None
    }
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; relative error about 1e-15).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1−x) = π / sin(πx).
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

fn ln_choose(n: u64, k: u64) -> f64 {
    ln_gamma(n as f64 + 1.0) - ln_gamma(k as f64 + 1.0) - ln_gamma((n - k) as f64 + 1.0)
}

/// Fisher's exact test, one-sided: the probability, if both samples came
/// from one proportion, of the current sample showing `k1` or more
/// successes out of `n1` given `k0` out of `n0` in the baseline
/// (hypergeometric upper tail). Small values mean the proportion rose.
pub fn fisher_one_sided(k1: u64, n1: u64, k0: u64, n0: u64) -> f64 {
    let (big_n, k, n) = (n0 + n1, k0 + k1, n1);
    if n == 0 || big_n == 0 {
        return 1.0;
    }
    let lo = n.saturating_sub(big_n - k);
    let hi = k.min(n);
    if k1 <= lo {
        return 1.0;
    }
    let denom = ln_choose(big_n, n);
    let mut p = 0.0;
    for x in k1..=hi {
        p += (ln_choose(k, x) + ln_choose(big_n - k, n - x) - denom).exp();
    }
    p.clamp(0.0, 1.0)
}

/// The regularized incomplete beta function I_x(a, b) (continued fraction,
/// modified Lentz; Numerical Recipes §6.4).
pub fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front.exp() * beta_fraction(a, b, x) / a
    } else {
        1.0 - ln_front.exp() * beta_fraction(b, a, 1.0 - x) / b
    }
}

fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=500 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// P(T ≥ t) for Student's t with `df` degrees of freedom.
pub fn student_upper_tail(t: f64, df: f64) -> f64 {
    if t.is_nan() || df <= 0.0 {
        return 1.0;
    }
    if t.is_infinite() {
        return if t > 0.0 { 0.0 } else { 1.0 };
    }
    let tail = 0.5 * incomplete_beta(df / 2.0, 0.5, df / (df + t * t));
    if t >= 0.0 { tail } else { 1.0 - tail }
}

/// A sample summarized by its size, mean and standard deviation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    pub n: u64,
    pub mean: f64,
    pub sd: f64,
}

/// Welch's t-test, one-sided: the probability of the current mean being at
/// least this far above the baseline's if the true means were equal.
/// Small values mean the mean rose. `None` when either sample has fewer
/// than two values. With no spread in either sample, a difference is
/// certain (0 or 1) and equality gives 1.
pub fn welch_one_sided(current: Sample, baseline: Sample) -> Option<f64> {
    if current.n < 2 || baseline.n < 2 {
        return None;
    }
    let v1 = current.sd * current.sd / current.n as f64;
    let v0 = baseline.sd * baseline.sd / baseline.n as f64;
    let diff = current.mean - baseline.mean;
    let se2 = v1 + v0;
    if se2 <= 0.0 {
        return Some(if diff > 0.0 { 0.0 } else { 1.0 });
    }
    let df = se2 * se2 / (v1 * v1 / (current.n - 1) as f64 + v0 * v0 / (baseline.n - 1) as f64);
    Some(student_upper_tail(diff / se2.sqrt(), df))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_gamma_matches_factorials() {
        // ln Γ(n+1) = ln n! for small n, and Γ(1/2) = √π.
        let mut f = 1.0f64;
        for n in 1..30u32 {
            f *= n as f64;
            assert!(
                (ln_gamma(n as f64 + 1.0) - f.ln()).abs() < 1e-12 * f.ln().max(1.0),
                "{n}"
            );
        }
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-13);
    }

    #[test]
    fn fisher_matches_the_tea_tasting_table() {
        // Fisher's lady tasting tea: 3 of 4 vs 1 of 4 gives one-sided p = 17/70.
        assert!((fisher_one_sided(3, 4, 1, 4) - 17.0 / 70.0).abs() < 1e-12);
        // No rise at all: p = 1; the most extreme table: p = 1/C(8,4).
        assert_eq!(fisher_one_sided(0, 4, 4, 4), 1.0);
        assert!((fisher_one_sided(4, 4, 0, 4) - 1.0 / 70.0).abs() < 1e-12);
        // Identical samples are never significant.
        assert!(fisher_one_sided(5, 40, 5, 40) > 0.5);
    }

    #[test]
    fn student_tail_matches_tables() {
        // Two-sided 95% critical values from the t table: P(T ≥ t) = 0.025.
        for (df, t) in [
            (1.0, 12.706),
            (5.0, 2.571),
            (10.0, 2.228),
            (30.0, 2.042),
            (1000.0, 1.962),
        ] {
            let p = student_upper_tail(t, df);
            assert!((p - 0.025).abs() < 2e-4, "df {df}: {p}");
        }
        assert!((student_upper_tail(0.0, 7.0) - 0.5).abs() < 1e-12);
        assert!((student_upper_tail(-2.228, 10.0) - 0.975).abs() < 2e-4);
    }

    #[test]
    fn welch_flags_a_shift_and_ignores_noise() {
        // A mean two standard errors up is significant at 5%; an equal mean is not.
        let base = Sample {
            n: 50,
            mean: 2.0,
            sd: 1.0,
        };
        let up = Sample {
            n: 50,
            mean: 2.6,
            sd: 1.0,
        };
        assert!(welch_one_sided(up, base).unwrap() < 0.01);
        assert!(welch_one_sided(base, base).unwrap() >= 0.5);
        let flat = |m| Sample { n: 8, mean: m, sd: 0.0 };
        assert_eq!(welch_one_sided(flat(3.0), flat(2.0)), Some(0.0));
        assert_eq!(welch_one_sided(flat(2.0), flat(2.0)), Some(1.0));
        assert_eq!(welch_one_sided(Sample { n: 1, ..base }, base), None);
    }

    #[test]
    fn plans_put_the_interval_clear_of_the_limit() {
        // The planned n is the first at which the Wilson bound clears the limit.
        let n = replications_to_decide(0.0, 0.05).unwrap();
        assert!(wilson95_at(0.0, n as f64).1 < 0.05);
        assert!(wilson95_at(0.0, (n - 1) as f64).1 >= 0.05);
        assert_eq!(n, 73); // z²(1 − L)/L = 72.99
        let n = replications_to_decide(0.3, 0.2).unwrap();
        assert!(wilson95_at(0.3, n as f64).0 > 0.2 && wilson95_at(0.3, (n - 1) as f64).0 <= 0.2);
        assert_eq!(replications_to_decide(0.2, 0.2), None);
    }
}

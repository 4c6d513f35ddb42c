//! The normal model of per-replication margins: the normal distribution,
//! the noncentral t distribution (for confidence bounds on a normal tail
//! probability, i.e. one-sided tolerance bounds) and the Anderson–Darling
//! test of normality.
//!
//! Everything here uses `libm`'s pure-Rust functions rather than the
//! platform's, so the bounds written into `summary.json` are the same bits
//! on every machine.

/// Φ(x), the standard normal distribution function (accurate in relative
/// terms far into the lower tail).
pub fn cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// ln Φ(x), finite for every finite x.
pub fn ln_cdf(x: f64) -> f64 {
    if x > -37.0 {
        return libm::log(cdf(x));
    }
    // Mills' ratio asymptotic: Φ(x) ≈ φ(x)/|x| · (1 − 1/x² + 3/x⁴).
    let x2 = x * x;
    -0.5 * x2 - libm::log(-x) - 0.5 * libm::log(2.0 * std::f64::consts::PI) + libm::log1p(-1.0 / x2 + 3.0 / (x2 * x2))
}

/// The q-quantile of the standard normal distribution (bisection on
/// [`cdf`]; used for constants and planning, never in a hot loop).
pub fn quantile(q: f64) -> f64 {
    let q = q.clamp(1e-300, 1.0 - 1e-16);
    let (mut lo, mut hi) = (-40.0f64, 40.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if cdf(mid) < q {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-15 * (1.0 + mid.abs()) {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// P(T ≤ t) for T noncentral t with `nu` degrees of freedom and
/// noncentrality `delta`: T = (Z + δ)/U with U = √(χ²_ν/ν), so
/// P(T ≤ t) = E[Φ(t·U − δ)], integrated over U's density by Simpson's rule
/// (4096 panels over ±12 standard deviations of U around its mode).
pub fn noncentral_t_cdf(t: f64, nu: f64, delta: f64) -> f64 {
    let half = nu / 2.0;
    let ln_norm = half * libm::log(nu) - (half - 1.0) * std::f64::consts::LN_2 - libm::lgamma(half);
    let ln_density = |u: f64| {
        if u <= 0.0 {
            f64::NEG_INFINITY
        } else {
            ln_norm + (nu - 1.0) * libm::log(u) - 0.5 * nu * u * u
        }
    };
    let mode = ((nu - 1.0).max(0.0) / nu).sqrt();
    let sd = 1.0 / (2.0 * nu).sqrt();
    let a = (mode - 12.0 * sd).max(0.0);
    let b = mode + 12.0 * sd;
    const PANELS: usize = 4096;
    let h = (b - a) / PANELS as f64;
    let (mut mass, mut total) = (0.0, 0.0);
    for i in 0..=PANELS {
        let u = a + h * i as f64;
        let w = if i == 0 || i == PANELS {
            1.0
        } else if i % 2 == 1 {
            4.0
        } else {
            2.0
        };
        let f = libm::exp(ln_density(u));
        mass += w * f;
        total += w * f * cdf(t * u - delta);
    }
    // Dividing by the integrated density cancels most of the truncation and rule error.
    if mass > 0.0 {
        (total / mass).clamp(0.0, 1.0)
    } else {
        cdf(t - delta)
    }
}

/// The noncentrality δ at which P(T ≤ t) = `target` (T noncentral t with
/// `nu` degrees of freedom). P(T ≤ t) falls as δ grows, so the answer is
/// found by bracketing and bisection.
pub fn noncentrality_for(t: f64, nu: f64, target: f64) -> f64 {
    let f = |d: f64| noncentral_t_cdf(t, nu, d);
    let spread = 1.0 + t.abs() / nu.sqrt();
    let (mut lo, mut hi) = (t - spread, t + spread);
    let mut step = spread;
    for _ in 0..200 {
        if f(lo) >= target {
            break;
        }
        step *= 2.0;
        lo -= step;
    }
    step = spread;
    for _ in 0..200 {
        if f(hi) <= target {
            break;
        }
        step *= 2.0;
        hi += step;
    }
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if f(mid) > target {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-9 * (1.0 + mid.abs()) {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// Mean and sample standard deviation (n − 1), summed in the order given.
pub fn mean_sd(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, 0.0);
    }
    let ss: f64 = values.iter().map(|x| (x - mean) * (x - mean)).sum();
    (mean, (ss / (n - 1.0)).sqrt())
}

/// The Anderson–Darling test of normality with the mean and variance
/// estimated from the sample (Stephens' case 3): the modified statistic
/// A*² = A²(1 + 0.75/n + 2.25/n²) and its p-value by D'Agostino and
/// Stephens' (1986, table 4.9) approximation. `sorted` must be sorted and
/// have a positive standard deviation.
pub fn anderson_darling(sorted: &[f64]) -> (f64, f64) {
    let n = sorted.len();
    let (mean, sd) = mean_sd(sorted);
    let nf = n as f64;
    let mut s = 0.0;
    for i in 0..n {
        let lo = ln_cdf((sorted[i] - mean) / sd);
        // ln(1 − Φ(z)) = ln Φ(−z), computed without cancellation.
        let hi = ln_cdf(-(sorted[n - 1 - i] - mean) / sd);
        s += (2.0 * i as f64 + 1.0) * (lo + hi);
    }
    let a2 = -nf - s / nf;
    let a = a2 * (1.0 + 0.75 / nf + 2.25 / (nf * nf));
    let p = if a >= 0.6 {
        libm::exp(1.2937 - 5.709 * a + 0.0186 * a * a)
    } else if a >= 0.34 {
        libm::exp(0.9177 - 4.279 * a - 1.38 * a * a)
    } else if a >= 0.2 {
        1.0 - libm::exp(-8.318 + 42.796 * a - 59.938 * a * a)
    } else {
        1.0 - libm::exp(-13.436 + 101.14 * a - 223.73 * a * a)
    };
    (a, p.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_matches_tables() {
        // Φ at table points, the far tail against its asymptote, and the quantile inverting Φ.
        assert!((cdf(0.0) - 0.5).abs() < 1e-15);
        assert!((cdf(1.959_963_984_540_054) - 0.975).abs() < 1e-12);
        assert!((cdf(-3.0) - 0.001_349_898_031_630_094_5).abs() < 1e-15);
        assert!((ln_cdf(-40.0) - ln_cdf(-36.999)).abs() > 100.0);
        assert!((ln_cdf(-30.0) - libm::log(cdf(-30.0))).abs() < 1e-9);
        assert!((quantile(0.95) - 1.644_853_626_951_472_2).abs() < 1e-9);
    }

    #[test]
    fn noncentral_t_reduces_to_student_and_matches_a_published_tolerance_factor() {
        // δ = 0 is Student's t: the 97.5% point with 10 df is 2.228.
        assert!((noncentral_t_cdf(2.228_138_851_986_274, 10.0, 0.0) - 0.975).abs() < 1e-5);
        // One-sided normal tolerance factor k(n = 10, content 0.95, confidence 0.95) = 2.911
        // (NIST/SEMATECH e-Handbook 7.2.6.3; Odeh & Owen): k = t'_{0.95}(9, z_0.95 √10)/√10.
        let n = 10.0f64;
        let delta = quantile(0.95) * n.sqrt();
        let d = noncentrality_for(2.911 * n.sqrt(), 9.0, 0.95);
        assert!((d - delta).abs() < 0.01 * delta, "{d} vs {delta}");
        // And k(n = 20, 0.90 content, 0.95 confidence) = 1.926.
        let n = 20.0f64;
        let delta = quantile(0.90) * n.sqrt();
        let d = noncentrality_for(1.926 * n.sqrt(), 19.0, 0.95);
        assert!((d - delta).abs() < 0.01 * delta, "{d} vs {delta}");
    }

    #[test]
    fn anderson_darling_accepts_normal_scores_and_rejects_a_two_point_sample() {
        // Normal scores are as normal as a sample gets; two clusters are not.
        let n = 20;
        let scores: Vec<f64> = (1..=n)
            .map(|i| quantile((i as f64 - 0.375) / (n as f64 + 0.25)))
            .collect();
        let (_, p) = anderson_darling(&scores);
        assert!(p > 0.5, "{p}");
        let mut two: Vec<f64> = (0..n)
            .map(|i| if i < n / 2 { 0.0 } else { 1.0 } + i as f64 * 1e-3)
            .collect();
        two.sort_by(f64::total_cmp);
        let (a, p) = anderson_darling(&two);
        assert!(p < 0.01, "A* = {a}, p = {p}");
    }
}

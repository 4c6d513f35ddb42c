//! Exact (Clopper–Pearson) bounds on a binomial proportion: the method
//! that assumes nothing about the replications but their independence.
//! Computed with `libm`'s pure-Rust functions, so the bounds are the same
//! bits on every machine.

/// The regularized incomplete beta function I_x(a, b) (continued fraction,
/// modified Lentz; Numerical Recipes §6.4).
pub fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = libm::lgamma(a + b) - libm::lgamma(a) - libm::lgamma(b) + a * libm::log(x) + b * libm::log1p(-x);
    if x < (a + 1.0) / (a + b + 2.0) {
        libm::exp(ln_front) * fraction(a, b, x) / a
    } else {
        1.0 - libm::exp(ln_front) * fraction(b, a, 1.0 - x) / b
    }
}

fn fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let guard = |v: f64| if v.abs() < TINY { TINY } else { v };
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 / guard(1.0 - qab * x / qap);
    let mut h = d;
    // Convergence takes about √max(a, b) steps: enough for 10⁸ replications.
    for m in 1..=20_000 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 / guard(1.0 + aa * d);
        c = guard(1.0 + aa / c);
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 / guard(1.0 + aa * d);
        c = guard(1.0 + aa / c);
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// P(X ≤ k) for X binomial(n, p).
fn cdf(k: u64, n: u64, p: f64) -> f64 {
    if k >= n {
        return 1.0;
    }
    incomplete_beta((n - k) as f64, k as f64 + 1.0, 1.0 - p)
}

/// Bisection on p ∈ [0, 1] for a monotone condition (false, then true).
fn bisect(up: impl Fn(f64) -> bool) -> f64 {
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if up(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
        if hi - lo < 1e-15 {
            break;
        }
    }
    hi
}

/// The exact one-sided bounds on p from `k` of `n` at level `alpha` each:
/// the lower bound is the p at which seeing `k` or more has probability
/// `alpha`, the upper the p at which seeing `k` or fewer has.
pub fn bounds(k: u64, n: u64, alpha: f64) -> [f64; 2] {
    if n == 0 {
        return [0.0, 1.0];
    }
    let nf = n as f64;
    let lower = if k == 0 {
        0.0
    } else if k == n {
        libm::pow(alpha, 1.0 / nf)
    } else {
        // P(X ≥ k) = 1 − P(X ≤ k − 1) rises with p.
        bisect(|p| 1.0 - cdf(k - 1, n, p) >= alpha)
    };
    let upper = if k == n {
        1.0
    } else if k == 0 {
        -libm::expm1(libm::log(alpha) / nf)
    } else {
        // P(X ≤ k) falls with p.
        bisect(|p| cdf(k, n, p) <= alpha)
    };
    [lower, upper]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clopper_pearson_matches_published_intervals() {
        // 95% two-sided Clopper–Pearson intervals (2.5% each side): 0/10 → [0, 0.3085],
        // 3/10 → [0.0667, 0.6525], 10/10 → [0.6915, 1] (Clopper & Pearson 1934; Brown, Cai, DasGupta 2001).
        let close = |a: f64, b: f64| (a - b).abs() < 1e-4;
        let [lo, hi] = bounds(0, 10, 0.025);
        assert!(lo == 0.0 && close(hi, 0.3085), "{hi}");
        let [lo, hi] = bounds(3, 10, 0.025);
        assert!(close(lo, 0.0667) && close(hi, 0.6525), "{lo} {hi}");
        let [lo, hi] = bounds(10, 10, 0.025);
        assert!(close(lo, 0.6915) && hi == 1.0, "{lo}");
        // The zero-count bound needs ln α / ln(1 − L) replications: 59 for 5% at α = 0.05.
        assert!(bounds(0, 59, 0.05)[1] < 0.05 && bounds(0, 58, 0.05)[1] > 0.05);
        // Large n converges (continued fraction at 10⁷ trials).
        let [lo, hi] = bounds(500_000, 10_000_000, 0.025);
        assert!(lo < 0.05 && hi > 0.05 && hi - lo < 3e-4, "{lo} {hi}");
    }
}

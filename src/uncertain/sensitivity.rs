//! Which uncertain inputs an outcome hangs on, from the replications alone
//! (no extra runs): each replication is one sample of (inputs, outcome).
//!
//! * [`first_order`]: the share of the outcome's variance the input
//!   explains alone, Var(E[Y | X]) / Var(Y). Estimated from the variance of
//!   binned conditional means: the replications sorted by the input and cut
//!   into G ≈ √n bins of equal count (ties kept together), then the
//!   between-bin share of the sum of squares with the usual small-sample
//!   correction (ANOVA's ε², Kelley 1935):
//!   (SS_between − (G − 1)·MS_within) / SS_total, clamped to [0, 1].
//!   Uncorrected, the between-bin share (η²) is biased upwards by about
//!   (G − 1)/(n − 1) of the unexplained share: noise alone moves bin
//!   means. ε² removes that term (exactly when the noise is the same in
//!   every bin). What remains is a bias downwards from binning: the
//!   variation of E[Y | X] within a bin counts as unexplained, about 1/G²
//!   of the explained share for a smooth, roughly linear dependence.
//!   Both shrink as n grows; the sampling error is of order 1/√n.
//! * [`spearman`]: Spearman's rank correlation (Pearson on average ranks),
//!   which sees any monotone dependence and its direction.
//! * [`curve`]: the violation probability per bin of the input (equal-count
//!   bins, ≤ 10, about 20 replications or more each), and [`crossing`]: the
//!   input value where that curve crosses a limit.
//!
//! Everything is computed serially from the rows in replication order, so
//! it is the same for any thread count and sharding.

/// Bins of roughly equal count over the sorted `x` (indices into `x`),
/// `groups` wanted; equal values always share a bin, so there may be fewer.
pub fn bins_of(x: &[f64], groups: usize) -> Vec<Vec<usize>> {
    let n = x.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]).then(a.cmp(&b)));
    let groups = groups.clamp(1, n.max(1));
    let mut bins = Vec::new();
    let mut start = 0;
    for g in 1..=groups {
        let mut end = if g == groups { n } else { (g * n / groups).max(start) };
        // Keep ties together: a bin ends only between different values.
        while end > start && end < n && x[order[end]] == x[order[end - 1]] {
            end += 1;
        }
        if end > start {
            bins.push(order[start..end].to_vec());
            start = end;
        }
    }
    bins
}

/// The number of bins [`first_order`] uses for n replications: ⌊√n⌋, at least 2, at most 50.
pub fn first_order_bins(n: usize) -> usize {
    ((n as f64).sqrt().floor() as usize).clamp(2, 50)
}

/// The first-order share of `y`'s variance that `x` explains (ε² over
/// [`first_order_bins`] equal-count bins). `None` below 4 replications or
/// when `y` does not vary; 0 when `x` does not vary.
pub fn first_order(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len();
    if n < 4 || y.len() != n {
        return None;
    }
    let mean = y.iter().sum::<f64>() / n as f64;
    let ss_total: f64 = y.iter().map(|v| (v - mean) * (v - mean)).sum();
    if ss_total <= 0.0 || !ss_total.is_finite() {
        return None;
    }
    let bins = bins_of(x, first_order_bins(n));
    let g = bins.len();
    if g < 2 {
        return Some(0.0);
    }
    let mut ss_between = 0.0;
    let mut ss_within = 0.0;
    for b in &bins {
        let m = b.iter().map(|&i| y[i]).sum::<f64>() / b.len() as f64;
        ss_between += b.len() as f64 * (m - mean) * (m - mean);
        ss_within += b.iter().map(|&i| (y[i] - m) * (y[i] - m)).sum::<f64>();
    }
    let ms_within = if n > g { ss_within / (n - g) as f64 } else { 0.0 };
    let eps2 = (ss_between - (g - 1) as f64 * ms_within) / ss_total;
    Some(eps2.clamp(0.0, 1.0))
}

/// Average ranks (1-based; tied values share the mean of their ranks).
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| v[a].total_cmp(&v[b]).then(a.cmp(&b)));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i + 1;
        while j < order.len() && v[order[j]] == v[order[i]] {
            j += 1;
        }
        let avg = (i + j + 1) as f64 / 2.0; // ranks i+1 ..= j
        for &k in &order[i..j] {
            r[k] = avg;
        }
        i = j;
    }
    r
}

/// Spearman's rank correlation of `x` and `y`; `None` when either does not
/// vary (or fewer than 3 pairs).
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len();
    if n < 3 || y.len() != n {
        return None;
    }
    let (rx, ry) = (ranks(x), ranks(y));
    let m = (n as f64 + 1.0) / 2.0;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (a, b) = (rx[i] - m, ry[i] - m);
        sxy += a * b;
        sxx += a * a;
        syy += b * b;
    }
    if sxx <= 0.0 || syy <= 0.0 {
        return None;
    }
    Some((sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0))
}

/// One bin of a violation curve.
#[derive(Clone, Debug, PartialEq)]
pub struct Bin {
    /// The lowest and highest input value in the bin.
    pub from: f64,
    pub to: f64,
    /// The median input value in the bin (where the curve places it).
    pub median: f64,
    pub replications: u64,
    pub violations: u64,
}

impl Bin {
    pub fn probability(&self) -> f64 {
        if self.replications == 0 {
            0.0
        } else {
            self.violations as f64 / self.replications as f64
        }
    }
}

/// The number of bins of a violation curve over n replications: about 20
/// replications a bin, at least 2, at most 10.
pub fn curve_bins(n: usize) -> usize {
    (n / 20).clamp(2, 10)
}

/// The violation probability as a function of the input: [`curve_bins`]
/// equal-count bins. Empty below 2 replications.
pub fn curve(x: &[f64], violated: &[bool]) -> Vec<Bin> {
    if x.len() < 2 || violated.len() != x.len() {
        return Vec::new();
    }
    bins_of(x, curve_bins(x.len()))
        .into_iter()
        .map(|b| {
            let mut v: Vec<f64> = b.iter().map(|&i| x[i]).collect();
            v.sort_by(f64::total_cmp);
            let median = if v.len() % 2 == 1 {
                v[v.len() / 2]
            } else {
                (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
            };
            Bin {
                from: v[0],
                to: v[v.len() - 1],
                median,
                replications: b.len() as u64,
                violations: b.iter().filter(|&&i| violated[i]).count() as u64,
            }
        })
        .collect()
}

/// On which side of a value the violation probability exceeds the limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Above,
    Below,
}

impl Side {
    pub fn word(self) -> &'static str {
        match self {
            Side::Above => "above",
            Side::Below => "below",
        }
    }
}

/// Where the curve crosses `limit`, walking from its safer end (the end
/// bin with the lower probability) to the riskier: the first pair of
/// neighbouring bins with the first at or under the limit and the second
/// over it, interpolated linearly between their medians. `None` when the
/// ends are equally risky, when the safer end is over the limit already,
/// or when the curve never goes over it.
pub fn crossing(bins: &[Bin], limit: f64) -> Option<(f64, Side)> {
    let (first, last) = (bins.first()?, bins.last()?);
    let side = if last.probability() > first.probability() {
        Side::Above
    } else if last.probability() < first.probability() {
        Side::Below
    } else {
        return None;
    };
    let walk: Vec<&Bin> = match side {
        Side::Above => bins.iter().collect(),
        Side::Below => bins.iter().rev().collect(),
    };
    if walk[0].probability() > limit {
        return None;
    }
    walk.windows(2).find_map(|w| {
        let (a, b) = (w[0], w[1]);
        let (pa, pb) = (a.probability(), b.probability());
        (pa <= limit && pb > limit).then(|| (a.median + (limit - pa) / (pb - pa) * (b.median - a.median), side))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn bins_are_equal_count_and_keep_ties_together() {
        // 10 distinct values in 3 bins: 3, 3, 4; a value repeated across a cut moves whole into one bin.
        let x: Vec<f64> = (0..10).map(|i| i as f64).collect();
        let sizes: Vec<usize> = bins_of(&x, 3).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, vec![3, 3, 4]);
        let tied = [1.0, 1.0, 1.0, 1.0, 2.0, 3.0];
        let bins = bins_of(&tied, 3);
        assert_eq!(bins[0], vec![0, 1, 2, 3]);
        assert_eq!(bins.len(), 2);
        assert_eq!(bins_of(&[5.0; 8], 4).len(), 1);
    }

    #[test]
    fn spearman_matches_hand_values() {
        // Monotone → ±1; the textbook example with one swap of neighbours: 1 − 6·2/(5·24) = 0.9; ties use average ranks.
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(spearman(&x, &[2.0, 4.0, 8.0, 16.0, 32.0]), Some(1.0));
        assert_eq!(spearman(&x, &[5.0, 4.0, 3.0, 2.0, 1.0]), Some(-1.0));
        let r = spearman(&x, &[1.0, 2.0, 4.0, 3.0, 5.0]).unwrap();
        assert!((r - 0.9).abs() < 1e-12, "{r}");
        assert_eq!(spearman(&x, &[1.0; 5]), None);
        // Ranks of [1, 2, 2, 3] are [1, 2.5, 2.5, 4].
        assert_eq!(ranks(&[1.0, 2.0, 2.0, 3.0]), vec![1.0, 2.5, 2.5, 4.0]);
    }

    /// n samples of (x1, x2, y) with y = a·x1 + b·x2 + noise, x uniform on [0, 1].
    fn additive(n: usize, a: f64, b: f64, noise_sd: f64, seed: u64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        let mut x1 = Vec::new();
        let mut x2 = Vec::new();
        let mut y = Vec::new();
        for _ in 0..n {
            let (u, v): (f64, f64) = (r.random(), r.random());
            // Noise: a sum of 12 uniforms minus 6 has sd 1.
            let e: f64 = (0..12).map(|_| r.random::<f64>()).sum::<f64>() - 6.0;
            x1.push(u);
            x2.push(v);
            y.push(a * u + b * v + noise_sd * e);
        }
        (x1, x2, y)
    }

    #[test]
    fn first_order_recovers_known_variance_shares() {
        // y = 2·x1 + x2 + noise (sd 0.2), x uniform: Var shares 4/12, 1/12, 0.04 of 5/12 + 0.04,
        // i.e. S1 = 0.7273, S2 = 0.1818. n = 2000: the estimator's sd is about 2ρ(1−ρ²)/√n ≤ 0.02,
        // and binning (G = 44) takes off about S/G² < 0.001; within 0.05.
        let (x1, x2, y) = additive(2000, 2.0, 1.0, 0.2, 1);
        let total = 4.0 / 12.0 + 1.0 / 12.0 + 0.04;
        let s1 = first_order(&x1, &y).unwrap();
        let s2 = first_order(&x2, &y).unwrap();
        assert!((s1 - (4.0 / 12.0) / total).abs() < 0.05, "S1 = {s1}");
        assert!((s2 - (1.0 / 12.0) / total).abs() < 0.05, "S2 = {s2}");
    }

    #[test]
    fn an_irrelevant_input_explains_nothing() {
        // y depends on x1 only: S(x1) ≈ 1, S(x2) ≈ 0 (ε² centred on 0 for pure noise: within 0.03 at n = 1000).
        let (x1, x2, y) = additive(1000, 1.0, 0.0, 0.01, 2);
        let s1 = first_order(&x1, &y).unwrap();
        let s2 = first_order(&x2, &y).unwrap();
        assert!(s1 > 0.98, "S1 = {s1}");
        assert!(s2 < 0.03, "S2 = {s2}");
        let r = spearman(&x1, &y).unwrap();
        assert!(r > 0.99, "{r}");
        assert_eq!(
            first_order(&[1.0; 10], &y[..10]),
            Some(0.0),
            "a constant input explains nothing"
        );
        assert_eq!(
            first_order(&x1[..10], &[0.5; 10]),
            None,
            "a constant outcome has no variance to share"
        );
    }

    #[test]
    fn the_uncorrected_share_would_be_biased_at_small_n() {
        // Pure noise, n = 40, G = 6: η² averages (G−1)/(n−1) = 0.128, ε² about 0. Averaged over 200 seeds.
        let mut eps = 0.0;
        for seed in 0..200 {
            let (x1, _, y) = additive(40, 0.0, 0.0, 1.0, 100 + seed);
            eps += first_order(&x1, &y).unwrap();
        }
        // ε² is clamped at 0, so its mean sits a little above 0, but far below η²'s 0.128.
        assert!(eps / 200.0 < 0.06, "mean ε² = {}", eps / 200.0);
    }

    #[test]
    fn a_step_in_the_violations_is_crossed_where_it_is() {
        // Violated exactly when x > 0.25, x uniform on [0, 1]: the curve crosses a 5% limit within a bin of 0.25.
        let n = 1000;
        let x: Vec<f64> = (0..n).map(|i| (i as f64 + 0.5) / n as f64).collect();
        let v: Vec<bool> = x.iter().map(|&x| x > 0.25).collect();
        let bins = curve(&x, &v);
        assert_eq!(bins.len(), 10);
        let (at, side) = crossing(&bins, 0.05).unwrap();
        assert_eq!(side, Side::Above);
        assert!((at - 0.25).abs() <= 0.1, "{at}");
        // Mirrored: violated below 0.25.
        let v: Vec<bool> = x.iter().map(|&x| x < 0.25).collect();
        let (at, side) = crossing(&curve(&x, &v), 0.05).unwrap();
        assert_eq!(side, Side::Below);
        assert!((at - 0.25).abs() <= 0.1, "{at}");
        // Never over the limit, or over it everywhere: no crossing.
        assert_eq!(crossing(&curve(&x, &vec![false; n]), 0.05), None);
        assert_eq!(crossing(&curve(&x, &vec![true; n]), 0.05), None);
    }
}

//! A log-linear histogram of nanosecond values with fixed memory and exact merges.
//!
//! Values below 256 ns have a bucket each; above, every power of two is
//! split into 128 buckets, so a bucket is at most 1/128 of its value wide
//! and a reported quantile is within 0.4% of the true one. Values up to
//! 2^45 ns (9.8 hours) are resolved; larger ones fall in the last bucket
//! (the exact maximum is kept apart). Counts are integers and the sum is a
//! `u128`, so merging is exact and independent of order.

const SUB_BITS: u32 = 8;
const SUB: u64 = 1 << SUB_BITS; // 256
const HALF: u64 = SUB / 2; // 128
const MAX_EXP: u32 = 45;
/// Number of buckets: 256 linear + 128 per octave from 2^8 to 2^45.
pub const BUCKETS: usize = (SUB + (MAX_EXP - SUB_BITS + 1) as u64 * HALF) as usize;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Histogram {
    counts: Vec<u64>,
    count: u64,
    sum: u128,
    min: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

/// The bucket of `v`, without a branch: queue waits are a mix of zeros and
/// long waits, which a branch on `v < 256` would mispredict. With
/// `s = max(e, 7) − 7` (`e` the top bit of `v`), the bucket is
/// `128·s + (v >> s)`: `v` itself below 256, and above, 128 buckets per
/// octave. Values past 2^46 are clamped into the last bucket.
#[inline]
fn index(v: u64) -> usize {
    let e = 63 - (v | 1).leading_zeros();
    let s = e.max(SUB_BITS - 1) - (SUB_BITS - 1);
    ((s as u64 * HALF + (v >> s)) as usize).min(BUCKETS - 1)
}

/// The smallest value of bucket `i` and its width.
fn bucket_range(i: usize) -> (u64, u64) {
    let i = i as u64;
    if i < SUB {
        return (i, 1);
    }
    let e = (i - SUB) / HALF + SUB_BITS as u64;
    let m = (i - SUB) % HALF + HALF;
    let shift = e - SUB_BITS as u64 + 1;
    (m << shift, 1 << shift)
}

impl Histogram {
    /// An empty histogram; its buckets are allocated at the first record.
    pub fn new() -> Self {
        Histogram {
            counts: Vec::new(),
            count: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    #[inline]
    pub fn record(&mut self, v: u64) {
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS];
        }
        self.counts[index(v)] += 1;
        self.count += 1;
        self.sum += v as u128;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    /// Empties it, keeping its buckets' memory (for a window measured again and again).
    pub fn clear(&mut self) {
        self.counts.fill(0);
        self.count = 0;
        self.sum = 0;
        self.min = u64::MAX;
        self.max = 0;
    }

    /// Adds another histogram's counts: exact, commutative and associative.
    pub fn merge(&mut self, other: &Histogram) {
        if other.count == 0 {
            return;
        }
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS];
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn sum(&self) -> u128 {
        self.sum
    }

    pub fn max(&self) -> u64 {
        if self.count == 0 { 0 } else { self.max }
    }

    pub fn min(&self) -> u64 {
        if self.count == 0 { 0 } else { self.min }
    }

    /// Exact mean (from the exact sum); 0 when empty.
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum as f64 / self.count as f64
        }
    }

    /// The q-quantile (0 ≤ q ≤ 1): the midpoint of the bucket holding the
    /// ⌈q·n⌉-th smallest value, clamped to the exact min and max.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let (lo, w) = bucket_range(i);
                return (lo + w / 2).clamp(self.min, self.max);
            }
        }
        self.max
    }

    /// Number of recorded values ≤ v (exact below 256 ns, else to the bucket).
    pub fn count_le(&self, v: u64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let last = index(v);
        self.counts[..=last].iter().sum()
    }

    /// The histogram's exact state, for writing it to a file: non-empty
    /// buckets as (index, count), then count, sum, min and max.
    pub fn parts(&self) -> (Vec<(u32, u64)>, u64, u128, u64, u64) {
        let buckets = self
            .counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, c)| (i as u32, *c))
            .collect();
        (buckets, self.count, self.sum, self.min(), self.max())
    }

    /// Rebuilds a histogram from [`Histogram::parts`]. The parts come from a
    /// file, so they are checked: indices in range, in increasing order,
    /// counts adding up to `count`, min ≤ max.
    pub fn from_parts(buckets: &[(u32, u64)], count: u64, sum: u128, min: u64, max: u64) -> Result<Self, String> {
        if count == 0 {
            return if buckets.is_empty() && sum == 0 {
                Ok(Histogram::new())
            } else {
                Err("an empty histogram (count 0) with buckets or a sum".to_string())
            };
        }
        if min > max {
            return Err(format!("histogram min {min} above max {max}"));
        }
        let mut counts = vec![0u64; BUCKETS];
        let mut total = 0u64;
        let mut last: Option<u32> = None;
        for &(i, c) in buckets {
            if i as usize >= BUCKETS {
                return Err(format!("histogram bucket {i} out of range (0..{BUCKETS})"));
            }
            if last.is_some_and(|l| i <= l) {
                return Err("histogram buckets out of order".to_string());
            }
            last = Some(i);
            counts[i as usize] = c;
            total = total
                .checked_add(c)
                .ok_or_else(|| "histogram counts overflow".to_string())?;
        }
        if total != count {
            return Err(format!("histogram buckets add up to {total}, not its count {count}"));
        }
        Ok(Histogram {
            counts,
            count,
            sum,
            min,
            max,
        })
    }

    /// Non-empty buckets as (lower bound, width, count), for reports.
    pub fn buckets(&self) -> impl Iterator<Item = (u64, u64, u64)> + '_ {
        self.counts.iter().enumerate().filter(|(_, c)| **c > 0).map(|(i, c)| {
            let (lo, w) = bucket_range(i);
            (lo, w, *c)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_tile_the_line() {
        // Every bucket starts where the previous ended, and index() inverts bucket_range().
        let mut next = 0;
        for i in 0..BUCKETS - 1 {
            let (lo, w) = bucket_range(i);
            assert_eq!(lo, next, "bucket {i}");
            assert_eq!(index(lo), i);
            assert_eq!(index(lo + w - 1), i);
            next = lo + w;
        }
        // Past the resolved range, everything falls in the last bucket.
        assert_eq!(index(next), BUCKETS - 1);
        assert_eq!(index(1 << 46), BUCKETS - 1);
        assert_eq!(index(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn quantiles_within_resolution() {
        // Quantiles of 1..=1e6 come back within the 0.4% bucket resolution.
        let mut h = Histogram::new();
        for v in 1..=1_000_000u64 {
            h.record(v);
        }
        for q in [0.5, 0.9, 0.99, 0.999] {
            let want = q * 1e6;
            let got = h.quantile(q) as f64;
            assert!((got / want - 1.0).abs() < 0.004, "q{q}: {got} vs {want}");
        }
        assert_eq!(h.mean(), 500_000.5);
        assert_eq!(h.max(), 1_000_000);
    }

    #[test]
    fn merge_equals_recording_everything() {
        // Merging two histograms gives exactly the histogram of all values.
        let (mut a, mut b, mut all) = (Histogram::new(), Histogram::new(), Histogram::new());
        for v in (0..50_000u64).map(|x| x * 7919 % 1_000_003) {
            if v % 2 == 0 {
                a.record(v)
            } else {
                b.record(v)
            }
            all.record(v);
        }
        a.merge(&b);
        assert_eq!(a, all);
    }
}

/// Sub-bins per octave of a [`CoarseHistogram`].
const COARSE_SUB: usize = 8;
/// Bins of a [`CoarseHistogram`]: values below 1 µs, then 8 per octave up
/// to 2^41 ns (37 minutes), then one overflow bin.
const COARSE_BINS: usize = 1 + 31 * COARSE_SUB + 1;

/// A small log histogram (8 bins per octave, ±4.5% resolution) for the
/// per-time-bucket latency percentiles of the time series: 1 KiB each, so
/// thousands of buckets fit in a replication's memory budget.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoarseHistogram {
    counts: [u32; COARSE_BINS],
    count: u32,
}

impl Default for CoarseHistogram {
    fn default() -> Self {
        CoarseHistogram {
            counts: [0; COARSE_BINS],
            count: 0,
        }
    }
}

fn coarse_index(v: u64) -> usize {
    if v < 1024 {
        return 0;
    }
    let e = 63 - v.leading_zeros() as usize; // ≥ 10
    if e > 40 {
        return COARSE_BINS - 1;
    }
    1 + (e - 10) * COARSE_SUB + ((v >> (e - 3)) & 7) as usize
}

/// The lower bound and width of coarse bin i.
fn coarse_range(i: usize) -> (u64, u64) {
    if i == 0 {
        return (0, 1024);
    }
    if i >= COARSE_BINS - 1 {
        return (1 << 41, 1 << 41);
    }
    let e = (i - 1) / COARSE_SUB + 10;
    let sub = ((i - 1) % COARSE_SUB) as u64;
    let w = 1u64 << (e - 3);
    ((8 + sub) * w, w)
}

impl CoarseHistogram {
    #[inline]
    pub fn record(&mut self, v: u64) {
        self.counts[coarse_index(v)] += 1;
        self.count += 1;
    }

    pub fn count(&self) -> u32 {
        self.count
    }

    /// The q-quantile, interpolated by rank within its bin (values taken as
    /// spread evenly across the bin); 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = (q.clamp(0.0, 1.0) * self.count as f64).ceil().max(1.0);
        let mut seen = 0.0;
        for (i, &c) in self.counts.iter().enumerate() {
            if c == 0 {
                continue;
            }
            if seen + c as f64 >= rank {
                let (lo, w) = coarse_range(i);
                let within = (rank - seen - 0.5) / c as f64;
                return lo + (within.clamp(0.0, 1.0) * w as f64) as u64;
            }
            seen += c as f64;
        }
        coarse_range(COARSE_BINS - 1).0
    }
}

#[cfg(test)]
mod coarse_tests {
    use super::*;

    #[test]
    fn coarse_quantiles_within_a_bin() {
        // Interpolated within a bin, the coarse quantiles of a uniform spread are within 2%.
        let mut h = CoarseHistogram::default();
        for v in 1..=100_000u64 {
            h.record(v * 1000);
        }
        for q in [0.5, 0.99] {
            let want = q * 1e8;
            let got = h.quantile(q) as f64;
            assert!((got / want - 1.0).abs() < 0.02, "q{q}: {got} vs {want}");
        }
    }
}

//! Retries: the backoff between tries, and the retry budget of a call site.
//!
//! Backoff for retry k is `min(max_backoff, backoff · 2^(k−1))`, then
//! jitter: `none`; `full` U(0, b); `equal` b/2 + U(0, b/2); `decorrelated`
//! min(max, U(backoff, 3 · previous)).
//!
//! The budget is Finagle's windowed retry budget (`percentCanRetry` over a
//! 10 s TTL, as tower and Linkerd implement it too), without its
//! `minRetriesPerSec` floor: a retry is allowed while the site's retries in
//! the current and the previous 10 s window stay within `budget ×` its first
//! tries in them.

use crate::model::{Jitter, Retry};
use crate::sim::engine::Time;

/// Retry budgets count tries over a rolling window of this length.
pub const BUDGET_WINDOW_NS: u64 = 10_000_000_000;

/// The wait before retry `k` (1 for the first retry), given the previous
/// wait and a uniform draw `u` in [0, 1).
pub fn backoff_ns(retry: &Retry, k: u32, prev_sleep: u64, u: f64) -> u64 {
    let base = retry
        .backoff_ns
        .saturating_mul(1u64 << (k - 1).min(40))
        .min(retry.max_backoff_ns);
    match retry.jitter {
        Jitter::None => base,
        Jitter::Full => (u * base as f64) as u64,
        Jitter::Equal => base / 2 + (u * (base / 2) as f64) as u64,
        Jitter::Decorrelated => {
            let prev = prev_sleep.max(retry.backoff_ns);
            let hi = prev.saturating_mul(3).max(retry.backoff_ns);
            let lo = retry.backoff_ns as f64;
            ((lo + u * (hi as f64 - lo)) as u64).min(retry.max_backoff_ns)
        }
    }
}

/// A call site's retry budget: first tries and retries in the current and
/// the previous window.
#[derive(Clone, Debug, Default)]
pub struct RetryBudget {
    window_start: Time,
    first: u64,
    retries: u64,
    prev_first: u64,
    prev_retries: u64,
}

impl RetryBudget {
    /// Rolls the windows forward to `now`.
    fn roll(&mut self, now: Time) {
        if now >= self.window_start + BUDGET_WINDOW_NS {
            let skipped = (now - self.window_start) / BUDGET_WINDOW_NS;
            if skipped == 1 {
                self.prev_first = self.first;
                self.prev_retries = self.retries;
            } else {
                self.prev_first = 0;
                self.prev_retries = 0;
            }
            self.first = 0;
            self.retries = 0;
            self.window_start += skipped * BUDGET_WINDOW_NS;
        }
    }

    /// A call's first try (a deposit).
    pub fn first_try(&mut self, now: Time) {
        self.roll(now);
        self.first += 1;
    }

    /// Takes one retry from the budget if `budget` × first tries allows it.
    pub fn try_withdraw(&mut self, now: Time, budget: f64) -> bool {
        self.roll(now);
        if (self.retries + self.prev_retries + 1) as f64 > budget * (self.first + self.prev_first) as f64 {
            return false;
        }
        self.retries += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retry(jitter: Jitter) -> Retry {
        Retry {
            attempts: 5,
            backoff_ns: 10,
            max_backoff_ns: 50,
            jitter,
            budget: None,
        }
    }

    #[test]
    fn backoff_doubles_up_to_its_cap_and_jitters_within_it() {
        // 10, 20, 40, then capped at 50; full jitter scales by u; equal keeps half.
        let r = retry(Jitter::None);
        let waits: Vec<u64> = (1..=4).map(|k| backoff_ns(&r, k, 0, 0.5)).collect();
        assert_eq!(waits, vec![10, 20, 40, 50]);
        assert_eq!(backoff_ns(&retry(Jitter::Full), 2, 0, 0.25), 5);
        assert_eq!(backoff_ns(&retry(Jitter::Equal), 2, 0, 0.5), 15);
        // Decorrelated: U(backoff, 3·previous), capped.
        assert_eq!(backoff_ns(&retry(Jitter::Decorrelated), 2, 12, 0.5), 23);
        assert_eq!(backoff_ns(&retry(Jitter::Decorrelated), 2, 40, 0.9), 50);
    }

    #[test]
    fn budget_allows_its_share_of_first_tries_over_two_windows() {
        // 10 first tries at budget 0.2 allow 2 retries; the 3rd is refused.
        // The counts carry into the next window, and are gone two windows on.
        let mut b = RetryBudget::default();
        for _ in 0..10 {
            b.first_try(0);
        }
        assert!(b.try_withdraw(1, 0.2));
        assert!(b.try_withdraw(2, 0.2));
        assert!(!b.try_withdraw(3, 0.2));
        assert!(
            !b.try_withdraw(BUDGET_WINDOW_NS + 1, 0.2),
            "the previous window still counts"
        );
        assert!(
            !b.try_withdraw(3 * BUDGET_WINDOW_NS, 0.2),
            "no first tries left to spend"
        );
        for _ in 0..5 {
            b.first_try(3 * BUDGET_WINDOW_NS);
        }
        assert!(b.try_withdraw(3 * BUDGET_WINDOW_NS, 0.2));
    }
}

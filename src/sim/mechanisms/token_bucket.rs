//! A replica's rate limit: a token bucket of `burst` tokens refilled at
//! `per_s` a second; an arrival takes one or is turned away (429).

use crate::model::{NS_PER_S, RateLimit};
use crate::sim::engine::Time;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TokenBucket {
    tokens: f64,
    at: Time,
}

impl TokenBucket {
    /// A full bucket at time 0.
    pub fn full(limit: &RateLimit) -> Self {
        TokenBucket {
            tokens: limit.burst,
            at: 0,
        }
    }

    /// Refills up to `now` and takes a token if there is one.
    pub fn admit(&mut self, limit: &RateLimit, now: Time) -> bool {
        let elapsed_s = (now - self.at) as f64 / NS_PER_S;
        self.tokens = (self.tokens + elapsed_s * limit.per_s).min(limit.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_refills_at_its_rate() {
        // Burst 2 at 10/s: two at once, the third waits 100 ms for a token.
        let limit = RateLimit {
            per_s: 10.0,
            burst: 2.0,
        };
        let mut b = TokenBucket::full(&limit);
        assert!(b.admit(&limit, 0) && b.admit(&limit, 0));
        assert!(!b.admit(&limit, 0));
        let mut early = b;
        assert!(!early.admit(&limit, 99_000_000), "0.99 of a token");
        assert!(b.admit(&limit, 100_000_000));
        // Never more than the burst, however long it rested.
        assert!(b.admit(&limit, 10_000_000_000) && b.admit(&limit, 10_000_000_000));
        assert!(!b.admit(&limit, 10_000_000_000));
    }
}

//! The bulkhead: at most `max_in_flight` calls of a call site per caller
//! replica; a call over the limit fails at once (to its fallback). It
//! remembers the faults met by the calls holding its permits since it was
//! last idle: a call it turns away carries them.

#[derive(Clone, Debug, Default)]
pub struct Bulkhead {
    in_flight: u32,
    holders_cause: u64,
}

impl Bulkhead {
    /// Takes a permit if one of `max` is free.
    pub fn acquire(&mut self, max: u32) -> bool {
        if self.in_flight >= max {
            return false;
        }
        self.in_flight += 1;
        true
    }

    pub fn release(&mut self) {
        self.in_flight -= 1;
        if self.in_flight == 0 {
            self.holders_cause = 0;
        }
    }

    /// A call holding a permit met the faults `touched` on its way.
    pub fn holder_met(&mut self, touched: u64) {
        self.holders_cause |= touched;
    }

    /// The faults behind a full bulkhead.
    pub fn cause(&self) -> u64 {
        self.holders_cause
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_its_limit_and_forgets_causes_when_idle() {
        // Two permits: a third call is refused; the holders' faults are the
        // cause until the last permit comes back.
        let mut b = Bulkhead::default();
        assert!(b.acquire(2) && b.acquire(2));
        assert!(!b.acquire(2));
        b.holder_met(0b10);
        b.release();
        assert_eq!(b.cause(), 0b10, "one holder is still in flight");
        assert!(b.acquire(2));
        b.release();
        b.release();
        assert_eq!(b.cause(), 0, "idle");
    }
}

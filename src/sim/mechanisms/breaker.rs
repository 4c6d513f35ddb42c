//! The circuit breaker: Resilience4j's count-based breaker, one per call
//! site and caller replica.
//!
//! *Closed*: every try is permitted; the outcomes of the last `window` tries
//! are kept. Once at least `min(min_calls, window)` are recorded, a failure
//! rate ≥ `failure_rate` or a slow-call rate (tries lasting ≥ `slow_call_ms`)
//! ≥ `slow_call_rate` opens it. *Open*: tries are refused (the call goes to
//! its fallback, no retry) for `open_ms`; the first try after that moves it
//! to *half-open* (no background timer, as Resilience4j by default).
//! *Half-open*: `half_open_calls` probe tries are permitted, others refused;
//! when all probes have answered, the same rates decide open or closed (an
//! empty window). Outcomes that arrive while open are ignored.
//!
//! The breaker also remembers the faults behind its state (the faults met by
//! the failed or slow tries it recorded since it last closed): a try it
//! refuses carries them, for the path-based attribution of failures.

use crate::model::Breaker;
use crate::observe::BreakerPhase;
use crate::sim::engine::Time;

/// A move from one phase to another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    pub to: BreakerPhase,
    /// When the breaker had opened, if this move leaves the open phase.
    pub left_open_since: Option<Time>,
}

#[derive(Clone, Debug)]
pub struct CircuitBreaker {
    phase: BreakerPhase,
    /// Outcome bits of the window: 1 failure, 2 slow.
    ring: Vec<u8>,
    pos: usize,
    len: u32,
    failures: u32,
    slows: u32,
    open_until: Time,
    opened_at: Time,
    probes_issued: u32,
    probes_done: u32,
    probe_failures: u32,
    probe_slows: u32,
    /// Faults met by the failed or slow tries recorded since it last closed.
    cause: u64,
}

impl CircuitBreaker {
    /// A closed breaker with an empty window.
    pub fn new(def: &Breaker) -> Self {
        CircuitBreaker {
            phase: BreakerPhase::Closed,
            ring: vec![0; def.window as usize],
            pos: 0,
            len: 0,
            failures: 0,
            slows: 0,
            open_until: 0,
            opened_at: 0,
            probes_issued: 0,
            probes_done: 0,
            probe_failures: 0,
            probe_slows: 0,
            cause: 0,
        }
    }

    pub fn phase(&self) -> BreakerPhase {
        self.phase
    }

    /// When it last opened (meaningful while open).
    pub fn opened_at(&self) -> Time {
        self.opened_at
    }

    /// The faults behind its state: what a try it refuses carries.
    pub fn cause(&self) -> u64 {
        self.cause
    }

    /// Whether a try may go through at `now` (counting half-open probes),
    /// and the phase change that asking caused (open → half-open).
    pub fn permits(&mut self, def: &Breaker, now: Time) -> (bool, Option<Transition>) {
        match self.phase {
            BreakerPhase::Closed => (true, None),
            BreakerPhase::Open if now < self.open_until => (false, None),
            BreakerPhase::Open => {
                let t = self.enter(BreakerPhase::HalfOpen, def, now);
                self.probes_issued = 1;
                (true, Some(t))
            }
            BreakerPhase::HalfOpen => {
                if self.probes_issued < def.half_open_calls {
                    self.probes_issued += 1;
                    (true, None)
                } else {
                    (false, None)
                }
            }
        }
    }

    /// Records a try's outcome (and the faults it met) and moves the breaker
    /// if the rates say so.
    pub fn record(&mut self, def: &Breaker, now: Time, ok: bool, duration_ns: u64, touched: u64) -> Option<Transition> {
        let failed = !ok;
        let slow = duration_ns >= def.slow_call_ns;
        if (failed || slow) && self.phase != BreakerPhase::Open {
            self.cause |= touched;
        }
        let trips = |calls: u32, failures: u32, slows: u32| {
            calls > 0
                && (failures as f64 / calls as f64 >= def.failure_rate
                    || slows as f64 / calls as f64 >= def.slow_call_rate)
        };
        match self.phase {
            BreakerPhase::Closed => {
                let window = self.ring.len();
                if self.len as usize == window {
                    let old = self.ring[self.pos];
                    self.failures -= (old & 1) as u32;
                    self.slows -= (old >> 1) as u32;
                } else {
                    self.len += 1;
                }
                self.ring[self.pos] = failed as u8 | (slow as u8) << 1;
                self.pos = (self.pos + 1) % window;
                self.failures += failed as u32;
                self.slows += slow as u32;
                if self.len >= def.min_calls.min(window as u32) && trips(self.len, self.failures, self.slows) {
                    return Some(self.enter(BreakerPhase::Open, def, now));
                }
                None
            }
            BreakerPhase::HalfOpen => {
                self.probes_done += 1;
                self.probe_failures += failed as u32;
                self.probe_slows += slow as u32;
                if self.probes_done >= def.half_open_calls {
                    let to = if trips(self.probes_done, self.probe_failures, self.probe_slows) {
                        BreakerPhase::Open
                    } else {
                        BreakerPhase::Closed
                    };
                    return Some(self.enter(to, def, now));
                }
                None
            }
            BreakerPhase::Open => None,
        }
    }

    fn enter(&mut self, to: BreakerPhase, def: &Breaker, now: Time) -> Transition {
        let left_open_since = (self.phase == BreakerPhase::Open).then_some(self.opened_at);
        self.phase = to;
        match to {
            BreakerPhase::Open => {
                self.open_until = now + def.open_ns;
                self.opened_at = now;
            }
            BreakerPhase::HalfOpen => {
                self.probes_issued = 0;
                self.probes_done = 0;
                self.probe_failures = 0;
                self.probe_slows = 0;
            }
            BreakerPhase::Closed => {
                self.cause = 0;
                self.ring.iter_mut().for_each(|x| *x = 0);
                self.pos = 0;
                self.len = 0;
                self.failures = 0;
                self.slows = 0;
            }
        }
        Transition { to, left_open_since }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def() -> Breaker {
        Breaker {
            failure_rate: 0.5,
            slow_call_rate: 1.0 + 1e-9,
            slow_call_ns: u64::MAX,
            window: 4,
            min_calls: 4,
            open_ns: 100,
            half_open_calls: 2,
        }
    }

    #[test]
    fn opens_at_the_failure_rate_once_min_calls_are_in() {
        // Two failures in a window of four: 50% ≥ 50%, but only from the 4th call on.
        let d = def();
        let mut b = CircuitBreaker::new(&d);
        assert_eq!(b.record(&d, 1, false, 0, 0), None);
        assert_eq!(b.record(&d, 2, false, 0, 0), None, "2 of 2 failed, but min_calls is 4");
        assert_eq!(b.record(&d, 3, true, 0, 0), None);
        let t = b.record(&d, 4, true, 0, 0).expect("opens");
        assert_eq!(
            t,
            Transition {
                to: BreakerPhase::Open,
                left_open_since: None
            }
        );
        assert_eq!(b.permits(&d, 50), (false, None), "open for open_ms");
    }

    #[test]
    fn half_open_lets_probes_through_and_decides_on_their_rates() {
        // After open_ms the next try is the first probe; half_open_calls = 2
        // probes go through, a third is refused; two good probes close it.
        let d = def();
        let mut b = CircuitBreaker::new(&d);
        for t in 0..4 {
            b.record(&d, t, false, 0, 0);
        }
        assert_eq!(b.phase(), BreakerPhase::Open);
        let (ok, t) = b.permits(&d, 103);
        assert!(ok);
        assert_eq!(
            t,
            Some(Transition {
                to: BreakerPhase::HalfOpen,
                left_open_since: Some(3)
            })
        );
        assert_eq!(b.permits(&d, 104), (true, None));
        assert_eq!(b.permits(&d, 105), (false, None), "only two probes");
        assert_eq!(b.record(&d, 106, true, 0, 0), None);
        let t = b.record(&d, 107, true, 0, 0).expect("decides");
        assert_eq!(t.to, BreakerPhase::Closed);
        // A failed probe reopens instead.
        for t in 200..204 {
            b.record(&d, t, false, 0, 0);
        }
        b.permits(&d, 400);
        b.permits(&d, 401);
        b.record(&d, 402, false, 0, 0);
        assert_eq!(b.record(&d, 403, true, 0, 0).map(|t| t.to), Some(BreakerPhase::Open));
    }

    #[test]
    fn slow_calls_open_it_and_the_cause_is_kept_until_it_closes() {
        // Tries of ≥ 10 ns are slow; a slow-call rate of 75% opens it. The
        // faults met by the slow tries are its cause; closing clears them.
        let d = Breaker {
            slow_call_rate: 0.75,
            slow_call_ns: 10,
            ..def()
        };
        let mut b = CircuitBreaker::new(&d);
        b.record(&d, 0, true, 1, 0b001);
        b.record(&d, 1, true, 10, 0b010);
        b.record(&d, 2, true, 20, 0b100);
        let t = b.record(&d, 3, true, 30, 0);
        assert_eq!(t.map(|t| t.to), Some(BreakerPhase::Open));
        assert_eq!(b.cause(), 0b110, "only the slow tries' faults");
        b.permits(&d, 200);
        b.permits(&d, 201);
        b.record(&d, 202, true, 1, 0);
        assert_eq!(b.record(&d, 203, true, 1, 0).map(|t| t.to), Some(BreakerPhase::Closed));
        assert_eq!(b.cause(), 0);
    }
}

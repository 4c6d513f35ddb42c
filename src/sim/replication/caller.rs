//! The caller side of a call site: the caller replica's circuit breaker
//! (see [`crate::sim::mechanisms::breaker`]) asked before each try and told
//! each try's outcome, with what it does recorded (open time, openings,
//! `breakers.csv` transitions).

use super::*;
use crate::observe::{BreakerPhase, BreakerTransition, MAX_TRANSITIONS};
use crate::sim::mechanisms::Transition;

/// Length of [from, to) within the counted horizon.
fn clipped(from: Time, to: Time, rec: &Recorder) -> u128 {
    let (a, b) = (from.max(rec.warmup_ns), to.min(rec.end_ns));
    b.saturating_sub(a) as u128
}

impl Replication<'_> {
    /// Whether the breaker lets this try through (and counts half-open probes).
    pub(super) fn breaker_permits(&mut self, slot: u32, site: u32) -> bool {
        let Some(def) = &self.call_def(site).breaker else {
            return true;
        };
        let now = self.engine.now;
        let Some(b) = self.callers.slots[slot as usize].breaker.as_mut() else {
            return true;
        };
        let (permitted, moved) = b.permits(def, now);
        if let Some(t) = moved {
            self.breaker_moved(slot, t);
        }
        permitted
    }

    /// Records a try's outcome (and the faults it met) in the breaker.
    pub(super) fn breaker_record(&mut self, slot: u32, site: u32, ok: bool, duration_ns: u64, touched: u64) {
        let Some(def) = &self.call_def(site).breaker else {
            return;
        };
        let now = self.engine.now;
        let Some(b) = self.callers.slots[slot as usize].breaker.as_mut() else {
            return;
        };
        if let Some(t) = b.record(def, now, ok, duration_ns, touched) {
            self.breaker_moved(slot, t);
        }
    }

    fn breaker_moved(&mut self, slot: u32, t: Transition) {
        let now = self.engine.now;
        let site = self.callers.slots[slot as usize].site as usize;
        if let Some(since) = t.left_open_since {
            self.rec.sites[site].breaker_open_ns += clipped(since, now, &self.rec);
        }
        if t.to == BreakerPhase::Open && self.rec.counted(now) {
            self.rec.sites[site].breaker_opens += 1;
        }
        if self.rec.transitions.len() < MAX_TRANSITIONS {
            self.rec.transitions.push(BreakerTransition {
                time_ns: now,
                site: site as u32,
                replica: self.callers.caller_rank(slot),
                to: t.to,
            });
        }
    }

    /// At the end of the run: time still open counts up to now.
    pub(super) fn close_breakers(&mut self) {
        for slot in &self.callers.slots {
            if let Some(b) = &slot.breaker
                && b.phase() == BreakerPhase::Open
            {
                self.rec.sites[slot.site as usize].breaker_open_ns +=
                    clipped(b.opened_at(), self.engine.now, &self.rec);
            }
        }
    }
}

//! Guards on the caller's side of a call site, one per caller replica:
//! the circuit breaker and the bulkhead.
//!
//! # Circuit breaker (Resilience4j, count-based)
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
//! # Bulkhead
//! At most `max_in_flight` calls of the site per caller replica; a call over
//! the limit fails at once (to its fallback).
//!
//! # What a refusal carries
//! A try the breaker refuses and a call the bulkhead turns away never reach
//! a fault, yet a fault is why they were refused. So each guard remembers the
//! faults behind its state, and a refused call carries them (for the
//! path-based attribution of failures to faults): a breaker, the faults met
//! by the failed or slow tries it recorded since it last closed; a bulkhead,
//! the faults met by the calls that held its permits since it was last idle.

use super::{NONE, Replication};
use crate::engine::Time;
use crate::model::Topology;
use crate::observe::{BreakerPhase, BreakerTransition, MAX_TRANSITIONS, Recorder};

#[derive(Clone, Debug)]
struct BreakerState {
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

#[derive(Clone, Debug)]
struct Guard {
    in_flight: u32,
    /// Faults met by the calls holding (or that held) permits since the
    /// bulkhead was last idle.
    holders_cause: u64,
    breaker: Option<BreakerState>,
    site: u32,
}

pub(super) struct Guards {
    /// First guard of each call site, or `NONE`.
    base: Vec<u32>,
    /// First replica of each service (caller replicas are numbered from it).
    service_first: Vec<u32>,
    site_service: Vec<u32>,
    guards: Vec<Guard>,
}

impl Guards {
    pub(super) fn new(topo: &Topology, group_first: &[u32], nr: usize) -> Self {
        let mut base = Vec::new();
        let mut site_service = Vec::new();
        let mut guards = Vec::new();
        let service_first: Vec<u32> = (0..topo.services.len()).map(|s| group_first[s * nr]).collect();
        for (s, svc) in topo.services.iter().enumerate() {
            let replicas = group_first[(s + 1) * nr] - group_first[s * nr];
            for call in &svc.calls {
                let site = base.len() as u32;
                site_service.push(s as u32);
                if call.breaker.is_none() && call.max_in_flight.is_none() {
                    base.push(NONE);
                    continue;
                }
                base.push(guards.len() as u32);
                for _ in 0..replicas {
                    guards.push(Guard {
                        in_flight: 0,
                        holders_cause: 0,
                        site,
                        breaker: call.breaker.as_ref().map(|b| BreakerState {
                            phase: BreakerPhase::Closed,
                            ring: vec![0; b.window as usize],
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
                        }),
                    });
                }
            }
        }
        Guards {
            base,
            service_first,
            site_service,
            guards,
        }
    }

    /// The guard of a call site for one caller replica, or `NONE`.
    pub(super) fn index(&self, site: u32, replica: u32) -> u32 {
        let b = self.base[site as usize];
        if b == NONE {
            return NONE;
        }
        b + replica - self.service_first[self.site_service[site as usize] as usize]
    }

    /// Takes a bulkhead permit if one is free.
    pub(super) fn acquire(&mut self, g: u32, max: u32) -> bool {
        let guard = &mut self.guards[g as usize];
        if guard.in_flight >= max {
            return false;
        }
        guard.in_flight += 1;
        true
    }

    pub(super) fn release(&mut self, g: u32) {
        let guard = &mut self.guards[g as usize];
        guard.in_flight -= 1;
        if guard.in_flight == 0 {
            guard.holders_cause = 0;
        }
    }

    /// A call holding a permit met the faults `touched` on its way.
    pub(super) fn holder_met(&mut self, g: u32, touched: u64) {
        self.guards[g as usize].holders_cause |= touched;
    }

    /// The faults behind a full bulkhead (what a call it turns away carries).
    pub(super) fn bulkhead_cause(&self, g: u32) -> u64 {
        self.guards[g as usize].holders_cause
    }

    /// The faults behind a breaker's refusal (what a refused try carries).
    pub(super) fn breaker_cause(&self, g: u32) -> u64 {
        self.guards[g as usize].breaker.as_ref().map_or(0, |b| b.cause)
    }

    /// At the end of the run: time still open counts up to `now`.
    pub(super) fn close(&mut self, now: Time, rec: &mut Recorder) {
        for g in &self.guards {
            if let Some(b) = &g.breaker
                && b.phase == BreakerPhase::Open
            {
                rec.sites[g.site as usize].breaker_open_ns += clipped(b.opened_at, now, rec);
            }
        }
    }
}

/// Length of [from, to) within the counted horizon.
fn clipped(from: Time, to: Time, rec: &Recorder) -> u128 {
    let (a, b) = (from.max(rec.warmup_ns), to.min(rec.end_ns));
    b.saturating_sub(a) as u128
}

impl Replication<'_> {
    /// Whether the breaker lets this try through (and counts half-open probes).
    pub(super) fn breaker_permits(&mut self, guard: u32, site: u32) -> bool {
        let Some(def) = &self.call_def(site).breaker else {
            return true;
        };
        let now = self.now;
        let Some(b) = self.guards.guards[guard as usize].breaker.as_mut() else {
            return true;
        };
        match b.phase {
            BreakerPhase::Closed => true,
            BreakerPhase::Open if now < b.open_until => false,
            BreakerPhase::Open => {
                self.transition(guard, BreakerPhase::HalfOpen);
                let b = self.guards.guards[guard as usize]
                    .breaker
                    .as_mut()
                    .expect("guard has a breaker");
                b.probes_issued = 1;
                true
            }
            BreakerPhase::HalfOpen => {
                if b.probes_issued < def.half_open_calls {
                    b.probes_issued += 1;
                    true
                } else {
                    false
                }
            }
        }
    }

    /// Records a try's outcome (and the faults it met) in the breaker and
    /// moves it if the rates say so.
    pub(super) fn breaker_record(&mut self, guard: u32, site: u32, ok: bool, duration_ns: u64, touched: u64) {
        let Some(def) = &self.call_def(site).breaker else {
            return;
        };
        let Some(b) = self.guards.guards[guard as usize].breaker.as_mut() else {
            return;
        };
        let failed = !ok;
        let slow = duration_ns >= def.slow_call_ns;
        if (failed || slow) && b.phase != BreakerPhase::Open {
            b.cause |= touched;
        }
        let trips = |calls: u32, failures: u32, slows: u32| {
            calls > 0
                && (failures as f64 / calls as f64 >= def.failure_rate
                    || slows as f64 / calls as f64 >= def.slow_call_rate)
        };
        match b.phase {
            BreakerPhase::Closed => {
                let window = b.ring.len();
                if b.len as usize == window {
                    let old = b.ring[b.pos];
                    b.failures -= (old & 1) as u32;
                    b.slows -= (old >> 1) as u32;
                } else {
                    b.len += 1;
                }
                b.ring[b.pos] = failed as u8 | (slow as u8) << 1;
                b.pos = (b.pos + 1) % window;
                b.failures += failed as u32;
                b.slows += slow as u32;
                if b.len >= def.min_calls.min(window as u32) && trips(b.len, b.failures, b.slows) {
                    self.transition(guard, BreakerPhase::Open);
                }
            }
            BreakerPhase::HalfOpen => {
                b.probes_done += 1;
                b.probe_failures += failed as u32;
                b.probe_slows += slow as u32;
                if b.probes_done >= def.half_open_calls {
                    let to = if trips(b.probes_done, b.probe_failures, b.probe_slows) {
                        BreakerPhase::Open
                    } else {
                        BreakerPhase::Closed
                    };
                    self.transition(guard, to);
                }
            }
            BreakerPhase::Open => {}
        }
    }

    fn transition(&mut self, guard: u32, to: BreakerPhase) {
        let now = self.now;
        let open_ns = self
            .call_def(self.guards.guards[guard as usize].site)
            .breaker
            .as_ref()
            .map(|b| b.open_ns);
        let g = &mut self.guards.guards[guard as usize];
        let site = g.site;
        let b = g.breaker.as_mut().expect("transition on a guard with a breaker");
        if b.phase == BreakerPhase::Open {
            self.rec.sites[site as usize].breaker_open_ns += clipped(b.opened_at, now, &self.rec);
        }
        b.phase = to;
        match to {
            BreakerPhase::Open => {
                b.open_until = now + open_ns.unwrap_or(0);
                b.opened_at = now;
                if self.rec.counted(now) {
                    self.rec.sites[site as usize].breaker_opens += 1;
                }
            }
            BreakerPhase::HalfOpen => {
                b.probes_issued = 0;
                b.probes_done = 0;
                b.probe_failures = 0;
                b.probe_slows = 0;
            }
            BreakerPhase::Closed => {
                b.cause = 0;
                b.ring.iter_mut().for_each(|x| *x = 0);
                b.pos = 0;
                b.len = 0;
                b.failures = 0;
                b.slows = 0;
            }
        }
        if self.rec.transitions.len() < MAX_TRANSITIONS {
            let replica = guard - self.guards.base[site as usize];
            self.rec.transitions.push(BreakerTransition {
                time_ns: now,
                site,
                replica,
                to,
            });
        }
    }
}

//! Faults: when each one happens in a replication, and what the active ones
//! do to calls reaching a service in a region.
//!
//! # Composition of overlapping faults
//! Delays add (each latency fault draws its own `percent` and delay);
//! abort probabilities combine independently (a call escapes only if it
//! escapes every abort); slowdown factors multiply; a replica killed by two
//! faults restarts when the first one that has a duration ends.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::model::{Fault, FaultEffect, Scenario};

/// When a fault is active in one replication.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultWindow {
    pub start_ns: u64,
    /// `None`: until the end of the run.
    pub end_ns: Option<u64>,
}

/// Draws every fault's window from the replication's fault stream, in catalog order.
pub fn draw_windows(scn: &Scenario, rng: &mut ChaCha8Rng) -> Vec<FaultWindow> {
    scn.faults
        .iter()
        .map(|f| {
            let start_ns = f.start.sample_ns(rng);
            let end_ns = f.duration.as_ref().map(|d| start_ns + d.sample_ns(rng));
            FaultWindow { start_ns, end_ns }
        })
        .collect()
}

/// The active faults that touch one service × region.
#[derive(Clone, Debug)]
struct GroupEffects {
    latency: Vec<u16>,
    abort: Vec<u16>,
    slowdown: Vec<u16>,
    slow_factor: f64,
}

impl Default for GroupEffects {
    fn default() -> Self {
        GroupEffects {
            latency: Vec::new(),
            abort: Vec::new(),
            slowdown: Vec::new(),
            slow_factor: 1.0,
        }
    }
}

/// Active fault effects per service × region (`service * regions + region`).
pub struct ActiveFaults {
    groups: Vec<GroupEffects>,
    /// Whether a latency or abort fault is active per group (the fast path skips the rest).
    any: Vec<bool>,
    regions: usize,
}

impl ActiveFaults {
    pub fn new(services: usize, regions: usize) -> Self {
        ActiveFaults {
            groups: vec![GroupEffects::default(); services * regions],
            any: vec![false; services * regions],
            regions,
        }
    }

    /// The groups a fault touches.
    pub fn groups_of(&self, f: &Fault) -> Vec<usize> {
        let Some(s) = f.service else { return Vec::new() };
        (0..self.regions)
            .filter(|r| f.regions[*r])
            .map(|r| s.index() * self.regions + r)
            .collect()
    }

    pub fn activate(&mut self, idx: u16, faults: &[Fault]) {
        let f = &faults[idx as usize];
        for g in self.groups_of(f) {
            let e = &mut self.groups[g];
            match f.effect {
                FaultEffect::Latency { .. } => e.latency.push(idx),
                FaultEffect::Abort { .. } => e.abort.push(idx),
                FaultEffect::Slowdown { .. } => e.slowdown.push(idx),
                _ => {}
            }
            self.refresh(g, faults);
        }
    }

    pub fn deactivate(&mut self, idx: u16, faults: &[Fault]) {
        for g in self.groups_of(&faults[idx as usize]) {
            let e = &mut self.groups[g];
            e.latency.retain(|&x| x != idx);
            e.abort.retain(|&x| x != idx);
            e.slowdown.retain(|&x| x != idx);
            self.refresh(g, faults);
        }
    }

    /// Recomputes a group's derived state from its lists of active faults.
    fn refresh(&mut self, g: usize, faults: &[Fault]) {
        let e = &mut self.groups[g];
        e.slow_factor = e
            .slowdown
            .iter()
            .map(|&i| match faults[i as usize].effect {
                FaultEffect::Slowdown { factor } => factor,
                _ => 1.0,
            })
            .product();
        self.any[g] = !e.latency.is_empty() || !e.abort.is_empty();
    }

    #[inline]
    pub fn slow_factor(&self, g: usize) -> f64 {
        self.groups[g].slow_factor
    }

    /// Whether a call reaching group `g` is aborted; returns the status.
    #[inline]
    pub fn abort(&self, g: usize, faults: &[Fault], rng: &mut ChaCha8Rng) -> Option<u16> {
        if !self.any[g] {
            return None;
        }
        for &i in &self.groups[g].abort {
            if let FaultEffect::Abort { percent, status } = faults[i as usize].effect
                && (percent >= 100.0 || rng.random::<f64>() * 100.0 < percent)
            {
                return Some(status);
            }
        }
        None
    }

    /// Extra delay, ns, injected on a call reaching group `g`.
    #[inline]
    pub fn delay(&self, g: usize, faults: &[Fault], rng: &mut ChaCha8Rng) -> u64 {
        if !self.any[g] {
            return 0;
        }
        let mut total = 0;
        for &i in &self.groups[g].latency {
            if let FaultEffect::Latency { delay, percent } = &faults[i as usize].effect
                && (*percent >= 100.0 || rng.random::<f64>() * 100.0 < *percent)
            {
                total += delay.sample_ns(rng);
            }
        }
        total
    }
}

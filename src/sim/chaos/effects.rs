//! What the active faults do to a call reaching a service × region or
//! crossing a link.
//!
//! Overlapping faults compose: delays add (each latency fault draws its own
//! `percent` and delay); abort and loss probabilities combine independently
//! (a call escapes only if it escapes each one); slowdown factors multiply;
//! the most recent drift wins; a partition loses everything whatever else is
//! active.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::model::{Fault, FaultEffect};

/// The active faults that touch one service × region.
#[derive(Clone, Debug, Default)]
struct GroupEffects {
    latency: Vec<u16>,
    abort: Vec<u16>,
    slowdown: Vec<u16>,
    loss: Vec<u16>,
    blackhole: u32,
    drift: Vec<u16>,
    slow_factor: f64,
}

/// The active faults on one directed region pair.
#[derive(Clone, Debug, Default)]
struct LinkEffects {
    partitioned: u32,
    loss: Vec<u16>,
    latency: Vec<u16>,
}

/// Active fault effects per service × region (`service * regions + region`)
/// and per link (`a * regions + b`, both directions).
pub struct ActiveFaults {
    groups: Vec<GroupEffects>,
    /// A latency, abort, loss, blackhole or drift fault is active on the group.
    any: Vec<bool>,
    links: Vec<LinkEffects>,
    any_link: bool,
    regions: usize,
    /// Bit i: fault i is active on the group (for attributing failures).
    mask: Vec<u64>,
    link_mask: Vec<u64>,
}

impl ActiveFaults {
    pub fn new(services: usize, regions: usize) -> Self {
        ActiveFaults {
            groups: vec![
                GroupEffects {
                    slow_factor: 1.0,
                    ..Default::default()
                };
                services * regions
            ],
            any: vec![false; services * regions],
            links: vec![LinkEffects::default(); regions * regions],
            any_link: false,
            regions,
            mask: vec![0; services * regions],
            link_mask: vec![0; regions * regions],
        }
    }

    /// The service × region groups a service fault touches.
    pub fn groups_of(&self, f: &Fault) -> Vec<usize> {
        let Some(s) = f.service else { return Vec::new() };
        (0..self.regions)
            .filter(|r| f.regions[*r])
            .map(|r| s.index() * self.regions + r)
            .collect()
    }

    fn link_slots(&self, f: &Fault) -> Vec<usize> {
        match f.link {
            Some((a, b)) => vec![
                a.index() * self.regions + b.index(),
                b.index() * self.regions + a.index(),
            ],
            None => Vec::new(),
        }
    }

    pub fn activate(&mut self, idx: u16, faults: &[Fault]) {
        let f = &faults[idx as usize];
        let bit = 1u64 << idx.min(63);
        if f.link.is_some() {
            for l in self.link_slots(f) {
                self.link_mask[l] |= bit;
                let e = &mut self.links[l];
                match f.effect {
                    FaultEffect::Partition => e.partitioned += 1,
                    FaultEffect::PacketLoss { .. } => e.loss.push(idx),
                    FaultEffect::Latency { .. } => e.latency.push(idx),
                    _ => {}
                }
            }
            self.refresh_links();
            return;
        }
        for g in self.groups_of(f) {
            self.mask[g] |= bit;
            let e = &mut self.groups[g];
            match f.effect {
                FaultEffect::Latency { .. } => e.latency.push(idx),
                FaultEffect::Abort { .. } => e.abort.push(idx),
                FaultEffect::Slowdown { .. } => e.slowdown.push(idx),
                FaultEffect::PacketLoss { .. } => e.loss.push(idx),
                FaultEffect::Blackhole => e.blackhole += 1,
                FaultEffect::Drift { .. } => e.drift.push(idx),
                _ => {}
            }
            self.refresh(g, faults);
        }
    }

    pub fn deactivate(&mut self, idx: u16, faults: &[Fault]) {
        let f = &faults[idx as usize];
        let bit = 1u64 << idx.min(63);
        if f.link.is_some() {
            for l in self.link_slots(f) {
                self.link_mask[l] &= !bit;
                let e = &mut self.links[l];
                match f.effect {
                    FaultEffect::Partition => e.partitioned = e.partitioned.saturating_sub(1),
                    _ => {
                        e.loss.retain(|&x| x != idx);
                        e.latency.retain(|&x| x != idx);
                    }
                }
            }
            self.refresh_links();
            return;
        }
        for g in self.groups_of(f) {
            self.mask[g] &= !bit;
            let e = &mut self.groups[g];
            if let FaultEffect::Blackhole = f.effect {
                e.blackhole = e.blackhole.saturating_sub(1);
            }
            for list in [&mut e.latency, &mut e.abort, &mut e.slowdown, &mut e.loss, &mut e.drift] {
                if let Some(pos) = list.iter().position(|&x| x == idx) {
                    list.remove(pos);
                }
            }
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
        self.any[g] =
            !(e.latency.is_empty() && e.abort.is_empty() && e.loss.is_empty() && e.drift.is_empty()) || e.blackhole > 0;
    }

    fn refresh_links(&mut self) {
        self.any_link = self
            .links
            .iter()
            .any(|l| l.partitioned > 0 || !l.loss.is_empty() || !l.latency.is_empty());
    }

    /// Whether any fault acts on group g's calls (a fast path for the rest).
    #[inline]
    pub fn touches(&self, g: usize) -> bool {
        self.any[g]
    }

    /// The faults active on group g (bit i: fault i).
    #[inline(always)]
    pub fn mask(&self, g: usize) -> u64 {
        self.mask[g]
    }

    /// The faults active on the link from a to b.
    #[inline(always)]
    pub fn link_mask(&self, a: usize, b: usize) -> u64 {
        if self.any_link {
            self.link_mask[a * self.regions + b]
        } else {
            0
        }
    }

    #[inline]
    pub fn slow_factor(&self, g: usize) -> f64 {
        self.groups[g].slow_factor
    }

    #[inline]
    pub fn blackholed(&self, g: usize) -> bool {
        self.any[g] && self.groups[g].blackhole > 0
    }

    /// The active drift of group g: (wrong rate, discount if it sets one).
    pub fn drift(&self, g: usize, faults: &[Fault]) -> Option<(f64, Option<f64>)> {
        let i = *self.groups[g].drift.last()?;
        match faults[i as usize].effect {
            FaultEffect::Drift { wrong_rate, discount } => Some((wrong_rate, discount)),
            _ => None,
        }
    }

    /// Whether a call reaching group `g` is aborted; returns the status.
    #[inline]
    pub fn abort(&self, g: usize, faults: &[Fault], rng: &mut ChaCha8Rng) -> Option<u16> {
        if !self.any[g] {
            return None;
        }
        for &i in &self.groups[g].abort {
            if let FaultEffect::Abort { percent, status } = faults[i as usize].effect
                && hit(percent, rng)
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
        delays(&self.groups[g].latency, faults, rng)
    }

    /// Whether an answer from group `g` is lost (packet loss on the service).
    #[inline]
    pub fn answer_lost(&self, g: usize, faults: &[Fault], rng: &mut ChaCha8Rng) -> bool {
        self.any[g] && lost(&self.groups[g].loss, faults, rng)
    }

    /// What happens to a message crossing from region a to b: `None` if it
    /// is lost (partition, packet loss), else the extra delay, ns.
    #[inline(always)]
    pub fn cross(&self, a: usize, b: usize, faults: &[Fault], rng: &mut ChaCha8Rng) -> Option<u64> {
        if !self.any_link || a == b {
            return Some(0);
        }
        let l = &self.links[a * self.regions + b];
        if l.partitioned > 0 || lost(&l.loss, faults, rng) {
            return None;
        }
        Some(delays(&l.latency, faults, rng))
    }
}

/// A draw that succeeds `percent` % of the time (no draw at 100%).
#[inline]
fn hit(percent: f64, rng: &mut ChaCha8Rng) -> bool {
    percent >= 100.0 || rng.random::<f64>() * 100.0 < percent
}

fn delays(list: &[u16], faults: &[Fault], rng: &mut ChaCha8Rng) -> u64 {
    let mut total = 0;
    for &i in list {
        if let FaultEffect::Latency { delay, percent } = &faults[i as usize].effect
            && hit(*percent, rng)
        {
            total += delay.sample_ns(rng);
        }
    }
    total
}

fn lost(list: &[u16], faults: &[Fault], rng: &mut ChaCha8Rng) -> bool {
    list.iter()
        .any(|&i| matches!(faults[i as usize].effect, FaultEffect::PacketLoss { percent } if hit(percent, rng)))
}

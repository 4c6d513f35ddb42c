//! Resilience mechanisms, each a small state machine of its own with its
//! own tests: the replication owns one per call site and caller replica (the
//! [`CallerMechanisms`]: breaker and bulkhead), per call site (retry budget)
//! or per replica (outlier detection, rate limit), and asks it what to do.
//! A rollout's [`analysis`] is one too: the canary's measurements and the
//! verdict they add up to.

pub mod analysis;
pub mod breaker;
pub mod bulkhead;
pub mod outlier;
pub mod retry;
pub mod token_bucket;

pub use breaker::{CircuitBreaker, Transition};
pub use bulkhead::Bulkhead;
pub use outlier::OutlierState;
pub use retry::{BUDGET_WINDOW_NS, RetryBudget, backoff_ns};
pub use token_bucket::TokenBucket;

use crate::model::Topology;

/// No slot: the call site has neither a breaker nor a bulkhead.
pub const NO_SLOT: u32 = u32::MAX;

/// The caller side of one call site for one caller replica.
#[derive(Clone, Debug)]
pub struct CallerSlot {
    pub site: u32,
    /// The caller replica's rank within its service (a rollout's new
    /// version numbered after the stable replicas).
    pub rank: u32,
    pub breaker: Option<CircuitBreaker>,
    pub bulkhead: Bulkhead,
}

/// The breakers and bulkheads of every (call site, caller replica) that has
/// one, in one vector: slot `base[site] + caller replica's rank in its service`;
/// a rollout's new-version replicas (the last replicas of all) have slots of
/// their own after every other, from `canary_base[site]`.
pub struct CallerMechanisms {
    /// First slot of each call site, or [`NO_SLOT`].
    base: Vec<u32>,
    /// First replica of each service (caller replicas are numbered from it).
    service_first: Vec<u32>,
    site_service: Vec<u32>,
    /// The first new-version replica (`u32::MAX` without a rollout).
    canary_first: u32,
    /// Per call site: the new version's first slot, or [`NO_SLOT`].
    canary_base: Vec<u32>,
    pub slots: Vec<CallerSlot>,
}

impl CallerMechanisms {
    /// `group_first[service * regions + region]`: the first replica of each
    /// service × region group, and one past the last at the end.
    pub fn new(topo: &Topology, group_first: &[u32], regions: usize) -> Self {
        let mut base = Vec::new();
        let mut site_service = Vec::new();
        let mut slots = Vec::new();
        let service_first: Vec<u32> = (0..topo.services.len()).map(|s| group_first[s * regions]).collect();
        for (s, svc) in topo.services.iter().enumerate() {
            let replicas = group_first[(s + 1) * regions] - group_first[s * regions];
            for call in &svc.calls {
                let site = base.len() as u32;
                site_service.push(s as u32);
                if call.breaker.is_none() && call.max_in_flight.is_none() {
                    base.push(NO_SLOT);
                    continue;
                }
                base.push(slots.len() as u32);
                for rank in 0..replicas {
                    slots.push(CallerSlot {
                        site,
                        rank,
                        breaker: call.breaker.as_ref().map(CircuitBreaker::new),
                        bulkhead: Bulkhead::default(),
                    });
                }
            }
        }
        let canary_base = vec![NO_SLOT; base.len()];
        CallerMechanisms {
            base,
            service_first,
            site_service,
            canary_first: u32::MAX,
            canary_base,
            slots,
        }
    }

    /// Adds slots for a rollout's new version of `service`: `count`
    /// replicas from replica `first`, the last replicas of the replication.
    pub fn add_canary(&mut self, topo: &Topology, service: usize, first: u32, count: u32) {
        self.canary_first = first;
        let stable = self.service_first.get(service + 1).copied().unwrap_or(first) - self.service_first[service];
        for site in 0..self.base.len() {
            if self.site_service[site] as usize != service || self.base[site] == NO_SLOT {
                continue;
            }
            let call = &topo.services[service].calls[site - self.first_site(service)];
            self.canary_base[site] = self.slots.len() as u32;
            for k in 0..count {
                self.slots.push(CallerSlot {
                    site: site as u32,
                    rank: stable + k,
                    breaker: call.breaker.as_ref().map(CircuitBreaker::new),
                    bulkhead: Bulkhead::default(),
                });
            }
        }
    }

    /// The first call site of a service.
    fn first_site(&self, service: usize) -> usize {
        self.site_service.partition_point(|&s| (s as usize) < service)
    }

    /// The slot of a call site for one caller replica, or [`NO_SLOT`].
    pub fn index(&self, site: u32, replica: u32) -> u32 {
        let b = self.base[site as usize];
        if b == NO_SLOT {
            return NO_SLOT;
        }
        if replica >= self.canary_first {
            return self.canary_base[site as usize] + (replica - self.canary_first);
        }
        b + replica - self.service_first[self.site_service[site as usize] as usize]
    }

    /// The caller replica's rank within its service, for slot `slot`.
    pub fn caller_rank(&self, slot: u32) -> u32 {
        self.slots[slot as usize].rank
    }
}

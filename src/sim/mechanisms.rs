//! Resilience mechanisms, each a small state machine of its own with its
//! own tests: the replication owns one per call site and caller replica (the
//! [`CallerMechanisms`]: breaker and bulkhead), per call site (retry budget)
//! or per replica (outlier detection, rate limit), and asks it what to do.

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
    pub breaker: Option<CircuitBreaker>,
    pub bulkhead: Bulkhead,
}

/// The breakers and bulkheads of every (call site, caller replica) that has
/// one, in one vector: slot `base[site] + caller replica's rank in its service`.
pub struct CallerMechanisms {
    /// First slot of each call site, or [`NO_SLOT`].
    base: Vec<u32>,
    /// First replica of each service (caller replicas are numbered from it).
    service_first: Vec<u32>,
    site_service: Vec<u32>,
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
                for _ in 0..replicas {
                    slots.push(CallerSlot {
                        site,
                        breaker: call.breaker.as_ref().map(CircuitBreaker::new),
                        bulkhead: Bulkhead::default(),
                    });
                }
            }
        }
        CallerMechanisms {
            base,
            service_first,
            site_service,
            slots,
        }
    }

    /// The slot of a call site for one caller replica, or [`NO_SLOT`].
    pub fn index(&self, site: u32, replica: u32) -> u32 {
        let b = self.base[site as usize];
        if b == NO_SLOT {
            return NO_SLOT;
        }
        b + replica - self.service_first[self.site_service[site as usize] as usize]
    }

    /// The caller replica's rank within its service, for slot `slot` of `site`.
    pub fn caller_rank(&self, slot: u32) -> u32 {
        slot - self.base[self.slots[slot as usize].site as usize]
    }
}

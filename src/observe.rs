//! What a replication measures: per-flow outcomes, per service × region
//! station figures, and SLO good/valid counts per time bucket.
//!
//! Memory is bounded by the mesh size, the histogram resolution and the
//! number of time buckets, never by the number of requests. Everything a
//! recorder holds merges exactly (integer counts; money is summed in
//! replication order by the caller).

pub mod histogram;

pub use histogram::Histogram;

use crate::model::{Scenario, SloKind, Topology};

/// Width of a time bucket for SLO windows and time series.
pub const BUCKET_NS: u64 = 10_000_000_000;

/// How a request or call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    /// Succeeded through a fallback or with an optional call failing.
    Degraded,
    Failed,
}

/// Figures of one service in one region (all its replicas together).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroupStats {
    /// Calls that reached a replica, plus calls aborted by a fault on their way.
    pub requests: u64,
    /// Turned away by a full waiting room.
    pub rejected: u64,
    /// Answered with a failure (own error, failed dependency, refusal by a dead replica, injected abort).
    pub errors: u64,
    /// Calls to this service whose caller gave up waiting.
    pub timeouts: u64,
    /// Turned away by the replica's rate limit (also counted in `rejected`).
    pub rate_limited: u64,
    /// Dropped after waiting longer than `queue_timeout_ms` (also in `errors`).
    pub expired: u64,
    /// Replicas ejected by outlier detection.
    pub ejections: u64,
    /// Busy-server time, ns (within the counted horizon).
    pub busy_ns: u128,
    /// Server capacity, ns (servers × counted horizon).
    pub capacity_ns: u128,
    /// Arrival at the replica to response (waiting + service + downstream).
    pub latency: Histogram,
    /// Waiting part of the latency.
    pub queue_wait: Histogram,
}

impl GroupStats {
    pub fn merge(&mut self, o: &GroupStats) {
        self.requests += o.requests;
        self.rejected += o.rejected;
        self.errors += o.errors;
        self.timeouts += o.timeouts;
        self.rate_limited += o.rate_limited;
        self.expired += o.expired;
        self.ejections += o.ejections;
        self.busy_ns += o.busy_ns;
        self.capacity_ns += o.capacity_ns;
        self.latency.merge(&o.latency);
        self.queue_wait.merge(&o.queue_wait);
    }

    pub fn utilization(&self) -> f64 {
        if self.capacity_ns == 0 {
            0.0
        } else {
            self.busy_ns as f64 / self.capacity_ns as f64
        }
    }
}

/// Figures of one call site (a `[[services.calls]]` entry), all caller replicas together.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SiteStats {
    /// Logical calls made (each may take several tries).
    pub calls: u64,
    pub tries: u64,
    pub retries: u64,
    /// Retries the budget refused.
    pub budget_denied: u64,
    /// Tries refused by an open (or saturated half-open) breaker.
    pub short_circuited: u64,
    /// Calls refused by the bulkhead (`max_in_flight`).
    pub bulkhead_rejected: u64,
    pub fallbacks: u64,
    pub failed: u64,
    /// Transitions to open.
    pub breaker_opens: u64,
    /// Time breakers of this site spent open, summed over caller replicas, ns.
    pub breaker_open_ns: u128,
    /// Charges made more than once for one logical call (no idempotency key).
    pub duplicate_charges: u64,
    pub duplicate_charge_value: f64,
    /// Repeated charges the callee deduplicated (idempotency keys).
    pub duplicates_prevented: u64,
}

impl SiteStats {
    pub fn merge(&mut self, o: &SiteStats) {
        self.calls += o.calls;
        self.tries += o.tries;
        self.retries += o.retries;
        self.budget_denied += o.budget_denied;
        self.short_circuited += o.short_circuited;
        self.bulkhead_rejected += o.bulkhead_rejected;
        self.fallbacks += o.fallbacks;
        self.failed += o.failed;
        self.breaker_opens += o.breaker_opens;
        self.breaker_open_ns += o.breaker_open_ns;
        self.duplicate_charges += o.duplicate_charges;
        self.duplicate_charge_value += o.duplicate_charge_value;
        self.duplicates_prevented += o.duplicates_prevented;
    }
}

/// Figures of one queue in one region.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueueStats {
    pub published: u64,
    /// Publishes refused because the queue was at `max_depth`.
    pub rejected: u64,
    pub delivered: u64,
    pub redelivered: u64,
    pub dead_lettered: u64,
    /// Depth × time over the counted horizon, message·ns.
    pub depth_ns: u128,
    pub depth_max: u64,
    /// Publish to end of successful processing.
    pub age: Histogram,
}

impl QueueStats {
    pub fn merge(&mut self, o: &QueueStats) {
        self.published += o.published;
        self.rejected += o.rejected;
        self.delivered += o.delivered;
        self.redelivered += o.redelivered;
        self.dead_lettered += o.dead_lettered;
        self.depth_ns += o.depth_ns;
        self.depth_max = self.depth_max.max(o.depth_max);
        self.age.merge(&o.age);
    }
}

/// A circuit breaker changing state, for reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerTransition {
    pub time_ns: u64,
    pub site: u32,
    /// The caller replica, counted within its service.
    pub replica: u32,
    pub to: BreakerPhase,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerPhase {
    Closed,
    Open,
    HalfOpen,
}

/// The most breaker transitions a replication keeps (a limit on memory).
pub const MAX_TRANSITIONS: usize = 4096;

/// Figures of one flow (customer requests).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FlowStats {
    pub requests: u64,
    /// Succeeded, degraded included.
    pub succeeded: u64,
    pub degraded: u64,
    pub failed: u64,
    /// Latency of every finished request, whatever its outcome.
    pub latency: Histogram,
    /// Order value of failed requests.
    pub failed_value: f64,
}

impl FlowStats {
    pub fn merge(&mut self, o: &FlowStats) {
        self.requests += o.requests;
        self.succeeded += o.succeeded;
        self.degraded += o.degraded;
        self.failed += o.failed;
        self.latency.merge(&o.latency);
        self.failed_value += o.failed_value;
    }
}

/// Good and valid events of one SLO per time bucket.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SloCounts {
    pub valid: Vec<u64>,
    pub good: Vec<u64>,
}

/// An SLO's verdict in one replication.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SloOutcome {
    pub valid: u64,
    pub good: u64,
    /// good / valid over the counted horizon (1 when nothing was valid).
    pub attainment: f64,
    /// The worst rolling window's attainment, when the SLO has `window_s`.
    pub worst_window: Option<f64>,
    pub violated: bool,
    /// Share of the error budget used: (1 − attainment) / (1 − objective).
    pub budget_consumed: f64,
}

/// Per-replication measurements.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorder {
    pub warmup_ns: u64,
    pub end_ns: u64,
    pub flows: Vec<FlowStats>,
    /// Indexed by `service * regions + region`.
    pub groups: Vec<GroupStats>,
    /// Indexed by call site (the services' calls in order).
    pub sites: Vec<SiteStats>,
    /// Indexed by `queue * regions + region`.
    pub queues: Vec<QueueStats>,
    /// The first [`MAX_TRANSITIONS`] breaker state changes, in time order.
    pub transitions: Vec<BreakerTransition>,
    pub slos: Vec<SloCounts>,
    slo_defs: Vec<(Option<u16>, SloKind, u64)>,
}

impl Recorder {
    pub fn new(topo: &Topology, scn: &Scenario) -> Self {
        let buckets = (scn.duration_ns - scn.warmup_ns).div_ceil(BUCKET_NS) as usize;
        Recorder {
            warmup_ns: scn.warmup_ns,
            end_ns: scn.duration_ns,
            flows: vec![FlowStats::default(); topo.flows.len()],
            groups: vec![GroupStats::default(); topo.services.len() * topo.regions.len()],
            sites: vec![SiteStats::default(); topo.services.iter().map(|s| s.calls.len()).sum()],
            queues: vec![QueueStats::default(); topo.queues.len() * topo.regions.len()],
            transitions: Vec::new(),
            slos: scn
                .slos
                .iter()
                .map(|_| SloCounts {
                    valid: vec![0; buckets],
                    good: vec![0; buckets],
                })
                .collect(),
            slo_defs: scn
                .slos
                .iter()
                .map(|s| (s.flow.map(|f| f.0), s.kind, s.threshold_ns.unwrap_or(u64::MAX)))
                .collect(),
        }
    }

    /// Whether something that arrived at `t` is counted (after warm-up, before the end).
    #[inline]
    pub fn counted(&self, t: u64) -> bool {
        t >= self.warmup_ns && t < self.end_ns
    }

    /// A customer request that arrived at `arrival_ns` (counted) ended.
    /// `latency_ns` is `None` for a request still unfinished when the run stopped.
    pub fn request_done(&mut self, flow: u16, arrival_ns: u64, latency_ns: Option<u64>, outcome: Outcome, value: f64) {
        let fs = &mut self.flows[flow as usize];
        match outcome {
            Outcome::Succeeded => fs.succeeded += 1,
            Outcome::Degraded => {
                fs.succeeded += 1;
                fs.degraded += 1;
            }
            Outcome::Failed => {
                fs.failed += 1;
                fs.failed_value += value;
            }
        }
        if let Some(l) = latency_ns {
            fs.latency.record(l);
        }
        let b = ((arrival_ns - self.warmup_ns) / BUCKET_NS) as usize;
        for (i, (f, kind, threshold)) in self.slo_defs.iter().enumerate() {
            if f.is_some_and(|f| f != flow) {
                continue;
            }
            let good = match kind {
                SloKind::Availability => outcome != Outcome::Failed,
                SloKind::Latency => latency_ns.is_some_and(|l| l <= *threshold),
                SloKind::Correctness | SloKind::Backlog => true,
            };
            let c = &mut self.slos[i];
            c.valid[b] += 1;
            c.good[b] += good as u64;
        }
    }

    /// Evaluates each SLO of the scenario on this replication.
    pub fn slo_outcomes(&self, scn: &Scenario) -> Vec<SloOutcome> {
        scn.slos
            .iter()
            .zip(&self.slos)
            .map(|(slo, c)| {
                let valid: u64 = c.valid.iter().sum();
                let good: u64 = c.good.iter().sum();
                let attainment = if valid == 0 { 1.0 } else { good as f64 / valid as f64 };
                let worst_window = slo.window_ns.map(|w| {
                    let k = (w.div_ceil(BUCKET_NS) as usize).clamp(1, c.valid.len().max(1));
                    let mut worst = 1.0f64;
                    let (mut v, mut g) = (0u64, 0u64);
                    for i in 0..c.valid.len() {
                        v += c.valid[i];
                        g += c.good[i];
                        if i >= k {
                            v -= c.valid[i - k];
                            g -= c.good[i - k];
                        }
                        if i + 1 >= k && v > 0 {
                            worst = worst.min(g as f64 / v as f64);
                        }
                    }
                    worst
                });
                let violated = attainment < slo.objective || worst_window.is_some_and(|w| w < slo.objective);
                SloOutcome {
                    valid,
                    good,
                    attainment,
                    worst_window,
                    violated,
                    budget_consumed: (1.0 - attainment) / (1.0 - slo.objective),
                }
            })
            .collect()
    }
}

//! What a replication measures: per-flow outcomes, per service × region
//! station figures, and SLO good/valid counts per time bucket.
//!
//! Memory is bounded by the mesh size, the histogram resolution and the
//! number of time buckets, never by the number of requests. Everything a
//! recorder holds merges exactly (integer counts; money is summed in
//! replication order by the caller).

pub mod histogram;
pub mod telemetry;

pub use histogram::{CoarseHistogram, Histogram};

use crate::model::{Scenario, SloKind, Topology};

/// Money in whole cents (values are non-negative).
pub fn cents(value: f64) -> u64 {
    (value.max(0.0) * 100.0 + 0.5) as u64
}

/// How a customer request ended, for [`Recorder::request_done`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RequestEnd {
    pub outcome: Outcome,
    /// Order value.
    pub value: f64,
    /// The discount of an uncaught wrong AI output the answer carries.
    pub wrong: Option<f64>,
    /// Bit i: the request's path met fault i while it was active.
    pub touched: u64,
}

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
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
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
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
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
    /// Value of the duplicate charges, in cents.
    pub duplicate_charge_cents: u64,
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
        self.duplicate_charge_cents += o.duplicate_charge_cents;
        self.duplicates_prevented += o.duplicates_prevented;
    }
}

/// Figures of one queue in one region.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
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
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FlowStats {
    pub requests: u64,
    /// Succeeded, degraded included.
    pub succeeded: u64,
    pub degraded: u64,
    pub failed: u64,
    /// Latency of every finished request, whatever its outcome.
    pub latency: Histogram,
    /// Order value of failed requests, in cents (money is counted in whole
    /// cents so that sums are exact in any order, across threads and shards).
    pub failed_cents: u64,
    /// Latency of requests that arrived before the first fault (after warm-up).
    pub latency_baseline: Histogram,
    /// Latency of requests that arrived during the fault window.
    pub latency_fault: Histogram,
    /// Requests that arrived during the fault window, and those of them that
    /// failed or were degraded.
    pub fault_requests: u64,
    pub fault_affected: u64,
    /// Requests that arrived during the fault window and failed.
    #[serde(default)]
    pub fault_failed: u64,
    /// Succeeded requests carrying an uncaught wrong AI output, and their cost.
    pub wrong_outputs: u64,
    /// Their cost (value × discount), in cents.
    pub wrong_output_cents: u64,
    /// Requests whose path touched an active fault.
    pub touched: u64,
}

impl FlowStats {
    pub fn merge(&mut self, o: &FlowStats) {
        self.requests += o.requests;
        self.succeeded += o.succeeded;
        self.degraded += o.degraded;
        self.failed += o.failed;
        self.latency.merge(&o.latency);
        self.failed_cents += o.failed_cents;
        self.latency_baseline.merge(&o.latency_baseline);
        self.latency_fault.merge(&o.latency_fault);
        self.fault_requests += o.fault_requests;
        self.fault_affected += o.fault_affected;
        self.fault_failed += o.fault_failed;
        self.wrong_outputs += o.wrong_outputs;
        self.wrong_output_cents += o.wrong_output_cents;
        self.touched += o.touched;
    }
}

/// How one service × region looked to its callers in one phase of a
/// replication (before the faults, or during them).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PhaseStats {
    pub tries: u64,
    pub failures: u64,
    pub latency: Histogram,
}

impl PhaseStats {
    pub fn error_rate(&self) -> f64 {
        if self.tries == 0 {
            0.0
        } else {
            self.failures as f64 / self.tries as f64
        }
    }
}

/// One flow's figures in one time bucket of one replication.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BucketStats {
    pub requests: u32,
    pub failed: u32,
    pub latency: CoarseHistogram,
}

/// The blast radius of one replication.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BlastOutcome {
    /// Degraded (service, region) groups, as `service * regions + region`.
    pub pairs: Vec<usize>,
    pub services: u32,
    pub regions: u32,
    /// Share of requests arriving in the fault window that failed or were degraded.
    pub share_affected: f64,
    pub breach: bool,
}

/// One replication against its counterfactual twin: the same replication
/// (same seed, same random streams, same fault timeline drawn) with the
/// faults switched off. The difference is what the faults did, whatever path
/// the damage took (mitigations included), and nothing that merely coincided.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TwinOutcome {
    /// Per flow: requests arriving in the fault window that failed, minus
    /// those that failed in the twin (may be negative: noise).
    pub excess_failed: Vec<i64>,
    /// Per flow: p99 latency of requests arriving in the fault window minus
    /// the twin's, ns (0 when either has none).
    pub excess_p99_ns: Vec<i64>,
    /// Groups degraded against the twin (`service * regions + region`): in
    /// the fault window, their error rate as callers saw it exceeds the
    /// twin's by more than `degraded_when.error_rate`, or their p99 exceeds
    /// `latency_factor` × the twin's (when the twin saw at least 20 tries).
    pub pairs: Vec<usize>,
    pub services: u32,
    pub regions: u32,
    pub breach: bool,
}

impl TwinOutcome {
    pub fn excess_failed_total(&self) -> i64 {
        self.excess_failed.iter().sum()
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
    /// Baseline period `[start, end)` for blast radius (before the first fault).
    pub baseline_ns: (u64, u64),
    /// Fault window `[first start, last end)`; empty without faults.
    pub fault_window_ns: (u64, u64),
    /// Per group, how callers saw it before the faults and during them.
    pub phases: Vec<[PhaseStats; 2]>,
    /// Per flow, per time bucket.
    pub buckets: Vec<Vec<BucketStats>>,
    /// Failed requests whose path touched each fault (a request may count for several).
    pub attributed: Vec<u64>,
    /// Wrong AI outputs caught by a validating service.
    pub wrong_caught: u64,
    pub slos: Vec<SloCounts>,
    slo_defs: Vec<(Option<u16>, SloKind, u64, Option<u32>)>,
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
            baseline_ns: (scn.warmup_ns, scn.duration_ns),
            fault_window_ns: (0, 0),
            phases: vec![Default::default(); topo.services.len() * topo.regions.len()],
            buckets: vec![vec![BucketStats::default(); buckets]; topo.flows.len()],
            attributed: vec![0; scn.faults.len()],
            wrong_caught: 0,
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
                .map(|s| {
                    (
                        s.flow.map(|f| f.0),
                        s.kind,
                        s.threshold_ns.unwrap_or(u64::MAX),
                        s.queue.map(|q| q.0),
                    )
                })
                .collect(),
        }
    }

    /// Whether something that arrived at `t` is counted (after warm-up, before the end).
    #[inline]
    pub fn counted(&self, t: u64) -> bool {
        t >= self.warmup_ns && t < self.end_ns
    }

    /// Sets the fault window of this replication (first start to last end)
    /// and the baseline before it: from the end of warm-up, or from the
    /// start of the run when the faults begin during warm-up.
    pub fn set_fault_window(&mut self, start: u64, end: u64) {
        self.fault_window_ns = (start, end.max(start));
        let base_start = if start > self.warmup_ns { self.warmup_ns } else { 0 };
        self.baseline_ns = (base_start, start);
    }

    /// 0 for the baseline, 1 for the fault window, `None` for neither (or
    /// when the scenario has no faults: no blast radius to measure).
    #[inline]
    pub fn phase(&self, t: u64) -> Option<usize> {
        if self.fault_window_ns.0 == self.fault_window_ns.1 {
            return None;
        }
        if t >= self.fault_window_ns.0 && t < self.fault_window_ns.1 {
            Some(1)
        } else if t >= self.baseline_ns.0 && t < self.baseline_ns.1 {
            Some(0)
        } else {
            None
        }
    }

    /// A try to group g that started at `started` ended: what callers saw.
    #[inline]
    pub fn try_seen(&mut self, g: usize, started: u64, latency_ns: u64, ok: bool) {
        if let Some(p) = self.phase(started) {
            let ps = &mut self.phases[g][p];
            ps.tries += 1;
            ps.failures += !ok as u64;
            ps.latency.record(latency_ns);
        }
    }

    /// A customer request that arrived at `arrival_ns` (counted) ended.
    /// `latency_ns` is `None` for a request still unfinished when the run
    /// stopped; `wrong` is the discount of an uncaught wrong output it carries;
    /// `touched` the faults its path met while they were active.
    pub fn request_done(&mut self, flow: u16, arrival_ns: u64, latency_ns: Option<u64>, done: RequestEnd) {
        let RequestEnd {
            outcome,
            value,
            wrong,
            touched,
        } = done;
        let wrong = wrong.filter(|_| outcome != Outcome::Failed);
        let fs = &mut self.flows[flow as usize];
        match outcome {
            Outcome::Succeeded => fs.succeeded += 1,
            Outcome::Degraded => {
                fs.succeeded += 1;
                fs.degraded += 1;
            }
            Outcome::Failed => {
                fs.failed += 1;
                fs.failed_cents += cents(value);
            }
        }
        if let Some(discount) = wrong {
            fs.wrong_outputs += 1;
            fs.wrong_output_cents += cents(value * discount);
        }
        if touched != 0 {
            fs.touched += 1;
            if outcome == Outcome::Failed {
                for (i, a) in self.attributed.iter_mut().enumerate() {
                    *a += (touched >> i.min(63)) & 1;
                }
            }
        }
        let phase = if self.fault_window_ns.0 == self.fault_window_ns.1 {
            None // no faults: `latency` alone serves as the baseline
        } else if arrival_ns >= self.fault_window_ns.0 && arrival_ns < self.fault_window_ns.1 {
            Some(1)
        } else if arrival_ns < self.fault_window_ns.0 {
            Some(0)
        } else {
            None
        };
        if let Some(l) = latency_ns {
            fs.latency.record(l);
            match phase {
                Some(0) => fs.latency_baseline.record(l),
                Some(1) => fs.latency_fault.record(l),
                _ => {}
            }
        }
        if phase == Some(1) {
            fs.fault_requests += 1;
            fs.fault_affected += (outcome != Outcome::Succeeded) as u64;
            fs.fault_failed += (outcome == Outcome::Failed) as u64;
        }
        let b = ((arrival_ns - self.warmup_ns) / BUCKET_NS) as usize;
        let bs = &mut self.buckets[flow as usize][b];
        bs.requests += 1;
        bs.failed += (outcome == Outcome::Failed) as u32;
        if let Some(l) = latency_ns {
            bs.latency.record(l);
        }
        for (i, (f, kind, threshold, _)) in self.slo_defs.iter().enumerate() {
            if f.is_some_and(|f| f != flow) {
                continue;
            }
            let good = match kind {
                SloKind::Availability => outcome != Outcome::Failed,
                SloKind::Latency => latency_ns.is_some_and(|l| l <= *threshold),
                SloKind::Correctness => wrong.is_none(),
                SloKind::Backlog => continue,
            };
            let c = &mut self.slos[i];
            c.valid[b] += 1;
            c.good[b] += good as u64;
        }
    }

    /// A message of queue `queue` published at `publish_ns` (counted) ended:
    /// processed after `age_ns`, or never (dead-lettered, still queued at the end).
    pub fn message_done(&mut self, queue: u32, publish_ns: u64, age_ns: Option<u64>) {
        let b = ((publish_ns - self.warmup_ns) / BUCKET_NS) as usize;
        for (i, (_, kind, threshold, q)) in self.slo_defs.iter().enumerate() {
            if *kind == SloKind::Backlog && *q == Some(queue) {
                let c = &mut self.slos[i];
                c.valid[b] += 1;
                c.good[b] += age_ns.is_some_and(|a| a <= *threshold) as u64;
            }
        }
    }

    /// The blast radius of this replication per the scenario's `degraded_when`
    /// (defaults when the scenario declares none).
    pub fn blast(&self, scn: &Scenario, regions: usize) -> BlastOutcome {
        if !scn.has_change() || self.fault_window_ns.0 == self.fault_window_ns.1 {
            return BlastOutcome::default();
        }
        let (err_limit, factor) = degraded_when(scn);
        let mut pairs = Vec::new();
        for (g, [base, fault]) in self.phases.iter().enumerate() {
            if fault.tries == 0 {
                continue;
            }
            let errors = fault.error_rate() > err_limit;
            // The latency rule needs a baseline to compare with.
            let slow =
                base.tries >= 20 && fault.latency.quantile(0.99) as f64 > factor * base.latency.quantile(0.99) as f64;
            if errors || slow {
                pairs.push(g);
            }
        }
        let (services, regions) = distinct(&pairs, regions);
        let (req, affected) = self
            .flows
            .iter()
            .fold((0, 0), |(r, a), f| (r + f.fault_requests, a + f.fault_affected));
        let breach = breached(scn, services, regions);
        BlastOutcome {
            pairs,
            services,
            regions,
            share_affected: if req == 0 { 0.0 } else { affected as f64 / req as f64 },
            breach,
        }
    }

    /// This replication against its counterfactual twin (the same
    /// replication run with the faults off; see [`TwinOutcome`]).
    pub fn versus_twin(&self, twin: &Recorder, scn: &Scenario, regions: usize) -> TwinOutcome {
        if !scn.has_change() || self.fault_window_ns.0 == self.fault_window_ns.1 {
            return TwinOutcome {
                excess_failed: vec![0; self.flows.len()],
                excess_p99_ns: vec![0; self.flows.len()],
                ..Default::default()
            };
        }
        let (err_limit, factor) = degraded_when(scn);
        let mut pairs = Vec::new();
        for (g, (with, without)) in self.phases.iter().zip(&twin.phases).enumerate() {
            let (with, without) = (&with[1], &without[1]);
            if with.tries == 0 {
                continue;
            }
            let errors = with.error_rate() - without.error_rate() > err_limit;
            let slow = without.tries >= 20
                && with.latency.quantile(0.99) as f64 > factor * without.latency.quantile(0.99) as f64;
            if errors || slow {
                pairs.push(g);
            }
        }
        let (services, region_count) = distinct(&pairs, regions);
        let p99 = |f: &FlowStats| f.latency_fault.quantile(0.99) as i64;
        TwinOutcome {
            excess_failed: self
                .flows
                .iter()
                .zip(&twin.flows)
                .map(|(a, b)| a.fault_failed as i64 - b.fault_failed as i64)
                .collect(),
            excess_p99_ns: self
                .flows
                .iter()
                .zip(&twin.flows)
                .map(|(a, b)| {
                    if a.latency_fault.count() == 0 || b.latency_fault.count() == 0 {
                        0
                    } else {
                        p99(a) - p99(b)
                    }
                })
                .collect(),
            breach: breached(scn, services, region_count),
            pairs,
            services,
            regions: region_count,
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

/// The scenario's `degraded_when` (error rate, latency factor), or the defaults.
fn degraded_when(scn: &Scenario) -> (f64, f64) {
    scn.blast_radius
        .as_ref()
        .map(|b| (b.degraded_error_rate, b.degraded_latency_factor))
        .unwrap_or((0.01, 2.0))
}

/// Distinct services and regions among degraded groups (in group order).
fn distinct(pairs: &[usize], regions: usize) -> (u32, u32) {
    let mut services: Vec<usize> = pairs.iter().map(|g| g / regions).collect();
    services.dedup();
    let mut region_set: Vec<usize> = pairs.iter().map(|g| g % regions).collect();
    region_set.sort_unstable();
    region_set.dedup();
    (services.len() as u32, region_set.len() as u32)
}

/// Whether a radius of that many services and regions exceeds the declared one.
fn breached(scn: &Scenario, services: u32, regions: u32) -> bool {
    scn.blast_radius
        .as_ref()
        .is_some_and(|b| b.max_services.is_some_and(|m| services > m) || b.max_regions.is_some_and(|m| regions > m))
}

/// The static blast radius: every service that transitively calls a fault
/// target (see [`crate::model::reach`]).
pub fn static_blast_radius(topo: &Topology, scn: &Scenario) -> Vec<usize> {
    crate::model::reach::static_blast_radius(topo, scn)
}

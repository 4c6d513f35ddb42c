//! The resolved model: a topology and a scenario with every name turned into
//! an id, every duration into integer nanoseconds and every default applied.
//!
//! Defaults live here, in one place (see also `docs/format.md`):
//! `replicas = 1`, `concurrency = 1`, `queue = 0`, `error_rate = 0`,
//! `balancer = "least_outstanding"`, `locality = "prefer_local"`,
//! `p = 1`, `required = true`, no timeout, one try, `warmup_s = 0`,
//! `replications = 100`, `seed = 1`, intra-region latency 0.

mod dist;
mod ids;

pub use dist::Dist;
pub use ids::{FlowId, QueueId, RegionId, ServiceId};

use std::path::PathBuf;

pub use crate::input::raw::{Balancer, FaultKind, Jitter, Locality, OnCatch, SloKind};

/// Nanoseconds per millisecond and per second: simulation time is integer ns.
pub const NS_PER_MS: f64 = 1e6;
pub const NS_PER_S: f64 = 1e9;

/// The most flows a topology may declare (flows are kept in a bit mask).
pub const MAX_FLOWS: usize = 64;

/// A mesh: regions, the network between them, request flows and services.
#[derive(Clone, Debug)]
pub struct Topology {
    pub name: String,
    pub description: String,
    pub path: PathBuf,
    pub regions: Vec<String>,
    /// One-way latency from region a to b at `a * regions.len() + b`;
    /// the diagonal is the intra-region latency; `None`: no link.
    pub latency: Vec<Option<Dist>>,
    /// For each region: the regions reachable from it, itself first, then the
    /// others by increasing median link latency (ties by region order).
    pub nearest: Vec<Vec<RegionId>>,
    pub flows: Vec<Flow>,
    pub services: Vec<Service>,
    pub queues: Vec<Queue>,
}

impl Topology {
    pub fn link(&self, from: RegionId, to: RegionId) -> Option<&Dist> {
        self.latency[from.index() * self.regions.len() + to.index()].as_ref()
    }

    pub fn service_by_name(&self, name: &str) -> Option<ServiceId> {
        self.services
            .iter()
            .position(|s| s.name == name)
            .map(ServiceId::from_index)
    }

    pub fn region_by_name(&self, name: &str) -> Option<RegionId> {
        self.regions.iter().position(|r| r == name).map(RegionId::from_index)
    }

    pub fn flow_by_name(&self, name: &str) -> Option<FlowId> {
        self.flows.iter().position(|f| f.name == name).map(FlowId::from_index)
    }
}

/// A request type entering the mesh.
#[derive(Clone, Debug)]
pub struct Flow {
    pub name: String,
    pub entry: ServiceId,
    /// Normalised share of arrivals (the shares of all flows sum to 1).
    pub share: f64,
    /// Order value, for money at risk.
    pub value: Option<Dist>,
}

/// A service: its replicas in each region it runs in and what it calls.
#[derive(Clone, Debug)]
pub struct Service {
    pub name: String,
    pub kind: String,
    /// `present[region]`: the service runs there.
    pub present: Vec<bool>,
    pub replicas: u32,
    pub concurrency: u32,
    pub queue: u32,
    /// Own work per request, in ns.
    pub service_time: Dist,
    pub error_rate: f64,
    pub balancer: Balancer,
    pub locality: Locality,
    pub health_check: Option<HealthCheck>,
    /// Token bucket per replica: arrivals beyond it are rejected (429).
    pub rate_limit: Option<RateLimit>,
    /// Requests that waited longer than this for a server are dropped (503).
    pub queue_timeout_ns: Option<u64>,
    pub outlier_detection: Option<Outlier>,
    pub quality: Option<Quality>,
    pub validates: Option<Validates>,
    pub calls: Vec<Call>,
    /// `plan[flow]`: the stages this service runs for that flow, in order;
    /// each stage lists the indices of its calls (run in parallel).
    pub plan: Vec<Vec<Vec<u16>>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct HealthCheck {
    pub interval_ns: u64,
    pub unhealthy_after: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RateLimit {
    pub per_s: f64,
    pub burst: f64,
}

/// Envoy-style outlier detection: a replica answering `consecutive_errors`
/// failures in a row is ejected for `base_ejection_ns` × its ejection count.
#[derive(Clone, Debug, PartialEq)]
pub struct Outlier {
    pub consecutive_errors: u32,
    pub base_ejection_ns: u64,
    pub max_ejection_percent: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Quality {
    pub wrong_rate: f64,
    pub discount: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Validates {
    pub catches: f64,
    pub on_catch: OnCatch,
}

/// Where a call goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallTarget {
    Service(ServiceId),
    Queue(QueueId),
}

/// What happens when a call finally fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    Service(ServiceId),
    Degrade,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Retry {
    /// Every try counted, the first included (Resilience4j's maxAttempts).
    pub attempts: u32,
    pub backoff_ns: u64,
    pub max_backoff_ns: u64,
    pub jitter: Jitter,
    /// Retries may add at most this fraction of the call's first tries.
    pub budget: Option<f64>,
}

/// A Resilience4j count-based circuit breaker.
#[derive(Clone, Debug, PartialEq)]
pub struct Breaker {
    /// Open when failures/calls ≥ this (1.0 + ε disables).
    pub failure_rate: f64,
    /// Open when slow calls/calls ≥ this.
    pub slow_call_rate: f64,
    pub slow_call_ns: u64,
    pub window: u32,
    pub min_calls: u32,
    pub open_ns: u64,
    pub half_open_calls: u32,
}

#[derive(Clone, Debug)]
pub struct Call {
    pub to: CallTarget,
    /// Bit `f` set: the call is made for flow `f`.
    pub flows: u64,
    pub stage: u32,
    pub p: f64,
    pub timeout_ns: Option<u64>,
    pub per_try_timeout_ns: Option<u64>,
    pub retry: Option<Retry>,
    pub breaker: Option<Breaker>,
    pub fallback: Option<Fallback>,
    pub required: bool,
    /// Bulkhead: calls in flight from one caller replica through this call.
    pub max_in_flight: Option<u32>,
    /// `Some(false)`: a charging call without idempotency keys (a retry
    /// charges again); `Some(true)`: deduplicated by the callee; `None`: not a charge.
    pub idempotency: Option<bool>,
}

/// An asynchronous hand-off (broker).
#[derive(Clone, Debug)]
pub struct Queue {
    pub name: String,
    pub present: Vec<bool>,
    pub consumer: ServiceId,
    pub consumers: u32,
    pub max_depth: u64,
    pub redeliver_attempts: u32,
    pub redeliver_backoff_ns: u64,
}

/// One catalog entry: an experiment against a topology.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub path: PathBuf,
    pub topology_path: PathBuf,
    pub owner: String,
    pub severity: String,
    pub hypothesis: String,
    pub rollback: String,
    pub tags: Vec<String>,
    pub duration_ns: u64,
    pub warmup_ns: u64,
    pub replications: u32,
    pub seed: u64,
    /// Poisson arrival rate per region, requests per second.
    pub rate_per_s: Vec<f64>,
    pub surges: Vec<Surge>,
    pub faults: Vec<Fault>,
    pub slos: Vec<Slo>,
    pub blast_radius: Option<BlastRadius>,
    pub expect: Expect,
    pub guardrails: Vec<Guardrail>,
    /// Features the file uses that the engine does not simulate yet; `run`
    /// refuses such a scenario rather than give a misleading answer.
    pub not_simulated: Vec<String>,
}

/// Automated remediation: a burn-rate alert on an SLO and the action it takes.
#[derive(Clone, Debug, PartialEq)]
pub struct Guardrail {
    pub name: String,
    /// Index into the scenario's SLOs.
    pub slo: usize,
    /// Fire when the error budget burns at least this fast over the window(s).
    pub burn_rate: f64,
    pub window_ns: u64,
    /// A second, shorter window that must burn too (multiwindow alerts).
    pub short_window_ns: Option<u64>,
    /// From the condition first holding to the alert firing (and the action).
    pub detect_delay_ns: u64,
    pub action: Action,
}

/// What a guardrail does when it fires.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Calls to `from` go to `to` instead.
    FailoverService { from: ServiceId, to: ServiceId },
    /// Calls to `service` go to region `to`.
    FailoverRegion { service: ServiceId, to: RegionId },
    /// Calls to `service` go straight to their fallback.
    KillSwitch { service: ServiceId },
    /// Arrivals of the flows in the mask are rejected with probability `share`.
    Shed { share: f64, flows: u64 },
    /// `replicas` more replicas per region come up after `delay_ns`.
    Scale {
        service: ServiceId,
        replicas: u32,
        delay_ns: u64,
    },
    /// Undo a bad deploy (needs `[rollout]`, not simulated yet).
    Rollback,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Surge {
    pub start_ns: u64,
    pub end_ns: u64,
    pub multiplier: f64,
    /// `regions[r]`: the surge applies to region r.
    pub regions: Vec<bool>,
}

/// What a fault does while it is active.
#[derive(Clone, Debug)]
pub enum FaultEffect {
    /// Calls to the target (or messages crossing the link) wait `delay`
    /// first (Istio fault delay, Toxiproxy latency), for `percent` of them.
    Latency { delay: Dist, percent: f64 },
    /// Calls to the target fail at once (Istio fault abort), for `percent` of calls.
    Abort { percent: f64, status: u16 },
    /// Replicas die (in-flight work fails, new calls are refused); they
    /// restart empty when the fault ends, if it has a duration.
    Kill { count: KillCount },
    /// The target's replicas take calls and never answer (and fail health checks).
    Blackhole,
    /// Every replica of every service in the region dies; its queues stall.
    RegionOutage,
    /// Nothing crosses the link: calls and answers are lost (callers time out).
    Partition,
    /// `percent` of messages crossing the link (or of the target's answers) are lost.
    PacketLoss { percent: f64 },
    /// Service time of the target is multiplied by `factor`.
    Slowdown { factor: f64 },
    /// The AI service's wrong-output rate (and effect) while it lasts.
    Drift { wrong_rate: f64, discount: Option<f64> },
    /// The queue's consumers stop.
    QueueStall,
    /// A kind the engine does not simulate yet (validated, then refused by `run`).
    NotYetSimulated,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum KillCount {
    Replicas(u32),
    Percent(f64),
}

#[derive(Clone, Debug)]
pub struct Fault {
    pub name: String,
    pub kind: FaultKind,
    pub effect: FaultEffect,
    pub service: Option<ServiceId>,
    /// `regions[r]`: the fault applies in region r.
    pub regions: Vec<bool>,
    /// A link fault's two regions.
    pub link: Option<(RegionId, RegionId)>,
    pub queue: Option<QueueId>,
    /// Start time since the replication began, ns.
    pub start: Dist,
    /// How long it lasts, ns; `None`: to the end of the run.
    pub duration: Option<Dist>,
    /// Random faults: alternating healthy (exponential, mean `mtbf_ns`) and
    /// faulty (exponential, mean `mttr_ns`) periods from `start` on; a random
    /// kill runs this process for each replica on its own.
    pub random: Option<RandomFault>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RandomFault {
    pub mtbf_ns: u64,
    pub mttr_ns: u64,
}

#[derive(Clone, Debug)]
pub struct Slo {
    pub name: String,
    /// `None`: every flow.
    pub flow: Option<FlowId>,
    pub kind: SloKind,
    pub objective: f64,
    pub threshold_ns: Option<u64>,
    pub window_ns: Option<u64>,
    /// The queue of a backlog SLO.
    pub queue: Option<QueueId>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BlastRadius {
    pub max_services: Option<u32>,
    pub max_regions: Option<u32>,
    pub degraded_error_rate: f64,
    pub degraded_latency_factor: f64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Expect {
    pub max_violation_probability: Vec<(String, f64)>,
    pub max_containment_breach_probability: Option<f64>,
}

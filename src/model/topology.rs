//! The resolved topology: regions, the network between them, request
//! flows, services with their calls and resilience mechanisms, and queues.

use std::path::PathBuf;

use serde::Deserialize;

use super::{Dist, FlowId, KubernetesMapping, QueueId, RegionId, ServiceId};

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
    /// Namespaces → regions (`[kubernetes]`); see `Topology::services_matching`.
    pub kubernetes: KubernetesMapping,
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

    /// The flows' shares added up in order: an arrival drawing `u` in
    /// [0, 1) takes the first flow whose running total exceeds `u`.
    pub fn cumulative_shares(&self) -> Vec<f64> {
        let mut acc = 0.0;
        self.flows
            .iter()
            .map(|f| {
                acc += f.share;
                acc
            })
            .collect()
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
    /// The pod labels of the service's workloads (`kubernetes.labels`),
    /// sorted by key.
    pub kubernetes_labels: Vec<(String, String)>,
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

/// How a caller picks one of a service's replicas in a region.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Balancer {
    RoundRobin,
    Random,
    /// Power of two choices: the replica with fewer requests outstanding
    /// (busy + waiting) of two drawn at random.
    LeastOutstanding,
}

/// Which regions a call may go to.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Locality {
    /// The caller's region when it has a routable replica, else the nearest that has one.
    PreferLocal,
    /// The caller's region only.
    LocalOnly,
    /// Every reachable replica, equally likely.
    Any,
}

/// What a validating service does with a wrong AI output it catches.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OnCatch {
    /// Answer degraded.
    Degrade,
    /// Fail the call (not retried).
    Fail,
}

/// How a retry's backoff `b` is randomised.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    /// b itself.
    None,
    /// U(0, b).
    Full,
    /// b/2 + U(0, b/2).
    Equal,
    /// min(max_backoff, U(backoff, 3 × the previous wait)).
    Decorrelated,
}

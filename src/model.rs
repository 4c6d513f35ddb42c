//! The resolved model: a topology and a scenario with every name turned into
//! an id, every duration into integer nanoseconds and every default applied.
//!
//! This is what the simulator reads. It is built only by the input layer
//! (`crate::input`), which checks every range and reference first, so the
//! model's invariants (ids in range, distributions valid, call graph
//! acyclic) hold without checks here. The model depends on nothing else in
//! the crate; the defaults applied while building it are listed in one
//! place, `input/defaults.rs` (and in `docs/format.md`).
//!
//! * `topology.rs`: regions, network, flows, services and their calls, queues;
//!   `kubernetes.rs`: how they map onto namespaces and pod labels.
//! * `scenario.rs`: run, workload, faults, SLOs, blast radius, guardrails, rollout, expectations.
//! * `reach.rs`: the dependency graph and static blast radii.
//! * `dist.rs`: distributions of durations and values; `ids.rs`: newtype ids over indices.
//! * `uncertain.rs`: uncertain inputs, drawn once per replication.

mod dist;
mod ids;
mod kubernetes;
pub mod reach;
mod scenario;
mod topology;
mod uncertain;

pub use dist::Dist;
pub use ids::{FlowId, QueueId, RegionId, ServiceId};
pub use kubernetes::{KubernetesMapping, KubernetesMatch, REGION_LABEL};
pub use scenario::{
    Action, Analysis, BlastRadius, DEFAULT_REPLICATIONS, Expect, Fault, FaultEffect, FaultKind, Guardrail, KillCount,
    MAX_REPLICATIONS, RandomFault, Release, Rollout, RolloutStep, Scenario, Slo, SloKind, Surge,
};
pub use topology::{
    Balancer, Breaker, Call, CallTarget, Fallback, Flow, HealthCheck, Jitter, Locality, OnCatch, Outlier, Quality,
    Queue, RateLimit, Retry, Service, Topology, Validates,
};
pub use uncertain::{InputDist, UncertainInput, Uncertainty, normal_quantile};

/// Nanoseconds per millisecond and per second: simulation time is integer ns.
pub const NS_PER_MS: f64 = 1e6;
pub const NS_PER_S: f64 = 1e9;

/// The most flows a topology may declare (flows are kept in a bit mask).
pub const MAX_FLOWS: usize = 64;

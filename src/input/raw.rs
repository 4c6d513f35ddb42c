//! Raw input: serde structs that mirror exactly what a user writes.
//!
//! Nothing here is checked beyond its shape: names are not resolved, ranges
//! are not enforced. `resolve` turns these into the model. Every struct
//! denies unknown fields so a misspelt key fails with its position.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};

use crate::model::{Balancer, FaultKind, Jitter, Locality, OnCatch, SloKind};

// ---------------------------------------------------------------- distributions

/// The kind of a distribution, `dist = "..."`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DistKind {
    Const,
    Exp,
    Uniform,
    Lognormal,
    Gamma,
    Percentiles,
    Empirical,
}

/// A distribution as written: keys ending in `_ms` are milliseconds, keys
/// without a unit take the field's own unit. Which keys a kind needs is
/// checked in `resolve`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawDistTable {
    pub dist: Option<DistKind>,
    pub ms: Option<f64>,
    pub value: Option<f64>,
    pub mean_ms: Option<f64>,
    pub mean: Option<f64>,
    pub min_ms: Option<f64>,
    pub min: Option<f64>,
    pub max_ms: Option<f64>,
    pub max: Option<f64>,
    pub median_ms: Option<f64>,
    pub median: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p50: Option<f64>,
    pub p90_ms: Option<f64>,
    pub p90: Option<f64>,
    pub p99_ms: Option<f64>,
    pub p99: Option<f64>,
    pub cv: Option<f64>,
    pub file: Option<String>,
    pub column: Option<String>,
}

/// A distribution field: a bare number (a constant in the field's unit) or a table.
#[derive(Clone, Debug, PartialEq)]
pub enum RawDist {
    Number(f64),
    Table(Box<RawDistTable>),
}

impl<'de> Deserialize<'de> for RawDist {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawDist;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or a distribution table such as { dist = \"exp\", mean_ms = 5 }")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawDist, E> {
                Ok(RawDist::Number(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawDist, E> {
                Ok(RawDist::Number(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawDist, E> {
                Ok(RawDist::Number(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawDist, A::Error> {
                RawDistTable::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|t| RawDist::Table(Box::new(t)))
            }
        }
        d.deserialize_any(V)
    }
}

// ---------------------------------------------------------------- topology

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRegion {
    pub name: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    pub intra_region: Option<RawDist>,
    #[serde(default)]
    pub links: Vec<RawLink>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLink {
    pub between: Vec<String>,
    pub latency: RawDist,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFlow {
    pub name: String,
    pub entry: String,
    pub share: Option<f64>,
    pub value: Option<RawDist>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawHealthCheck {
    pub interval_ms: f64,
    pub unhealthy_after: u32,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawWrongEffect {
    pub discount: Option<f64>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawQuality {
    pub wrong_rate: f64,
    pub wrong_effect: Option<RawWrongEffect>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawValidates {
    pub catches: f64,
    pub on_catch: OnCatch,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawRetry {
    pub attempts: u32,
    pub backoff_ms: Option<f64>,
    pub max_backoff_ms: Option<f64>,
    pub jitter: Option<Jitter>,
    pub budget: Option<f64>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawBreaker {
    pub failure_rate: Option<f64>,
    pub slow_call_rate: Option<f64>,
    pub slow_call_ms: Option<f64>,
    pub window: u32,
    pub min_calls: Option<u32>,
    pub open_ms: f64,
    pub half_open_calls: Option<u32>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimit {
    pub per_s: f64,
    pub burst: Option<f64>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawOutlier {
    pub consecutive_errors: u32,
    pub base_ejection_ms: Option<f64>,
    pub max_ejection_percent: Option<f64>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCall {
    pub to: String,
    pub flows: Option<Vec<String>>,
    pub stage: Option<u32>,
    pub p: Option<f64>,
    pub timeout_ms: Option<f64>,
    pub per_try_timeout_ms: Option<f64>,
    pub retry: Option<RawRetry>,
    pub circuit_breaker: Option<RawBreaker>,
    pub fallback: Option<String>,
    pub required: Option<bool>,
    pub max_in_flight: Option<i64>,
    pub idempotency: Option<bool>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    pub name: String,
    pub kind: Option<String>,
    pub regions: Vec<String>,
    pub replicas: Option<i64>,
    pub concurrency: Option<i64>,
    pub queue: Option<i64>,
    pub service_time: RawDist,
    pub error_rate: Option<f64>,
    pub balancer: Option<Balancer>,
    pub locality: Option<Locality>,
    pub health_check: Option<RawHealthCheck>,
    pub rate_limit: Option<RawRateLimit>,
    pub queue_timeout_ms: Option<f64>,
    pub outlier_detection: Option<RawOutlier>,
    pub quality: Option<RawQuality>,
    pub validates: Option<RawValidates>,
    #[serde(default)]
    pub calls: Vec<RawCall>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawRedeliver {
    pub attempts: u32,
    pub backoff_ms: Option<f64>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQueue {
    pub name: String,
    pub regions: Vec<String>,
    pub consumer: String,
    pub consumers: Option<i64>,
    pub max_depth: Option<i64>,
    pub redeliver: Option<RawRedeliver>,
}

/// The top-level keys of a topology file; each section is read on its own
/// so that every bad section is reported, not just the first.
pub const TOPOLOGY_KEYS: &[&str] = &[
    "name",
    "description",
    "regions",
    "network",
    "flows",
    "services",
    "queues",
];

#[derive(Clone, Debug, Default)]
pub struct RawTopology {
    pub name: Option<String>,
    pub description: Option<String>,
    pub regions: Vec<RawRegion>,
    pub network: RawNetwork,
    pub flows: Vec<RawFlow>,
    pub services: Vec<RawService>,
    pub queues: Vec<RawQueue>,
}

// ---------------------------------------------------------------- scenario

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExperiment {
    pub name: String,
    pub topology: String,
    pub owner: Option<String>,
    pub severity: Option<String>,
    pub hypothesis: Option<String>,
    pub rollback: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub description: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRun {
    pub duration_s: f64,
    pub warmup_s: Option<f64>,
    pub replications: Option<i64>,
    pub seed: Option<u64>,
}

/// `rate_per_s`: one number for every region, or a table region → rate.
#[derive(Clone, Debug)]
pub enum RawRates {
    Every(f64),
    PerRegion(BTreeMap<String, f64>),
}

impl<'de> Deserialize<'de> for RawRates {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawRates;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a rate per second for every region, or a table such as { eu-west = 300, us-east = 200 }")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawRates, E> {
                Ok(RawRates::Every(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawRates, E> {
                Ok(RawRates::Every(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawRates, E> {
                Ok(RawRates::Every(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawRates, A::Error> {
                BTreeMap::<String, f64>::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawRates::PerRegion)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSurge {
    pub start_s: f64,
    pub duration_s: f64,
    pub multiplier: f64,
    pub regions: Option<Vec<String>>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorkload {
    pub rate_per_s: RawRates,
    #[serde(default)]
    pub surges: Vec<RawSurge>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    pub service: Option<String>,
    pub region: Option<String>,
    pub between: Option<Vec<String>>,
    pub queue: Option<String>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawRandomFault {
    pub mtbf_s: f64,
    pub mttr_s: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFault {
    pub kind: FaultKind,
    pub name: Option<String>,
    pub target: RawTarget,
    pub start_s: Option<RawDist>,
    pub duration_s: Option<RawDist>,
    pub random: Option<RawRandomFault>,
    pub delay: Option<RawDist>,
    pub percent: Option<f64>,
    pub error: Option<i64>,
    pub replicas: Option<i64>,
    pub factor: Option<f64>,
    pub wrong_rate: Option<f64>,
    pub wrong_effect: Option<RawWrongEffect>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSlo {
    pub name: String,
    pub flow: Option<String>,
    pub kind: SloKind,
    pub objective: f64,
    pub threshold_ms: Option<f64>,
    pub window_s: Option<f64>,
    pub queue: Option<String>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawDegradedWhen {
    pub error_rate: Option<f64>,
    pub latency_factor: Option<f64>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawBlastRadius {
    pub max_services: Option<i64>,
    pub max_regions: Option<i64>,
    pub degraded_when: Option<RawDegradedWhen>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGuardWhen {
    pub slo: String,
    pub burn_rate: f64,
    pub window_s: f64,
    pub short_window_s: Option<f64>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Failover,
    KillSwitch,
    Rollback,
    Shed,
    Scale,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAction {
    pub kind: ActionKind,
    pub from: Option<String>,
    pub to: Option<String>,
    pub service: Option<String>,
    pub share: Option<f64>,
    pub flows: Option<Vec<String>>,
    pub replicas: Option<i64>,
    pub delay_s: Option<f64>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGuardrail {
    pub name: String,
    pub when: RawGuardWhen,
    pub detect_delay_s: Option<f64>,
    pub action: RawAction,
}

#[derive(Clone, Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    #[serde(default)]
    pub max_violation_probability: BTreeMap<String, f64>,
    pub max_containment_breach_probability: Option<f64>,
}

/// `[rollout]` (Argo Rollouts): kept as written until rollouts are simulated.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRollout {
    pub service: String,
    pub overrides: toml::Table,
    pub steps: Vec<toml::Table>,
}

pub const SCENARIO_KEYS: &[&str] = &[
    "experiment",
    "run",
    "workload",
    "faults",
    "slos",
    "blast_radius",
    "guardrails",
    "expect",
    "rollout",
];

#[derive(Clone, Debug, Default)]
pub struct RawScenario {
    pub experiment: Option<RawExperiment>,
    pub run: Option<RawRun>,
    pub workload: Option<RawWorkload>,
    pub faults: Vec<RawFault>,
    pub slos: Vec<RawSlo>,
    pub blast_radius: Option<RawBlastRadius>,
    pub guardrails: Vec<RawGuardrail>,
    pub expect: Option<RawExpect>,
    pub rollout: Option<RawRollout>,
}

//! Every default the input layer applies, in one place.
//!
//! A key the user leaves out takes the value named here; the resolvers use
//! these names, never a literal, and `docs/format.md` lists the same values
//! for users (change both together). Units are those of the key the default
//! stands for (`_ms`, `_s`, or plain).
//!
//! Some keys mean "none" when left out rather than taking a value: a call's
//! `timeout_ms` and `per_try_timeout_ms` (wait forever), `retry` (one try),
//! `circuit_breaker`, `fallback`, `max_in_flight`, `idempotency` (not a
//! charge), a service's `health_check` (every replica believed healthy),
//! `rate_limit`, `queue_timeout_ms`, `outlier_detection`, `quality`,
//! `validates`; a flow's `value`; a fault's `duration_s` (to the end of the
//! run) and `random`; an SLO's `window_s`; `[blast_radius]`'s limits. Lists
//! left out mean "all": a call's or a shed action's `flows` (every flow), a
//! surge's `regions` and a fault target's `region` (every region). Text
//! left out is empty: a topology's `description`, an experiment's
//! `severity`, and its `owner`, `hypothesis` and `rollback` (whose absence
//! breaks a catalog rule).

use crate::model::{Balancer, FaultKind, Jitter, Locality};

// ---------------------------------------------------------------- distributions

/// A `percentiles` table's `min`: the quantile function starts at 0.
pub const PERCENTILES_MIN: f64 = 0.0;

// ---------------------------------------------------------------- topology

/// `network.intra_region`: one-way latency inside a region.
pub const INTRA_REGION_LATENCY_MS: f64 = 0.0;
/// `[[flows]] share`: flows without shares split arrivals equally (shares are normalised).
pub const FLOW_SHARE: f64 = 1.0;

/// `[[services]] kind`: a free tag.
pub const SERVICE_KIND: &str = "service";
/// `replicas` per region.
pub const REPLICAS: i64 = 1;
/// `concurrency`: servers per replica.
pub const CONCURRENCY: i64 = 1;
/// `queue`: waiting places per replica.
pub const QUEUE: i64 = 0;
/// `error_rate`: the service's own failures.
pub const ERROR_RATE: f64 = 0.0;
pub const BALANCER: Balancer = Balancer::LeastOutstanding;
pub const LOCALITY: Locality = Locality::PreferLocal;

/// `rate_limit.burst`: the bucket holds one second of tokens (at least one).
pub fn rate_limit_burst(per_s: f64) -> f64 {
    per_s.max(1.0)
}
/// `outlier_detection.base_ejection_ms` (Envoy's 30 s).
pub const BASE_EJECTION_MS: f64 = 30_000.0;
/// `outlier_detection.max_ejection_percent` (Envoy's 10%; at least one replica).
pub const MAX_EJECTION_PERCENT: f64 = 10.0;
/// `quality.wrong_effect.discount`: a wrong output costs nothing unless told.
pub const WRONG_OUTPUT_DISCOUNT: f64 = 0.0;

/// `[[services.calls]] stage`: the call's own index, so calls run one after another.
pub fn call_stage(call_index: usize) -> u32 {
    call_index as u32
}
/// `p`: the probability the call is made.
pub const CALL_P: f64 = 1.0;
/// `required`: a failed call fails its caller.
pub const CALL_REQUIRED: bool = true;
/// `retry.backoff_ms` (Envoy's 25 ms base interval).
pub const RETRY_BACKOFF_MS: f64 = 25.0;
/// `retry.max_backoff_ms`: ten times the base backoff, capped at the key's
/// limit (1 h) so a default never breaks a rule the user did not write.
pub fn retry_max_backoff_ms(backoff_ms: f64) -> f64 {
    (backoff_ms.max(1.0) * 10.0).min(3_600_000.0)
}
pub const RETRY_JITTER: Jitter = Jitter::Full;
/// `circuit_breaker.failure_rate` / `slow_call_rate` left out: a rate above
/// 1, which no window reaches, so that condition never opens the breaker.
pub const BREAKER_RATE_OFF: f64 = 2.0;
/// `circuit_breaker.slow_call_ms` (Resilience4j's 60 s).
pub const BREAKER_SLOW_CALL_MS: f64 = 60_000.0;
/// `circuit_breaker.min_calls`: the window, at most 100 (Resilience4j's minimumNumberOfCalls).
pub fn breaker_min_calls(window: u32) -> u32 {
    window.min(100)
}
/// `circuit_breaker.half_open_calls` (Resilience4j's permittedNumberOfCallsInHalfOpenState).
pub const BREAKER_HALF_OPEN_CALLS: u32 = 10;

/// `[[queues]] consumers`: deliveries in flight per region.
pub const QUEUE_CONSUMERS: i64 = 1;
/// `max_depth`: messages held per region; publishes beyond it fail.
pub const QUEUE_MAX_DEPTH: i64 = 100_000;
/// No `redeliver`: one try, then dead-letter.
pub const REDELIVER_ATTEMPTS_NONE: u32 = 1;
pub const REDELIVER_BACKOFF_MS_NONE: f64 = 0.0;
/// `redeliver.backoff_ms`.
pub const REDELIVER_BACKOFF_MS: f64 = 1000.0;

/// `[[services]] kubernetes.labels`: the labels Kubernetes' recommended
/// practice gives a workload named after the service, so a selector on
/// either matches.
pub fn kubernetes_labels(service: &str) -> Vec<(String, String)> {
    vec![
        ("app".to_string(), service.to_string()),
        ("app.kubernetes.io/name".to_string(), service.to_string()),
    ]
}

// ---------------------------------------------------------------- scenario

/// `run.warmup_s`: every request counts.
pub const WARMUP_S: f64 = 0.0;
/// `run.replications` (`--replications` overrides).
pub const REPLICATIONS: i64 = 100;
/// `run.seed` (`--seed` overrides).
pub const SEED: u64 = 1;
/// `run.epoch`: 2026-01-01T00:00:00Z, the wall-clock instant a replication's
/// simulated time starts at in traces and series.
pub const EPOCH_UNIX_NS: u64 = 1_767_225_600_000_000_000;
/// `run.scrape_interval_s`: Prometheus' usual 15 s.
pub const SCRAPE_INTERVAL_S: f64 = 15.0;

/// `[[faults]] name`: the kind and the fault's index, e.g. `latency-0`.
pub fn fault_name(kind: FaultKind, index: usize) -> String {
    format!("{}-{index}", kind.name())
}
/// `start_s`: the fault starts with the run.
pub const FAULT_START_S: f64 = 0.0;
/// `percent`: every call (latency, abort, packet loss) or replica (kill).
pub const FAULT_PERCENT: f64 = 100.0;
/// An abort's `error`: HTTP 503 Service Unavailable (retried).
pub const ABORT_STATUS: i64 = 503;

/// `blast_radius.degraded_when.error_rate`.
pub const DEGRADED_ERROR_RATE: f64 = 0.01;
/// `blast_radius.degraded_when.latency_factor`: p99 twice the pre-fault p99.
pub const DEGRADED_LATENCY_FACTOR: f64 = 2.0;

/// `[[guardrails]] detect_delay_s`: the action starts when the alert condition holds.
pub const DETECT_DELAY_S: f64 = 0.0;
/// A `shed` action's `share` of arrivals rejected.
pub const SHED_SHARE: f64 = 0.5;
/// A `scale` action's `replicas` added per region.
pub const SCALE_REPLICAS: i64 = 1;
/// A `scale` action's `delay_s`: provisioning time.
pub const SCALE_DELAY_S: f64 = 60.0;

/// `[rollout] start_s`: the first step runs when the replication begins.
pub const ROLLOUT_START_S: f64 = 0.0;
/// An analysis' `initial_delay_s`: the first measurement when it starts.
pub const ANALYSIS_INITIAL_DELAY_S: f64 = 0.0;
/// An analysis' `count` when neither `count` nor `interval_s` is given
/// (Argo: one measurement).
pub const ANALYSIS_COUNT: i64 = 1;
/// An analysis' `failure_limit` (Argo's failureLimit): the first failed
/// measurement fails it.
pub const ANALYSIS_FAILURE_LIMIT: i64 = 0;
/// An analysis' `inconclusive_limit` (Argo's inconclusiveLimit).
pub const ANALYSIS_INCONCLUSIVE_LIMIT: i64 = 0;
/// The background analysis' `starting_step`: from the first step.
pub const ANALYSIS_STARTING_STEP: i64 = 0;

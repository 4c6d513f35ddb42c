//! The schema of `summary.json`, declared once: `run` and `merge` build it
//! from the [`crate::montecarlo::Aggregate`] ([`Summary::of`]) and write it,
//! the report and `check --results`/`--baseline` read it back, the gate
//! judges it and `sweep` reads its grid points off it.
//!
//! The field names and their meaning are a stable interface (documented in
//! `docs/outputs.md`). The order of the fields is the order in the file.
//!
//! Reading is lenient where results written by older chaoscal versions
//! lack a field: such a field is an `Option` (absent: the report leaves the
//! figure out) or `#[serde(default)]` (absent: zero or empty). chaoscal
//! always writes every one of them. Unknown fields are ignored, so results
//! written by a newer chaoscal still read.

use serde::{Deserialize, Serialize};

/// `summary.json`: the machine-readable result of one scenario.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    pub experiment: String,
    /// The scenario file, as given on the command line.
    #[serde(default)]
    pub scenario: String,
    /// The command that reproduces this result (empty in older results).
    #[serde(default)]
    pub command: String,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub hypothesis: String,
    #[serde(default)]
    pub topology: String,
    pub seed: u64,
    pub replications: u64,
    #[serde(default)]
    pub duration_s: f64,
    #[serde(default)]
    pub warmup_s: f64,
    #[serde(default)]
    pub faults: Vec<FaultSummary>,
    pub slos: Vec<SloSummary>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guardrails: Vec<GuardrailSummary>,
    /// Only with a `[rollout]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutSummary>,
    /// Only with faults or a rollout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blast_radius: Option<BlastSummary>,
    pub flows: Vec<FlowSummary>,
    pub services: Vec<ServiceSummary>,
    #[serde(default)]
    pub calls: Vec<CallSummary>,
    #[serde(default)]
    pub queues: Vec<QueueSummary>,
    #[serde(default)]
    pub money: Money,
    #[serde(default)]
    pub events: u64,
}

/// Distribution of one figure over replications.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Spread {
    pub mean: f64,
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    /// Sample standard deviation over replications (n − 1 in the
    /// denominator; 0 below two replications), for two-sample tests.
    /// Absent in results written before it was added.
    pub sd: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FaultSummary {
    pub name: String,
    #[serde(default)]
    pub kind: String,
    /// `service@region+region`.
    #[serde(default)]
    pub target: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SloSummary {
    pub name: String,
    #[serde(default)]
    pub kind: String,
    /// `null`: every flow.
    #[serde(default)]
    pub flow: Option<String>,
    #[serde(default)]
    pub objective: f64,
    /// Replications that violated it.
    pub violations: u64,
    pub probability: f64,
    pub ci95: [f64; 2],
    /// Good/valid per replication.
    #[serde(default)]
    pub attainment: Option<Spread>,
    /// Error budget consumed per replication (1 = all of it).
    #[serde(default)]
    pub budget_consumed: Option<Spread>,
    /// A latency or backlog SLO's threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_ms: Option<f64>,
    /// The `[expect]` limit on the violation probability, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_violation_probability: Option<f64>,
}

/// What one guardrail did over the replications.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GuardrailSummary {
    pub name: String,
    pub action: String,
    /// Replications in which it fired, their share and its 95% interval.
    pub fired: u64,
    pub probability: f64,
    pub ci95: [f64; 2],
    /// From the first fault start to the alert, over replications where it
    /// fired (null when it never fired).
    pub time_to_detect_s: Option<Spread>,
    /// From the first fault start to the action taking effect (null when it never did).
    pub time_to_mitigate_s: Option<Spread>,
    /// Share of the SLO's error budget spent before mitigation (all of it when it never acted).
    pub budget_burned_before_mitigation: Spread,
    pub shed_requests: u64,
    /// Times it fired per replication (more than once only with `release`:
    /// flapping). Absent in results written before it was measured.
    #[serde(default)]
    pub firings: Option<Spread>,
    /// Seconds its action was in effect per replication, every firing summed.
    #[serde(default)]
    pub time_mitigated_s: Option<Spread>,
}

/// What the rollout did over the replications.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RolloutSummary {
    /// The service whose new version was rolled out, and when it started.
    pub service: String,
    pub start_s: f64,
    /// Replications in which the new version reached weight 100, their
    /// share and its 95% Wilson interval.
    pub reached_full: u64,
    pub probability: f64,
    pub ci95: [f64; 2],
    /// Replications in which it was withdrawn, by an analysis or a guardrail.
    pub rolled_back: u64,
    pub rolled_back_by_analysis: u64,
    pub rolled_back_by_guardrail: u64,
    /// Seconds from `start_s` to the withdrawal, over the replications that
    /// withdrew it (null when none did).
    pub rolled_back_s: Option<Spread>,
    /// Replications in which an inconclusive analysis paused it.
    pub paused: u64,
    /// Requests the new version answered per replication, and those that failed.
    pub exposed_requests: Spread,
    pub exposed_failed: Spread,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FlowSummary {
    pub name: String,
    pub requests: u64,
    /// Degraded included.
    #[serde(default)]
    pub succeeded: u64,
    #[serde(default)]
    pub degraded: u64,
    #[serde(default)]
    pub failed: u64,
    #[serde(default)]
    pub availability: f64,
    #[serde(default)]
    pub latency_ms: LatencyMs,
}

/// Latency over every counted request of every replication.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LatencyMs {
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServiceSummary {
    pub service: String,
    pub region: String,
    pub requests: u64,
    #[serde(default)]
    pub rejected: u64,
    pub errors: u64,
    #[serde(default)]
    pub timeouts: u64,
    #[serde(default)]
    pub rate_limited: u64,
    #[serde(default)]
    pub expired: u64,
    #[serde(default)]
    pub ejections: u64,
    #[serde(default)]
    pub utilization: f64,
    #[serde(default)]
    pub latency_ms: ServiceLatencyMs,
    #[serde(default)]
    pub queue_wait_ms: WaitMs,
}

/// Arrival at the replica to its answer.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceLatencyMs {
    pub mean: f64,
    pub p50: f64,
    pub p99: f64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct WaitMs {
    pub mean: f64,
    pub p99: f64,
}

/// One call site: what the caller's resilience mechanisms did.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CallSummary {
    pub caller: String,
    pub to: String,
    #[serde(default)]
    pub calls: u64,
    #[serde(default)]
    pub tries: u64,
    #[serde(default)]
    pub retries: u64,
    #[serde(default)]
    pub budget_denied: u64,
    #[serde(default)]
    pub short_circuited: u64,
    #[serde(default)]
    pub bulkhead_rejected: u64,
    #[serde(default)]
    pub fallbacks: u64,
    #[serde(default)]
    pub failed: u64,
    #[serde(default)]
    pub breaker_opens: u64,
    /// Mean time per replication that this site's breakers spent open, summed over caller replicas.
    #[serde(default)]
    pub breaker_open_s: f64,
    #[serde(default)]
    pub duplicate_charges: u64,
    #[serde(default)]
    pub duplicate_charge_value: f64,
    #[serde(default)]
    pub duplicates_prevented: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QueueSummary {
    pub queue: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub published: u64,
    #[serde(default)]
    pub rejected: u64,
    #[serde(default)]
    pub delivered: u64,
    #[serde(default)]
    pub redelivered: u64,
    #[serde(default)]
    pub dead_lettered: u64,
    #[serde(default)]
    pub backlog: Backlog,
    /// Publish to the end of successful processing.
    #[serde(default)]
    pub age_ms: WaitMs,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Backlog {
    /// Time-averaged depth over the counted horizon, per replication.
    pub mean: f64,
    pub max: u64,
}

/// Money at risk, over every replication. Each figure is absent (`None`)
/// only in results written before it was measured.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Money {
    pub failed_value: Option<f64>,
    pub wrong_outputs: Option<u64>,
    pub wrong_output_loss: Option<f64>,
    /// Wrong outputs a validating service caught (not in `wrong_outputs`).
    pub wrong_caught: Option<u64>,
    pub duplicate_charges: Option<u64>,
    pub duplicate_charge_value: Option<f64>,
}

/// How far the damage spread, over replications.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct BlastSummary {
    /// Services, regions and share of requests affected, per replication.
    pub services: Spread,
    pub regions: Spread,
    pub share_affected: Spread,
    pub containment_breach_probability: f64,
    pub breach_ci95: [f64; 2],
    /// Replications in which containment was breached, exact; known only
    /// in memory after a run (the file holds the probability, see
    /// [`BlastSummary::breaches`]).
    #[serde(skip)]
    pub breach_count: Option<u64>,
    pub declared: Declared,
    /// Every transitive caller of a fault target, from the graph.
    pub static_services: Vec<String>,
    /// `[degraded services, replications]`, for 0 up to the maximum seen.
    pub histogram: Vec<[u64; 2]>,
    pub pairs: Vec<PairSummary>,
    /// Path-based attribution: failed requests whose path met each fault.
    pub attributed_failures: Vec<Attribution>,
    /// Against each replication's counterfactual twin (runs with `--counterfactual`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counterfactual: Option<CounterfactualSummary>,
}

impl BlastSummary {
    /// Replications (of `replications`) in which containment was breached:
    /// the exact count after a run; from a file, the probability times the
    /// replications, which is exact too — the probability is written to 9
    /// decimals, so the product is within 0.5 of the count below 10⁹
    /// replications.
    pub fn breaches(&self, replications: u64) -> u64 {
        self.breach_count
            .unwrap_or_else(|| (self.containment_breach_probability * replications as f64).round() as u64)
    }
}

/// The declared blast radius (`[blast_radius]`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Declared {
    pub max_services: Option<u64>,
    pub max_regions: Option<u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PairSummary {
    pub service: String,
    pub region: String,
    /// Share of replications in which the pair was degraded.
    pub degraded_share: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Attribution {
    pub fault: String,
    /// Failed requests (all replications) whose path met this fault while active.
    pub failed_requests: u64,
}

/// What the faults did, measured against each replication's twin run with
/// the faults off (same seed, same streams).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CounterfactualSummary {
    /// Replications that had a twin.
    pub replications: u64,
    /// Failed requests arriving in the fault window minus the twin's, per replication (all flows).
    pub excess_failures: Spread,
    #[serde(default)]
    pub flows: Vec<FlowExcess>,
    /// Services and regions degraded against the twin, per replication.
    pub services: Spread,
    pub regions: Spread,
    pub containment_breach_probability: f64,
    #[serde(default)]
    pub breach_ci95: [f64; 2],
    /// Share of replications in which each pair was degraded against the twin.
    #[serde(default)]
    pub pairs: Vec<PairSummary>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FlowExcess {
    pub flow: String,
    pub excess_failures: Spread,
    /// p99 latency in the fault window minus the twin's, ms.
    pub excess_latency_p99_ms: Spread,
}

impl Summary {
    /// The text of `summary.json`: pretty-printed, with a final newline.
    pub fn to_json(&self) -> String {
        // Serializing plain structs of numbers and strings cannot fail.
        let mut json = serde_json::to_string_pretty(self).expect("a summary serializes to JSON");
        json.push('\n');
        json
    }

    /// Parses the text of a `summary.json`.
    pub fn from_json(text: &str) -> Result<Summary, serde_json::Error> {
        serde_json::from_str(text)
    }
}

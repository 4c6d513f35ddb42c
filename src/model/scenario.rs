//! The resolved scenario: one catalog entry's run, workload, faults, SLOs,
//! declared blast radius, guardrails, rollout and expectations.

use std::path::PathBuf;

use serde::Deserialize;

use super::{Dist, FlowId, QueueId, RegionId, Service, ServiceId};

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
    /// `run.replications`: a fixed count; `None` lets `run` and `check`
    /// add replications until the verdicts are decided.
    pub replications: Option<u32>,
    pub seed: u64,
    /// Telemetry timestamps: nanoseconds since the Unix epoch of simulated time 0.
    pub epoch_unix_ns: u64,
    /// Telemetry: the series are scraped every this many ns.
    pub scrape_interval_ns: u64,
    /// Poisson arrival rate per region, requests per second.
    pub rate_per_s: Vec<f64>,
    pub surges: Vec<Surge>,
    pub faults: Vec<Fault>,
    pub slos: Vec<Slo>,
    pub blast_radius: Option<BlastRadius>,
    pub expect: Expect,
    pub guardrails: Vec<Guardrail>,
    /// The experiment's change: a canary rollout of a new version.
    pub rollout: Option<Rollout>,
    /// `[[uncertain]]` inputs, when it has any: each replication runs the
    /// model resolved with its own draws (`crate::uncertain`).
    pub uncertain: Option<std::sync::Arc<super::Uncertainty>>,
}

impl Scenario {
    /// Whether the entry perturbs the mesh (faults or a rollout): what a
    /// blast radius and a fault window are measured for.
    pub fn has_change(&self) -> bool {
        !self.faults.is_empty() || self.rollout.is_some()
    }
}

impl Scenario {
    /// `run.replications`, or the default count where a fixed count is needed
    /// (`run --shard`, `sweep`).
    pub fn fixed_replications(&self) -> u64 {
        self.replications.map_or(DEFAULT_REPLICATIONS, u64::from)
    }
}

/// The replications of a fixed-count run when neither `run.replications`
/// nor `--replications` gives a count and the command cannot decide as it
/// goes (`run --shard`, `sweep`).
pub const DEFAULT_REPLICATIONS: u64 = 100;

/// The most replications one run (or one merge of shards) makes. A run
/// keeps a row per replication in memory for replications.csv and the exact
/// spreads of summary.json (about 1 KB each on a small mesh: 133 MB peak at
/// 10⁴ replications, 236 MB at 10⁵), so the cap bounds a run's memory near
/// 1.2 GB; a Wilson interval at 10⁶ replications is already ±0.001 wide.
pub const MAX_REPLICATIONS: u64 = 1_000_000;

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
    /// Undo the action once the SLO has recovered; `None`: it stays.
    pub release: Option<Release>,
}

/// When a guardrail lets go: every window has burned below `burn_rate`
/// for `hold_ns` without a break.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Release {
    pub burn_rate: f64,
    pub hold_ns: u64,
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
    /// Withdraw the `[rollout]`'s new version (weight 0), as an abort does.
    Rollback,
}

/// A canary rollout of a new version of one service (Argo Rollouts' canary
/// with Istio traffic routing): the new version runs on replicas of its
/// own, `ceil(weight × replicas)` per region, and takes `weight` percent of
/// the service's calls; steps change the weight, pause, or wait for an
/// analysis; a failed analysis (or a `rollback` guardrail) withdraws it.
#[derive(Clone, Debug)]
pub struct Rollout {
    pub service: ServiceId,
    /// When the first step runs, ns since the replication began.
    pub start_ns: u64,
    /// The new version: the service with the overrides applied (same
    /// calls, regions, replicas and routing; its own work, errors, output
    /// quality and capacity).
    pub version: Service,
    pub steps: Vec<RolloutStep>,
    /// A background analysis and the index of the step it starts at.
    pub background: Option<(Analysis, usize)>,
}

/// One step of a rollout.
#[derive(Clone, Debug, PartialEq)]
pub enum RolloutStep {
    /// Percent (0–100) of the service's calls that go to the new version.
    Weight(f64),
    /// Wait this long, ns.
    Pause(u64),
    /// Block until the analysis succeeds.
    Analysis(Analysis),
}

/// An analysis of the new version (an Argo AnalysisTemplate's metrics, as
/// one measurement judged against every limit given).
#[derive(Clone, Debug, PartialEq)]
pub struct Analysis {
    /// Failed share of the requests the new version answered in the window.
    pub max_error_rate: Option<f64>,
    /// p99 of their latency at the new version's replicas, ns.
    pub max_p99_ns: Option<u64>,
    /// Share of them that carried a wrong output of the new version's own.
    pub max_wrong_rate: Option<f64>,
    /// Between measurements, and the window each one looks back over;
    /// `None` (one measurement only): the time since the analysis started.
    pub interval_ns: Option<u64>,
    pub initial_delay_ns: u64,
    /// Measurements in all; `None`: until the rollout completes (background only).
    pub count: Option<u32>,
    /// The analysis fails when failed measurements exceed this; `None`: never.
    pub failure_limit: Option<u32>,
    /// It is inconclusive when inconclusive measurements exceed this.
    pub inconclusive_limit: u32,
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
    /// A placeholder for a fault whose keys have errors (the model is discarded).
    Invalid,
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

/// A fault kind, as written in `kind = "..."` (Istio, Chaos Mesh, LitmusChaos, Toxiproxy).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    Latency,
    Abort,
    Kill,
    Blackhole,
    RegionOutage,
    Partition,
    PacketLoss,
    Slowdown,
    Drift,
    QueueStall,
    BadDeploy,
}

impl FaultKind {
    /// The kind as written in a file: `region_outage`.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Latency => "latency",
            FaultKind::Abort => "abort",
            FaultKind::Kill => "kill",
            FaultKind::Blackhole => "blackhole",
            FaultKind::RegionOutage => "region_outage",
            FaultKind::Partition => "partition",
            FaultKind::PacketLoss => "packet_loss",
            FaultKind::Slowdown => "slowdown",
            FaultKind::Drift => "drift",
            FaultKind::QueueStall => "queue_stall",
            FaultKind::BadDeploy => "bad_deploy",
        }
    }
}

/// What an SLO counts as a good event.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SloKind {
    /// Requests that succeeded (degraded ones included).
    Availability,
    /// Requests that finished within `threshold_ns`, whatever their outcome.
    Latency,
    /// Requests that delivered no uncaught wrong AI output.
    Correctness,
    /// A queue's messages processed within `threshold_ns` of publishing.
    Backlog,
}

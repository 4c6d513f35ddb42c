//! Replications, seeds, aggregation, shards and adaptive replication counts.
//!
//! # Determinism contract
//! Replication `i` draws only from ChaCha streams keyed by (seed, subsystem)
//! on stream `i` (see [`crate::sim::Streams`]), so it gives the same result
//! whatever else runs and however many replications there are. Replications
//! run in parallel (rayon, over replications only) in chunks; each chunk is
//! collected in index order and folded into the aggregate serially. Every
//! aggregate figure is an integer (counts, busy time, histogram buckets,
//! money in cents), so folding is exact in any order, and the rows are kept
//! sorted by replication index. The aggregate is therefore byte-identical
//! for any thread count, and for any split into shards merged afterwards:
//!
//! * [`Shard`] `K/N` runs replications K, K+N, K+2N, … of a run
//!   ([`RunOptions::shard`]); `crate::results::shard` writes what it
//!   measured to a partial-result file, and [`Aggregate::merge`] adds
//!   partials together.
//! * [`run_adaptive`] adds replications in deterministic rounds until every
//!   SLO's 95% interval is narrow enough; its decisions depend only on the
//!   counts, so the same seed gives the same replication count (and the same
//!   result as a plain run of that many replications).

use rayon::prelude::*;

use crate::model::{Scenario, Topology};
use crate::observe::{
    BUCKET_NS, BlastOutcome, BreakerPhase, BreakerTransition, FlowStats, GroupStats, QueueStats, SiteStats, SloOutcome,
    TwinOutcome,
};
use crate::sim::FaultWindow;
use crate::sim::{ReplicationOutput, run_replication, run_twin};

/// How to run a scenario's replications.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The replication indices to run, in order.
    pub indices: Vec<u64>,
    pub seed: u64,
    /// Worker threads (at least 1).
    pub threads: usize,
    /// Also run each replication's counterfactual twin (faults off; see
    /// [`crate::sim::run_twin`]): twice the cost.
    pub counterfactual: bool,
}

impl RunOptions {
    /// Replications 0..n on `threads` threads.
    pub fn first(n: u64, seed: u64, threads: usize) -> Self {
        RunOptions {
            indices: (0..n).collect(),
            seed,
            threads,
            counterfactual: false,
        }
    }

    /// The replications of `shard` among 0..n: K, K+N, K+2N, … (none when K ≥ n).
    pub fn shard(n: u64, shard: Shard, seed: u64, threads: usize) -> Self {
        RunOptions {
            indices: shard.indices(n).collect(),
            seed,
            threads,
            counterfactual: false,
        }
    }

    /// The same, with (or without) counterfactual twins.
    pub fn with_counterfactual(self, counterfactual: bool) -> Self {
        RunOptions { counterfactual, ..self }
    }
}

/// One shard of a run split across machines: replications `index`,
/// `index + count`, `index + 2·count`, … (0 ≤ index < count), numbered as
/// Kubernetes numbers an Indexed Job's pods (`JOB_COMPLETION_INDEX`) and
/// Slurm the tasks of `sbatch --array=0-(N-1)` (`SLURM_ARRAY_TASK_ID`).
///
/// Strided rather than contiguous blocks so that every shard gets a fair
/// share of the work whatever the total, and shard K of N runs the same
/// replications however many replications the run has in all beyond them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

/// The most shards a run may be split into.
pub const MAX_SHARDS: u64 = 100_000;

impl Shard {
    /// Parses `K/N`; `auto/N` takes K from the scheduler's environment,
    /// read through `env` so the parse itself is testable:
    /// `SLURM_ARRAY_TASK_ID` (set by Slurm in each task of `sbatch --array`,
    /// numbered as the range says, so submit `--array=0-(N-1)`) or
    /// `JOB_COMPLETION_INDEX` (set by Kubernetes in an Indexed Job's pods).
    ///
    /// When both are set, `SLURM_ARRAY_TASK_ID` wins. Slurm sets it itself
    /// for every array task, replacing any inherited value, while `sbatch`
    /// hands the submitter's whole environment to the job by default
    /// (`--export=ALL`): a `JOB_COMPLETION_INDEX` seen inside a Slurm task
    /// came along from wherever the job was submitted and is the same in
    /// every task. The other way round cannot happen: Kubernetes builds a
    /// pod's environment from the pod spec only.
    pub fn parse(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        const SLURM: &str = "SLURM_ARRAY_TASK_ID";
        const KUBERNETES: &str = "JOB_COMPLETION_INDEX";
        let usage = "expected K/N with 0 ≤ K < N (e.g. --shard 0/4), or auto/N to take K from \
                     SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX";
        let (k, n) = text
            .split_once('/')
            .ok_or_else(|| format!("--shard {text:?}: {usage}"))?;
        let count: u64 = n
            .trim()
            .parse()
            .map_err(|_| format!("--shard {text:?}: N {n:?} is not a whole number; {usage}"))?;
        if count == 0 || count > MAX_SHARDS {
            return Err(format!("--shard {text:?}: N must be between 1 and {MAX_SHARDS}"));
        }
        let k = k.trim();
        let (index_text, origin) = if k == "auto" {
            match [SLURM, KUBERNETES]
                .into_iter()
                .find_map(|name| env(name).map(|v| (v, name)))
            {
                Some((v, name)) => (v, Some(name)),
                None => {
                    return Err(format!(
                        "--shard {text:?}: auto takes K from the environment variable {SLURM} (set in \
                         each task of a Slurm job array, sbatch --array=0-{last}) or {KUBERNETES} (set in \
                         the pods of a Kubernetes Indexed Job), and neither is set; or give K explicitly, \
                         as in --shard 0/{count}",
                        last = count - 1
                    ));
                }
            }
        } else {
            (k.to_string(), None)
        };
        let from = origin.map(|name| format!(" (from {name})")).unwrap_or_default();
        let index: u64 = index_text
            .trim()
            .parse()
            .map_err(|_| format!("--shard {text:?}: K {index_text:?}{from} is not a whole number; {usage}"))?;
        if index >= count {
            let hint = if origin == Some(SLURM) {
                format!("; submit the array as sbatch --array=0-{}", count - 1)
            } else {
                String::new()
            };
            return Err(format!(
                "--shard {text:?}: K = {index}{from} must be below N = {count} (shards are numbered 0..N-1){hint}"
            ));
        }
        Ok(Shard { index, count })
    }

    /// The replication indices of this shard among 0..n.
    pub fn indices(self, n: u64) -> impl Iterator<Item = u64> {
        (self.index..n).step_by(self.count.max(1) as usize)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// One replication, as a row of `replications.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplicationRow {
    pub index: u64,
    pub events: u64,
    pub flows: Vec<(u64, u64, u64)>, // requests, failed, latency p99 ns
    pub slos: Vec<SloOutcome>,
    pub fault_windows: Vec<FaultWindow>,
    pub failed_cents: u64,
    pub breaker_opens: u64,
    pub duplicate_charges: u64,
    pub transitions: Vec<BreakerTransition>,
    pub peak_in_flight: usize,
    pub blast: BlastOutcome,
    pub wrong_outputs: u64,
    /// Per time bucket and flow (`bucket * flows + flow`): requests per
    /// second, error rate, latency p50 and p99 in ms.
    pub series: Vec<[f32; 4]>,
    /// Per time bucket and flow: the error rate over the [`ROLLING_BUCKETS`]
    /// buckets ending with it (fewer at the start), readable at low rates.
    pub error_rate_rolling: Vec<f32>,
    /// Per time bucket: whether a fault was active at some point in it.
    pub fault_active: Vec<bool>,
    /// Per time bucket: breaker openings.
    pub breaker_opens_at: Vec<u32>,
    /// What each guardrail did.
    pub guardrails: Vec<crate::sim::GuardOutcome>,
    /// Against the counterfactual twin, when the run had twins.
    pub twin: Option<TwinOutcome>,
    /// What the rollout did (with a `[rollout]`).
    pub rollout: Option<crate::sim::RolloutOutcome>,
    /// The value of each `[[uncertain]]` input in this replication (empty without them).
    pub inputs: Vec<f64>,
}

/// Everything a run of one scenario measured, over all its replications.
#[derive(Clone, Debug)]
pub struct Aggregate {
    pub seed: u64,
    pub rows: Vec<ReplicationRow>,
    pub flows: Vec<FlowStats>,
    pub groups: Vec<GroupStats>,
    pub sites: Vec<SiteStats>,
    pub queues: Vec<QueueStats>,
    pub slo_violations: Vec<u64>,
    /// Per group: replications in which it was degraded.
    pub degraded: Vec<u64>,
    pub breaches: u64,
    /// Per fault: failed requests whose path met it.
    pub attributed: Vec<u64>,
    pub wrong_caught: u64,
    pub events: u64,
    pub peer_events: u64,
    /// Per SLO, every replication's margin (attainment, or the worst
    /// window's when lower, minus the objective; violated exactly when
    /// negative), in no particular order, while the run has at most
    /// [`EXACT_MAX`] replications (`None` beyond).
    pub margins: Option<Vec<Vec<f64>>>,
    /// When the run looks at its verdicts (see [`Schedule`]);
    /// a plain run of n replications looks once, at n.
    pub schedule: Option<Schedule>,
}

/// Up to this many replications a run keeps every per-replication value
/// its spreads and verdicts need (exact ranks, the normal model's check).
pub const EXACT_MAX: u64 = 10_000;

/// The first look of a sequential run.
pub const FLOOR: u64 = 8;

/// When a run looks at its verdicts: after `floor` replications, then at
/// twice as many each time, and at `cap` (the last look). A fixed count is
/// the schedule with one look.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Schedule {
    pub floor: u64,
    pub cap: u64,
}

impl Schedule {
    /// One look, after `n` replications.
    pub fn fixed(n: u64) -> Schedule {
        Schedule { floor: n, cap: n }
    }

    /// Looks from [`FLOOR`] (or the cap, when smaller) up to `cap`.
    pub fn sequential(cap: u64) -> Schedule {
        Schedule {
            floor: FLOOR.min(cap).max(1),
            cap: cap.max(1),
        }
    }

    /// The replication totals at which the run looks.
    pub fn looks(&self) -> Vec<u64> {
        let mut out = Vec::new();
        let mut n = self.floor.max(1);
        while n < self.cap {
            out.push(n);
            n = n.saturating_mul(2);
        }
        out.push(self.cap.max(1));
        out
    }

    /// The look after `n` replications, if any.
    pub fn next_after(&self, n: u64) -> Option<u64> {
        self.looks().into_iter().find(|&m| m > n)
    }
}

/// The margin of one SLO outcome: violated exactly when negative.
pub fn margin(o: &SloOutcome, objective: f64) -> f64 {
    o.worst_window.map_or(o.attainment, |w| w.min(o.attainment)) - objective
}

impl Aggregate {
    pub fn new(topo: &Topology, scn: &Scenario, seed: u64) -> Self {
        Aggregate {
            seed,
            rows: Vec::new(),
            flows: vec![FlowStats::default(); topo.flows.len()],
            groups: vec![GroupStats::default(); topo.services.len() * topo.regions.len()],
            sites: vec![SiteStats::default(); topo.services.iter().map(|s| s.calls.len()).sum()],
            queues: vec![QueueStats::default(); topo.queues.len() * topo.regions.len()],
            slo_violations: vec![0; scn.slos.len()],
            degraded: vec![0; topo.services.len() * topo.regions.len()],
            breaches: 0,
            attributed: vec![0; scn.faults.len()],
            wrong_caught: 0,
            events: 0,
            peer_events: 0,
            margins: Some(vec![Vec::new(); scn.slos.len()]),
            schedule: None,
        }
    }

    /// Per-replication margins of SLO `i` (see [`Aggregate::margins`]).
    pub fn margins(&self, i: usize) -> Option<&[f64]> {
        self.margins.as_ref().and_then(|m| m.get(i)).map(|v| v.as_slice())
    }

    /// Recomputes the margins from the rows (after reading them from a file).
    pub fn rebuild_margins(&mut self, scn: &Scenario) {
        self.margins = (self.replications() <= EXACT_MAX).then(|| {
            scn.slos
                .iter()
                .enumerate()
                .map(|(i, s)| self.rows.iter().map(|r| margin(&r.slos[i], s.objective)).collect())
                .collect()
        });
    }

    /// Drops the exact per-replication values once past [`EXACT_MAX`].
    fn bound_memory(&mut self) {
        if self.replications() > EXACT_MAX {
            self.margins = None;
        }
    }

    pub fn replications(&self) -> u64 {
        self.rows.len() as u64
    }

    /// Folds one replication in (and its comparison with its counterfactual
    /// twin, if it had one). Call in index order (rows are kept sorted).
    pub fn add(&mut self, topo: &Topology, scn: &Scenario, out: ReplicationOutput, twin: Option<TwinOutcome>) {
        let rec = &out.recorder;
        for (a, f) in self.flows.iter_mut().zip(&rec.flows) {
            a.merge(f);
        }
        for (a, g) in self.groups.iter_mut().zip(&rec.groups) {
            a.merge(g);
        }
        for (a, x) in self.sites.iter_mut().zip(&rec.sites) {
            a.merge(x);
        }
        for (a, q) in self.queues.iter_mut().zip(&rec.queues) {
            a.merge(q);
        }
        let slos = rec.slo_outcomes(scn);
        for (v, o) in self.slo_violations.iter_mut().zip(&slos) {
            *v += o.violated as u64;
        }
        if let Some(m) = &mut self.margins {
            for ((values, o), slo) in m.iter_mut().zip(&slos).zip(&scn.slos) {
                values.push(margin(o, slo.objective));
            }
        }
        self.events += out.events;
        self.peer_events += out.peer_events;
        let blast = rec.blast(scn, topo.regions.len());
        for &g in &blast.pairs {
            self.degraded[g] += 1;
        }
        self.breaches += blast.breach as u64;
        for (a, x) in self.attributed.iter_mut().zip(&rec.attributed) {
            *a += x;
        }
        self.wrong_caught += rec.wrong_caught;
        let (series, fault_active, breaker_opens_at) = bucket_series(rec, &out.fault_windows, scn);
        let error_rate_rolling = rolling_error_rate(rec);
        self.rows.push(ReplicationRow {
            index: out.index,
            events: out.events,
            flows: rec
                .flows
                .iter()
                .map(|f| (f.requests, f.failed, f.latency.quantile(0.99)))
                .collect(),
            slos,
            fault_windows: out.fault_windows,
            failed_cents: rec.flows.iter().map(|f| f.failed_cents).sum(),
            breaker_opens: rec.sites.iter().map(|s| s.breaker_opens).sum(),
            duplicate_charges: rec.sites.iter().map(|s| s.duplicate_charges).sum(),
            transitions: rec.transitions.clone(),
            peak_in_flight: out.peak_in_flight,
            blast,
            wrong_outputs: rec.flows.iter().map(|f| f.wrong_outputs).sum(),
            series,
            error_rate_rolling,
            fault_active,
            breaker_opens_at,
            guardrails: out.guardrails,
            twin,
            rollout: out.rollout,
            inputs: Vec::new(),
        });
        self.bound_memory();
    }

    /// Adds another part of the same run (same scenario and seed, other
    /// replications): every figure is an integer, so the result does not
    /// depend on the order parts are merged in; rows are re-sorted by index.
    /// The caller checks that the parts belong together and do not overlap.
    pub fn merge(&mut self, other: Aggregate) {
        debug_assert_eq!(self.seed, other.seed, "merging parts of runs with different seeds");
        for (a, x) in self.flows.iter_mut().zip(&other.flows) {
            a.merge(x);
        }
        for (a, x) in self.groups.iter_mut().zip(&other.groups) {
            a.merge(x);
        }
        for (a, x) in self.sites.iter_mut().zip(&other.sites) {
            a.merge(x);
        }
        for (a, x) in self.queues.iter_mut().zip(&other.queues) {
            a.merge(x);
        }
        for (a, x) in self.slo_violations.iter_mut().zip(&other.slo_violations) {
            *a += x;
        }
        for (a, x) in self.degraded.iter_mut().zip(&other.degraded) {
            *a += x;
        }
        for (a, x) in self.attributed.iter_mut().zip(&other.attributed) {
            *a += x;
        }
        self.breaches += other.breaches;
        self.wrong_caught += other.wrong_caught;
        self.events += other.events;
        self.peer_events += other.peer_events;
        self.schedule = self.schedule.or(other.schedule);
        self.rows.extend(other.rows);
        self.rows.sort_by_key(|r| r.index);
        self.margins = match (self.margins.take(), other.margins) {
            (Some(mut a), Some(b)) => {
                for (x, y) in a.iter_mut().zip(b) {
                    x.extend(y);
                }
                Some(a)
            }
            _ => None,
        };
        self.bound_memory();
    }
}

/// Replications run per parallel chunk: bounds memory to a chunk's recorders.
const CHUNK: usize = 32;

/// Runs the replications of a scenario; `progress(done, total)` is called
/// after each chunk.
pub fn run_scenario(
    topo: &Topology,
    scn: &Scenario,
    opts: &RunOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Aggregate {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.max(1))
        .build()
        .expect("a rayon pool of a few threads can be built");
    let mut agg = Aggregate::new(topo, scn, opts.seed);
    let total = opts.indices.len();
    for chunk in opts.indices.chunks(CHUNK * opts.threads.max(1)) {
        let outputs: Vec<_> = pool.install(|| {
            chunk
                .par_iter()
                .map(|&i| {
                    // With `[[uncertain]]` inputs, replication i runs its own model ([`crate::uncertain`]).
                    let drawn = crate::uncertain::replication(scn, opts.seed, i);
                    let (t, s) = drawn
                        .as_ref()
                        .map_or((topo, scn), |d| (&*d.model.topology, &d.model.scenario));
                    let out = run_replication(t, s, opts.seed, i);
                    let twin = opts.counterfactual.then(|| {
                        let twin = run_twin(t, s, opts.seed, i);
                        out.recorder.versus_twin(&twin.recorder, s, t.regions.len())
                    });
                    (out, twin, drawn)
                })
                .collect()
        });
        for (out, twin, drawn) in outputs {
            let (t, s) = drawn
                .as_ref()
                .map_or((topo, scn), |d| (&*d.model.topology, &d.model.scenario));
            agg.add(t, s, out, twin);
            if let (Some(d), Some(row)) = (drawn, agg.rows.last_mut()) {
                row.inputs = d.values;
            }
        }
        progress(agg.rows.len(), total);
    }
    agg
}

/// Adaptive replication counts (`run --precision`).
#[derive(Clone, Copy, Debug)]
pub struct AdaptiveOptions {
    /// Replications of the first round.
    pub first: u64,
    /// Target: every SLO's 95% Wilson half-width at most this.
    pub precision: f64,
    /// Never run more than this many replications.
    pub max: u64,
    pub seed: u64,
    pub threads: usize,
    /// Run counterfactual twins too.
    pub counterfactual: bool,
}

/// Each adaptive round adds at least this many replications, and totals
/// after the first round are multiples of it.
pub const ADAPTIVE_STEP: u64 = 50;

/// How an adaptive run ended.
#[derive(Clone, Debug, PartialEq)]
pub struct AdaptiveOutcome {
    /// Replications run, in rounds: the total after each round.
    pub rounds: Vec<u64>,
    /// The widest SLO half-width at the end, and the SLO it belongs to.
    pub widest: Option<(String, f64)>,
    /// Whether every half-width reached the precision (else: the maximum stopped it).
    pub reached: bool,
}

/// Half the width of the 95% Wilson interval of k/n.
pub fn wilson_half_width(k: u64, n: u64) -> f64 {
    let (lo, hi) = wilson95(k, n);
    (hi - lo) / 2.0
}

/// The 95% Wilson interval of a proportion `p` observed over `n` trials,
/// `n` real (for planning: how wide would it be with n trials).
pub fn wilson95_at(p: f64, n: f64) -> (f64, f64) {
    if n <= 0.0 {
        return (0.0, 1.0);
    }
    let z = 1.959_963_984_540_054_f64;
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).max(0.0).sqrt() / denom;
    ((center - half).max(0.0), (center + half).min(1.0))
}

/// The smallest n ≤ `limit` for which `ok(n)` holds, given that `ok` is
/// monotone (false, then true); `None` when even `limit` is not enough.
pub fn smallest_n(limit: u64, ok: impl Fn(u64) -> bool) -> Option<u64> {
    if !ok(limit) {
        return None;
    }
    let (mut lo, mut hi) = (0u64, limit); // ok(lo) false (or lo = 0), ok(hi) true
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if ok(mid) { hi = mid } else { lo = mid }
    }
    Some(hi.max(1))
}

/// Runs a scenario in rounds until every SLO's 95% Wilson half-width is at
/// most `precision`, or `max` replications ran.
///
/// Round 1 runs `first` replications. Each later round aims at the count
/// the current estimates say is needed (the n at which the interval around
/// the observed proportion would be narrow enough), but adds at least
/// [`ADAPTIVE_STEP`] replications and at most doubles the total, rounded up
/// to a multiple of [`ADAPTIVE_STEP`] and capped at `max`. Every decision
/// is a function of violation counts only, and replication i depends only
/// on (seed, i): the same seed gives the same rounds and the same aggregate
/// as a plain run of the final count, on any number of threads.
pub fn run_adaptive(
    topo: &Topology,
    scn: &Scenario,
    opts: &AdaptiveOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> (Aggregate, AdaptiveOutcome) {
    let max = opts.max.max(1);
    let mut target = opts.first.clamp(1, max);
    let mut agg = Aggregate::new(topo, scn, opts.seed);
    let mut rounds = Vec::new();
    loop {
        let done = agg.replications();
        let ro = RunOptions {
            indices: (done..target).collect(),
            seed: opts.seed,
            threads: opts.threads,
            counterfactual: opts.counterfactual,
        };
        let part = run_scenario(topo, scn, &ro, &mut |d, _| progress(done as usize + d, target as usize));
        agg.merge(part);
        rounds.push(target);
        let n = agg.replications();
        let widths: Vec<f64> = agg.slo_violations.iter().map(|&k| wilson_half_width(k, n)).collect();
        let widest = widths
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, w)| (scn.slos[i].name.clone(), *w));
        let reached = widths.iter().all(|&w| w <= opts.precision);
        if reached || n >= max {
            return (
                agg,
                AdaptiveOutcome {
                    rounds,
                    widest,
                    reached,
                },
            );
        }
        // The count each unsettled SLO needs at its current estimate.
        let needed = agg
            .slo_violations
            .iter()
            .zip(&widths)
            .filter(|(_, w)| **w > opts.precision)
            .map(|(&k, _)| {
                let p = k as f64 / n as f64;
                smallest_n(max, |m| {
                    let (lo, hi) = wilson95_at(p, m as f64);
                    (hi - lo) / 2.0 <= opts.precision
                })
                .unwrap_or(max)
            })
            .max()
            .unwrap_or(max);
        let next = needed.clamp(n + ADAPTIVE_STEP, (2 * n).max(n + ADAPTIVE_STEP));
        target = next.div_ceil(ADAPTIVE_STEP).saturating_mul(ADAPTIVE_STEP).min(max);
    }
}

/// The rounds of a fixed run of `n` replications, each ending where a
/// checkpoint can be written: 8, 16, 32, … while a round is at most
/// [`CHECKPOINT_STEP`] replications, then a quarter of those done (at least
/// that step), and `n` last. Rounds do not change the results: replication
/// i is the same in any round, and parts add up exactly.
pub fn fixed_rounds(n: u64) -> Vec<u64> {
    let mut out = Vec::new();
    let mut done = 8.min(n);
    while done < n {
        out.push(done);
        done = done.saturating_add(done.min(CHECKPOINT_STEP).max(done / 4));
    }
    out.push(n);
    out
}

/// The largest doubling step of [`fixed_rounds`].
pub const CHECKPOINT_STEP: u64 = 1024;

/// The thread count, seed and twins of a run in rounds.
#[derive(Clone, Copy, Debug)]
pub struct RoundOptions {
    pub seed: u64,
    pub threads: usize,
    pub counterfactual: bool,
}

/// Adds to `agg` the replications up to each total of `rounds` in turn
/// (those it already holds are skipped: a resumed run), calling `after`
/// once a round is in; stops when `after` says so. Returns whether it
/// stopped early.
pub fn run_rounds(
    topo: &Topology,
    scn: &Scenario,
    rounds: &[u64],
    opts: RoundOptions,
    agg: &mut Aggregate,
    progress: &mut dyn FnMut(usize, usize),
    after: &mut dyn FnMut(&Aggregate) -> bool,
) -> bool {
    for &target in rounds {
        let done = agg.replications();
        if target <= done {
            continue;
        }
        let ro = RunOptions {
            indices: (done..target).collect(),
            seed: opts.seed,
            threads: opts.threads,
            counterfactual: opts.counterfactual,
        };
        let part = run_scenario(topo, scn, &ro, &mut |d, _| progress(done as usize + d, target as usize));
        agg.merge(part);
        if after(agg) {
            return true;
        }
    }
    false
}

/// One replication's time series: per (bucket, flow) rate, error rate and
/// latency percentiles; per bucket whether a fault was active and how many
/// breakers opened.
fn bucket_series(
    rec: &crate::observe::Recorder,
    windows: &[FaultWindow],
    scn: &Scenario,
) -> (Vec<[f32; 4]>, Vec<bool>, Vec<u32>) {
    let nb = rec.buckets.first().map(|b| b.len()).unwrap_or(0);
    let nf = rec.buckets.len();
    let mut series = Vec::with_capacity(nb * nf);
    for b in 0..nb {
        let start = scn.warmup_ns + b as u64 * BUCKET_NS;
        let width_s = ((scn.duration_ns.min(start + BUCKET_NS) - start) as f64 / 1e9).max(1e-9);
        for f in 0..nf {
            let x = &rec.buckets[f][b];
            let err = if x.requests == 0 {
                0.0
            } else {
                x.failed as f64 / x.requests as f64
            };
            series.push([
                (x.requests as f64 / width_s) as f32,
                err as f32,
                (x.latency.quantile(0.5) as f64 / 1e6) as f32,
                (x.latency.quantile(0.99) as f64 / 1e6) as f32,
            ]);
        }
    }
    let fault_active = (0..nb)
        .map(|b| {
            let start = scn.warmup_ns + b as u64 * BUCKET_NS;
            let end = start + BUCKET_NS;
            windows
                .iter()
                .any(|w| w.start_ns < end && w.end_ns.unwrap_or(u64::MAX) > start)
        })
        .collect();
    let mut opens = vec![0u32; nb];
    for t in &rec.transitions {
        if t.to == BreakerPhase::Open && t.time_ns >= scn.warmup_ns {
            let b = ((t.time_ns - scn.warmup_ns) / BUCKET_NS) as usize;
            if b < nb {
                opens[b] += 1;
            }
        }
    }
    (series, fault_active, opens)
}

/// Buckets in the rolling error rate: 6 × 10 s, one minute.
pub const ROLLING_BUCKETS: usize = 6;

/// Per (bucket, flow): failed / requests over the [`ROLLING_BUCKETS`]
/// buckets ending with it. At 10 s a low error rate is mostly zeros and
/// single failures; a minute holds enough requests to show a 0.05% → 0.1%
/// step at a few hundred requests per second.
fn rolling_error_rate(rec: &crate::observe::Recorder) -> Vec<f32> {
    let nb = rec.buckets.first().map(|b| b.len()).unwrap_or(0);
    let nf = rec.buckets.len();
    let mut out = vec![0.0f32; nb * nf];
    for (f, buckets) in rec.buckets.iter().enumerate() {
        let (mut req, mut failed) = (0u64, 0u64);
        for b in 0..nb {
            req += buckets[b].requests as u64;
            failed += buckets[b].failed as u64;
            if b >= ROLLING_BUCKETS {
                req -= buckets[b - ROLLING_BUCKETS].requests as u64;
                failed -= buckets[b - ROLLING_BUCKETS].failed as u64;
            }
            out[b * nf + f] = if req == 0 {
                0.0
            } else {
                (failed as f64 / req as f64) as f32
            };
        }
    }
    out
}

/// The 95% Wilson score interval of a binomial proportion k/n.
pub fn wilson95(k: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let z = 1.959_963_984_540_054_f64;
    let n = n as f64;
    let p = k as f64 / n;
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    ((center - half).max(0.0), (center + half).min(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_partition_the_replications() {
        // K/N and auto/N (K from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX, Slurm's
        // winning when both are set) parse; bad specs are refused, naming the variable;
        // the N shards cover 0..n exactly once, also when N > n.
        let none = |_: &str| None;
        let only = |name: &'static str, value: &'static str| move |k: &str| (k == name).then(|| value.to_string());
        let both = |k: &str| match k {
            "SLURM_ARRAY_TASK_ID" => Some("2".to_string()),
            "JOB_COMPLETION_INDEX" => Some("0".to_string()),
            _ => None,
        };
        assert_eq!(Shard::parse("2/5", none), Ok(Shard { index: 2, count: 5 }));
        let kubernetes = only("JOB_COMPLETION_INDEX", "3");
        assert_eq!(Shard::parse("auto/4", kubernetes), Ok(Shard { index: 3, count: 4 }));
        let slurm = only("SLURM_ARRAY_TASK_ID", "1");
        assert_eq!(Shard::parse("auto/4", slurm), Ok(Shard { index: 1, count: 4 }));
        let slurm_wins = Shard::parse("auto/4", both);
        assert_eq!(slurm_wins, Ok(Shard { index: 2, count: 4 }));
        let explicit = Shard::parse("1/4", both);
        assert_eq!(explicit, Ok(Shard { index: 1, count: 4 }), "an explicit K ignores both");
        for bad in ["5/5", "1", "a/2", "1/0", "-1/2", "auto/3"] {
            assert!(Shard::parse(bad, none).is_err(), "{bad}");
        }
        let neither = Shard::parse("auto/3", none).unwrap_err();
        assert!(neither.contains("SLURM_ARRAY_TASK_ID"), "{neither}");
        assert!(neither.contains("JOB_COMPLETION_INDEX"), "{neither}");
        assert!(Shard::parse("auto/3", kubernetes).is_err(), "index 3 of 3");
        // sbatch --array=1-4 numbers the tasks from 1: task 4 is refused with the fix.
        let one_based = Shard::parse("auto/4", only("SLURM_ARRAY_TASK_ID", "4")).unwrap_err();
        assert!(one_based.contains("K = 4 (from SLURM_ARRAY_TASK_ID)"), "{one_based}");
        assert!(one_based.contains("--array=0-3"), "{one_based}");
        let garbage = Shard::parse("auto/4", only("SLURM_ARRAY_TASK_ID", "x")).unwrap_err();
        assert!(garbage.contains("\"x\" (from SLURM_ARRAY_TASK_ID)"), "{garbage}");
        for (n, count) in [(10, 3), (6, 7), (1, 1), (0, 2)] {
            let mut all: Vec<u64> = (0..count).flat_map(|k| Shard { index: k, count }.indices(n)).collect();
            all.sort_unstable();
            assert_eq!(all, (0..n).collect::<Vec<_>>(), "{n} replications in {count} shards");
        }
    }

    #[test]
    fn wilson_matches_published_values() {
        // Known interval for 37/1000 (computed from the closed form by hand): [0.02696, 0.05058].
        let (lo, hi) = wilson95(37, 1000);
        assert!((lo - 0.02696).abs() < 1e-4, "{lo}");
        assert!((hi - 0.05058).abs() < 1e-4, "{hi}");
        let (lo, hi) = wilson95(0, 10);
        assert_eq!(lo, 0.0);
        assert!((hi - 0.2775).abs() < 1e-3, "{hi}");
    }
}

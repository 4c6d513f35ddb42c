//! Replications, seeds and aggregation.
//!
//! # Determinism contract
//! Replication `i` draws only from ChaCha streams keyed by (seed, subsystem)
//! on stream `i` (see [`crate::mesh::Streams`]), so it gives the same result
//! whatever else runs and however many replications there are. Replications
//! run in parallel (rayon, over replications only) in chunks; each chunk is
//! collected in index order and folded into the aggregate serially. Counts
//! and histograms merge exactly; the few float sums (money) are added in
//! replication order. The aggregate is therefore byte-identical for any
//! thread count.

use rayon::prelude::*;

use crate::chaos::FaultWindow;
use crate::mesh::run_replication;
use crate::model::{Scenario, Topology};
use crate::observe::{
    BUCKET_NS, BlastOutcome, BreakerPhase, BreakerTransition, FlowStats, GroupStats, QueueStats, SiteStats, SloOutcome,
};

/// How to run a scenario's replications.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The replication indices to run, in order.
    pub indices: Vec<u64>,
    pub seed: u64,
    /// Worker threads (at least 1).
    pub threads: usize,
}

impl RunOptions {
    /// Replications 0..n on `threads` threads.
    pub fn first(n: u64, seed: u64, threads: usize) -> Self {
        RunOptions {
            indices: (0..n).collect(),
            seed,
            threads,
        }
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
    /// Per time bucket: whether a fault was active at some point in it.
    pub fault_active: Vec<bool>,
    /// Per time bucket: breaker openings.
    pub breaker_opens_at: Vec<u32>,
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
        }
    }

    pub fn replications(&self) -> u64 {
        self.rows.len() as u64
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
                .map(|&i| run_replication(topo, scn, opts.seed, i))
                .collect()
        });
        for out in outputs {
            let rec = &out.recorder;
            for (a, f) in agg.flows.iter_mut().zip(&rec.flows) {
                a.merge(f);
            }
            for (a, g) in agg.groups.iter_mut().zip(&rec.groups) {
                a.merge(g);
            }
            for (a, x) in agg.sites.iter_mut().zip(&rec.sites) {
                a.merge(x);
            }
            for (a, q) in agg.queues.iter_mut().zip(&rec.queues) {
                a.merge(q);
            }
            let slos = rec.slo_outcomes(scn);
            for (v, o) in agg.slo_violations.iter_mut().zip(&slos) {
                *v += o.violated as u64;
            }
            agg.events += out.events;
            agg.peer_events += out.peer_events;
            let blast = rec.blast(scn, topo.regions.len());
            for &g in &blast.pairs {
                agg.degraded[g] += 1;
            }
            agg.breaches += blast.breach as u64;
            for (a, x) in agg.attributed.iter_mut().zip(&rec.attributed) {
                *a += x;
            }
            agg.wrong_caught += rec.wrong_caught;
            let (series, fault_active, breaker_opens_at) = bucket_series(rec, &out.fault_windows, scn);
            agg.rows.push(ReplicationRow {
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
                fault_active,
                breaker_opens_at,
            });
        }
        progress(agg.rows.len(), total);
    }
    agg
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

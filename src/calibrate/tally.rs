//! What the traces add up to: bounded accumulators, keyed by interned
//! names, that every trace is folded into (`traces.rs`) and that the
//! inference reads (`infer.rs`).
//!
//! Memory is bounded by the mesh (services, call edges, region pairs,
//! flows), the histogram resolution and the sample size [`SAMPLE`], never
//! by the number of spans or traces. Every figure is an integer or a
//! histogram, and the samples keep the values of the smallest hashes (not
//! the first ones read), so the tallies do not depend on the order traces
//! are met in: the same spans give the same tallies however the files
//! split them.

use std::collections::{BTreeMap, BinaryHeap};

use super::otlp::Counts;
use crate::observe::Histogram;

/// Values kept per sample (service times, network delays, retry gaps).
pub const SAMPLE: usize = 10_000;

/// A uniform sample of at most [`SAMPLE`] values: those whose keys (a
/// hash of the span's ids) are smallest — bottom-k sampling, which
/// depends only on the set of values offered, not their order.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    heap: BinaryHeap<(u64, i64)>,
    pub offered: u64,
}

impl Sample {
    pub fn offer(&mut self, key: u64, value: i64) {
        self.offered += 1;
        if self.heap.len() < SAMPLE {
            self.heap.push((key, value));
        } else if let Some(&top) = self.heap.peek()
            && (key, value) < top
        {
            self.heap.pop();
            self.heap.push((key, value));
        }
    }

    /// The kept values, sorted.
    pub fn sorted(&self) -> Vec<i64> {
        let mut v: Vec<i64> = self.heap.iter().map(|&(_, x)| x).collect();
        v.sort_unstable();
        v
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

/// The key of a sampled value: a hash of the span's ids (and a salt so
/// that one span's values in different samples are drawn independently).
pub fn key(trace: u128, span: u64, salt: u64) -> u64 {
    let mut x = (trace as u64) ^ ((trace >> 64) as u64).rotate_left(17) ^ span.rotate_left(41) ^ salt;
    for _ in 0..2 {
        x ^= x >> 31;
        x = x.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        x ^= x >> 29;
    }
    x
}

/// Where an outgoing call goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// A service whose server spans answered.
    Service(u32),
    /// A queue (a PRODUCER span's `messaging.destination.name`).
    Queue(u32),
    /// No server span answered: named by `peer.service` / `server.address`
    /// (an uninstrumented dependency, or its spans are missing).
    Peer(u32),
}

/// Customer requests of one flow (root spans).
#[derive(Clone, Debug, Default)]
pub struct FlowTally {
    pub requests: u64,
    pub errors: u64,
    /// Root span durations.
    pub latency: Histogram,
    /// Root spans that are SERVER spans (they start when the request reaches
    /// the entry service, after the client's hop, which the model adds).
    pub server_roots: u64,
    /// Entry service → requests.
    pub entries: BTreeMap<u32, u64>,
}

/// One service in one region.
#[derive(Clone, Debug, Default)]
pub struct RegionTally {
    pub spans: u64,
    /// Sum of server span durations (for the mean requests in flight).
    pub busy_ns: u128,
    /// `service.instance.id` → server spans.
    pub instances: BTreeMap<u32, u64>,
}

/// One service: its server (and consumer) spans.
#[derive(Clone, Debug, Default)]
pub struct ServiceTally {
    pub spans: u64,
    pub errors: u64,
    /// Errors not explained by a failed call (own failures).
    pub own_failures: u64,
    /// Server span durations.
    pub latency: Histogram,
    /// Own work: the span minus the time spent waiting on its calls.
    pub own: Histogram,
    pub own_sample: Sample,
    pub regions: BTreeMap<u32, RegionTally>,
    /// Same-region tries answered by this service: client span duration
    /// minus server span duration (network both ways, and any wait
    /// before the server span starts).
    pub gap_local: Histogram,
}

/// One call edge (caller service → target), over all its logical calls.
#[derive(Clone, Debug, Default)]
pub struct EdgeTally {
    /// Logical calls (all tries of one call count once), per flow.
    pub calls: BTreeMap<u32, u64>,
    pub tries: u64,
    /// The most tries one logical call took.
    pub max_tries: u64,
    /// Logical calls whose last try failed.
    pub failed: u64,
    /// Failed calls whose caller's span failed too, per flow: the failure
    /// ended the caller's work (later stages were not run).
    pub breaks: BTreeMap<u32, u64>,
    /// Failed calls whose caller's span still succeeded.
    pub failed_caller_ok: u64,
    /// Logical calls whose last try timed out, and their whole duration.
    pub timed_out: Histogram,
    /// Tries that timed out and were followed by another try.
    pub try_timed_out: Histogram,
    /// The last try of a call that timed out: its own duration.
    pub last_try_timed_out: Histogram,
    /// Gap between a failed try's end and the next try's start, per retry number (1, 2, …).
    pub gaps: BTreeMap<u32, Histogram>,
    /// Client span durations of every try (the service time of a dependency without server spans).
    pub try_ns: Histogram,
    pub try_sample: Sample,
    /// Tries without a server span.
    pub unpaired: u64,
}

/// Two call edges of one caller met in the same server span.
#[derive(Clone, Debug, Default)]
pub struct PairTally {
    /// Their calls overlapped in time (or started together): parallel.
    pub overlap: u64,
    /// The first (in key order) ended before the second started.
    pub first_before: u64,
    pub second_before: u64,
    /// The first failed and the second was called after it ended.
    pub second_after_first_failed: u64,
    pub first_after_second_failed: u64,
}

/// One-way network delay between two regions (from → to).
#[derive(Clone, Debug, Default)]
pub struct NetTally {
    /// Server start − client start (request way), ns; may be negative (skew).
    pub out: Sample,
    /// Client end − server end (response way), ns.
    pub back: Sample,
}

/// A queue: publishes and deliveries.
#[derive(Clone, Debug, Default)]
pub struct QueueTally {
    pub published: u64,
    /// Consumer service → deliveries.
    pub consumers: BTreeMap<u32, u64>,
    /// Region → deliveries.
    pub regions: BTreeMap<u32, u64>,
    pub deliveries: u64,
    pub failed_deliveries: u64,
    /// The most deliveries of one published message.
    pub max_deliveries: u64,
}

/// Everything the traces add up to.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    pub traces: u64,
    pub spans: u64,
    /// Customer requests (root spans that are not message deliveries).
    pub requests: u64,
    pub flows: BTreeMap<u32, FlowTally>,
    /// Region → requests arriving there.
    pub arrivals: BTreeMap<u32, u64>,
    pub first_arrival_ns: Option<u64>,
    pub last_arrival_ns: Option<u64>,
    pub services: BTreeMap<u32, ServiceTally>,
    pub edges: BTreeMap<(u32, Target), EdgeTally>,
    /// (caller, a, b) with a < b.
    pub pairs: BTreeMap<(u32, Target, Target), PairTally>,
    /// (service, flow) → server spans that reached their calls (no own failure).
    pub reached: BTreeMap<(u32, u32), u64>,
    pub network: BTreeMap<(u32, u32), NetTally>,
    pub queues: BTreeMap<u32, QueueTally>,
    /// Problems found assembling traces.
    pub counts: Counts,
}

impl Tally {
    pub fn arrival(&mut self, t: u64) {
        self.first_arrival_ns = Some(self.first_arrival_ns.map_or(t, |f| f.min(t)));
        self.last_arrival_ns = Some(self.last_arrival_ns.map_or(t, |l| l.max(t)));
    }

    /// Seconds from the first request's arrival to the last one's.
    pub fn window_s(&self) -> f64 {
        match (self.first_arrival_ns, self.last_arrival_ns) {
            (Some(a), Some(b)) => (b - a) as f64 / 1e9,
            _ => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bottom_k_does_not_depend_on_order() {
        // The same values offered in two orders leave the same sample.
        let mut a = Sample::default();
        let mut b = Sample::default();
        let n = 3 * SAMPLE as u64;
        for i in 0..n {
            a.offer(key(i as u128, i, 1), i as i64);
        }
        for i in (0..n).rev() {
            b.offer(key(i as u128, i, 1), i as i64);
        }
        assert_eq!(a.sorted(), b.sorted());
        assert_eq!(a.len(), SAMPLE);
        assert_eq!(a.offered, n);
        // A uniform sample: its mean is near the population's, (n − 1)/2,
        // within 4 standard errors of a mean of SAMPLE draws without replacement.
        let mean = a.sorted().iter().sum::<i64>() as f64 / SAMPLE as f64;
        let sd = (n as f64) / 12f64.sqrt();
        assert!((mean - (n as f64 - 1.0) / 2.0).abs() < 4.0 * sd / (SAMPLE as f64).sqrt());
    }
}

//! The floor loop: a speed yardstick, not part of the simulator.
//!
//! It is the least a discrete-event simulation of an M/M/4 queue (ρ = 0.8,
//! the peer models' M/M/c) can do per event: a binary heap of
//! `(time, seq)` keys, one ChaCha8 stream, exponential draws, a FIFO
//! waiting room, and nothing else — no routing, no recording. Timing it
//! beside a chaoscal run on the same core expresses that run's cost in
//! *floor events* per simulated request, a figure that does not depend on
//! how fast the machine is (`chaoscal bench`, `cargo bench --bench floor`).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp1};

/// What a floor run did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FloorRun {
    /// Events handled: arrivals and service completions.
    pub events: u64,
    /// Customers served (a checksum that keeps the loop from being optimised away).
    pub served: u64,
    /// Simulated time at the end, ns.
    pub now: u64,
}

/// Runs the floor loop for `events` events.
pub fn floor_loop(events: u64, seed: u64) -> FloorRun {
    const SERVERS: u32 = 4;
    const ARRIVAL_MEAN_NS: f64 = 1e6 / 3.2; // λ = 3.2 per ms
    const SERVICE_MEAN_NS: f64 = 1e6; // μ = 1 per ms and server
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut draw = |mean: f64| -> u64 {
        let e: f64 = Exp1.sample(&mut rng);
        (e * mean) as u64 + 1
    };
    // (time, seq, is_departure)
    let mut heap: BinaryHeap<Reverse<(u64, u64, bool)>> = BinaryHeap::with_capacity(64);
    let mut waiting: VecDeque<u64> = VecDeque::new();
    let (mut seq, mut busy, mut served, mut now, mut handled) = (0u64, 0u32, 0u64, 0u64, 0u64);
    heap.push(Reverse((draw(ARRIVAL_MEAN_NS), seq, false)));
    while handled < events {
        let Some(Reverse((t, _, departure))) = heap.pop() else {
            break;
        };
        now = t;
        handled += 1;
        seq += 1;
        if departure {
            served += 1;
            if waiting.pop_front().is_some() {
                heap.push(Reverse((now + draw(SERVICE_MEAN_NS), seq, true)));
            } else {
                busy -= 1;
            }
        } else {
            heap.push(Reverse((now + draw(ARRIVAL_MEAN_NS), seq, false)));
            seq += 1;
            if busy < SERVERS {
                busy += 1;
                heap.push(Reverse((now + draw(SERVICE_MEAN_NS), seq, true)));
            } else {
                waiting.push_back(now);
            }
        }
    }
    FloorRun {
        events: handled,
        served,
        now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_loop_is_an_mm4_at_rho_0_8() {
        // 2 M events: half arrivals, half completions at steady state, and
        // arrivals at 3.2 per ms: the clock reaches about 1e6 / 3.2 ms.
        let r = floor_loop(2_000_000, 7);
        assert_eq!(r.events, 2_000_000);
        let ms = r.now as f64 / 1e6;
        assert!((ms / (1e6 / 3.2) - 1.0).abs() < 0.01, "{ms} ms");
        assert!((r.served as f64 / 1e6 - 1.0).abs() < 0.01, "{} served", r.served);
    }
}

//! The floor loop on its own: `cargo bench --bench floor [EVENTS]` prints its
//! nanoseconds per event on this machine (see `chaoscal::sim::floor`; `chaoscal
//! bench --model SCENARIO` times a scenario beside it).

use std::time::Instant;

fn main() {
    let events: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20_000_000);
    let started = Instant::now();
    let run = chaoscal::sim::floor::floor_loop(events, 1);
    let wall = started.elapsed().as_secs_f64();
    println!(
        "floor loop: {} events in {wall:.3} s, {:.1} ns per event ({} served)",
        run.events,
        wall * 1e9 / run.events as f64,
        run.served
    );
}

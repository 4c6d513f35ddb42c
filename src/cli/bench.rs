//! `chaoscal bench`: simulated events per second, on the peer models'
//! M/M/1 and M/M/4 or on a scenario, on one thread and on all; and, for a
//! scenario, its cost per simulated request in *floor events* (see
//! [`crate::sim::floor`]) measured beside the floor loop on the same core,
//! with the cost of its skeleton ([`crate::sim::skeleton`]) for comparison.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::{default_threads, load_scenarios, print_diagnostics};
use crate::input;
use crate::input::LoadedScenario;
use crate::montecarlo::{RunOptions, run_scenario};
use crate::sim::{floor::floor_loop, run_replication, skeleton::skeleton_loop};

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// `mm1`, `mmc` (M/M/4 of the peer models) or a scenario file.
    #[arg(long, default_value = "mmc")]
    pub model: String,
    /// External arrivals per replication, for mm1/mmc.
    #[arg(long, default_value_t = 1_000_000)]
    pub arrivals: u64,
    /// Replications to run.
    #[arg(long, default_value_t = 4)]
    pub replications: u64,
    /// Worker threads (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// The peer models' M/M/1 (ρ = 0.9) and M/M/4 (ρ = 0.8), time unit 1 ms.
pub fn peer_model(model: &str, arrivals: u64) -> Option<(String, String)> {
    let (lam_per_ms, servers) = match model {
        "mm1" => (0.9, 1),
        "mmc" => (3.2, 4),
        _ => return None,
    };
    let duration_s = arrivals as f64 / (lam_per_ms * 1000.0);
    let topo = format!(
        "name = \"{model}\"\n[[regions]]\nname = \"r\"\n[[flows]]\nname = \"job\"\nentry = \"station\"\n\
         [[services]]\nname = \"station\"\nregions = [\"r\"]\nconcurrency = {servers}\nqueue = 100000000\n\
         service_time = {{ dist = \"exp\", mean_ms = 1 }}\n"
    );
    let scn = format!(
        "[experiment]\nname = \"bench-{model}\"\ntopology = \"t.toml\"\n[run]\nduration_s = {duration_s}\n\
         warmup_s = {}\nreplications = 1\nseed = 1\n[workload]\nrate_per_s = {}\n",
        duration_s / 10.0,
        lam_per_ms * 1000.0
    );
    Some((topo, scn))
}

pub fn cmd_bench(args: &BenchArgs) -> i32 {
    let (model, replications) = (args.model.as_str(), args.replications);
    let loaded = match peer_model(model, args.arrivals) {
        Some((t, s)) => {
            match input::scenario_from_str(Path::new("bench-topology.toml"), &t, Path::new("bench.toml"), &s) {
                Ok((l, _)) => l,
                Err(d) => {
                    print_diagnostics(&d);
                    return 2;
                }
            }
        }
        None => {
            let (mut loaded, diags) = load_scenarios(&[PathBuf::from(model)]);
            if diags.iter().any(|d| d.is_error()) || loaded.len() != 1 {
                print_diagnostics(&diags);
                eprintln!("error: --model takes mm1, mmc or one scenario file");
                return 2;
            }
            loaded.remove(0)
        }
    };
    let all = args.threads.unwrap_or_else(default_threads);
    println!("model {model}: {replications} replication(s)");
    if peer_model(model, 0).is_none() {
        floor_events_per_request(&loaded, replications);
    }
    let mut single = 0.0;
    for t in [1, all] {
        let opts = RunOptions::first(replications, loaded.scenario.seed, t);
        let started = Instant::now();
        let agg = run_scenario(&loaded.topology, &loaded.scenario, &opts, &mut |_, _| {});
        let wall = started.elapsed().as_secs_f64();
        let rate = agg.peer_events as f64 / wall;
        if t == 1 {
            single = rate;
        }
        println!(
            "  threads {t}: {:.3} s, {} peer events ({:.2} M/s), {} engine events ({:.2} M/s), speed-up {:.2}x",
            wall,
            agg.peer_events,
            rate / 1e6,
            agg.events,
            agg.events as f64 / wall / 1e6,
            rate / single
        );
        if all == 1 {
            break;
        }
    }
    0
}

/// Floor-loop events timed before and after the scenario's replications.
const FLOOR_EVENTS: u64 = 20_000_000;

/// Prints the scenario's requests per second on one core and its cost per
/// request in floor events: replications run one after the other on this
/// thread, then as many runs of the scenario's skeleton (its hops and
/// latencies without mechanisms, [`crate::sim::skeleton`]), between two
/// timings of the floor loop (their mean is the floor).
fn floor_events_per_request(loaded: &LoadedScenario, replications: u64) {
    let floor_ns = || {
        let started = Instant::now();
        let run = floor_loop(FLOOR_EVENTS, 1);
        started.elapsed().as_secs_f64() * 1e9 / run.events as f64
    };
    let before = floor_ns();
    let started = Instant::now();
    let (mut requests, mut events) = (0u64, 0u64);
    for i in 0..replications {
        let out = run_replication(&loaded.topology, &loaded.scenario, loaded.scenario.seed, i);
        requests += out.arrivals;
        events += out.events;
    }
    let wall = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let (mut sk_requests, mut sk_events) = (0u64, 0u64);
    for i in 0..replications {
        let run = skeleton_loop(&loaded.topology, &loaded.scenario, loaded.scenario.seed.wrapping_add(i));
        sk_requests += run.requests;
        sk_events += run.events;
    }
    let sk_wall = started.elapsed().as_secs_f64();
    let after = floor_ns();
    let floor = (before + after) / 2.0;
    let per_request_ns = wall * 1e9 / requests.max(1) as f64;
    println!(
        "  floor loop (M/M/4, binary heap, ChaCha8): {floor:.1} ns per event ({before:.1} before, {after:.1} after)"
    );
    println!(
        "  one core: {requests} requests in {wall:.3} s = {:.0} requests/s, {:.1} engine events per request, \
         {:.1} floor events per request",
        requests as f64 / wall,
        events as f64 / requests.max(1) as f64,
        per_request_ns / floor
    );
    println!(
        "  its skeleton (the same hops and latencies, no mechanisms, no recording): {:.1} engine events per \
         request, {:.1} floor events per request",
        sk_events as f64 / sk_requests.max(1) as f64,
        sk_wall * 1e9 / sk_requests.max(1) as f64 / floor
    );
}

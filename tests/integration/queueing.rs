//! Single stations against queueing theory.
//!
//! Each test runs independent replications, takes one estimate per
//! replication, and accepts the simulation when the theory lies within
//! 4 standard errors of the replication mean (a false alarm about once in
//! 16,000 runs of an unbiased estimator). Warm-up is a tenth of each run,
//! hundreds of relaxation times for these loads, so no allowance is made for
//! initial-transient bias. Time unit: the mean service time is 1 ms.

use super::common::*;

const REPS: u64 = 30;
const Z: f64 = 4.0;

/// Erlang B blocking probability B(c, a), by the stable recurrence.
fn erlang_b(c: u32, a: f64) -> f64 {
    (1..=c).fold(1.0, |b, k| a * b / (k as f64 + a * b))
}

/// Erlang C probability of waiting C(c, a), from Erlang B.
fn erlang_c(c: u32, a: f64) -> f64 {
    let b = erlang_b(c, a);
    let rho = a / c as f64;
    b / (1.0 - rho + rho * b)
}

/// Per-replication mean latency of the flow (sojourn), in ms.
fn sojourn_ms(outs: &[chaoscal::sim::ReplicationOutput]) -> Vec<f64> {
    outs.iter().map(|o| o.recorder.flows[0].latency.mean() / 1e6).collect()
}

/// Per-replication mean waiting time at the station, in ms.
fn wait_ms(outs: &[chaoscal::sim::ReplicationOutput]) -> Vec<f64> {
    outs.iter()
        .map(|o| o.recorder.groups[0].queue_wait.mean() / 1e6)
        .collect()
}

#[test]
fn erlang_formulas_match_tables() {
    // The closed forms used below reproduce textbook values.
    assert!((erlang_b(5, 3.0) - 0.110_054).abs() < 1e-6);
    assert!((erlang_c(4, 3.2) - 0.596_432).abs() < 1e-5);
}

#[test]
fn mm1_mean_sojourn_and_wait() {
    // M/M/1 at ρ = 0.7: W = 1/(μ−λ) = 3.333 ms, Wq = ρ/(μ−λ) = 2.333 ms.
    let l = load(&station(1, 1_000_000, 1.0), &scenario(700.0, 200.0, 20.0, ""));
    let outs = replicate(&l, REPS);
    assert_close("M/M/1 sojourn", &sojourn_ms(&outs), 1.0 / 0.3, Z, 0.0);
    assert_close("M/M/1 wait", &wait_ms(&outs), 0.7 / 0.3, Z, 0.0);
}

#[test]
fn mmc_mean_wait_is_erlang_c() {
    // M/M/4 at ρ = 0.8 (the peer model): Wq = C(4, 3.2)/(cμ − λ), W = Wq + 1/μ.
    let l = load(&station(4, 1_000_000, 1.0), &scenario(3200.0, 60.0, 6.0, ""));
    let outs = replicate(&l, REPS);
    let wq = erlang_c(4, 3.2) / (4.0 - 3.2);
    assert_close("M/M/4 wait", &wait_ms(&outs), wq, Z, 0.0);
    assert_close("M/M/4 sojourn", &sojourn_ms(&outs), wq + 1.0, Z, 0.0);
}

#[test]
fn loss_system_blocks_erlang_b() {
    // M/M/5/5 (no waiting room) offered 3 Erlang blocks B(5, 3) = 11.0% of arrivals.
    let l = load(&station(5, 0, 1.0), &scenario(3000.0, 30.0, 3.0, ""));
    let outs = replicate(&l, REPS);
    let blocked: Vec<f64> = outs
        .iter()
        .map(|o| o.recorder.groups[0].rejected as f64 / o.recorder.groups[0].requests as f64)
        .collect();
    assert_close("Erlang B blocking", &blocked, erlang_b(5, 3.0), Z, 0.0);
}

#[test]
fn mm1k_blocking_probability() {
    // M/M/1/K with K = 5 (one server, four waiting) at ρ = 0.9 blocks (1−ρ)ρ^K/(1−ρ^(K+1)).
    let l = load(&station(1, 4, 1.0), &scenario(900.0, 60.0, 6.0, ""));
    let outs = replicate(&l, REPS);
    let rho: f64 = 0.9;
    let pk = (1.0 - rho) * rho.powi(5) / (1.0 - rho.powi(6));
    let blocked: Vec<f64> = outs
        .iter()
        .map(|o| o.recorder.groups[0].rejected as f64 / o.recorder.groups[0].requests as f64)
        .collect();
    assert_close("M/M/1/5 blocking", &blocked, pk, Z, 0.0);
}

#[test]
fn md1_wait_is_pollaczek_khinchine() {
    // M/D/1 at ρ = 0.8: Wq = ρ/(2μ(1−ρ)) = 2 ms (a non-exponential service time).
    let topo = station(1, 1_000_000, 1.0).replace("{ dist = \"exp\", mean_ms = 1 }", "1");
    let l = load(&topo, &scenario(800.0, 100.0, 10.0, ""));
    let outs = replicate(&l, REPS);
    assert_close("M/D/1 wait", &wait_ms(&outs), 0.8 / (2.0 * 0.2), Z, 0.0);
}

#[test]
fn mm1_sojourn_tail_seen_through_a_timeout() {
    // A caller with a 10 ms timeout in front of an M/M/1 (ρ = 0.8) gives up on
    // P(T > 10 ms) = e^{−(μ−λ)·10} = e^{−2} of its calls.
    let topo = "name = \"tail\"\n[[regions]]\nname = \"r\"\n[[flows]]\nname = \"job\"\nentry = \"caller\"\n\
        [[services]]\nname = \"caller\"\nregions = [\"r\"]\nconcurrency = 100000\nservice_time = 0\n\
        [[services.calls]]\nto = \"station\"\ntimeout_ms = 10\n\
        [[services]]\nname = \"station\"\nregions = [\"r\"]\nqueue = 1000000\n\
        service_time = { dist = \"exp\", mean_ms = 1 }\n";
    let l = load(topo, &scenario(800.0, 100.0, 10.0, ""));
    let outs = replicate(&l, REPS);
    let gave_up: Vec<f64> = outs
        .iter()
        .map(|o| o.recorder.flows[0].failed as f64 / o.recorder.flows[0].requests as f64)
        .collect();
    assert_close("M/M/1 P(T > 10 ms)", &gave_up, (-2.0f64).exp(), Z, 0.0);
    // The station counts the same give-ups as timeouts.
    let timeouts: u64 = outs.iter().map(|o| o.recorder.groups[1].timeouts).sum();
    let failed: u64 = outs.iter().map(|o| o.recorder.flows[0].failed).sum();
    assert!(
        timeouts.abs_diff(failed) <= REPS,
        "timeouts {timeouts} vs failed requests {failed}"
    );
}

#[test]
fn utilization_is_offered_load_per_server() {
    // Busy-server time over capacity equals λ/(cμ) for a stable M/M/c (here 0.8).
    let l = load(&station(4, 1_000_000, 1.0), &scenario(3200.0, 60.0, 6.0, ""));
    let outs = replicate(&l, REPS);
    let util: Vec<f64> = outs.iter().map(|o| o.recorder.groups[0].utilization()).collect();
    assert_close("M/M/4 utilization", &util, 0.8, Z, 0.0);
}

#[test]
fn memory_per_replication_does_not_grow_with_the_run() {
    // A 10× longer M/M/4 run keeps at most a few more requests in flight
    // (the longest queue grows like log t, not like t): the slabs that hold
    // calls and requests stay bounded by the load, not the request count.
    let short = load(&station(4, 1_000_000, 1.0), &scenario(3200.0, 50.0, 5.0, ""));
    let long = load(&station(4, 1_000_000, 1.0), &scenario(3200.0, 500.0, 5.0, ""));
    let peak = |l| replicate(l, 3).iter().map(|o| o.peak_in_flight).max().unwrap();
    let (p_short, p_long) = (peak(&short), peak(&long));
    assert!(
        p_long < 2 * p_short,
        "peak in flight {p_short} → {p_long} for a 10x longer run"
    );
    // And far below the number of requests (1.6 M in the long run).
    assert!(p_long < 1000, "{p_long}");
}

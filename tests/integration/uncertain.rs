//! `[[uncertain]]` inputs: drawn per replication from their own streams,
//! recorded, and turned into sensitivity. Known answers: a uniform error
//! rate across the objective violates with the share of its range beyond
//! it; an input that does not touch availability explains none of it; two
//! error rates in series split the variance as their variances do. Replays,
//! threads and shards draw the same inputs.

use std::path::Path;

use chaoscal::montecarlo::{RunOptions, run_scenario};
use chaoscal::results::Summary;

use super::common::*;

/// One station (error rate 0.001, exponential 5 ms service, 64 servers: no queueing to speak of).
const STATION: &str = "name = \"station\"\n[[regions]]\nname = \"r\"\n[[flows]]\nname = \"job\"\nentry = \"station\"\n\
    [[services]]\nname = \"station\"\nregions = [\"r\"]\nconcurrency = 64\nqueue = 100\nerror_rate = 0.001\n\
    service_time = { dist = \"exp\", mean_ms = 5 }\n";

/// The station calling a second service: a request fails when either fails (no retries, no fallback).
const SERIES: &str = "name = \"series\"\n[[regions]]\nname = \"r\"\n[[flows]]\nname = \"job\"\nentry = \"front\"\n\
    [[services]]\nname = \"front\"\nregions = [\"r\"]\nconcurrency = 64\nerror_rate = 0.001\n\
    service_time = { dist = \"exp\", mean_ms = 1 }\n  [[services.calls]]\n  to = \"back\"\n  timeout_ms = 10000\n\
    [[services]]\nname = \"back\"\nregions = [\"r\"]\nconcurrency = 64\nerror_rate = 0.001\n\
    service_time = { dist = \"exp\", mean_ms = 1 }\n";

fn availability_slo(objective: f64) -> String {
    format!("[[slos]]\nname = \"avail\"\nflow = \"job\"\nkind = \"availability\"\nobjective = {objective}\n")
}

fn uncertain(set: &str, min: f64, max: f64) -> String {
    format!("[[uncertain]]\nset = \"{set}\"\ndist = {{ dist = \"uniform\", min = {min}, max = {max} }}\n")
}

/// Runs replications 0..n of an inline model in this process and summarises them.
fn summarise(topology: &str, scenario: &str, n: u64) -> Summary {
    let l = load(topology, scenario);
    let agg = run_scenario(
        &l.topology,
        &l.scenario,
        &RunOptions::first(n, l.scenario.seed, 2),
        &mut |_, _| {},
    );
    Summary::of(&l.topology, &l.scenario, &agg)
}

/// (first_order, rank_correlation) of input `set` for outcome `outcome`.
fn sensitivity(s: &Summary, set: &str, outcome: &str) -> (f64, f64) {
    let u = s
        .uncertainty
        .iter()
        .find(|u| u.set == set)
        .expect("the input is summarised");
    let x = u
        .sensitivity
        .iter()
        .find(|x| x.outcome == outcome)
        .expect("the outcome is summarised");
    (x.first_order.unwrap(), x.rank_correlation.unwrap())
}

#[test]
fn a_uniform_error_rate_violates_with_the_share_of_its_range_beyond_the_objective() {
    // Error rate U(0, 0.02), objective 0.985: violated when the rate passes 0.015, a quarter of the range.
    // 6000 requests a replication measure the rate within ±0.0016 (sd), symmetric around the cut, so
    // P(violate) = 0.25; 400 replications: binomial sd 0.022, tolerance 4 sd.
    let scn = scenario(200.0, 30.0, 0.0, &availability_slo(0.985))
        + &uncertain("services.station.error_rate", 0.0, 0.02)
        + &uncertain("services.station.service_time.mean_ms", 2.0, 8.0);
    let s = summarise(STATION, &scn, 400);
    let p = s.slos[0].probability;
    assert!(
        (p - 0.25).abs() <= 4.0 * (0.25f64 * 0.75 / 400.0).sqrt(),
        "P(violate) = {p}"
    );
    // The drawn spread is the uniform's: mean 0.01, within the range.
    let u = &s.uncertainty[0];
    assert_eq!(u.range, [0.0, 0.02]);
    assert!(
        (u.drawn.mean - 0.01).abs() < 4.0 * 0.02 / 12f64.sqrt() / 20.0,
        "{}",
        u.drawn.mean
    );
    // The violation curve crosses a 5% limit below 0.015: where P(measured rate > 0.015) reaches 5%,
    // 1.645 sd (0.0016) lower, i.e. 0.0124, moved by up to a bin (0.002) by binning and 40-replication
    // bins: within [0.009, 0.016].
    let x = u.sensitivity.iter().find(|x| x.outcome == "avail").unwrap();
    let c = x.crosses_limit.as_ref().expect("the curve crosses the limit");
    assert_eq!(c.when, "above");
    assert!((0.009..=0.016).contains(&c.value), "crosses at {}", c.value);
}

#[test]
fn only_the_input_that_moves_availability_explains_it() {
    // Availability ≈ 1 − error rate: the error rate U(0, 0.02) has variance 3.3e-5 against the
    // measurement noise's ≈ 0.01/6000 = 1.7e-6, so S₁ ≈ 0.95, ρ ≈ −1; the service time does not touch
    // availability: S₁ ≈ 0 (ε² at n = 400 has sd ≈ 0.02), |ρ| < 4/√400.
    let scn = scenario(200.0, 30.0, 0.0, &availability_slo(0.99))
        + &uncertain("services.station.error_rate", 0.0, 0.02)
        + &uncertain("services.station.service_time.mean_ms", 2.0, 8.0);
    let s = summarise(STATION, &scn, 400);
    let (s_err, r_err) = sensitivity(&s, "services.station.error_rate", "avail");
    let (s_time, r_time) = sensitivity(&s, "services.station.service_time.mean_ms", "avail");
    assert!(s_err > 0.9, "S₁(error rate) = {s_err}");
    assert!(r_err < -0.9, "ρ(error rate) = {r_err}");
    assert!(s_time < 0.08, "S₁(service time) = {s_time}");
    assert!(r_time.abs() < 0.2, "ρ(service time) = {r_time}");
}

#[test]
fn two_error_rates_in_series_share_the_variance_as_their_variances_do() {
    // Availability ≈ 1 − e_front − e_back: e_front U(0, 0.02) (variance 4/12·1e-4), e_back U(0, 0.01)
    // (1/12·1e-4), measurement noise ≈ 0.01·0.99/6000: variances 33.3, 8.3 and 1.65 (·1e-6), so
    // S₁ = 0.77 and 0.19.
    // n = 600: the estimator's sd ≈ 0.03; binning takes off about S/G² (G = 24); within 0.1.
    let scn = scenario(200.0, 30.0, 0.0, &availability_slo(0.99))
        + &uncertain("services.front.error_rate", 0.0, 0.02)
        + &uncertain("services.back.error_rate", 0.0, 0.01);
    let s = summarise(SERIES, &scn, 600);
    let noise = 0.01 * 0.99 / 6000.0;
    let (vf, vb) = (0.02f64.powi(2) / 12.0, 0.01f64.powi(2) / 12.0);
    let total = vf + vb + noise;
    let (s_front, r_front) = sensitivity(&s, "services.front.error_rate", "avail");
    let (s_back, _) = sensitivity(&s, "services.back.error_rate", "avail");
    assert!(
        (s_front - vf / total).abs() < 0.1,
        "S₁(front) = {s_front}, expected {}",
        vf / total
    );
    assert!(
        (s_back - vb / total).abs() < 0.1,
        "S₁(back) = {s_back}, expected {}",
        vb / total
    );
    assert!(r_front < -0.7, "ρ(front) = {r_front}");
}

/// A scenario file with two uncertain inputs next to the station topology, in a fresh folder.
fn files(name: &str) -> std::path::PathBuf {
    let dir = scratch(name);
    std::fs::write(dir.join("t.toml"), STATION).unwrap();
    let scn = scenario(100.0, 20.0, 0.0, &availability_slo(0.99))
        .replace(
            "[experiment]\n",
            "[experiment]\nowner = \"t\"\nhypothesis = \"h\"\nrollback = \"r\"\n",
        )
        .replace("replications = 1", "replications = 12")
        + &uncertain("services.station.error_rate", 0.0, 0.02)
        + "[[uncertain]]\nset = \"workload.multiplier\"\ndist = { dist = \"lognormal\", median = 1, p99 = 1.5 }\n"
        + "[[faults]]\nname = \"flaky\"\nkind = \"abort\"\ntarget = { service = \"station\" }\nstart_s = 5\nduration_s = 10\npercent = 2\n"
        + "[blast_radius]\nmax_services = 1\nmax_regions = 1\n";
    std::fs::write(dir.join("s.toml"), scn).unwrap();
    dir
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn replays_threads_and_shards_draw_the_same_inputs() {
    // Replication 5 replayed alone has the same row (inputs included) as in the full run; the full run's
    // summary.json and replications.csv are byte-identical on 1 and 2 threads and merged from 3 shards.
    let dir = files("uncertain-determinism");
    let s = dir.join("s.toml").display().to_string();
    let out = |name: &str| dir.join(name).display().to_string();
    for (name, threads) in [("one", "1"), ("two", "2")] {
        let o = run_cli(&["run", &s, "--out", &out(name), "--threads", threads, "--quiet"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    for k in 0..3 {
        let o = run_cli(&[
            "run",
            &s,
            "--out",
            &out("shards"),
            "--shard",
            &format!("{k}/3"),
            "--quiet",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let o = run_cli(&[
        "merge",
        &out("shards"),
        "--out",
        &out("merged"),
        "--no-report",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in ["summary.json", "replications.csv"] {
        let one = read(&dir.join("one/t").join(f));
        assert_eq!(one, read(&dir.join("two/t").join(f)), "{f}: threads");
        assert_eq!(one, read(&dir.join("merged/t").join(f)), "{f}: shards");
    }
    let csv = read(&dir.join("one/t/replications.csv"));
    let header = csv.lines().next().unwrap();
    assert!(
        header.ends_with(",uncertain.services.station.error_rate,uncertain.workload.multiplier"),
        "{header}"
    );
    let o = run_cli(&["run", &s, "--out", &out("replay"), "--replication", "5", "--quiet"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let replay = read(&dir.join("replay/t/replications.csv"));
    let row5 = csv.lines().nth(6).unwrap();
    assert_eq!(replay.lines().nth(1).unwrap(), row5, "replication 5 replayed alone");
    let summary = read(&dir.join("one/t/summary.json"));
    assert!(
        summary.contains("\"uncertainty\"") && summary.contains("\"containment_breach\""),
        "{summary}"
    );
}

#[test]
fn a_bad_uncertain_key_or_range_is_located() {
    // A misspelt key names the near match, as sweep does, reported with a broken distribution at once;
    // an SLO's objective is refused (it judges the outcome, the same for every replication);
    // a range the field refuses (a negative mean service time) is refused at load, located at the
    // entry's dist; exit 2 each time, never a panic.
    let dir = files("uncertain-bad");
    let good = read(&dir.join("s.toml"));
    let validate = |text: &str| {
        std::fs::write(dir.join("s.toml"), text).unwrap();
        let o = run_cli(&["validate", &dir.join("s.toml").display().to_string()]);
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        err
    };
    let err = validate(
        &(good.replace("services.station.error_rate\"", "services.staton.error_rate\"")
            + &uncertain("services.station.concurrency", 8.0, 2.0)),
    );
    assert!(err.contains("unknown key \"services.staton.error_rate\""), "{err}");
    assert!(err.contains("near matches: services.station.error_rate"), "{err}");
    assert!(err.contains("uncertain[2].dist"), "the broken distribution too: {err}");
    let err = validate(&(good.clone() + &uncertain("slos.avail.objective", 0.98, 0.995)));
    assert!(
        err.contains("uncertain[2].set") && err.contains("how the outcome is judged"),
        "{err}"
    );
    let bad_range = good + &uncertain("services.station.service_time.mean_ms", -5.0, 5.0);
    let err = validate(&bad_range);
    let line = bad_range.lines().position(|l| l.contains("min = -5")).unwrap() + 1;
    assert!(
        err.contains(&format!("s.toml:{line}:")),
        "the refused range is located at line {line}: {err}"
    );
}

//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chaoscal::input::{LoadedScenario, scenario_from_str};
use chaoscal::sim::{ReplicationOutput, run_replication};

/// Loads a scenario written inline against an inline topology; panics with
/// the diagnostics if the texts are wrong (a broken test, not a user error).
pub fn load(topology: &str, scenario: &str) -> LoadedScenario {
    match scenario_from_str(Path::new("t.toml"), topology, Path::new("s.toml"), scenario) {
        Ok((l, _)) => l,
        Err(d) => panic!(
            "test model does not load:\n{}",
            d.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")
        ),
    }
}

/// Runs replications 0..n one after the other.
pub fn replicate(l: &LoadedScenario, n: u64) -> Vec<ReplicationOutput> {
    (0..n)
        .map(|i| run_replication(&l.topology, &l.scenario, l.scenario.seed, i))
        .collect()
}

/// Mean and standard error of the mean of independent replication figures.
pub fn mean_se(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0);
    (m, (var / n).sqrt())
}

/// Asserts a simulated mean is within `z` standard errors of the theory,
/// plus a small relative allowance for what the estimator cannot remove
/// (initial-transient bias after warm-up, nanosecond rounding).
pub fn assert_close(what: &str, xs: &[f64], theory: f64, z: f64, rel_bias: f64) {
    let (m, se) = mean_se(xs);
    let tol = z * se + rel_bias * theory.abs();
    eprintln!("{what}: simulated {m:.6} ± {se:.6} (se), theory {theory:.6}");
    assert!(
        (m - theory).abs() <= tol,
        "{what}: simulated {m:.6} ± {se:.6} (se), theory {theory:.6}, tolerance {tol:.6}"
    );
}

/// The chaoscal binary built for these tests.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_chaoscal"))
}

pub fn run_cli(args: &[&str]) -> Output {
    bin().args(args).output().expect("the chaoscal binary runs")
}

/// A fresh, empty folder under the target directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder can be created");
    dir
}

/// A one-station topology: `servers` servers, waiting room `queue`,
/// exponential service with mean `mean_ms`, arrivals at the station.
pub fn station(servers: u32, queue: u32, mean_ms: f64) -> String {
    format!(
        "name = \"station\"\n[[regions]]\nname = \"r\"\n[[flows]]\nname = \"job\"\nentry = \"station\"\n\
         [[services]]\nname = \"station\"\nregions = [\"r\"]\nconcurrency = {servers}\nqueue = {queue}\n\
         service_time = {{ dist = \"exp\", mean_ms = {mean_ms} }}\n"
    )
}

/// A scenario header: Poisson arrivals at `rate_per_s` for `duration_s`.
pub fn scenario(rate_per_s: f64, duration_s: f64, warmup_s: f64, extra: &str) -> String {
    format!(
        "[experiment]\nname = \"t\"\ntopology = \"t.toml\"\n[run]\nduration_s = {duration_s}\nwarmup_s = {warmup_s}\n\
         replications = 1\nseed = 42\n[workload]\nrate_per_s = {rate_per_s}\n{extra}"
    )
}

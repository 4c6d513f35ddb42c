//! Determinism: same inputs and seed give byte-identical outputs, whatever
//! the thread count; replication i never depends on how many run. The
//! scenario exercises every mechanism and fault family, random faults included.

use std::path::{Path, PathBuf};

use super::common::*;

/// A short game day on the bundled topology with every fault kind the engine simulates.
fn short_scenario(dir: &Path) -> PathBuf {
    let topo = Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/eu-us-payments.toml");
    let text = format!(
        r#"[experiment]
name = "det"
topology = "{}"
owner = "test"
hypothesis = "determinism"
rollback = "none"

[run]
duration_s = 60
warmup_s = 10
replications = 8
seed = 99

[workload]
rate_per_s = {{ eu-west = 40, us-east = 30 }}
[[workload.surges]]
start_s = 20
duration_s = 10
multiplier = 2.0

[[faults]]
kind = "latency"
target = {{ service = "psp-primary", region = "eu-west" }}
start_s = {{ dist = "uniform", min = 15, max = 25 }}
duration_s = 20
delay = {{ dist = "exp", mean_ms = 900 }}
percent = 50

[[faults]]
kind = "kill"
target = {{ service = "ai-pricing" }}
replicas = 2
start_s = 30
duration_s = 10

[[faults]]
kind = "abort"
target = {{ service = "ledger", region = "us-east" }}
start_s = 20
duration_s = 20
percent = 30

[[faults]]
kind = "slowdown"
target = {{ service = "fraud" }}
start_s = 10
factor = 3

[[faults]]
kind = "kill"
target = {{ service = "fraud", region = "us-east" }}
random = {{ mtbf_s = 15, mttr_s = 3 }}

[[faults]]
kind = "partition"
target = {{ between = ["eu-west", "us-east"] }}
start_s = 40
duration_s = 5

[[faults]]
kind = "drift"
target = {{ service = "ai-pricing" }}
wrong_rate = 0.3
start_s = 15
duration_s = 20

[[faults]]
kind = "queue_stall"
target = {{ queue = "ledger-events" }}
start_s = 20
duration_s = 15

[[slos]]
name = "avail"
flow = "checkout"
kind = "availability"
objective = 0.999

[[slos]]
name = "fast"
kind = "latency"
threshold_ms = 800
objective = 0.99
window_s = 20

[blast_radius]
max_services = 3
max_regions = 1

[[guardrails]]
name = "failover"
when = {{ slo = "avail", burn_rate = 2, window_s = 5 }}
detect_delay_s = 2
action = {{ kind = "failover", from = "psp-primary", to = "psp-secondary" }}

[[guardrails]]
name = "scale"
when = {{ slo = "fast", burn_rate = 2, window_s = 5 }}
action = {{ kind = "scale", service = "fraud", replicas = 1, delay_s = 3 }}
"#,
        topo.display()
    );
    let path = dir.join("det.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn run_to(scn: &Path, out: &Path, extra: &[&str]) {
    let mut args = vec!["run", scn.to_str().unwrap(), "--quiet", "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = run_cli(&args);
    assert!(o.status.success(), "run failed: {}", String::from_utf8_lossy(&o.stderr));
}

fn read(dir: &Path, file: &str) -> Vec<u8> {
    std::fs::read(dir.join("det").join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

const OUTPUTS: [&str; 7] = [
    "summary.json",
    "replications.csv",
    "services.csv",
    "timeseries.csv",
    "latency_cdf.csv",
    "faults.csv",
    "breakers.csv",
];

#[test]
fn thread_count_does_not_change_outputs() {
    // --threads 1 and --threads 2 (and a rerun) write byte-identical outputs.
    let dir = scratch("det-threads");
    let scn = short_scenario(&dir);
    run_to(&scn, &dir.join("t1"), &["--threads", "1"]);
    run_to(&scn, &dir.join("t2"), &["--threads", "2"]);
    run_to(&scn, &dir.join("t2again"), &["--threads", "2"]);
    for f in OUTPUTS {
        let a = read(&dir.join("t1"), f);
        assert!(!a.is_empty(), "{f} is empty");
        assert_eq!(a, read(&dir.join("t2"), f), "{f}: 1 vs 2 threads");
        assert_eq!(a, read(&dir.join("t2again"), f), "{f}: repeated run");
    }
}

#[test]
fn replications_do_not_depend_on_how_many_run() {
    // The rows of a 4-replication run equal the first 4 rows of an 8-replication run.
    let dir = scratch("det-prefix");
    let scn = short_scenario(&dir);
    run_to(&scn, &dir.join("four"), &["--replications", "4"]);
    run_to(&scn, &dir.join("eight"), &["--replications", "8"]);
    let four = String::from_utf8(read(&dir.join("four"), "replications.csv")).unwrap();
    let eight = String::from_utf8(read(&dir.join("eight"), "replications.csv")).unwrap();
    let four: Vec<&str> = four.lines().collect();
    let eight: Vec<&str> = eight.lines().collect();
    assert_eq!(four.len(), 5, "header + 4 rows");
    assert_eq!(eight.len(), 9, "header + 8 rows");
    assert_eq!(four[..], eight[..5]);
    // And the rows differ from each other: the streams really are distinct.
    assert_ne!(eight[1].split_once(',').unwrap().1, eight[2].split_once(',').unwrap().1);
}

#[test]
fn one_replication_replays_alone() {
    // `--replication 5` reproduces row 5 of the full run (the replay hint works).
    let dir = scratch("det-replay");
    let scn = short_scenario(&dir);
    run_to(&scn, &dir.join("all"), &[]);
    run_to(&scn, &dir.join("one"), &["--replication", "5"]);
    let all = String::from_utf8(read(&dir.join("all"), "replications.csv")).unwrap();
    let one = String::from_utf8(read(&dir.join("one"), "replications.csv")).unwrap();
    let row5 = all.lines().find(|l| l.starts_with("5,")).expect("row 5");
    assert_eq!(one.lines().nth(1), Some(row5));
}

#[test]
fn seed_changes_results() {
    // A different seed gives different numbers (the seed is really used).
    let dir = scratch("det-seed");
    let scn = short_scenario(&dir);
    run_to(&scn, &dir.join("a"), &["--replications", "2"]);
    run_to(&scn, &dir.join("b"), &["--replications", "2", "--seed", "100"]);
    assert_ne!(
        read(&dir.join("a"), "replications.csv"),
        read(&dir.join("b"), "replications.csv")
    );
}

#[test]
fn subsystem_streams_are_independent() {
    // Adding a fault that draws from the fault stream does not move arrivals:
    // the no-fault and abort runs see exactly the same number of requests.
    let base = scenario(200.0, 30.0, 0.0, "");
    let with_fault = scenario(
        200.0,
        30.0,
        0.0,
        "[[faults]]\nkind = \"abort\"\ntarget = { service = \"station\" }\nstart_s = 5\nduration_s = 10\npercent = 50\n",
    );
    let topo = station(4, 100, 1.0);
    let a = replicate(&load(&topo, &base), 3);
    let b = replicate(&load(&topo, &with_fault), 3);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.recorder.flows[0].requests, y.recorder.flows[0].requests);
        assert!(y.recorder.flows[0].failed > x.recorder.flows[0].failed);
    }
}

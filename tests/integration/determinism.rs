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

/// splitmix64: the kill points of the test below, from a fixed seed.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The replications a checkpoint holds, once it can be read.
fn checkpointed(dir: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(dir.join("det").join("checkpoint.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["partial"]["replications"].as_u64()
}

#[test]
fn a_killed_run_resumes_to_identical_results() {
    // A run SIGKILLed after a seeded number of checkpointed replications (and a seeded few
    // milliseconds more), then finished with --resume, writes the same bytes as a run never
    // interrupted; the checkpoint is gone afterwards.
    let dir = scratch("det-resume");
    let scn = short_scenario(&dir);
    let args = ["--replications", "300", "--threads", "2", "--no-report"];
    run_to(&scn, &dir.join("whole"), &args);
    let mut rng = 20261127u64;
    let mut killed_mid_run = 0;
    for k in 0..4 {
        let out = dir.join(format!("killed-{k}"));
        let threshold = 8u64 << (splitmix(&mut rng) % 6); // 8 … 256: a checkpoint of the rounds
        let extra_ms = splitmix(&mut rng) % 40;
        let mut child = bin()
            .args(["run", scn.to_str().unwrap(), "--quiet", "--out", out.to_str().unwrap()])
            .args(args)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Poll (bounded) until the checkpoint holds `threshold` replications, or the run ends.
        let mut reached = false;
        for _ in 0..60_000 {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            if checkpointed(&out).is_some_and(|n| n >= threshold) {
                reached = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        if reached {
            std::thread::sleep(std::time::Duration::from_millis(extra_ms));
            let _ = child.kill(); // SIGKILL
        }
        let status = child.wait().unwrap();
        if !status.success() {
            killed_mid_run += 1;
            assert!(
                checkpointed(&out).is_some(),
                "kill point {k}: no checkpoint left to resume from"
            );
        }
        run_to(&scn, &out, &[&args[..], &["--resume"]].concat());
        for f in OUTPUTS {
            assert_eq!(
                read(&dir.join("whole"), f),
                read(&out, f),
                "kill point {k} ({threshold}+): {f}"
            );
        }
        assert!(
            !out.join("det").join("checkpoint.json").exists(),
            "kill point {k}: checkpoint left behind"
        );
    }
    assert!(
        killed_mid_run >= 2,
        "only {killed_mid_run} of 4 runs were killed mid-run"
    );
}

#[test]
fn resume_refuses_a_checkpoint_of_another_run() {
    // A checkpoint taken with one seed is not resumed under another: exit 2, naming the seed;
    // a finished run leaves no checkpoint behind.
    let dir = scratch("det-resume-other");
    let scn = short_scenario(&dir);
    let out = dir.join("out");
    let o = out.to_str().unwrap();
    let mut child = bin()
        .args([
            "run",
            scn.to_str().unwrap(),
            "--quiet",
            "--no-report",
            "--replications",
            "300",
            "--out",
            o,
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..60_000 {
        if checkpointed(&out).is_some() || child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(checkpointed(&out).is_some(), "the run left a checkpoint");
    let r = run_cli(&[
        "run",
        scn.to_str().unwrap(),
        "--quiet",
        "--no-report",
        "--replications",
        "300",
        "--seed",
        "5",
        "--resume",
        "--out",
        o,
    ]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{err}");
    assert!(err.contains("seed 99, this run has 5"), "{err}");
}

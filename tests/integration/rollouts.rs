//! Canary rollouts and guardrails that let go, on cases whose answer can be
//! derived before running them.
//!
//! The mesh: customers arrive at 100/s in region a at a gateway `gw` that
//! calls `x` once (no retry, no timeout, no network delay); `x` runs 5
//! replicas and takes 1 ms. A rollout of `x` starts at 100 s. The new
//! version takes `weight`% of the calls, so in t seconds it serves
//! 100 × weight/100 × t requests on average (a thinned Poisson stream: its
//! standard deviation is the square root of that). Analyses measure every
//! `interval_s` from `initial_delay_s` after they start; the first failed
//! measurement beyond `failure_limit` aborts at that exact time.

use std::path::{Path, PathBuf};

use chaoscal::sim::{ReplicationOutput, Withdrawal};

use super::common::*;

const S: u64 = 1_000_000_000;

fn mesh() -> String {
    "name = \"m\"\n[[regions]]\nname = \"a\"\n[[regions]]\nname = \"b\"\n\
     [network]\nintra_region = 0\n[[network.links]]\nbetween = [\"a\", \"b\"]\nlatency = 40\n\
     [[flows]]\nname = \"job\"\nentry = \"gw\"\n\
     [[services]]\nname = \"gw\"\nregions = [\"a\"]\nconcurrency = 100000\nservice_time = 0\n\
     [[services.calls]]\nto = \"x\"\n\
     [[services]]\nname = \"x\"\nregions = [\"a\"]\nreplicas = 5\nconcurrency = 1000\nservice_time = 1\n\
     [[services]]\nname = \"y\"\nregions = [\"a\"]\nconcurrency = 1000\nservice_time = 1\n"
        .to_string()
}

/// A 400 s run at 100/s with an availability SLO and `extra` (the rollout, guardrails, faults).
fn scn(extra: &str) -> String {
    format!(
        "[experiment]\nname = \"t\"\ntopology = \"t.toml\"\n[run]\nduration_s = 400\nreplications = 1\nseed = 11\n\
         [workload]\nrate_per_s = {{ a = 100, b = 0 }}\n\
         [[slos]]\nname = \"avail\"\nkind = \"availability\"\nobjective = 0.99\n{extra}"
    )
}

/// A rollout of x from 100 s with these overrides and steps (and optionally a background analysis).
fn rollout(overrides: &str, steps: &str, background: &str) -> String {
    let bg = if background.is_empty() {
        String::new()
    } else {
        format!("analysis = {background}\n")
    };
    format!("[rollout]\nservice = \"x\"\nstart_s = 100\noverrides = {overrides}\nsteps = [{steps}]\n{bg}")
}

fn run(extra: &str, n: u64) -> Vec<ReplicationOutput> {
    replicate(&load(&mesh(), &scn(extra)), n)
}

const CHECK: &str = "{ analysis = { max_error_rate = 0.05, interval_s = 30, initial_delay_s = 30, count = 4 } }";

#[test]
fn a_failing_canary_is_aborted_at_its_first_measurement() {
    // A new version that fails every call, at weight 20: the analysis
    // measures (100 s, 130 s], finds 100% errors and aborts at exactly
    // 130 s. It served 100/s × 20% × 30 s = 600 requests on average, and
    // every one failed — the only failures of the run. The blast radius's
    // window runs from the start to the withdrawal. The same holds for a
    // version judged on correctness (half its answers wrong, limit 1%) and
    // on latency (50 ms against a 20 ms p99 limit); those fail no request.
    let steps = format!("{{ weight = 20 }}, {CHECK}, {{ weight = 100 }}");
    let cases = [
        ("{ error_rate = 1.0 }", CHECK.to_string(), true),
        (
            "{ quality = { wrong_rate = 0.5 } }",
            CHECK.replace("max_error_rate = 0.05", "max_wrong_rate = 0.01"),
            false,
        ),
        (
            "{ service_time = 50 }",
            CHECK.replace("max_error_rate = 0.05", "max_p99_ms = 20"),
            false,
        ),
    ];
    for (overrides, check, fails) in cases {
        let steps = steps.replace(CHECK, &check);
        let outs = run(&rollout(overrides, &steps, ""), 30);
        let mut exposed = Vec::new();
        for o in &outs {
            let r = o.rollout.as_ref().expect("a rollout outcome");
            assert_eq!(r.rolled_back_ns, Some(130 * S), "{overrides}");
            assert_eq!(r.rolled_back_by, Some(Withdrawal::Analysis));
            assert_eq!(r.reached_full_ns, None);
            assert_eq!(r.weights, vec![(100 * S, 20.0), (130 * S, 0.0)]);
            assert_eq!(o.recorder.fault_window_ns, (100 * S, 130 * S));
            let failed = if fails { r.exposed_requests } else { 0 };
            assert_eq!(r.exposed_failed, failed, "{overrides}");
            assert_eq!(
                o.recorder.flows[0].failed, failed,
                "{overrides}: only the new version's calls fail"
            );
            exposed.push(r.exposed_requests as f64);
        }
        assert_close(&format!("requests exposed ({overrides})"), &exposed, 600.0, 4.0, 0.0);
    }
}

#[test]
fn a_healthy_canary_is_promoted_when_its_last_measurement_passes() {
    // Four passing measurements at 130, 160, 190 and 220 s; then weight 50,
    // a 60 s pause, and 100% at exactly 280 s. The new version's replicas
    // follow ceil(weight × 5): 1 from 100 s, 3 from 220 s, 5 from 280 s to
    // the end, so x's server capacity is 1000 servers × (5 × 400 s stable
    // + 1 × 120 + 3 × 60 + 5 × 120 s new). Exposure: 100/s × (20% × 120 s
    // + 50% × 60 s + 100% × 120 s) = 17,400 requests.
    let steps = format!("{{ weight = 20 }}, {CHECK}, {{ weight = 50 }}, {{ pause_s = 60 }}, {{ weight = 100 }}");
    let outs = run(&rollout("{ service_time = 2 }", &steps, ""), 10);
    let mut exposed = Vec::new();
    for o in &outs {
        let r = o.rollout.as_ref().unwrap();
        assert_eq!(r.reached_full_ns, Some(280 * S));
        assert_eq!(r.rolled_back_ns, None);
        assert_eq!(r.paused_ns, None);
        assert_eq!(r.weights, vec![(100 * S, 20.0), (220 * S, 50.0), (280 * S, 100.0)]);
        let x = &o.recorder.groups[2];
        assert_eq!(
            x.capacity_ns,
            1000 * (5 * 400 + 120 + 3 * 60 + 5 * 120) as u128 * S as u128
        );
        assert_eq!(o.recorder.flows[0].failed, 0);
        exposed.push(r.exposed_requests as f64);
    }
    assert_close("requests exposed", &exposed, 17_400.0, 4.0, 0.0);
}

#[test]
fn failure_limit_aborts_on_the_limit_plus_first_failure() {
    // Argo's rule: the run fails when failed measurements exceed
    // failure_limit. Measuring every 10 s from 110 s, limit L aborts at
    // 100 + 10 (L + 1) s: 110, 120, 140 s for L = 0, 1, 3; L = -1 never
    // fails, and the ten measurements end at 200 s, when the steps go on to 100%.
    let step = |limit: i64| {
        format!(
            "{{ weight = 20 }}, {{ analysis = {{ max_error_rate = 0.05, interval_s = 10, initial_delay_s = 10, \
             count = 10, failure_limit = {limit} }} }}, {{ weight = 100 }}"
        )
    };
    for (limit, at) in [(0, 110), (1, 120), (3, 140)] {
        let o = &run(&rollout("{ error_rate = 1.0 }", &step(limit), ""), 1)[0];
        let r = o.rollout.as_ref().unwrap();
        assert_eq!(r.rolled_back_ns, Some(at * S), "failure_limit {limit}");
        assert_eq!(r.rolled_back_by, Some(Withdrawal::Analysis));
    }
    let o = &run(&rollout("{ error_rate = 1.0 }", &step(-1), ""), 1)[0];
    let r = o.rollout.as_ref().unwrap();
    assert_eq!((r.rolled_back_ns, r.reached_full_ns), (None, Some(200 * S)));
}

#[test]
fn an_inconclusive_analysis_pauses_the_rollout() {
    // At weight 0 the new version serves nothing: every measurement is
    // inconclusive. With inconclusive_limit 0 the first one (110 s) pauses
    // the rollout, with 1 the second (120 s); paused, it never reaches the
    // next step, is not withdrawn, and serves nobody.
    for (limit, at) in [(0, 110), (1, 120)] {
        let steps = format!(
            "{{ analysis = {{ max_error_rate = 0.05, interval_s = 10, initial_delay_s = 10, count = 3, \
             inconclusive_limit = {limit} }} }}, {{ weight = 100 }}"
        );
        let o = &run(&rollout("{ error_rate = 1.0 }", &steps, ""), 1)[0];
        let r = o.rollout.as_ref().unwrap();
        assert_eq!(r.paused_ns, Some(at * S), "inconclusive_limit {limit}");
        assert_eq!((r.reached_full_ns, r.rolled_back_ns), (None, None));
        assert!(r.weights.is_empty());
        assert_eq!((r.exposed_requests, o.recorder.flows[0].failed), (0, 0));
    }
}

#[test]
fn a_background_analysis_runs_from_its_starting_step() {
    // Steps: 10% at 100 s, a 60 s pause, 50% at 160 s (step 2), a pause,
    // 100%. The failing version is measured every 10 s from the step the
    // background analysis starts at: from step 2 the first measurement is
    // at 170 s (the 60 s at 10% go unjudged), exposure 100/s × (10% × 60 s
    // + 50% × 10 s) = 1,100; from step 0 it is at 110 s, exposure 100/s ×
    // 10% × 10 s = 100.
    let steps = "{ weight = 10 }, { pause_s = 60 }, { weight = 50 }, { pause_s = 60 }, { weight = 100 }";
    for (starting, at, mean) in [(2, 170, 1100.0), (0, 110, 100.0)] {
        let bg =
            format!("{{ max_error_rate = 0.05, interval_s = 10, initial_delay_s = 10, starting_step = {starting} }}");
        let outs = run(&rollout("{ error_rate = 1.0 }", steps, &bg), 20);
        let mut exposed = Vec::new();
        for o in &outs {
            let r = o.rollout.as_ref().unwrap();
            assert_eq!(r.rolled_back_ns, Some(at * S), "starting_step {starting}");
            assert_eq!(r.rolled_back_by, Some(Withdrawal::Analysis));
            exposed.push(r.exposed_requests as f64);
        }
        assert_close(&format!("exposed, starting_step {starting}"), &exposed, mean, 4.0, 0.0);
    }
}

/// A guardrail on the 99% availability SLO: burn rate `burn` over 10 s, acting 5 s after it holds.
fn guard(burn: f64, action: &str, release: &str) -> String {
    format!(
        "[[guardrails]]\nname = \"g\"\nwhen = {{ slo = \"avail\", burn_rate = {burn}, window_s = 10 }}\n\
         detect_delay_s = 5\naction = {action}\n{release}"
    )
}

#[test]
fn a_guardrail_rollback_fires_on_the_window_arithmetic() {
    // The new version fails every call from 100 s. At 100% the check at
    // 101 s sees 1 bad second in a 10 s window: a 10% bad share, burn 10 ≥ 5;
    // it fires then, and rolls back 5 s later, at 106 s, after 100% was
    // reached: 600 requests exposed on average, all failed. At 50% (a 5%
    // bad share, burn 5 ≥ 2) the same timing withdraws a version that never
    // reached 100%, after 300 requests.
    let cases = [
        ("{ weight = 100 }", 5.0, Some(100 * S), 600.0),
        ("{ weight = 50 }, { pause_s = 1000 }", 2.0, None, 300.0),
    ];
    for (steps, burn, full, mean) in cases {
        let extra = rollout("{ error_rate = 1.0 }", steps, "") + &guard(burn, "{ kind = \"rollback\" }", "");
        let outs = run(&extra, 20);
        let mut exposed = Vec::new();
        for o in &outs {
            let r = o.rollout.as_ref().unwrap();
            assert_eq!(o.guardrails[0].fired_ns, Some(106 * S), "{steps}");
            assert_eq!(r.rolled_back_ns, Some(106 * S), "{steps}");
            assert_eq!(r.rolled_back_by, Some(Withdrawal::Guardrail));
            assert_eq!(r.reached_full_ns, full);
            assert_eq!(r.exposed_failed, r.exposed_requests);
            assert_eq!(o.recorder.flows[0].failed, r.exposed_failed);
            exposed.push(r.exposed_requests as f64);
        }
        assert_close(
            &format!("exposed before the rollback ({steps})"),
            &exposed,
            mean,
            4.0,
            0.0,
        );
    }
}

#[test]
fn a_released_guardrail_fires_again_when_the_fault_comes_back() {
    // x aborts every call in [100, 150) s and again in [300, 350) s. The
    // guardrail fails x over to y at 106 s (check at 101 s + 5 s). Its
    // 10 s window holds the failures of (105, 106] until the check at
    // 116 s, which is the first to burn below the release rate (1); after
    // the 60 s hold it fails back at 176 s, the fault over. The second fault
    // fires it again at 306 s, released at 376 s: two firings, 2 × 70 s
    // mitigated, and the failures of [100, 106) and [300, 306): 1,200 on
    // average. Without `release` it fires once and stays: 294 s mitigated,
    // only the first 600 failures.
    let faults = "[[faults]]\nkind = \"abort\"\ntarget = { service = \"x\" }\nstart_s = 100\nduration_s = 50\n\
        [[faults]]\nkind = \"abort\"\ntarget = { service = \"x\" }\nstart_s = 300\nduration_s = 50\n";
    let failover = "{ kind = \"failover\", from = \"x\", to = \"y\" }";
    let cases = [
        ("release = { burn_rate = 1, hold_s = 60 }\n", 2, 140, 1200.0),
        ("", 1, 294, 600.0),
    ];
    for (release, firings, mitigated_s, mean) in cases {
        let outs = run(&format!("{faults}{}", guard(5.0, failover, release)), 20);
        let mut failed = Vec::new();
        for o in &outs {
            let g = o.guardrails[0];
            assert_eq!(
                (g.fired_ns, g.mitigated_ns),
                (Some(106 * S), Some(106 * S)),
                "{release}"
            );
            assert_eq!(g.firings, firings, "{release}");
            assert_eq!(g.mitigated_total_ns, mitigated_s * S, "{release}");
            failed.push(o.recorder.flows[0].failed as f64);
        }
        assert_close(&format!("failed requests ({release:?})"), &failed, mean, 4.0, 0.0);
    }
}

#[test]
fn a_rollout_that_never_moves_its_weight_changes_nothing() {
    // Issue 10 (idle rollout): the new version's replicas stay out of
    // service at weight 0 — no routing draw, health check, ejection share
    // or capacity — so a rollout paused before its first weight leaves every
    // figure as without it (with health checks, outlier detection and a
    // kill at 100 s, when the rollout starts, so the fault window is the same).
    let topo = mesh().replace(
        "replicas = 5\nconcurrency = 1000\nservice_time = 1\n",
        "replicas = 5\nconcurrency = 1000\nservice_time = 1\nhealth_check = { interval_ms = 2000, unhealthy_after = 1 }\n\
         outlier_detection = { consecutive_errors = 5, max_ejection_percent = 50 }\n",
    );
    let kill = "[[faults]]\nkind = \"kill\"\ntarget = { service = \"x\" }\nreplicas = 2\nstart_s = 100\n";
    let idle = rollout("{ error_rate = 1.0 }", "{ pause_s = 10000 }, { weight = 100 }", "");
    let plain = replicate(&load(&topo, &scn(kill)), 10);
    let with = replicate(&load(&topo, &scn(&format!("{kill}{idle}"))), 10);
    for (p, w) in plain.iter().zip(&with) {
        assert!(
            p.recorder.flows == w.recorder.flows && p.recorder.groups == w.recorder.groups,
            "replication {}: {} failed without the rollout, {} with it",
            p.index,
            p.recorder.flows[0].failed,
            w.recorder.flows[0].failed
        );
        assert_eq!(w.rollout.as_ref().unwrap().exposed_requests, 0);
    }
}

/// A rollout with a background analysis, a step analysis and a releasing
/// guardrail on the bundled topology, for the determinism checks.
fn bundled(dir: &Path) -> PathBuf {
    let topo = Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/eu-us-payments.toml");
    let text = format!(
        r#"[experiment]
name = "canary"
topology = "{}"
owner = "test"
hypothesis = "determinism"
rollback = "none"

[run]
duration_s = 90
warmup_s = 10
replications = 6
seed = 5

[workload]
rate_per_s = {{ eu-west = 40, us-east = 30 }}

[rollout]
service = "fraud"
start_s = 15
overrides = {{ error_rate = 0.3, service_time = {{ dist = "lognormal", median_ms = 30, p99_ms = 90 }} }}
steps = [
  {{ weight = 25 }},
  {{ analysis = {{ max_error_rate = 0.5, max_p99_ms = 400, interval_s = 5, initial_delay_s = 5, count = 3, failure_limit = 1 }} }},
  {{ weight = 60 }},
  {{ pause_s = 10 }},
  {{ weight = 100 }},
]
analysis = {{ max_error_rate = 0.2, interval_s = 5, initial_delay_s = 5, failure_limit = 2, starting_step = 2 }}

[[faults]]
kind = "abort"
target = {{ service = "psp-primary", region = "eu-west" }}
start_s = 20
duration_s = 15
percent = 60

[[slos]]
name = "avail"
flow = "checkout"
kind = "availability"
objective = 0.999

[blast_radius]
max_services = 3
max_regions = 1

[[guardrails]]
name = "failover"
when = {{ slo = "avail", burn_rate = 2, window_s = 5 }}
detect_delay_s = 2
action = {{ kind = "failover", from = "psp-primary", to = "psp-secondary" }}
release = {{ burn_rate = 1, hold_s = 5 }}

[[guardrails]]
name = "rollback"
when = {{ slo = "avail", burn_rate = 20, window_s = 10 }}
action = {{ kind = "rollback" }}
"#,
        topo.display()
    );
    let path = dir.join("canary.toml");
    std::fs::write(&path, text).unwrap();
    path
}

const OUTPUTS: [&str; 4] = ["summary.json", "replications.csv", "services.csv", "timeseries.csv"];

#[test]
fn rollouts_are_byte_identical_across_threads_and_shards() {
    // One run on 1 thread, one on 2, and 2 shards merged write the same
    // bytes, rollout and guardrail columns included.
    let dir = scratch("rollouts-determinism");
    let scn = bundled(&dir);
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let go = |args: &[&str]| {
        let o = run_cli(args);
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    };
    for t in ["1", "2"] {
        go(&[
            "run",
            &s(&scn),
            "--quiet",
            "--no-report",
            "--threads",
            t,
            "--out",
            &s(&dir.join(t)),
        ]);
    }
    for k in ["0/2", "1/2"] {
        go(&[
            "run",
            &s(&scn),
            "--quiet",
            "--threads",
            "1",
            "--shard",
            k,
            "--out",
            &s(&dir.join("parts")),
        ]);
    }
    go(&[
        "merge",
        &s(&dir.join("parts")),
        "--out",
        &s(&dir.join("merged")),
        "--no-report",
        "--quiet",
    ]);
    let summary = std::fs::read_to_string(dir.join("1/canary/summary.json")).unwrap();
    assert!(summary.contains("\"rollout\""), "{summary}");
    for f in OUTPUTS {
        let a = std::fs::read(dir.join("1/canary").join(f)).unwrap();
        assert_eq!(
            a,
            std::fs::read(dir.join("2/canary").join(f)).unwrap(),
            "{f}: 1 vs 2 threads"
        );
        assert_eq!(
            a,
            std::fs::read(dir.join("merged/canary").join(f)).unwrap(),
            "{f}: merged shards"
        );
    }
    let csv = std::fs::read_to_string(dir.join("1/canary/replications.csv")).unwrap();
    for col in [
        "rollout.exposed_requests",
        "rollout.rolled_back_by",
        "failover.firings",
        "failover.mitigated_total_s",
    ] {
        assert!(csv.lines().next().unwrap().contains(col), "{col}");
    }
}

#[test]
fn a_traced_rollout_shows_each_step_as_a_span_and_the_weight_as_a_series() {
    // The healthy canary above steps to 20% at 100 s, 50% at 220 s and 100% at 280 s:
    // its trace file holds one control-plane span per step, and the metrics' weight
    // gauge reads 0 before 100 s, 20 from then, 50 from 220 s and 100 from 280 s.
    let dir = scratch("rollout-telemetry");
    let steps = format!("{{ weight = 20 }}, {CHECK}, {{ weight = 50 }}, {{ pause_s = 60 }}, {{ weight = 100 }}");
    std::fs::write(dir.join("t.toml"), mesh()).unwrap();
    std::fs::write(dir.join("s.toml"), scn(&rollout("{ service_time = 2 }", &steps, ""))).unwrap();
    let (trace, metrics) = (dir.join("t.jsonl"), dir.join("m.om"));
    let out = run_cli(&[
        "run",
        dir.join("s.toml").to_str().unwrap(),
        "--replication",
        "0",
        "--trace",
        trace.to_str().unwrap(),
        "--metrics",
        metrics.to_str().unwrap(),
        "--out",
        dir.join("out").to_str().unwrap(),
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let traces = std::fs::read_to_string(&trace).unwrap();
    for w in [20, 50, 100] {
        let name = format!("\"rollout step: weight {w}%\"");
        assert_eq!(traces.matches(&name).count(), 1, "one span for the step to {w}%");
    }
    // Samples are `name value timestamp`, in seconds since 1970; simulated time 0 is
    // `[run] epoch`, by default 2026-01-01T00:00:00Z = 1,767,225,600 s.
    let text = std::fs::read_to_string(&metrics).unwrap();
    let epoch = 1_767_225_600.0;
    let mut samples = 0;
    for l in text
        .lines()
        .filter(|l| l.starts_with("chaoscal_rollout_weight_percent"))
    {
        let f: Vec<f64> = l.split_whitespace().skip(1).map(|x| x.parse().unwrap()).collect();
        let t = f[1] - epoch;
        let expected = if t < 100.0 {
            0.0
        } else if t < 220.0 {
            20.0
        } else if t < 280.0 {
            50.0
        } else {
            100.0
        };
        assert_eq!(f[0], expected, "weight at {t} s");
        samples += 1;
    }
    assert!(samples >= 25, "a sample every 15 s over 400 s, found {samples}");
}

//! Bad input: every kind of mistake a user can make in a topology or a
//! scenario exits 2 with a compiler-style message (file, line, column, the
//! offending line, a caret, and what was expected), never a panic; and
//! arbitrary or mutated files never make the loader panic.
//!
//! Each test starts from a valid topology/scenario pair (checked by
//! `base_pair_validates_and_runs`) and changes one thing, so the diagnostic
//! it expects is caused by that change alone.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use chaoscal::input::{Diagnostic, Loader, load_topology, scenario_from_str};
use proptest::prelude::*;

use super::common::{bin, run_cli, scratch};

// ---------------------------------------------------------------- the valid base pair

/// A small but complete mesh: two regions and a link, two flows with shares,
/// calls with stages, retry, fallbacks, and one of each distribution kind
/// that needs no extra file. Values are chosen so every edited line is unique.
const TOPOLOGY: &str = r#"name = "mini-payments"
description = "Two regions: gateway, AI pricing with a rules fallback, fraud, PSP"

[[regions]]
name = "eu-west"
[[regions]]
name = "us-east"

[network]
intra_region = { dist = "lognormal", median_ms = 0.3, p99_ms = 1.5 }
[[network.links]]
between = ["eu-west", "us-east"]
latency = { dist = "lognormal", median_ms = 38, p99_ms = 55 }

[[flows]]
name = "checkout"
entry = "api-gateway"
share = 0.85
value = { dist = "lognormal", median = 60, p99 = 900 }
[[flows]]
name = "refund"
entry = "api-gateway"
share = 0.15

[[services]]
name = "api-gateway"
kind = "gateway"
regions = ["eu-west", "us-east"]
replicas = 2
concurrency = 50
queue = 100
service_time = { dist = "lognormal", median_ms = 2, p99_ms = 9 }
error_rate = 0.0001
balancer = "least_outstanding"
locality = "prefer_local"

  [[services.calls]]
  to = "ai-pricing"
  flows = ["checkout"]
  stage = 1
  p = 1.0
  timeout_ms = 800
  retry = { attempts = 2, backoff_ms = 50, max_backoff_ms = 200, jitter = "full", budget = 0.2 }
  fallback = "rules-pricing"

  [[services.calls]]
  to = "fraud"
  flows = ["checkout"]
  stage = 1
  timeout_ms = 300
  fallback = "degrade"

  [[services.calls]]
  to = "psp"
  stage = 2
  timeout_ms = 3000

[[services]]
name = "ai-pricing"
kind = "ai"
regions = ["eu-west", "us-east"]
replicas = 4
concurrency = 16
service_time = { dist = "gamma", mean_ms = 40, cv = 0.5 }

[[services]]
name = "rules-pricing"
regions = ["eu-west"]
concurrency = 24
service_time = { dist = "exp", mean_ms = 3 }

[[services]]
name = "fraud"
kind = "fraud"
regions = ["eu-west", "us-east"]
concurrency = 32
service_time = { dist = "percentiles", p50_ms = 4, p90_ms = 9, p99_ms = 20, max_ms = 60 }

[[services]]
name = "psp"
kind = "psp"
regions = ["eu-west", "us-east"]
replicas = 3
concurrency = 64
service_time = { dist = "uniform", min_ms = 20, max_ms = 120 }
error_rate = 0.002
"#;

/// A short game day against [`TOPOLOGY`] with every fault kind the engine
/// simulates today (latency, abort, kill, slowdown), SLOs, a declared blast
/// radius and expectations.
const SCENARIO: &str = r#"[experiment]
name = "bad-input-base"
topology = "topology.toml"
owner = "payments-sre"
severity = "sev2"
hypothesis = "checkout stays available while the PSP slows down"
rollback = "route card traffic elsewhere"
tags = ["test"]

[run]
duration_s = 20
warmup_s = 2
replications = 2
seed = 7

[workload]
rate_per_s = { eu-west = 30, us-east = 20 }
[[workload.surges]]
start_s = 8
duration_s = 2
multiplier = 2.0

[[faults]]
name = "psp-slow"
kind = "latency"
target = { service = "psp", region = "eu-west" }
start_s = 5
duration_s = 5
delay = 150
percent = 50

[[faults]]
name = "fraud-errors"
kind = "abort"
target = { service = "fraud" }
start_s = { dist = "uniform", min = 4, max = 6 }
duration_s = 3
error = 503
percent = 10

[[faults]]
name = "pricing-kill"
kind = "kill"
target = { service = "ai-pricing", region = "us-east" }
start_s = 6
duration_s = 4
replicas = 1

[[faults]]
name = "psp-noisy"
kind = "slowdown"
target = { service = "psp", region = "us-east" }
start_s = 10
duration_s = 6
factor = 3.0

[[slos]]
name = "checkout-availability"
flow = "checkout"
kind = "availability"
objective = 0.999

[[slos]]
name = "checkout-latency"
flow = "checkout"
kind = "latency"
threshold_ms = 2000
objective = 0.99
window_s = 10

[blast_radius]
max_services = 3
max_regions = 1
degraded_when = { error_rate = 0.01, latency_factor = 2.0 }

[expect]
max_violation_probability = { "checkout-availability" = 0.5 }
max_containment_breach_probability = 0.5
"#;

// ---------------------------------------------------------------- helpers

/// `base` with `old`, which must occur exactly once, replaced by `new`.
fn edit(base: &str, old: &str, new: &str) -> String {
    assert_eq!(
        base.matches(old).count(),
        1,
        "test edit: `{old}` must occur exactly once"
    );
    base.replacen(old, new, 1)
}

/// A path as a command-line argument (scratch folders are UTF-8).
fn arg(path: &Path) -> &str {
    path.to_str().expect("scratch paths are UTF-8")
}

/// A fresh scratch folder for one test. The process id in its name keeps
/// two `cargo test` runs at once (two engineers, or an editor and a shell)
/// from overwriting each other's files; it is removed when the test passes
/// and kept for inspection when it fails.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Self {
        Scratch(scratch(&format!("bad_input_{test}_{}", std::process::id())))
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A fresh scratch folder holding `topology.toml` and `scenario.toml`.
struct Pair {
    dir: Scratch,
    topology: PathBuf,
    scenario: PathBuf,
}

fn pair(test: &str, topology: &str, scenario: &str) -> Pair {
    let dir = Scratch::new(test);
    let topology_path = dir.join("topology.toml");
    let scenario_path = dir.join("scenario.toml");
    std::fs::write(&topology_path, topology).expect("write topology");
    std::fs::write(&scenario_path, scenario).expect("write scenario");
    Pair {
        dir,
        topology: topology_path,
        scenario: scenario_path,
    }
}

/// What the binary said.
struct Outcome {
    args: String,
    code: Option<i32>,
    stderr: String,
}

/// Runs chaoscal; a panic is always a failure, whatever the input.
fn chaoscal(args: &[&str]) -> Outcome {
    outcome(args, run_cli(args))
}

fn outcome(args: &[&str], out: std::process::Output) -> Outcome {
    let o = Outcome {
        args: args.join(" "),
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !o.stderr.contains("panicked"),
        "`chaoscal {}` panicked:\n{}",
        o.args,
        o.stderr
    );
    o
}

/// `chaoscal validate PATH`, which must exit 2.
fn validate(path: &Path) -> Outcome {
    chaoscal(&["validate", arg(path)]).exits(2)
}

/// `chaoscal run PATH` into a results folder beside it, which must exit 2
/// and write no results.
fn run(path: &Path) -> Outcome {
    let out = path.parent().expect("a file in a scratch folder").join("results");
    let o = chaoscal(&["run", arg(path), "--out", arg(&out), "--quiet"]).exits(2);
    assert!(!out.exists(), "`{}` wrote results despite bad input", o.args);
    o
}

/// Where a diagnostic must point: 1-based line and column, and that line.
struct Place {
    line: usize,
    column: usize,
    text: String,
}

/// The one line of `text` containing `line_has`, and its index.
fn find_line<'t>(text: &'t str, line_has: &str) -> (usize, &'t str) {
    let hits: Vec<(usize, &str)> = text.lines().enumerate().filter(|(_, l)| l.contains(line_has)).collect();
    assert_eq!(hits.len(), 1, "test input: `{line_has}` must be on exactly one line");
    hits[0]
}

/// The place where `needle` starts on the one line of `text` holding `line_has`.
fn at(text: &str, line_has: &str, needle: &str) -> Place {
    let (i, line) = find_line(text, line_has);
    let byte = line
        .find(needle)
        .unwrap_or_else(|| panic!("test input: `{needle}` is not on the line `{line}`"));
    Place {
        line: i + 1,
        column: line[..byte].chars().count() + 1,
        text: line.to_string(),
    }
}

/// The place just past the end of that line: where a missing token was expected.
fn end_of(text: &str, line_has: &str) -> Place {
    let (i, line) = find_line(text, line_has);
    Place {
        line: i + 1,
        column: line.chars().count() + 1,
        text: line.to_string(),
    }
}

impl Outcome {
    fn exits(self, code: i32) -> Self {
        assert_eq!(
            self.code,
            Some(code),
            "`chaoscal {}` should exit {code}; stderr:\n{}",
            self.args,
            self.stderr
        );
        self
    }

    /// Asserts an error `FILE:LINE:COL: error: MESSAGE` whose message holds
    /// every one of `words`, followed by `LINE | the line` and a caret under
    /// the column.
    fn error_at(&self, file: &Path, at: &Place, words: &[&str]) -> &Self {
        let head = format!("{}:{}:{}: error: ", file.display(), at.line, at.column);
        let lines: Vec<&str> = self.stderr.lines().collect();
        let Some(i) = lines
            .iter()
            .position(|l| l.starts_with(&head) && words.iter().all(|w| l.contains(w)))
        else {
            panic!(
                "`chaoscal {}`: no error starting `{head}` and containing {words:?}; stderr:\n{}",
                self.args, self.stderr
            );
        };
        let gutter = at.line.to_string();
        assert_eq!(
            lines.get(i + 1).copied(),
            Some(format!("{gutter} | {}", at.text).as_str()),
            "the offending line is echoed under `{}`; stderr:\n{}",
            lines[i],
            self.stderr
        );
        assert_eq!(
            lines.get(i + 2).copied(),
            Some(format!("{} | {}^", " ".repeat(gutter.len()), " ".repeat(at.column - 1)).as_str()),
            "a caret points at column {} under `{}`; stderr:\n{}",
            at.column,
            lines[i],
            self.stderr
        );
        self
    }

    /// Asserts a file-level error `FILE: error: MESSAGE` holding every one of `words`.
    fn file_error(&self, file: &Path, words: &[&str]) -> &Self {
        let head = format!("{}: error: ", file.display());
        assert!(
            self.stderr
                .lines()
                .any(|l| l.starts_with(&head) && words.iter().all(|w| l.contains(w))),
            "`chaoscal {}`: no error starting `{head}` and containing {words:?}; stderr:\n{}",
            self.args,
            self.stderr
        );
        self
    }

    /// Asserts stderr mentions every one of `words` somewhere.
    fn says(&self, words: &[&str]) -> &Self {
        for w in words {
            assert!(
                self.stderr.contains(w),
                "`chaoscal {}`: stderr lacks `{w}`:\n{}",
                self.args,
                self.stderr
            );
        }
        self
    }

    /// The number of error diagnostics printed (located or file-level).
    fn errors(&self) -> usize {
        self.stderr.lines().filter(|l| l.contains(": error: ")).count()
    }
}

// ---------------------------------------------------------------- the base is valid

#[test]
fn base_pair_validates_and_runs() {
    // The base pair is valid, so each test's single edit is what its diagnostic is about.
    let p = pair("base", TOPOLOGY, SCENARIO);
    let v = chaoscal(&["validate", arg(&p.topology), arg(&p.scenario)]).exits(0);
    assert_eq!(v.errors(), 0, "{}", v.stderr);
    let out = p.dir.join("results");
    chaoscal(&["run", arg(&p.scenario), "--out", arg(&out), "--quiet", "--threads", "1"]).exits(0);
    assert!(out.join("bad-input-base").join("summary.json").is_file());
    // The library agrees with the binary.
    let loaded = scenario_from_str(Path::new("t.toml"), TOPOLOGY, Path::new("s.toml"), SCENARIO);
    assert!(loaded.is_ok(), "{:?}", loaded.err());
}

// ---------------------------------------------------------------- 1. TOML syntax

#[test]
fn unclosed_string_in_topology_is_located_at_the_missing_quote() {
    // An unclosed string in a topology is a syntax error at the end of its line, saying a `"` was expected.
    let topology = edit(TOPOLOGY, "name = \"psp\"", "name = \"psp");
    let p = pair("syntax_topology_unclosed", &topology, SCENARIO);
    let place = end_of(&topology, "name = \"psp");
    validate(&p.topology).error_at(&p.topology, &place, &["invalid TOML", "string", "expected `\"`"]);
    // `run` reports the topology's problem, then points the scenario at it.
    run(&p.scenario)
        .error_at(&p.topology, &place, &["invalid TOML", "expected `\"`"])
        .error_at(
            &p.scenario,
            &at(SCENARIO, "topology = ", "\"topology.toml\""),
            &["experiment.topology", "has errors (reported above)"],
        );
}

#[test]
fn key_without_value_in_topology_is_a_syntax_error() {
    // `queue =` with no value is a syntax error located just after the `=`.
    let topology = edit(TOPOLOGY, "queue = 100", "queue =");
    let p = pair("syntax_topology_no_value", &topology, SCENARIO);
    validate(&p.topology).error_at(
        &p.topology,
        &end_of(&topology, "queue ="),
        &["invalid TOML", "expected"],
    );
}

#[test]
fn key_without_value_in_scenario_fails_validate_and_run() {
    // `seed = ` with no value in a scenario is a located syntax error for both `validate` and `run`.
    let scenario = edit(SCENARIO, "seed = 7\n", "seed = \n");
    let p = pair("syntax_scenario_no_value", TOPOLOGY, &scenario);
    let place = end_of(&scenario, "seed =");
    validate(&p.scenario).error_at(&p.scenario, &place, &["invalid TOML", "expected"]);
    run(&p.scenario).error_at(&p.scenario, &place, &["invalid TOML", "expected"]);
}

#[test]
fn several_syntax_errors_in_scenario_are_all_reported() {
    // Three syntax errors on three lines of one scenario are all reported, each at its own line.
    let scenario = edit(SCENARIO, "owner = \"payments-sre\"", "owner = \"payments-sre");
    let scenario = edit(&scenario, "seed = 7\n", "seed = \n");
    let scenario = edit(&scenario, "percent = 10\n", "percent = 1 0\n");
    let p = pair("syntax_scenario_three", TOPOLOGY, &scenario);
    let o = validate(&p.scenario);
    o.error_at(
        &p.scenario,
        &end_of(&scenario, "owner = "),
        &["invalid TOML", "expected `\"`"],
    )
    .error_at(&p.scenario, &end_of(&scenario, "seed ="), &["invalid TOML"])
    .error_at(&p.scenario, &at(&scenario, "percent = 1 0", "1 0"), &["invalid TOML"]);
    assert_eq!(o.errors(), 3, "{}", o.stderr);
}

// ---------------------------------------------------------------- 2. unknown fields

#[test]
fn unknown_field_in_service_names_it_and_lists_expected_fields() {
    // A misspelt key in [[services]] is refused at its position, naming it and listing the expected keys.
    let topology = edit(TOPOLOGY, "concurrency = 50", "concurency = 50");
    let p = pair("unknown_field_service", &topology, SCENARIO);
    let place = at(&topology, "concurency = 50", "concurency");
    let words = [
        "services[0]",
        "unknown field `concurency`",
        "expected one of",
        "`concurrency`",
        "`replicas`",
        "`service_time`",
        "`calls`",
    ];
    validate(&p.topology).error_at(&p.topology, &place, &words);
    run(&p.scenario).error_at(&p.topology, &place, &words);
}

#[test]
fn unknown_field_in_call_and_in_run_section() {
    // Misspelt keys in a nested [[services.calls]] entry and in a scenario's [run] are each located and named.
    let topology = edit(TOPOLOGY, "timeout_ms = 300\n", "timout_ms = 300\n");
    let p = pair("unknown_field_call", &topology, SCENARIO);
    validate(&p.topology).error_at(
        &p.topology,
        &at(&topology, "timout_ms", "timout_ms"),
        &["unknown field `timout_ms`", "`timeout_ms`", "`retry`", "`fallback`"],
    );
    let scenario = edit(SCENARIO, "seed = 7", "sed = 7");
    let p = pair("unknown_field_run", TOPOLOGY, &scenario);
    validate(&p.scenario).error_at(
        &p.scenario,
        &at(&scenario, "sed = 7", "sed"),
        &["run", "unknown field `sed`", "`duration_s`", "`seed`"],
    );
}

#[test]
fn misspelt_top_level_table_in_scenario_lists_known_sections() {
    // A misspelt [runn] table is an unknown key listing the sections, and [run] is reported missing.
    let scenario = edit(SCENARIO, "[run]\n", "[runn]\n");
    let p = pair("unknown_section", TOPOLOGY, &scenario);
    let o = validate(&p.scenario);
    o.error_at(
        &p.scenario,
        &at(&scenario, "[runn]", "runn"),
        &[
            "unknown key `runn`",
            "expected one of",
            "experiment",
            "run",
            "workload",
            "faults",
            "slos",
        ],
    );
    o.says(&["missing [run]"]);
}

// ---------------------------------------------------------------- 3. unknown references

#[test]
fn call_to_unknown_service_lists_known_services() {
    // A call `to` a service that does not exist names it and lists the services and queues there are.
    let topology = edit(TOPOLOGY, "to = \"psp\"", "to = \"pps\"");
    let p = pair("unknown_call_target", &topology, SCENARIO);
    let place = at(&topology, "to = \"pps\"", "\"pps\"");
    let words = [
        "services[0].calls[2].to",
        "unknown service or queue \"pps\"",
        "known: api-gateway, ai-pricing, rules-pricing, fraud, psp",
    ];
    validate(&p.topology).error_at(&p.topology, &place, &words);
    run(&p.scenario).error_at(&p.topology, &place, &words);
}

#[test]
fn unknown_flow_entry_is_located() {
    // A flow whose `entry` names no service is located at the entry and lists the services.
    let topology = edit(
        TOPOLOGY,
        "name = \"refund\"\nentry = \"api-gateway\"",
        "name = \"refund\"\nentry = \"api-gatway\"",
    );
    let p = pair("unknown_flow_entry", &topology, SCENARIO);
    validate(&p.topology).error_at(
        &p.topology,
        &at(&topology, "entry = \"api-gatway\"", "\"api-gatway\""),
        &[
            "flows[1].entry",
            "unknown service \"api-gatway\"",
            "known: api-gateway,",
        ],
    );
}

#[test]
fn unknown_fallback_and_unknown_service_region_are_located() {
    // A fallback naming no service, and a service placed in an unknown region, are each located and explained.
    let topology = edit(TOPOLOGY, "fallback = \"rules-pricing\"", "fallback = \"rule-pricing\"");
    let topology = edit(&topology, "regions = [\"eu-west\"]", "regions = [\"eu-wst\"]");
    let p = pair("unknown_fallback_region", &topology, SCENARIO);
    let o = validate(&p.topology);
    o.error_at(
        &p.topology,
        &at(&topology, "fallback = \"rule-pricing\"", "\"rule-pricing\""),
        &[
            "services[0].calls[0].fallback",
            "unknown service \"rule-pricing\"",
            "\"degrade\"",
        ],
    );
    o.error_at(
        &p.topology,
        &at(&topology, "regions = [\"eu-wst\"]", "\"eu-wst\""),
        &[
            "services[2].regions[0]",
            "unknown region \"eu-wst\"",
            "known: eu-west, us-east",
        ],
    );
}

#[test]
fn fault_target_in_unknown_region_lists_known_regions() {
    // A fault aimed at region "eu-wst" is refused at that value, listing the known regions, by validate and run.
    let scenario = edit(
        SCENARIO,
        "target = { service = \"psp\", region = \"eu-west\" }",
        "target = { service = \"psp\", region = \"eu-wst\" }",
    );
    let p = pair("unknown_fault_region", TOPOLOGY, &scenario);
    let place = at(&scenario, "region = \"eu-wst\"", "\"eu-wst\"");
    let words = [
        "faults[0].target.region",
        "unknown region \"eu-wst\"",
        "(known: eu-west, us-east)",
    ];
    validate(&p.scenario).error_at(&p.scenario, &place, &words);
    run(&p.scenario).error_at(&p.scenario, &place, &words);
}

#[test]
fn fault_target_unknown_service_and_slo_unknown_flow() {
    // A fault on an unknown service and an SLO on an unknown flow are each located, listing what is known.
    let scenario = edit(
        SCENARIO,
        "target = { service = \"fraud\" }",
        "target = { service = \"fruad\" }",
    );
    let scenario = edit(
        &scenario,
        "name = \"checkout-latency\"\nflow = \"checkout\"",
        "name = \"checkout-latency\"\nflow = \"chekout\"",
    );
    let p = pair("unknown_service_flow", TOPOLOGY, &scenario);
    let o = validate(&p.scenario);
    o.error_at(
        &p.scenario,
        &at(&scenario, "service = \"fruad\"", "\"fruad\""),
        &[
            "faults[1].target.service",
            "unknown service \"fruad\"",
            "known:",
            "fraud",
        ],
    );
    o.error_at(
        &p.scenario,
        &at(&scenario, "flow = \"chekout\"", "\"chekout\""),
        &["slos[1].flow", "unknown flow \"chekout\"", "(known: checkout, refund)"],
    );
    run(&p.scenario).says(&["unknown flow \"chekout\""]);
}

#[test]
fn expectation_on_unknown_slo_is_located() {
    // An [expect] entry for an SLO the scenario does not define names it and lists the SLOs.
    let scenario = edit(
        SCENARIO,
        "{ \"checkout-availability\" = 0.5 }",
        "{ \"checkout-avail\" = 0.5 }",
    );
    let p = pair("unknown_expect_slo", TOPOLOGY, &scenario);
    validate(&p.scenario).error_at(
        &p.scenario,
        &at(&scenario, "\"checkout-avail\" = 0.5", "0.5"),
        &[
            "unknown SLO \"checkout-avail\"",
            "checkout-availability, checkout-latency",
        ],
    );
}

// ---------------------------------------------------------------- 4. out-of-range numbers

/// One out-of-range edit: the text replaced, its replacement, the value the
/// caret must point at, and words the message must hold.
struct Range {
    case: &'static str,
    old: &'static str,
    new: &'static str,
    needle: &'static str,
    words: &'static [&'static str],
}

#[test]
fn out_of_range_numbers_in_topology_name_the_range_and_the_value() {
    // Each out-of-range topology number is located at its value, with the allowed range and the value found.
    let cases = [
        Range {
            case: "error_rate",
            old: "error_rate = 0.0001",
            new: "error_rate = 1.5",
            needle: "1.5",
            words: &["services[0].error_rate", "between 0 and 1", "found 1.5"],
        },
        Range {
            case: "replicas",
            old: "replicas = 3",
            new: "replicas = 0",
            needle: "0",
            words: &["services[4].replicas", "between 1 and 10000", "found 0"],
        },
        Range {
            case: "p",
            old: "  p = 1.0",
            new: "  p = 2",
            needle: "2",
            words: &["services[0].calls[0].p", "between 0 and 1", "found 2"],
        },
        Range {
            case: "timeout_ms",
            old: "timeout_ms = 300\n",
            new: "timeout_ms = -300\n",
            needle: "-300",
            words: &["services[0].calls[1].timeout_ms", "between", "found -300"],
        },
        Range {
            case: "concurrency",
            old: "concurrency = 16",
            new: "concurrency = 0",
            needle: "0",
            words: &["services[1].concurrency", "between 1 and", "found 0"],
        },
        Range {
            case: "attempts",
            old: "attempts = 2,",
            new: "attempts = 0,",
            needle: "0,",
            words: &["retry.attempts", "the first included", "between 1 and 100", "found 0"],
        },
        Range {
            case: "budget",
            old: "budget = 0.2",
            new: "budget = -1",
            needle: "-1",
            words: &["retry.budget", "between 0 and 100", "found -1"],
        },
        Range {
            case: "share",
            old: "share = 0.15",
            new: "share = -0.15",
            needle: "-0.15",
            words: &["flows[1].share", "found -0.15"],
        },
        Range {
            case: "service_time",
            old: "service_time = { dist = \"exp\", mean_ms = 3 }",
            new: "service_time = -3",
            needle: "-3",
            words: &["services[2].service_time", "non-negative", "found -3"],
        },
    ];
    for c in &cases {
        let topology = edit(TOPOLOGY, c.old, c.new);
        let p = pair(&format!("range_topology_{}", c.case), &topology, SCENARIO);
        let line = c.new.trim();
        validate(&p.topology).error_at(&p.topology, &at(&topology, line, c.needle), c.words);
    }
}

#[test]
fn out_of_range_numbers_in_scenario_name_the_range_and_the_value() {
    // Each out-of-range scenario number is located at its value, with the allowed range and the value found.
    let cases = [
        Range {
            case: "objective",
            old: "objective = 0.999",
            new: "objective = 1.2",
            needle: "1.2",
            words: &["slos[0].objective", "less than 1", "found 1.2"],
        },
        Range {
            case: "warmup_equal",
            old: "warmup_s = 2",
            new: "warmup_s = 20",
            needle: "20",
            words: &["run.warmup_s", "less than duration_s (20)", "found 20"],
        },
        Range {
            case: "warmup_beyond",
            old: "warmup_s = 2",
            new: "warmup_s = 25",
            needle: "25",
            words: &["run.warmup_s", "less than duration_s (20)", "found 25"],
        },
        Range {
            case: "duration",
            old: "duration_s = 20",
            new: "duration_s = -20",
            needle: "-20",
            words: &["run.duration_s", "more than 0", "found -20"],
        },
        Range {
            case: "replications",
            old: "replications = 2",
            new: "replications = 0",
            needle: "0",
            words: &["run.replications", "between 1 and", "found 0"],
        },
        Range {
            case: "percent",
            old: "percent = 50",
            new: "percent = 150",
            needle: "150",
            words: &["faults[0].percent", "at most 100", "found 150"],
        },
        Range {
            case: "error_status",
            old: "error = 503",
            new: "error = 200",
            needle: "200",
            words: &["faults[1].error", "between 400 and 599", "found 200"],
        },
        Range {
            case: "kill_replicas",
            old: "replicas = 1",
            new: "replicas = 9",
            needle: "9",
            words: &["faults[2].replicas", "replicas per region (4)", "found 9"],
        },
        Range {
            case: "factor",
            old: "factor = 3.0",
            new: "factor = 0",
            needle: "0",
            words: &["faults[3].factor", "more than 0", "found 0"],
        },
        Range {
            case: "multiplier",
            old: "multiplier = 2.0",
            new: "multiplier = -2",
            needle: "-2",
            words: &["surges[0].multiplier", "between 0 and 1000", "found -2"],
        },
        Range {
            case: "window",
            old: "window_s = 10",
            new: "window_s = 100",
            needle: "100",
            words: &["slos[1].window_s", "duration_s - warmup_s = 18", "found 100"],
        },
        Range {
            case: "rate",
            old: "eu-west = 30",
            new: "eu-west = -30",
            needle: "-30",
            words: &["workload.rate_per_s", "eu-west", "between 0 and", "found -30"],
        },
        Range {
            case: "fault_duration",
            old: "duration_s = 6",
            new: "duration_s = -6",
            needle: "-6",
            words: &["faults[3].duration_s", "non-negative", "found -6"],
        },
        Range {
            case: "max_services",
            old: "max_services = 3",
            new: "max_services = -3",
            needle: "-3",
            words: &["blast_radius.max_services", "at least 0", "found -3"],
        },
        Range {
            case: "probability",
            old: "max_containment_breach_probability = 0.5",
            new: "max_containment_breach_probability = 1.5",
            needle: "1.5",
            words: &["max_containment_breach_probability", "between 0 and 1"],
        },
    ];
    for c in &cases {
        let scenario = edit(SCENARIO, c.old, c.new);
        let p = pair(&format!("range_scenario_{}", c.case), TOPOLOGY, &scenario);
        validate(&p.scenario).error_at(&p.scenario, &at(&scenario, c.new, c.needle), c.words);
    }
    // `run` refuses the same way, before simulating anything.
    let scenario = edit(SCENARIO, "objective = 0.999", "objective = 1.2");
    let p = pair("range_scenario_run", TOPOLOGY, &scenario);
    run(&p.scenario).error_at(
        &p.scenario,
        &at(&scenario, "objective = 1.2", "1.2"),
        &["slos[0].objective", "found 1.2"],
    );
}

// ---------------------------------------------------------------- 5. call cycles

/// Three services where `a` and `b` call each other and `c` calls `a`.
const CYCLE: &str = r#"name = "cycle"
[[regions]]
name = "r"
[[flows]]
name = "job"
entry = "c"
[[services]]
name = "a"
regions = ["r"]
service_time = 1
  [[services.calls]]
  to = "b"
[[services]]
name = "b"
regions = ["r"]
service_time = 1
  [[services.calls]]
  to = "a"
[[services]]
name = "c"
regions = ["r"]
service_time = 1
  [[services.calls]]
  to = "a"
"#;

#[test]
fn call_cycle_is_reported_with_its_path() {
    // A synchronous call cycle a → b → a is refused at the first call of the loop, the message naming the whole loop.
    let p = pair("cycle", CYCLE, SCENARIO);
    let o = validate(&p.topology);
    o.error_at(
        &p.topology,
        &at(CYCLE, "to = \"b\"", "\"b\""),
        &["services[0].calls[0].to", "call cycle: a → b → a", "must not loop back"],
    );
    // The bystander c, which only calls into the loop, is not blamed.
    assert_eq!(o.errors(), 1, "one cycle, one error:\n{}", o.stderr);
}

#[test]
fn call_cycle_in_base_topology_names_both_services() {
    // Adding a call back from psp to api-gateway closes a loop that both `validate` and `run` refuse.
    let topology = edit(
        TOPOLOGY,
        "error_rate = 0.002\n",
        "error_rate = 0.002\n  [[services.calls]]\n  to = \"api-gateway\"\n",
    );
    let p = pair("cycle_base", &topology, SCENARIO);
    let place = at(&topology, "to = \"psp\"", "\"psp\"");
    let words = ["call cycle: api-gateway → psp → api-gateway"];
    validate(&p.topology).error_at(&p.topology, &place, &words);
    run(&p.scenario).error_at(&p.topology, &place, &words);
}

#[test]
fn service_calling_itself_is_refused() {
    // A service that calls itself is the shortest cycle and is named as such.
    let topology = edit(TOPOLOGY, "to = \"psp\"", "to = \"api-gateway\"");
    let p = pair("cycle_self", &topology, SCENARIO);
    validate(&p.topology).error_at(
        &p.topology,
        &at(&topology, "to = \"api-gateway\"", "\"api-gateway\""),
        &["services[0].calls[2].to", "\"api-gateway\" calls itself"],
    );
}

// ---------------------------------------------------------------- 6. missing files

#[test]
fn missing_file_is_a_file_level_error() {
    // A path that does not exist is reported as `path: error: file not found` by validate and run.
    let dir = Scratch::new("missing");
    let nope = dir.join("nope.toml");
    validate(&nope).file_error(&nope, &["file not found"]);
    run(&nope).file_error(&nope, &["file not found"]);
}

#[test]
fn folder_without_toml_files_is_reported() {
    // A catalog folder holding no .toml files is an error, not a silent success.
    let dir = Scratch::new("empty_folder");
    std::fs::write(dir.join("README.md"), "not a scenario\n").expect("write");
    validate(&dir).file_error(&dir, &["no .toml files"]);
}

#[test]
fn scenario_naming_a_missing_topology_is_located_at_the_topology_key() {
    // `topology = "nope.toml"` is located at that value and names the path looked for, by validate and run.
    let scenario = edit(SCENARIO, "topology = \"topology.toml\"", "topology = \"nope.toml\"");
    let p = pair("missing_topology", TOPOLOGY, &scenario);
    let place = at(&scenario, "topology = ", "\"nope.toml\"");
    let looked_for = p.dir.join("nope.toml");
    let words = [
        "experiment.topology".to_string(),
        "topology file not found".to_string(),
        looked_for.display().to_string(),
    ];
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    validate(&p.scenario).error_at(&p.scenario, &place, &words);
    run(&p.scenario).error_at(&p.scenario, &place, &words);
}

// ---------------------------------------------------------------- 7. empty files

/// Asserts the "empty file" error, wherever the loader chooses to anchor it
/// (the file as a whole, or its first line).
fn says_empty(o: &Outcome, file: &Path, expected: &str) {
    let whole = format!("{}: error: ", file.display());
    let first = format!("{}:1:1: error: ", file.display());
    assert!(
        o.stderr
            .lines()
            .any(|l| (l.starts_with(&whole) || l.starts_with(&first)) && l.contains("empty") && l.contains(expected)),
        "`chaoscal {}`: no empty-file error for {} expecting {expected}:\n{}",
        o.args,
        file.display(),
        o.stderr
    );
}

#[test]
fn empty_files_are_refused_saying_what_was_expected() {
    // An empty (or blank) file is refused with a message saying what the file should hold.
    let p = pair("empty", "", "");
    says_empty(&validate(&p.topology), &p.topology, "expected");
    says_empty(&run(&p.scenario), &p.scenario, "expected");
    let p = pair("blank", "  \n\n\t\n", " \n");
    says_empty(&validate(&p.topology), &p.topology, "expected");
    says_empty(&validate(&p.scenario), &p.scenario, "expected");
}

#[test]
fn scenario_whose_topology_is_empty_says_a_topology_was_expected() {
    // A scenario pointing at an empty topology reports that file as empty, and the scenario's reference to it.
    let p = pair("empty_topology", "", SCENARIO);
    let o = validate(&p.scenario);
    says_empty(&o, &p.topology, "topology");
    o.error_at(
        &p.scenario,
        &at(SCENARIO, "topology = ", "\"topology.toml\""),
        &["has errors (reported above)"],
    );
}

#[test]
fn file_with_only_comments_is_neither_scenario_nor_topology() {
    // A file of comments alone is refused, saying what a scenario or topology must contain.
    let p = pair("comments_only", "# nothing here yet\n", SCENARIO);
    validate(&p.topology)
        .says(&["scenario", "topology"])
        .says(&[&p.topology.display().to_string()]);
}

// ---------------------------------------------------------------- 8. binary garbage

#[test]
fn binary_file_is_not_utf8_text() {
    // Bytes that are not UTF-8 are a file-level error naming the problem, by validate and run.
    let dir = Scratch::new("binary");
    let garbage = dir.join("garbage.toml");
    std::fs::write(&garbage, [0xff, 0xfe, 0x00, 0x00, 0x9f, 0x92, 0x96, b'=', 0xc3, 0x28]).expect("write");
    validate(&garbage).file_error(&garbage, &["not a UTF-8 text file", "offset 0"]);
    run(&garbage).file_error(&garbage, &["not a UTF-8 text file"]);
    // Valid UTF-8 up to a point: the offset says where it stops.
    let late = dir.join("late.toml");
    std::fs::write(&late, b"name = \"x\"\n\xc3\x28 = 1\n").expect("write");
    validate(&late).file_error(&late, &["not a UTF-8 text file", "offset 11"]);
}

#[test]
fn scenario_whose_topology_is_binary_reports_the_topology() {
    // A scenario whose topology file is binary reports that file as not UTF-8, and the reference to it.
    let p = pair("binary_topology", "", SCENARIO);
    std::fs::write(&p.topology, [0x00, 0xff, 0x13, 0x37, 0xde, 0xad, 0xbe, 0xef]).expect("write");
    let o = run(&p.scenario);
    o.file_error(&p.topology, &["not a UTF-8 text file"]);
    o.error_at(
        &p.scenario,
        &at(SCENARIO, "topology = ", "\"topology.toml\""),
        &["experiment.topology"],
    );
}

// ---------------------------------------------------------------- 9. every problem at once

#[test]
fn several_problems_in_one_topology_are_all_reported() {
    // Two unknown references in two services and a bad number are three located errors from one run.
    let topology = edit(TOPOLOGY, "to = \"fraud\"", "to = \"frod\"");
    let topology = edit(&topology, "regions = [\"eu-west\"]", "regions = [\"eu-wst\"]");
    let topology = edit(&topology, "error_rate = 0.002", "error_rate = 2");
    let p = pair("several_topology", &topology, SCENARIO);
    let o = validate(&p.topology);
    o.error_at(
        &p.topology,
        &at(&topology, "to = \"frod\"", "\"frod\""),
        &["services[0].calls[1].to", "\"frod\""],
    )
    .error_at(
        &p.topology,
        &at(&topology, "regions = [\"eu-wst\"]", "\"eu-wst\""),
        &["services[2].regions[0]", "\"eu-wst\""],
    )
    .error_at(
        &p.topology,
        &at(&topology, "error_rate = 2", "2"),
        &["services[4].error_rate", "found 2"],
    )
    .says(&["checked 1 file(s): 3 error(s)"]);
    assert_eq!(o.errors(), 3, "{}", o.stderr);
}

#[test]
fn several_problems_in_one_scenario_are_all_reported() {
    // An unknown region, an unknown flow and an objective out of range in one scenario are all reported by one run.
    let scenario = edit(
        SCENARIO,
        "region = \"us-east\" }\nstart_s = 6",
        "region = \"us-wst\" }\nstart_s = 6",
    );
    let scenario = edit(
        &scenario,
        "name = \"checkout-availability\"\nflow = \"checkout\"",
        "name = \"checkout-availability\"\nflow = \"checkuot\"",
    );
    let scenario = edit(&scenario, "objective = 0.99\n", "objective = 99\n");
    let p = pair("several_scenario", TOPOLOGY, &scenario);
    let o = run(&p.scenario);
    o.error_at(
        &p.scenario,
        &at(&scenario, "\"us-wst\"", "\"us-wst\""),
        &["faults[2].target.region", "unknown region \"us-wst\""],
    )
    .error_at(
        &p.scenario,
        &at(&scenario, "flow = \"checkuot\"", "\"checkuot\""),
        &["slos[0].flow", "unknown flow \"checkuot\""],
    )
    .error_at(
        &p.scenario,
        &at(&scenario, "objective = 99", "99"),
        &["slos[1].objective", "found 99"],
    );
    assert_eq!(o.errors(), 3, "{}", o.stderr);
}

#[test]
fn shape_errors_in_several_sections_are_all_reported() {
    // A misspelt key in one service and a wrong type in another are both reported: each entry is read on its own.
    let topology = edit(TOPOLOGY, "concurrency = 24", "concurency = 24");
    let topology = edit(&topology, "replicas = 4", "replicas = \"four\"");
    let p = pair("several_shape", &topology, SCENARIO);
    let o = validate(&p.topology);
    o.error_at(
        &p.topology,
        &at(&topology, "concurency = 24", "concurency"),
        &["services[2]", "unknown field `concurency`"],
    )
    .error_at(
        &p.topology,
        &at(&topology, "replicas = \"four\"", "\"four\""),
        &["services[1]", "invalid type", "\"four\""],
    );
    assert_eq!(o.errors(), 2, "{}", o.stderr);
}

#[test]
fn every_mistake_in_a_rollout_is_located() {
    // An unknown service, a start after the run, a weight over 100, a step with two keys, an analysis with
    // no limit, a background analysis starting past the last step, a `release` on a rollback and a
    // `bad_deploy` fault are all reported by one run, each at its value.
    let scenario = format!(
        "{SCENARIO}{}",
        r#"
[rollout]
service = "fruad"
start_s = 25
overrides = { error_rate = 0.2 }
steps = [
  { weight = 120 },
  { weight = 10, pause_s = 5 },
  { analysis = { interval_s = 5, count = 3 } },
]
analysis = { max_error_rate = 0.1, interval_s = 5, starting_step = 7 }

[[guardrails]]
name = "undo"
when = { slo = "checkout-availability", burn_rate = 10, window_s = 5 }
action = { kind = "rollback" }
release = { burn_rate = 1, hold_s = 30 }

[[faults]]
kind = "bad_deploy"
target = { service = "fraud" }
"#
    );
    let p = pair("rollout_mistakes", TOPOLOGY, &scenario);
    let o = run(&p.scenario);
    o.error_at(
        &p.scenario,
        &at(&scenario, "service = \"fruad\"", "\"fruad\""),
        &["rollout.service", "unknown service \"fruad\"", "known: api-gateway"],
    )
    .error_at(
        &p.scenario,
        &at(&scenario, "start_s = 25", "25"),
        &["rollout.start_s", "less than duration_s (20)", "found 25"],
    )
    .error_at(
        &p.scenario,
        &at(&scenario, "{ weight = 120 }", "120"),
        &["rollout.steps[0].weight", "between 0 and 100", "found 120"],
    )
    .error_at(
        &p.scenario,
        &at(&scenario, "{ weight = 10, pause_s = 5 }", "{ weight"),
        &["rollout.steps[1]", "exactly one of `weight`"],
    )
    .error_at(
        &p.scenario,
        &at(&scenario, "{ analysis = { interval_s = 5", "{ interval_s"),
        &[
            "rollout.steps[2].analysis",
            "needs a limit",
            "max_error_rate, max_p99_ms",
        ],
    )
    .error_at(
        &p.scenario,
        &at(&scenario, "starting_step = 7", "7"),
        &["rollout.analysis.starting_step", "between 0 and 2", "found 7"],
    )
    .error_at(
        &p.scenario,
        &at(&scenario, "release = { burn_rate = 1", "{ burn_rate"),
        &["guardrails[0].release", "a rollback is not undone"],
    )
    .error_at(
        &p.scenario,
        &at(&scenario, "kind = \"bad_deploy\"", "\"bad_deploy\""),
        &["faults[4].kind", "write it as a [rollout]"],
    );
    assert_eq!(o.errors(), 8, "{}", o.stderr);
}

#[test]
fn a_release_above_the_firing_rate_is_refused() {
    // A guardrail that would let go at a higher burn rate than it fires at is refused at `release.burn_rate`, with both rates.
    let scenario = format!(
        "{SCENARIO}{}",
        r#"
[[guardrails]]
name = "flappy"
when = { slo = "checkout-availability", burn_rate = 10, window_s = 5 }
action = { kind = "failover", from = "psp", to = "us-east" }
release = { burn_rate = 12, hold_s = 30 }
"#
    );
    let p = pair("release_rate", TOPOLOGY, &scenario);
    validate(&p.scenario).error_at(
        &p.scenario,
        &at(&scenario, "release = { burn_rate = 12", "12"),
        &[
            "guardrails[0].release.burn_rate",
            "at most the firing burn_rate (10)",
            "found 12",
        ],
    );
}

// ---------------------------------------------------------------- 10. misspelt kinds

#[test]
fn misspelt_fault_kind_lists_the_fault_kinds() {
    // `kind = "latncy"` in a fault fails at its value with the list of fault kinds, by validate and run.
    let scenario = edit(SCENARIO, "kind = \"latency\"\ntarget", "kind = \"latncy\"\ntarget");
    let p = pair("misspelt_fault_kind", TOPOLOGY, &scenario);
    let place = at(&scenario, "kind = \"latncy\"", "\"latncy\"");
    let words = [
        "faults[0]",
        "unknown variant `latncy`",
        "expected one of",
        "`latency`",
        "`abort`",
        "`kill`",
        "`slowdown`",
        "`region_outage`",
    ];
    validate(&p.scenario).error_at(&p.scenario, &place, &words);
    run(&p.scenario).error_at(&p.scenario, &place, &words);
}

#[test]
fn misspelt_kinds_in_topology_list_allowed_values() {
    // Misspelt balancer, locality, jitter and dist kinds each fail at their value, listing the allowed values.
    let cases: [(&str, &str, &str, &str, &[&str]); 4] = [
        (
            "balancer",
            "balancer = \"least_outstanding\"",
            "balancer = \"fastest\"",
            "\"fastest\"",
            &[
                "unknown variant `fastest`",
                "`round_robin`",
                "`random`",
                "`least_outstanding`",
            ],
        ),
        (
            "locality",
            "locality = \"prefer_local\"",
            "locality = \"nearby\"",
            "\"nearby\"",
            &["unknown variant `nearby`", "`prefer_local`", "`local_only`", "`any`"],
        ),
        (
            "jitter",
            "jitter = \"full\"",
            "jitter = \"ful\"",
            "\"ful\"",
            &["unknown variant `ful`", "`none`", "`full`", "`equal`", "`decorrelated`"],
        ),
        (
            "dist",
            "dist = \"gamma\"",
            "dist = \"gama\"",
            "\"gama\"",
            &[
                "unknown variant `gama`",
                "`exp`",
                "`gamma`",
                "`percentiles`",
                "`empirical`",
            ],
        ),
    ];
    for (case, old, new, needle, words) in cases {
        let topology = edit(TOPOLOGY, old, new);
        let p = pair(&format!("misspelt_{case}"), &topology, SCENARIO);
        validate(&p.topology).error_at(&p.topology, &at(&topology, new, needle), words);
    }
}

#[test]
fn misspelt_slo_kind_and_missing_dist_list_allowed_values() {
    // A misspelt SLO kind lists the SLO kinds; a distribution table without `dist` lists the distributions.
    let scenario = edit(SCENARIO, "kind = \"availability\"", "kind = \"availabilty\"");
    let p = pair("misspelt_slo_kind", TOPOLOGY, &scenario);
    validate(&p.scenario).error_at(
        &p.scenario,
        &at(&scenario, "kind = \"availabilty\"", "\"availabilty\""),
        &[
            "slos[0]",
            "unknown variant `availabilty`",
            "`availability`",
            "`latency`",
            "`correctness`",
        ],
    );
    let topology = edit(TOPOLOGY, "{ dist = \"exp\", mean_ms = 3 }", "{ mean_ms = 3 }");
    let p = pair("missing_dist", &topology, SCENARIO);
    validate(&p.topology).error_at(
        &p.topology,
        &at(&topology, "{ mean_ms = 3 }", "{"),
        &[
            "services[2].service_time",
            "missing `dist`",
            "const, exp, uniform, lognormal, gamma",
        ],
    );
}

// ---------------------------------------------------------------- 11. usage errors

#[test]
fn usage_errors_exit_2() {
    // A missing path, an unknown subcommand or a malformed flag is a usage error: exit 2 with a hint.
    let dir = Scratch::new("usage");
    let in_dir = |args: &[&str]| {
        let out = bin()
            .current_dir(&*dir)
            .args(args)
            .output()
            .expect("the chaoscal binary runs");
        outcome(args, out).exits(2)
    };
    in_dir(&["run"]).says(&["required", "<PATHS>", "Usage: chaoscal run"]);
    in_dir(&["validate"]).says(&["required", "<PATHS>"]);
    in_dir(&["frobnicate"]).says(&["unrecognized subcommand 'frobnicate'", "Usage:"]);
    in_dir(&[]).says(&["Usage: chaoscal <COMMAND>"]);
    let p = pair("usage_flags", TOPOLOGY, SCENARIO);
    in_dir(&["run", arg(&p.scenario), "--seed", "abc"]).says(&["--seed", "abc"]);
    in_dir(&["run", arg(&p.scenario), "--threads", "0", "--quiet"]).says(&["--threads must be at least 1"]);
    in_dir(&["run", arg(&p.scenario), "--replications", "0", "--quiet"]).says(&["--replications must be at least 1"]);
    // Memory is bounded by the replication cap: a count over it is refused before anything runs.
    in_dir(&["run", arg(&p.scenario), "--replications", "1000001", "--quiet"])
        .says(&["--replications 1000001", "at most 1000000 replications"]);
    in_dir(&["check", arg(&p.scenario), "--max-replications", "5000000"])
        .says(&["--max-replications 5000000", "at most 1000000"]);
    assert!(!dir.join("results").exists(), "a refused run wrote results");
}

#[test]
fn run_on_a_topology_says_it_takes_scenarios() {
    // `run` given a topology file refuses it, saying it takes scenario files.
    let p = pair("run_topology", TOPOLOGY, SCENARIO);
    run(&p.topology).file_error(&p.topology, &["this is a topology", "scenario"]);
}

// ---------------------------------------------------------------- known bugs

#[test]

fn empty_flow_list_is_refused_not_run() {
    // A topology with `flows = []` has nothing to send requests to: it must fail validation, and never panic `run`.
    let topology = "name = \"x\"\nflows = []\n[[regions]]\nname = \"r\"\n\
                    [[services]]\nname = \"a\"\nregions = [\"r\"]\nservice_time = 1\n";
    let scenario = "[experiment]\nname = \"empty-flows\"\ntopology = \"topology.toml\"\n\
                    [run]\nduration_s = 1\nreplications = 1\n[workload]\nrate_per_s = 10\n";
    let p = pair("empty_flows", topology, scenario);
    validate(&p.topology).says(&["flows"]);
    run(&p.scenario);
}

#[test]

fn negative_distribution_parameter_is_reported_as_written() {
    // `mean_ms = -3` is reported as `mean_ms` and -3 (as written), at the value, not as -3000000 ns at the `{`.
    let topology = edit(TOPOLOGY, "mean_ms = 3 }", "mean_ms = -3 }");
    let p = pair("negative_dist", &topology, SCENARIO);
    let o = validate(&p.topology);
    o.error_at(
        &p.topology,
        &at(&topology, "mean_ms = -3", "-3"),
        &["services[2].service_time.mean_ms", "found -3"],
    );
    assert!(!o.stderr.contains("-3000000"), "{}", o.stderr);
}

#[cfg(unix)]
#[test]
fn empirical_file_that_never_ends_is_refused_not_read() {
    // `dist = "empirical"` naming /dev/zero, a FIFO or a file over 256 MiB is refused before reading: no hang, no runaway memory.
    let dir = Scratch::new("empirical_never_ends");
    let fifo = dir.join("values.fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo {}", fifo.display());
    let huge = dir.join("huge.csv");
    let f = std::fs::File::create(&huge).expect("create huge.csv");
    f.set_len(300 << 20).expect("a sparse 300 MiB file");
    for (case, file, words) in [
        (
            "dev_zero",
            "/dev/zero".to_string(),
            &["/dev/zero", "not a regular file"][..],
        ),
        (
            "fifo",
            fifo.display().to_string(),
            &["values.fifo", "not a regular file"][..],
        ),
        (
            "huge",
            huge.display().to_string(),
            &["huge.csv", "larger than 256 MiB"][..],
        ),
    ] {
        let new = format!("{{ dist = \"empirical\", file = \"{file}\" }}");
        let topology = edit(TOPOLOGY, "{ dist = \"exp\", mean_ms = 3 }", &new);
        let p = pair(&format!("empirical_{case}"), &topology, SCENARIO);
        let mut w = vec!["services[2].service_time.file"];
        w.extend_from_slice(words);
        validate(&p.topology).error_at(&p.topology, &at(&topology, &new, &format!("\"{file}\"")), &w);
    }
}

// ---------------------------------------------------------------- properties

/// Asserts a diagnostic points inside the text it names and echoes that line.
/// (The column may count a line's trailing `\r`, which the echo drops.)
fn check_located(d: &Diagnostic, text: &str) {
    if d.line == 0 {
        return;
    }
    let lines: Vec<&str> = text.split('\n').collect();
    assert!(d.line <= lines.len(), "line {} beyond the text: {d}", d.line);
    let raw = lines[d.line - 1];
    assert_eq!(
        d.line_text,
        raw.trim_end_matches('\r'),
        "the echoed line is the text's line {}: {d}",
        d.line
    );
    assert!(
        d.column >= 1 && d.column <= raw.chars().count() + 1,
        "column {} outside its line: {d}",
        d.column
    );
}

/// Loads the pair every way a user's files are loaded, failing on a panic
/// and checking that every diagnostic is well located. `topology`/`scenario`
/// are the files' bytes, written under `dir`.
fn load_every_way(dir: &Path, topology: &[u8], scenario: &[u8]) {
    let tpath = dir.join("topology.toml");
    let spath = dir.join("scenario.toml");
    std::fs::write(&tpath, topology).expect("write topology");
    std::fs::write(&spath, scenario).expect("write scenario");
    let ttext = String::from_utf8_lossy(topology).into_owned();
    let stext = String::from_utf8_lossy(scenario).into_owned();

    let from_str = catch_unwind(|| scenario_from_str(Path::new("t.toml"), &ttext, Path::new("s.toml"), &stext));
    let from_str = from_str.unwrap_or_else(|_| panic!("scenario_from_str panicked on\n{ttext}\n---\n{stext}"));
    for d in from_str.err().unwrap_or_default() {
        let text = if d.file == Path::new("t.toml") { &ttext } else { &stext };
        check_located(&d, text);
    }

    let topo = catch_unwind(|| load_topology(&tpath));
    let topo = topo.unwrap_or_else(|_| panic!("load_topology panicked on {topology:?}"));
    // A file that is not UTF-8 gets a file-level diagnostic (line 0), which `check_located` skips.
    for d in topo.err().unwrap_or_default() {
        check_located(&d, &ttext);
    }

    let mut loader = Loader::new();
    let loaded = catch_unwind(AssertUnwindSafe(|| loader.scenario(&spath).is_some()))
        .unwrap_or_else(|_| panic!("Loader::scenario panicked on\n{ttext}\n---\n{stext}"));
    assert!(loaded || loader.has_errors(), "a scenario that does not load says why");
}

/// One single-byte edit at a position taken modulo the text's length.
#[derive(Clone, Debug)]
enum Mutation {
    Insert(usize, u8),
    Delete(usize),
    Replace(usize, u8),
}

fn mutate(text: &str, m: &Mutation) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    match *m {
        Mutation::Insert(at, b) => bytes.insert(at % (bytes.len() + 1), b),
        Mutation::Delete(at) => {
            bytes.remove(at % bytes.len());
        }
        Mutation::Replace(at, b) => {
            let n = bytes.len();
            bytes[at % n] = b;
        }
    }
    bytes
}

/// Bytes worth trying: TOML's punctuation, digits, signs, letters and
/// line ends most of the time, any byte (mostly invalid UTF-8) otherwise.
fn byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => prop::sample::select(b"\"'=[]{},.#-+_0123456789eE \n\r\tabcxyz".to_vec()),
        1 => any::<u8>(),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), byte()).prop_map(|(at, b)| Mutation::Insert(at, b)),
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), byte()).prop_map(|(at, b)| Mutation::Replace(at, b)),
    ]
}

/// Arbitrary bytes, and printable TOML-looking text that gets past UTF-8.
fn garbage() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        "[ -~\n]{0,400}".prop_map(String::into_bytes),
        "(\\[\\[?[a-z.]{1,12}\\]\\]?\n|[a-z_]{1,10} = [-0-9.e\"{}\\[\\], a-z=]{0,30}\n){0,20}"
            .prop_map(String::into_bytes),
    ]
}

// 256 cases each (proptest's default; `PROPTEST_CASES=100000` searches
// harder). Failure persistence is off so that a failure writes no file
// beside the tests; proptest prints the minimal failing input instead.
proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_the_loader(bytes in garbage()) {
        // Arbitrary bytes as a topology, and as a scenario against the valid topology, never panic the loader.
        let dir = Scratch::new("prop_bytes");
        load_every_way(&dir, &bytes, SCENARIO.as_bytes());
        load_every_way(&dir, TOPOLOGY.as_bytes(), &bytes);
    }

    #[test]
    fn single_byte_mutations_never_panic_the_loader(in_topology in any::<bool>(), m in mutation()) {
        // One inserted, deleted or replaced byte anywhere in the valid pair never panics the loader.
        let dir = Scratch::new("prop_mutation");
        if in_topology {
            load_every_way(&dir, &mutate(TOPOLOGY, &m), SCENARIO.as_bytes());
        } else {
            load_every_way(&dir, TOPOLOGY.as_bytes(), &mutate(SCENARIO, &m));
        }
    }
}

//! Telemetry out (issue 11): a replication's traces and series say what the
//! replication measured. Traces are trees following the call graph, root
//! spans reproduce the request figures, retries are sibling CLIENT spans,
//! fault events sit on exactly the spans that crossed the fault; the series
//! add up to the requests and their buckets bracket the latency percentiles;
//! files are byte-identical across thread counts; the official OTLP protobuf
//! definitions and promtool accept them (the last two run in CI with --ignored).

use std::path::{Path, PathBuf};
use std::process::Command;

use chaoscal::input::LoadedScenario;
use chaoscal::observe::Histogram;
use chaoscal::observe::telemetry::*;
use chaoscal::sim::{run_replication, run_with_telemetry};

use super::common::*;

/// Two regions; `front` calls `back` (fails 20% of the time: retried up to
/// three tries, then the fallback `spare`, which fails half the time) and publishes to a queue.
const TOPOLOGY: &str = r#"
name = "tel"
[[regions]]
name = "r1"
[[regions]]
name = "r2"
[network]
intra_region = 0.5
[[network.links]]
between = ["r1", "r2"]
latency = 20
[[flows]]
name = "buy"
entry = "front"
[[services]]
name = "front"
regions = ["r1", "r2"]
replicas = 2
concurrency = 50
queue = 100
service_time = { dist = "exp", mean_ms = 2 }
  [[services.calls]]
  to = "back"
  timeout_ms = 400
  retry = { attempts = 3, backoff_ms = 5, jitter = "none" }
  fallback = "spare"
  [[services.calls]]
  to = "events"
[[services]]
name = "back"
regions = ["r1", "r2"]
replicas = 2
concurrency = 8
queue = 40
service_time = { dist = "exp", mean_ms = 10 }
error_rate = 0.2
[[services]]
name = "spare"
regions = ["r1"]
replicas = 1
concurrency = 20
queue = 20
service_time = 3
error_rate = 0.5
[[services]]
name = "sink"
regions = ["r1", "r2"]
service_time = 1
[[queues]]
name = "events"
regions = ["r1", "r2"]
consumer = "sink"
"#;

/// A latency fault on back@r1 from 20 s to 35 s; 20 requests/s per region.
fn scenario(extra: &str) -> String {
    format!(
        r#"[experiment]
name = "tel"
topology = "t.toml"
owner = "test"
hypothesis = "telemetry"
rollback = "none"
[run]
duration_s = 60
warmup_s = 5
replications = 1
seed = 11
{extra}
[workload]
rate_per_s = 20
[[faults]]
name = "back-slow"
kind = "latency"
target = {{ service = "back", region = "r1" }}
start_s = 20
duration_s = 15
delay = 50
[[slos]]
name = "buy-availability"
flow = "buy"
kind = "availability"
objective = 0.99
"#
    )
}

/// Keeps everything it is handed.
#[derive(Default)]
struct Collect {
    traces: Vec<Trace>,
    scrapes: Vec<(u64, Series)>,
}

impl TelemetrySink for Collect {
    fn trace(&mut self, trace: &Trace) {
        self.traces.push(trace.clone());
    }
    fn scrape(&mut self, time_ns: u64, series: &Series) {
        self.scrapes.push((time_ns, series.clone()));
    }
}

fn all(traces: bool, metrics: bool) -> TelemetryOptions {
    TelemetryOptions {
        traces,
        metrics,
        sample: 1.0,
        sample_troubled: 1.0,
        scrape_interval_ns: 15_000_000_000,
    }
}

fn traced(l: &LoadedScenario) -> (chaoscal::sim::ReplicationOutput, Collect) {
    let mut sink = Collect::default();
    let out = run_with_telemetry(&l.topology, &l.scenario, l.scenario.seed, 0, all(true, true), &mut sink);
    (out, sink)
}

fn requests(c: &Collect) -> Vec<&Trace> {
    c.traces
        .iter()
        .filter(|t| matches!(t.spans[0].what, SpanWhat::Request { .. }))
        .collect()
}

fn service(l: &LoadedScenario, name: &str) -> u32 {
    l.topology
        .services
        .iter()
        .position(|s| s.name == name)
        .expect("service exists") as u32
}

#[test]
fn telemetry_changes_nothing_the_replication_measures() {
    // Tracing draws no random number and schedules no event: the recorder
    // and the event count are those of the same replication without it.
    let l = load(TOPOLOGY, &scenario(""));
    let plain = run_replication(&l.topology, &l.scenario, 11, 0);
    let (out, sink) = traced(&l);
    assert_eq!(out.recorder, plain.recorder);
    assert_eq!(out.events, plain.events);
    assert!(!sink.traces.is_empty() && !sink.scrapes.is_empty());
}

#[test]
fn root_spans_reproduce_the_request_figures() {
    // With every trace kept, one root span per counted request: their count,
    // failures and latency percentiles are the recorder's own.
    let l = load(TOPOLOGY, &scenario(""));
    let (out, sink) = traced(&l);
    let flow = &out.recorder.flows[0];
    let roots = requests(&sink);
    assert_eq!(roots.len() as u64, flow.requests);
    let failed = roots.iter().filter(|t| t.spans[0].cause.failed()).count() as u64;
    assert_eq!(failed, flow.failed);
    assert!(failed > 0, "the scenario has failures to count");
    let mut h = Histogram::new();
    for t in &roots {
        let r = &t.spans[0];
        if r.cause != Cause::Unfinished {
            h.record(r.end_ns - r.start_ns);
        }
    }
    assert_eq!(h.count(), flow.latency.count());
    for q in [0.5, 0.9, 0.99, 1.0] {
        assert_eq!(h.quantile(q), flow.latency.quantile(q), "quantile {q}");
    }
}

#[test]
fn every_trace_is_a_tree_that_follows_the_call_graph() {
    // One root; each span's parent started before it; tries hang under
    // servers, servers under tries to their service, and every try goes
    // where the topology says its caller calls (calls and fallbacks).
    let l = load(TOPOLOGY, &scenario(""));
    let (_, sink) = traced(&l);
    let topo = &l.topology;
    let callees = |s: u32| -> Vec<u32> {
        let svc = &topo.services[s as usize];
        let mut v: Vec<u32> = svc
            .calls
            .iter()
            .filter_map(|c| match c.to {
                chaoscal::model::CallTarget::Service(t) => Some(t.0),
                _ => None,
            })
            .collect();
        v.extend(svc.calls.iter().filter_map(|c| match c.fallback {
            Some(chaoscal::model::Fallback::Service(f)) => Some(f.0),
            _ => None,
        }));
        v
    };
    let entry = topo.flows[0].entry.0;
    for t in requests(&sink) {
        assert_eq!(t.spans[0].parent, NO_SPAN);
        for (i, s) in t.spans.iter().enumerate().skip(1) {
            assert!((s.parent as usize) < i, "parent before child");
            let p = &t.spans[s.parent as usize];
            assert!(p.start_ns <= s.start_ns && s.end_ns <= p.end_ns.max(s.end_ns));
            match (s.kind, s.what) {
                (SpanKind::Client, SpanWhat::Try { target, .. }) => {
                    assert_eq!(p.kind, SpanKind::Server);
                    assert_eq!(s.place, p.place, "a try leaves from its caller's replica");
                    assert!(callees(p.place.service).contains(&target), "{target} is not called");
                }
                (SpanKind::Server, SpanWhat::Serve) => {
                    let to = match p.what {
                        SpanWhat::Try { target, .. } => target,
                        SpanWhat::Request { .. } => entry,
                        w => panic!("a server span under {w:?}"),
                    };
                    assert_eq!(s.place.service, to, "served by the service called");
                }
                (SpanKind::Internal, SpanWhat::Queue) | (SpanKind::Producer, SpanWhat::Publish { .. }) => {
                    assert_eq!(p.kind, SpanKind::Server);
                }
                (k, w) => panic!("unexpected span {k:?} {w:?}"),
            }
        }
    }
}

#[test]
fn retries_are_sibling_client_spans() {
    // Tries of one call hang side by side under the caller's server span,
    // numbered 0, 1, 2 in time order without overlapping. A try fails when
    // back errs (20%, independent per try), so P(≥2 tries) = 0.2 and
    // P(3 tries) = 0.04 (timeouts and rejections are negligible here).
    let l = load(TOPOLOGY, &scenario(""));
    let (_, sink) = traced(&l);
    let back = service(&l, "back");
    let (mut calls, mut two, mut three) = (0.0, 0.0, 0.0);
    for t in requests(&sink) {
        for (p, ps) in t.spans.iter().enumerate() {
            if ps.kind != SpanKind::Server || ps.place.service != service(&l, "front") {
                continue;
            }
            let tries: Vec<&Span> = t
                .spans
                .iter()
                .filter(|s| {
                    s.parent == p as u32
                        && matches!(s.what, SpanWhat::Try { target, fallback: false, .. } if target == back)
                })
                .collect();
            if tries.is_empty() {
                continue;
            }
            for (k, s) in tries.iter().enumerate() {
                assert!(matches!(s.what, SpanWhat::Try { attempt, .. } if attempt as usize == k));
                if k > 0 {
                    assert!(tries[k - 1].end_ns <= s.start_ns, "tries do not overlap");
                }
            }
            calls += 1.0;
            two += (tries.len() >= 2) as u8 as f64;
            three += (tries.len() == 3) as u8 as f64;
        }
    }
    let check = |what: &str, k: f64, p: f64| {
        let se = (p * (1.0 - p) / calls).sqrt();
        eprintln!("{what}: {:.4} (theory {p}, se {se:.4}, {calls} calls)", k / calls);
        assert!((k / calls - p).abs() < 4.0 * se + 0.005, "{what}");
    };
    check("P(>= 2 tries)", two, 0.2);
    check("P(3 tries)", three, 0.04);
}

#[test]
fn fault_events_sit_exactly_on_the_spans_that_crossed_the_fault() {
    // The latency fault on back@r1 is active in [20 s, 35 s): a try carries
    // its event iff it was sent then to a back replica in r1; a server span
    // at back@r1 iff it began or ended then; no other span ever does.
    let l = load(TOPOLOGY, &scenario(""));
    let (_, sink) = traced(&l);
    let back = service(&l, "back");
    let window = 20_000_000_000..35_000_000_000u64;
    let mut marked = 0;
    for t in requests(&sink) {
        for (i, s) in t.spans.iter().enumerate() {
            let has = t
                .events
                .iter()
                .any(|e| e.span == i as u32 && e.what == EventWhat::Fault(0));
            let at_back_r1 = |p: &Place| p.service == back && p.region == 0;
            let expected = match s.what {
                SpanWhat::Try { .. } => {
                    let child = t
                        .spans
                        .iter()
                        .find(|c| c.parent == i as u32 && c.kind == SpanKind::Server);
                    child.is_some_and(|c| at_back_r1(&c.place)) && window.contains(&s.start_ns)
                }
                SpanWhat::Serve => at_back_r1(&s.place) && (window.contains(&s.start_ns) || window.contains(&s.end_ns)),
                _ => false,
            };
            assert_eq!(
                has, expected,
                "span {i} {:?} at {:?} from {} ns",
                s.what, s.place, s.start_ns
            );
            marked += has as u32;
        }
    }
    assert!(marked > 100, "the fault met many spans ({marked})");
}

#[test]
fn series_add_up_to_the_replication() {
    // Scrapes every 15 s from the end of warm-up; counters never fall; at the
    // last scrape the ingress's requests are the replication's requests and
    // its non-200 responses its failures.
    let l = load(TOPOLOGY, &scenario(""));
    let (out, sink) = traced(&l);
    for (k, (t, _)) in sink.scrapes.iter().enumerate() {
        assert_eq!(*t, 5_000_000_000 + k as u64 * 15_000_000_000);
    }
    for w in sink.scrapes.windows(2) {
        for (key, e) in &w[0].1.edges {
            assert!(w[1].1.edges[key].count >= e.count, "a counter fell");
        }
    }
    let last = &sink.scrapes.last().expect("scraped").1;
    let ingress = || {
        last.edges
            .iter()
            .filter(|(k, _)| k.reporter == Reporter::Source && k.src_service == INGRESS)
    };
    let flow = &out.recorder.flows[0];
    assert_eq!(ingress().map(|(_, e)| e.count).sum::<u64>(), flow.requests);
    let failed: u64 = ingress().filter(|(k, _)| k.code != 200).map(|(_, e)| e.count).sum();
    assert_eq!(failed, flow.failed);
    // The callee's proxy counts every try that reached back.
    let reached: u64 = last
        .edges
        .iter()
        .filter(|(k, _)| k.reporter == Reporter::Destination && k.dst_service == service(&l, "back"))
        .map(|(_, e)| e.count)
        .sum();
    let groups: u64 = (0..2)
        .map(|r| out.recorder.groups[service(&l, "back") as usize * 2 + r].requests)
        .sum();
    assert!(
        reached <= groups && reached * 100 >= groups * 99,
        "{reached} of {groups}"
    );
}

#[test]
fn duration_buckets_bracket_the_latency_percentiles() {
    // The ingress's duration histogram (Istio's buckets): for each
    // percentile, the bucket where the cumulative count first reaches it
    // contains the replication's own percentile (within the recorder's 0.4%).
    let l = load(TOPOLOGY, &scenario(""));
    let (out, sink) = traced(&l);
    let last = &sink.scrapes.last().expect("scraped").1;
    let mut buckets = [0u64; 19];
    let mut count = 0;
    for (k, e) in &last.edges {
        if k.reporter == Reporter::Source && k.src_service == INGRESS {
            for (b, n) in buckets.iter_mut().zip(e.buckets) {
                *b += n;
            }
            count += e.count;
        }
    }
    let flow = &out.recorder.flows[0];
    for q in [0.5, 0.9, 0.99] {
        let want = (q * count as f64).ceil() as u64;
        let mut cum = 0;
        let k = buckets
            .iter()
            .position(|n| {
                cum += n;
                cum >= want
            })
            .expect("within the buckets");
        let lo = if k == 0 { 0.0 } else { ISTIO_BUCKETS_MS[k - 1] };
        let hi = ISTIO_BUCKETS_MS[k];
        let p = flow.latency.quantile(q) as f64 / 1e6;
        eprintln!("p{}: {p:.3} ms in ({lo}, {hi}]", q * 100.0);
        assert!(p > lo * 0.996 && p <= hi * 1.004, "p{q} = {p} ms outside ({lo}, {hi}]");
    }
}

/// Writes the test mesh into `dir` and returns the scenario's path.
fn files(dir: &Path, extra: &str) -> PathBuf {
    std::fs::write(dir.join("t.toml"), TOPOLOGY).expect("write topology");
    let s = dir.join("s.toml");
    std::fs::write(&s, scenario(extra)).expect("write scenario");
    s
}

/// `run --replication 0` with telemetry into `dir/<tag>`; returns that folder.
fn run_traced(dir: &Path, s: &Path, tag: &str, threads: &str, extra: &[&str]) -> PathBuf {
    let out = dir.join(tag);
    let mut args = vec![
        "run".to_string(),
        s.display().to_string(),
        "--replication".into(),
        "0".into(),
        "--threads".into(),
        threads.into(),
        "--quiet".into(),
        "--no-report".into(),
        "--out".into(),
        out.display().to_string(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    let trace = out.join("t.jsonl").display().to_string();
    let metrics = out.join("m.om").display().to_string();
    if !extra.contains(&"plain") {
        args.extend(["--trace".into(), trace, "--metrics".into(), metrics]);
    } else {
        args.retain(|a| a != "plain");
    }
    std::fs::create_dir_all(&out).expect("out folder");
    let o = bin().args(&args).output().expect("chaoscal runs");
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

fn read(p: PathBuf) -> Vec<u8> {
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn files_are_byte_identical_across_threads_and_leave_the_summary_unchanged() {
    // The same seed gives the same trace and metrics bytes on 1 or 3
    // threads, and summary.json is that of a run without telemetry.
    let dir = scratch("telemetry-bytes");
    let s = files(&dir, "");
    let a = run_traced(&dir, &s, "a", "1", &["--trace-sample", "0.2"]);
    let b = run_traced(&dir, &s, "b", "3", &["--trace-sample", "0.2"]);
    let plain = run_traced(&dir, &s, "plain", "1", &["plain"]);
    for f in ["t.jsonl", "m.om"] {
        assert!(read(a.join(f)) == read(b.join(f)), "{f} differs across thread counts");
    }
    assert_eq!(read(a.join("tel/summary.json")), read(plain.join("tel/summary.json")));
    let m = String::from_utf8(read(a.join("m.om"))).expect("utf-8");
    assert!(m.ends_with("# EOF\n"));
    assert!(m.contains("istio_requests_total{"), "Istio's counter");
    assert!(m.contains("le=\"+Inf\""));
    assert!(
        m.contains("\n1767225605.000") || m.contains(" 1767225605.000\n"),
        "the default epoch plus warm-up"
    );
}

/// Per root span of a trace file: (failed, duration ns).
fn roots_in(file: &Path) -> Vec<(bool, u64)> {
    let text = String::from_utf8(read(file.to_path_buf())).expect("utf-8");
    let mut roots = Vec::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("one JSON object per line");
        for rs in v["resourceSpans"].as_array().expect("resourceSpans") {
            for ss in rs["scopeSpans"].as_array().expect("scopeSpans") {
                for sp in ss["spans"].as_array().expect("spans") {
                    if sp.get("parentSpanId").is_some() || sp["kind"] != 3 {
                        continue;
                    }
                    let ns = |k: &str| sp[k].as_str().expect("a decimal string").parse::<u64>().expect("u64");
                    let failed = sp["status"]["code"] == 2;
                    roots.push((failed, ns("endTimeUnixNano") - ns("startTimeUnixNano")));
                }
            }
        }
    }
    roots
}

/// The last sample of each `istio_requests_total` series that customers'
/// requests make (reported by the ingress gateway), by response code.
fn ingress_totals(file: &Path) -> Vec<(String, u64)> {
    let text = String::from_utf8(read(file.to_path_buf())).expect("utf-8");
    let mut last: std::collections::BTreeMap<String, (String, u64)> = Default::default();
    for line in text.lines().filter(|l| l.starts_with("istio_requests_total{")) {
        let (labels, rest) = line.split_once("} ").expect("labels, then value and timestamp");
        if !labels.contains("reporter=\"source\"") || !labels.contains("source_workload=\"istio-ingressgateway\"") {
            continue;
        }
        let code = labels
            .split("response_code=\"")
            .nth(1)
            .and_then(|c| c.split('"').next())
            .expect("a code");
        let value = rest
            .split(' ')
            .next()
            .expect("a value")
            .parse::<u64>()
            .expect("an integer count");
        // Samples of a series are in time order: the last one stays.
        last.insert(labels.to_string(), (code.to_string(), value));
    }
    last.into_values().collect()
}

#[test]
fn the_files_match_summary_json() {
    // --trace-sample 1: the trace file's root spans are the summary's
    // requests, failures and latency percentiles (as summary.json rounds
    // them); in the metrics file, the last samples of the ingress's
    // istio_requests_total add up to the requests, the non-200 ones to the failures.
    let dir = scratch("telemetry-summary");
    let s = files(&dir, "");
    let out = run_traced(&dir, &s, "a", "1", &["--trace-sample", "1"]);
    let summary: serde_json::Value = serde_json::from_slice(&read(out.join("tel/summary.json"))).expect("json");
    let flow = &summary["flows"][0];
    let roots = roots_in(&out.join("t.jsonl"));
    assert_eq!(roots.len() as u64, flow["requests"].as_u64().expect("requests"));
    let failed = roots.iter().filter(|r| r.0).count() as u64;
    assert_eq!(failed, flow["failed"].as_u64().expect("failed"));
    let mut h = Histogram::new();
    for r in &roots {
        h.record(r.1);
    }
    for (q, k) in [(0.5, "p50"), (0.99, "p99")] {
        let ms = h.quantile(q) as f64 / 1e6;
        let want = flow["latency_ms"][k].as_f64().expect("percentile");
        assert!((ms - want).abs() < 0.0011, "{k}: {ms} vs {want}");
    }
    let totals = ingress_totals(&out.join("m.om"));
    assert_eq!(
        totals.iter().map(|t| t.1).sum::<u64>(),
        flow["requests"].as_u64().expect("requests")
    );
    let not_ok: u64 = totals.iter().filter(|t| t.0 != "200").map(|t| t.1).sum();
    assert_eq!(not_ok, flow["failed"].as_u64().expect("failed"));
}

#[test]
fn the_report_draws_the_waterfalls_of_a_traced_run() {
    // A --trace run puts a failed request's and the slowest successful one's
    // waterfalls into the report; a later run without --trace drops them.
    let dir = scratch("telemetry-report");
    let s = files(&dir, "");
    let out = dir.join("out");
    let o = run_cli(&[
        "run",
        s.to_str().expect("utf-8"),
        "--replication",
        "0",
        "--quiet",
        "--trace",
        dir.join("t.jsonl").to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let exp = out.join("tel");
    for f in [
        "waterfall_failed.svg",
        "waterfall_failed.png",
        "waterfall_slowest.svg",
        "waterfalls.json",
    ] {
        assert!(exp.join(f).is_file(), "{f}");
    }
    let html = String::from_utf8(read(exp.join("report.html"))).expect("utf-8");
    assert!(
        html.contains("request (buy"),
        "the waterfall captions are in the report"
    );
    let w: chaoscal::telemetry::Waterfalls = serde_json::from_slice(&read(exp.join("waterfalls.json"))).expect("json");
    let failed = w.failed.expect("a failed request");
    assert!(failed.failed && failed.rows.iter().any(|r| r.error.is_some()));
    let o = run_cli(&[
        "run",
        s.to_str().expect("utf-8"),
        "--replication",
        "0",
        "--quiet",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(!exp.join("waterfalls.json").exists() && !exp.join("waterfall_failed.svg").exists());
    assert!(
        !String::from_utf8(read(exp.join("report.html")))
            .expect("utf-8")
            .contains("request (buy")
    );
}

#[test]
fn bad_telemetry_flags_and_keys_exit_2_with_the_reason() {
    // Usage errors name the flag; a bad [run] key is a located error.
    let dir = scratch("telemetry-bad");
    let s = files(&dir, "");
    let s = s.to_str().expect("utf-8");
    let cases: [(&[&str], &str); 3] = [
        (&["run", s, "--trace", "t.jsonl"], "--replication"),
        (
            &[
                "run",
                s,
                "--replication",
                "0",
                "--trace",
                "t.jsonl",
                "--trace-sample",
                "1.5",
            ],
            "--trace-sample 1.5",
        ),
        (
            &["run", s, "--replication", "0", "--trace", "x", "--metrics", "x"],
            "same file",
        ),
    ];
    for (args, says) in cases {
        let o = run_cli(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(says),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let s = files(&dir, "epoch = 2026-01-01T00:00:00\nscrape_interval_s = 0");
    let o = run_cli(&["validate", s.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("s.toml:12:") && err.contains("epoch must be a date-time with its offset"),
        "{err}"
    );
    assert!(err.contains("scrape_interval_s must be between"), "{err}");
}

/// The repository root.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
#[ignore = "needs promtool: tests/telemetry/tools.sh installs it; CI runs it with --ignored"]
fn promtool_backfills_the_metrics_file() {
    // Prometheus' own tool turns the OpenMetrics file into TSDB blocks (what
    // a user backfills), and reads back as many samples as the file holds.
    // CI runs tests/telemetry/tools.sh and then this test, where a missing promtool fails it.
    let dir = scratch("telemetry-promtool");
    let s = files(&dir, "");
    let out = run_traced(&dir, &s, "a", "1", &[]);
    let blocks = dir.join("blocks");
    let o = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(out.join("m.om"))
        .arg(&blocks)
        .output()
        .expect("promtool is installed (tests/telemetry/tools.sh)");
    let said = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "promtool refused the file:\n{said}");
    let samples = String::from_utf8(read(out.join("m.om")))
        .expect("utf-8")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .count();
    assert!(
        said.contains(&format!(" {samples} ")),
        "promtool stored every sample ({samples}):\n{said}"
    );
}

#[test]
#[ignore = "needs the opentelemetry-proto Python package: tests/telemetry/tools.sh installs it; CI runs it with --ignored"]
fn otlp_file_parses_with_the_official_protobuf_definitions() {
    // Every line of the trace file is a TracesData message for protobuf's
    // JSON parser (strict: no unknown field) on the official .proto
    // definitions, once the hex ids are turned into base64 as OTLP documents.
    let dir = scratch("telemetry-otlp");
    let s = files(&dir, "");
    let out = run_traced(&dir, &s, "a", "1", &["--trace-sample", "0.3"]);
    let python = root().join("target/otlp-venv/bin/python");
    let o = Command::new(&python)
        .arg(root().join("tests/telemetry/otlp_parse.py"))
        .arg(out.join("t.jsonl"))
        .output()
        .unwrap_or_else(|e| panic!("{} runs (tests/telemetry/tools.sh makes it): {e}", python.display()));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got: serde_json::Value = serde_json::from_slice(&o.stdout).expect("the checker's JSON line");
    let text = String::from_utf8(read(out.join("t.jsonl"))).expect("utf-8");
    assert_eq!(got["traces"].as_u64(), Some(text.lines().count() as u64));
    assert_eq!(got["spans"].as_u64(), Some(text.matches("\"spanId\"").count() as u64));
}

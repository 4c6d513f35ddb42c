//! `chaoscal calibrate` (issue 12): traces of a known mesh give back its
//! call graph and, simulated, its latency and availability; the result
//! does not depend on how the spans are split into files or grouped; bad
//! trace files get located errors or counted warnings, never a panic.
//!
//! The traces come from a generator below that plays a known mesh by
//! hand (the mesh the model describes, with the model's semantics: a
//! client→server hop of the region's latency each way, own work before
//! the calls, parallel stages, retries with doubling backoff, a timeout
//! that fails the caller, a conditional call, a queue).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use chaoscal::calibrate::emit::{self, EmitOptions};
use chaoscal::calibrate::infer::{self, InferOptions, ServiceTimeForm};
use chaoscal::calibrate::{ReadOptions, read_files, read_texts};

use crate::common::{run_cli, scratch};

const MS: u64 = 1_000_000;
const INTRA: u64 = MS / 2;
const CROSS: u64 = 40 * MS;
const TIMEOUT: u64 = 50 * MS;
const RATE_PER_S: f64 = 30.0;
const CHECKOUT_SHARE: f64 = 0.3;
const RECOMMEND_P: f64 = 0.3;
const PAYMENT_FAILS: f64 = 0.1;
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/calibrate");

/// The known mesh, played span by span.
struct Gen {
    rng: ChaCha8Rng,
    next_id: u64,
    /// (service, region, instance) → its spans' JSON.
    out: BTreeMap<(String, String, String), Vec<String>>,
}

/// What one served request did: when it ended, whether it failed.
type Served = (u64, bool);

#[derive(Clone, Copy)]
enum Svc {
    Auth,
    Tokens,
    Catalog,
    Recommendations,
    Payments,
}

impl Svc {
    fn name(self) -> &'static str {
        match self {
            Svc::Auth => "auth",
            Svc::Tokens => "tokens",
            Svc::Catalog => "catalog",
            Svc::Recommendations => "recommendations",
            Svc::Payments => "payments",
        }
    }
}

struct SpanOut<'a> {
    trace: u128,
    id: u64,
    parent: u64,
    name: &'a str,
    kind: u8,
    start: u64,
    end: u64,
    error: bool,
    attrs: &'a str,
}

impl Gen {
    fn new(seed: u64) -> Gen {
        Gen {
            rng: ChaCha8Rng::seed_from_u64(seed),
            next_id: 1,
            out: BTreeMap::new(),
        }
    }

    fn exp(&mut self, mean_ms: f64) -> u64 {
        let u: f64 = self.rng.random();
        (-(1.0 - u).ln() * mean_ms * MS as f64) as u64
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn emit(&mut self, svc: &str, region: &str, s: SpanOut<'_>) {
        let k = self.rng.random_range(0..2u32);
        let mut j = format!(
            r#"{{"traceId":"{:032x}","spanId":"{:016x}","parentSpanId":"{}","name":"{}","kind":{},"startTimeUnixNano":"{}","endTimeUnixNano":"{}""#,
            s.trace,
            s.id,
            if s.parent == 0 {
                String::new()
            } else {
                format!("{:016x}", s.parent)
            },
            s.name,
            s.kind,
            s.start,
            s.end
        );
        if s.error {
            j.push_str(r#","status":{"code":2}"#);
        }
        if !s.attrs.is_empty() {
            let _ = write!(j, r#","attributes":[{}]"#, s.attrs);
        }
        j.push('}');
        let inst = format!("{svc}-{region}-{k}");
        self.out.entry((svc.into(), region.into(), inst)).or_default().push(j);
    }

    fn net(a: &str, b: &str) -> u64 {
        if a == b { INTRA } else { CROSS }
    }

    /// A CLIENT span from `caller` and the SERVER span answering it.
    #[allow(clippy::too_many_arguments)]
    fn call(&mut self, trace: u128, parent: u64, caller: &str, creg: &str, svc: Svc, t0: u64, resend: u32) -> Served {
        let sreg = if matches!(svc, Svc::Payments) { "eu" } else { creg };
        let (cid, sid) = (self.id(), self.id());
        let d = Gen::net(creg, sreg);
        let (send, failed) = self.serve(trace, sid, svc, sreg, t0 + d);
        let mut end = send + d;
        let mut attrs = String::new();
        if resend > 0 {
            attrs = format!(r#"{{"key":"http.request.resend_count","value":{{"intValue":"{resend}"}}}}"#);
        }
        let mut error = failed;
        if matches!(svc, Svc::Tokens) && end - t0 > TIMEOUT {
            end = t0 + TIMEOUT;
            error = true;
            attrs = r#"{"key":"error.type","value":{"stringValue":"timeout"}}"#.into();
        }
        let span = SpanOut {
            trace,
            id: cid,
            parent,
            name: "GET",
            kind: 3,
            start: t0,
            end,
            error,
            attrs: &attrs,
        };
        self.emit(caller, creg, span);
        (end, error)
    }

    fn serve(&mut self, trace: u128, id: u64, svc: Svc, reg: &str, t0: u64) -> Served {
        let (end, failed) = match svc {
            Svc::Auth => {
                let t = t0 + self.exp(5.0);
                self.call(trace, id, "auth", reg, Svc::Tokens, t, 0)
            }
            Svc::Tokens => (t0 + self.exp(10.0), false),
            Svc::Recommendations => (t0 + self.exp(3.0), false),
            Svc::Catalog => {
                let t = t0 + self.exp(8.0);
                if self.rng.random::<f64>() < RECOMMEND_P {
                    self.call(trace, id, "catalog", reg, Svc::Recommendations, t, 0)
                } else {
                    (t, false)
                }
            }
            Svc::Payments => {
                let t = t0 + self.exp(20.0);
                if self.rng.random::<f64>() < PAYMENT_FAILS {
                    (t, true)
                } else {
                    (self.publish(trace, id, t), false)
                }
            }
        };
        // The client span's id is the one before (see `call`).
        let span = SpanOut {
            trace,
            id,
            parent: id - 1,
            name: "GET /",
            kind: 2,
            start: t0,
            end,
            error: failed,
            attrs: "",
        };
        self.emit(svc.name(), reg, span);
        (end, failed)
    }

    /// Payments publishes to `ledger-events` (acknowledged by the broker in
    /// its region) and `ledger` consumes it later.
    fn publish(&mut self, trace: u128, parent: u64, t0: u64) -> u64 {
        let (pid, cid) = (self.id(), self.id());
        let dest = r#"{"key":"messaging.destination.name","value":{"stringValue":"ledger-events"}}"#;
        let end = t0 + 2 * INTRA;
        let producer = SpanOut {
            trace,
            id: pid,
            parent,
            name: "publish ledger-events",
            kind: 4,
            start: t0,
            end,
            error: false,
            attrs: dest,
        };
        self.emit("payments", "eu", producer);
        let start = t0 + INTRA + self.exp(2.0);
        let work = self.exp(4.0);
        let consumer = SpanOut {
            trace,
            id: cid,
            parent: pid,
            name: "process ledger-events",
            kind: 5,
            start,
            end: start + work,
            error: false,
            attrs: dest,
        };
        self.emit("ledger", "eu", consumer);
        end
    }

    /// One customer request arriving at `t0` in `reg`.
    fn request(&mut self, t0: u64, reg: &str) {
        let trace: u128 = self.rng.random::<u128>() | 1;
        let checkout = self.rng.random::<f64>() < CHECKOUT_SHARE;
        let root = self.id();
        let t = t0 + self.exp(2.0);
        let (ea, fa) = self.call(trace, root, "gateway", reg, Svc::Auth, t, 0);
        let (ec, fc) = self.call(trace, root, "gateway", reg, Svc::Catalog, t, 0);
        let (mut t, mut failed) = (ea.max(ec), fa || fc);
        if checkout && !failed {
            for k in 0..3u32 {
                let (e, f) = self.call(trace, root, "gateway", reg, Svc::Payments, t, k);
                (t, failed) = (e, f);
                if !f {
                    break;
                }
                if k < 2 {
                    t += (10 * MS) << k;
                }
            }
        }
        let span = SpanOut {
            trace,
            id: root,
            parent: 0,
            name: if checkout { "checkout" } else { "browse" },
            kind: 2,
            start: t0,
            end: t,
            error: failed,
            attrs: "",
        };
        self.emit("gateway", reg, span);
    }

    /// `n` requests, Poisson at [`RATE_PER_S`], half in each region.
    fn run(seed: u64, n: usize) -> Gen {
        let mut g = Gen::new(seed);
        let mut t = 1_700_000_000 * 1_000_000_000u64;
        for _ in 0..n {
            let u: f64 = g.rng.random();
            t += (-(1.0 - u).ln() / RATE_PER_S * 1e9) as u64;
            let reg = if g.rng.random::<bool>() { "eu" } else { "us" };
            g.request(t, reg);
        }
        g
    }

    /// One OTLP document per resource (the Collector file exporter's form).
    fn jsonl(&self) -> String {
        let mut s = String::new();
        for ((svc, reg, inst), spans) in &self.out {
            let _ = writeln!(
                s,
                r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"{svc}"}}}},{{"key":"cloud.region","value":{{"stringValue":"{reg}"}}}},{{"key":"service.instance.id","value":{{"stringValue":"{inst}"}}}}]}},"scopeSpans":[{{"scope":{{"name":"gen"}},"spans":[{}]}}]}}]}}"#,
                spans.join(",")
            );
        }
        s
    }
}

fn toml_of(path: &Path) -> toml::Table {
    let text = std::fs::read_to_string(path).expect("written");
    text.parse().expect("written TOML parses")
}

/// The calls of a service in a written topology: to → the call's table.
fn calls(t: &toml::Table, service: &str) -> BTreeMap<String, toml::Table> {
    let services = t["services"].as_array().expect("services");
    let s = services
        .iter()
        .find(|s| s["name"].as_str() == Some(service))
        .unwrap_or_else(|| panic!("no service {service}"));
    s.get("calls")
        .and_then(|c| c.as_array())
        .map(|c| {
            c.iter()
                .map(|c| (c["to"].as_str().unwrap().to_string(), c.as_table().unwrap().clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn calibrate(dir: &Path, traces: &[&Path], extra: &[&str]) -> std::process::Output {
    let out = dir.join("topologies/cal.toml");
    let report = dir.join("report");
    let mut args: Vec<String> = vec!["calibrate".into()];
    args.extend(traces.iter().map(|p| p.display().to_string()));
    args.extend([
        "--out".into(),
        out.display().to_string(),
        "--report".into(),
        report.display().to_string(),
    ]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    run_cli(&refs)
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn round_trip_gives_back_the_graph_latency_and_availability() {
    // Traces of a known mesh (two regions, a parallel stage, a conditional call, retries, a
    // timeout, a queue) calibrate to its call graph, and the calibrated files simulated at the
    // observed load reproduce each flow's p50/p99 within 5% and its availability within 3
    // standard errors. With 30,000 requests the observed p99 of checkout (~9,000 requests) has a
    // relative standard error of about 2.5%, so 5% is two of them.
    let dir = scratch("calibrate-round-trip");
    let g = Gen::run(12, 30_000);
    let traces = dir.join("traces.jsonl");
    std::fs::write(&traces, g.jsonl()).unwrap();
    let o = calibrate(
        &dir,
        &[&traces],
        &["--fit-replications", "8", "--threads", "2", "--quiet"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let t = toml_of(&dir.join("topologies/cal.toml"));
    // The call graph, stages and the conditional call.
    let gw = calls(&t, "gateway");
    assert_eq!(gw.keys().collect::<Vec<_>>(), ["auth", "catalog", "payments"]);
    assert_eq!(gw["auth"]["stage"].as_integer(), Some(1));
    assert_eq!(gw["catalog"]["stage"].as_integer(), Some(1));
    assert_eq!(gw["payments"]["stage"].as_integer(), Some(2));
    assert_eq!(
        gw["payments"]["flows"].as_array().unwrap()[0].as_str(),
        Some("checkout")
    );
    let retry = gw["payments"]["retry"].as_table().unwrap();
    assert_eq!(retry["attempts"].as_integer(), Some(3));
    assert_eq!(retry["backoff_ms"].as_float(), Some(10.0));
    assert_eq!(retry["jitter"].as_str(), Some("none"));
    assert_eq!(calls(&t, "auth")["tokens"]["timeout_ms"].as_float(), Some(50.0));
    // p of the conditional call: binomial over the ~30,000 catalog spans, within 4 standard errors.
    let p = calls(&t, "catalog")["recommendations"]["p"].as_float().unwrap();
    let se = (RECOMMEND_P * (1.0 - RECOMMEND_P) / 30_000.0).sqrt();
    assert!((p - RECOMMEND_P).abs() < 4.0 * se, "p = {p}");
    assert_eq!(calls(&t, "payments")["ledger-events"]["stage"].as_integer(), Some(1));
    let queue = &t["queues"].as_array().unwrap()[0];
    assert_eq!(queue["consumer"].as_str(), Some("ledger"));
    assert!(calls(&t, "tokens").is_empty() && calls(&t, "recommendations").is_empty());
    // Own failures: payments fails 10% of its tries itself; auth's failures are its callee's.
    let payments = t["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"].as_str() == Some("payments"))
        .unwrap();
    let rate = payments["error_rate"].as_float().unwrap();
    assert!(
        (rate - PAYMENT_FAILS).abs() < 4.0 * (0.09 / 9_900.0f64).sqrt(),
        "error_rate {rate}"
    );
    let auth = t["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"].as_str() == Some("auth"))
        .unwrap();
    assert!(auth.get("error_rate").is_none());
    // The network: 0.5 ms inside a region, 40 ms between them.
    let net = t["network"].as_table().unwrap();
    assert_eq!(net["intra_region"]["p50_ms"].as_float(), Some(0.5));
    assert_eq!(
        net["links"].as_array().unwrap()[0]["latency"]["p50_ms"].as_float(),
        Some(40.0)
    );
    // The fit, per flow.
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report/calibration.json")).unwrap()).unwrap();
    for f in report["flows"].as_array().unwrap() {
        let (o, s) = (&f["observed"], &f["simulated"]);
        for q in ["p50_ms", "p99_ms"] {
            let (a, b) = (o[q].as_f64().unwrap(), s[q].as_f64().unwrap());
            eprintln!("{} {q}: observed {a}, simulated {b}", f["name"]);
            assert!(
                (b / a - 1.0).abs() <= 0.05,
                "{} {q}: observed {a}, simulated {b}",
                f["name"]
            );
        }
        // Availability: the two error rates differ by less than 3 standard errors of the difference.
        let (po, ps) = (o["error_rate"].as_f64().unwrap(), s["error_rate"].as_f64().unwrap());
        let (no, ns) = (o["requests"].as_f64().unwrap(), s["requests"].as_f64().unwrap() * 8.0);
        let pooled = (po * no + ps * ns) / (no + ns);
        let se = (pooled * (1.0 - pooled) * (1.0 / no + 1.0 / ns)).sqrt();
        eprintln!("{} error rate: observed {po}, simulated {ps}, se {se}", f["name"]);
        assert!(
            (po - ps).abs() <= 3.0 * se,
            "{} error rate: observed {po}, simulated {ps}",
            f["name"]
        );
    }
}

/// The written topology and scenario texts from trace texts (no simulation).
fn written(texts: &[(&Path, &str)], buckets: Option<(usize, &Path)>) -> String {
    let (read, diags) = match buckets {
        None => read_texts(texts, &ReadOptions::default()),
        Some((n, dir)) => {
            let mut paths: Vec<PathBuf> = Vec::new();
            for (i, (_, text)) in texts.iter().enumerate() {
                let p = dir.join(format!("part-{i}.jsonl"));
                std::fs::write(&p, text).unwrap();
                paths.push(p);
            }
            let opts = ReadOptions {
                buckets: Some(n),
                scratch: Some(dir.join("scratch")),
                ..ReadOptions::default()
            };
            read_files(&paths, &opts)
        }
    };
    assert!(diags.is_empty(), "{diags:?}");
    let model = infer::infer(
        &read.tally,
        &read.names,
        &InferOptions {
            service_time: ServiceTimeForm::Auto,
        },
    );
    let opts = EmitOptions {
        name: "cal".into(),
        data_dir: "cal-service-times".into(),
        topology_ref: "cal.toml".into(),
        report_ref: "calibration.md".into(),
        source: "traces".into(),
        warmup_s: 60.0,
        seed: 1,
    };
    let w = emit::write(&model, &opts);
    let csvs: String = w.csvs.iter().map(|(p, t)| format!("{p}\n{t}")).collect();
    w.topology + &csvs + &w.scenario
}

/// Asserts two texts are equal, showing the first line that differs.
fn assert_same(what: &str, a: &str, b: &str) {
    if a != b {
        let (n, (x, y)) = a
            .lines()
            .zip(b.lines())
            .enumerate()
            .find(|(_, (x, y))| x != y)
            .unwrap_or((0, ("", "")));
        panic!("{what}: line {} differs:\n  {x}\n  {y}", n + 1);
    }
}

#[test]
fn calibration_does_not_depend_on_file_split_order_or_grouping() {
    // The same spans in one file, or split over three files in another order, kept in memory or
    // spilled to 5 bucket files, give byte-identical topologies, CSVs and scenarios.
    let g = Gen::run(3, 3_000);
    let lines: Vec<String> = g.jsonl().lines().map(str::to_string).collect();
    let one = lines.join("\n");
    let mut parts = [String::new(), String::new(), String::new()];
    for (i, l) in lines.iter().rev().enumerate() {
        parts[i % 3].push_str(l);
        parts[i % 3].push('\n');
    }
    let p = Path::new("t.jsonl");
    let base = written(&[(p, &one)], None);
    let split: Vec<(&Path, &str)> = parts.iter().map(|t| (p, t.as_str())).collect();
    assert_same("split", &written(&split, None), &base);
    let dir = scratch("calibrate-grouping");
    assert_same("split, 5 buckets", &written(&split, Some((5, &dir))), &base);
    assert_same("one file, 2 buckets", &written(&[(p, &one)], Some((2, &dir))), &base);
}

#[test]
fn calibrated_files_validate_and_the_fit_is_the_same_for_any_thread_count() {
    // The hand-written fixture calibrates into files `validate` accepts, and the fit report is
    // byte-identical with 1 and 2 threads.
    let dir = scratch("calibrate-threads");
    let fixture = PathBuf::from(FIXTURES).join("mesh.json");
    let mut reports = Vec::new();
    for threads in ["1", "2"] {
        let o = calibrate(&dir, &[&fixture], &["--threads", threads, "--quiet"]);
        assert!(o.status.success(), "{}", stderr(&o));
        reports.push(std::fs::read_to_string(dir.join("report/calibration.json")).unwrap());
    }
    assert_eq!(reports[0], reports[1]);
    let v = run_cli(&[
        "validate",
        &dir.join("topologies/cal.scenario.toml").display().to_string(),
    ]);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
}

#[test]
fn bad_trace_files_get_located_errors_or_counted_warnings() {
    // Each broken fixture gets the message it must, with its line, and never a panic.
    let dir = scratch("calibrate-bad");
    let f = |name: &str| PathBuf::from(FIXTURES).join(name);
    // Malformed JSON on line 2 of a JSONL file: a located error, nothing written (exit 2)...
    let o = calibrate(&dir, &[&f("malformed.jsonl")], &["--fit-replications", "0"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains("malformed.jsonl:2:201: error: the JSON ends too early"),
        "{e}"
    );
    assert!(!dir.join("topologies/cal.toml").exists());
    // ... unless asked to calibrate from the rest.
    let o = calibrate(
        &dir,
        &[&f("malformed.jsonl")],
        &["--fit-replications", "0", "--skip-malformed"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // Orphans, clock skew and an unknown kind are counted warnings, located at the first one.
    let o = calibrate(&dir, &[&f("warnings.json")], &["--fit-replications", "0", "--quiet"]);
    let e = stderr(&o);
    assert!(o.status.success(), "{e}");
    for want in [
        "whose parent is not in the files",
        "starting before their parent",
        "unknown `kind`",
    ] {
        assert!(e.contains(want), "missing {want:?} in:\n{e}");
    }
    assert!(e.contains("warnings.json:"), "{e}");
    // Not traces at all, a missing file: exit 2 with a message.
    let o = calibrate(&dir, &[&f("not-traces.json")], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no customer request"), "{}", stderr(&o));
    let o = calibrate(&dir, &[&f("no-such-file.json")], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no such file"), "{}", stderr(&o));
}

/// The process's peak resident memory (VmHWM), in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM");
    let kb: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb / 1024.0
}

#[test]
#[ignore = "writes a 1 GB trace file (minutes on a shared 2-core machine); run once to measure peak memory"]
fn a_gigabyte_of_traces_is_grouped_with_bounded_memory() {
    // About 1 GB of JSONL (over 300,000 traces) is read through bucket files with peak memory
    // far below the input: one bucket (64 MiB of input, ~16 MiB of span records) and tallies
    // bounded by the mesh, so under 256 MiB. The peak is reset (clear_refs) after generating.
    let dir = scratch("calibrate-gigabyte");
    let traces = dir.join("big.jsonl");
    let mut requests = 0u64;
    {
        use std::io::Write;
        let mut w = std::io::BufWriter::new(std::fs::File::create(&traces).unwrap());
        let (mut written, mut seed) = (0u64, 100);
        while written < 1 << 30 {
            let text = Gen::run(seed, 20_000).jsonl();
            written += text.len() as u64;
            requests += 20_000;
            w.write_all(text.as_bytes()).unwrap();
            seed += 1;
        }
    }
    std::fs::write("/proc/self/clear_refs", "5").expect("peak memory can be reset");
    let before = peak_rss_mib();
    let opts = ReadOptions {
        scratch: Some(dir.join("scratch")),
        ..ReadOptions::default()
    };
    let (read, diags) = read_files(std::slice::from_ref(&traces), &opts);
    let peak = peak_rss_mib();
    let size = std::fs::metadata(&traces).unwrap().len();
    let _ = std::fs::remove_file(&traces);
    eprintln!(
        "{} MB in {} buckets, {} spans, {} requests: peak RSS {before:.0} MiB before reading, {peak:.0} MiB after",
        size / 1_000_000,
        read.buckets,
        read.spans(),
        read.tally.requests
    );
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(read.tally.requests, requests);
    assert!(read.buckets >= 16);
    assert!(peak < 256.0, "peak RSS {peak:.0} MiB");
}

#[test]
fn a_span_lasting_decades_is_skipped_and_what_is_written_loads() {
    // A fuzzer's find: a client span of 54 years made a service time of 1.7e12 ms, which the
    // loader refuses. Spans over a day are skipped (counted) and written durations capped.
    let dir = scratch("calibrate-decades");
    let f = PathBuf::from(FIXTURES).join("fuzz-span-lasting-decades.jsonl");
    let o = calibrate(&dir, &[&f], &["--fit-replications", "1", "--skip-malformed", "--quiet"]);
    let e = stderr(&o);
    assert!(o.status.success(), "{e}");
    assert!(e.contains("longer than a day"), "{e}");
    let v = run_cli(&[
        "validate",
        &dir.join("topologies/cal.scenario.toml").display().to_string(),
    ]);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
}

/// The mesh the simulator's own telemetry round trip plays: `front` calls `auth`, then (in
/// `buy` only) `back`, which fails 20% of the time and falls back to `spare` (fails half the
/// time). Two replicas of `front` and `back`; servers enough that nothing queues.
const SIM_TOPOLOGY: &str = r#"
name = "rt"
[[regions]]
name = "r"
[network]
intra_region = 0.5
[[flows]]
name = "buy"
entry = "front"
share = 0.7
[[flows]]
name = "browse"
entry = "front"
share = 0.3
[[services]]
name = "front"
regions = ["r"]
replicas = 2
concurrency = 64
queue = 100
service_time = { dist = "exp", mean_ms = 2 }
  [[services.calls]]
  to = "auth"
  stage = 1
  [[services.calls]]
  to = "back"
  stage = 2
  flows = ["buy"]
  fallback = "spare"
[[services]]
name = "auth"
regions = ["r"]
replicas = 1
concurrency = 64
queue = 100
service_time = { dist = "exp", mean_ms = 1 }
[[services]]
name = "back"
regions = ["r"]
replicas = 2
concurrency = 64
queue = 100
service_time = { dist = "exp", mean_ms = 10 }
error_rate = 0.2
[[services]]
name = "spare"
regions = ["r"]
replicas = 1
concurrency = 64
queue = 100
service_time = { dist = "exp", mean_ms = 3 }
error_rate = 0.5
"#;

/// 1,000 requests/s for 20 s after a 2 s warm-up: about 20,000 requests.
const SIM_SCENARIO: &str = r#"
[experiment]
name = "rt"
topology = "t.toml"
owner = "test"
hypothesis = "calibrate round trip"
rollback = "none"
[run]
duration_s = 22
warmup_s = 2
replications = 1
seed = 7
[workload]
rate_per_s = 1000
"#;

/// A topology's graph, to compare: service → (regions, replicas, its calls as
/// `to` → (stage, flows, fallback, p)), and flow → entry.
type Graph = (
    BTreeMap<String, (String, i64, BTreeMap<String, String>)>,
    BTreeMap<String, String>,
);

fn graph_of(t: &toml::Table) -> Graph {
    let mut services = BTreeMap::new();
    for s in t["services"].as_array().unwrap() {
        let name = s["name"].as_str().unwrap().to_string();
        let c = calls(t, &name)
            .into_iter()
            .map(|(to, c)| {
                let f = |k: &str| c.get(k).map(|v| v.to_string()).unwrap_or_default();
                (
                    to,
                    format!(
                        "stage {} flows {} fallback {} p {}",
                        f("stage"),
                        f("flows"),
                        f("fallback"),
                        f("p")
                    ),
                )
            })
            .collect();
        let regions = s["regions"].to_string();
        services.insert(name, (regions, s["replicas"].as_integer().unwrap(), c));
    }
    let flows = t["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap().into(), f["entry"].as_str().unwrap().into()))
        .collect();
    (services, flows)
}

/// Root span durations (ms) per flow, sorted, from a chaoscal trace file.
fn root_latencies(path: &Path) -> BTreeMap<String, Vec<f64>> {
    let mut out: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        for rs in v["resourceSpans"].as_array().unwrap() {
            for span in rs["scopeSpans"][0]["spans"].as_array().unwrap() {
                if span.get("parentSpanId").is_some() {
                    continue;
                }
                let ns = |k: &str| span[k].as_str().unwrap().parse::<u64>().unwrap();
                let flow = span["attributes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|a| a["key"] == "chaoscal.flow")
                    .unwrap()["value"]["stringValue"]
                    .as_str()
                    .unwrap();
                let ms = (ns("endTimeUnixNano") - ns("startTimeUnixNano")) as f64 / 1e6;
                out.entry(flow.into()).or_default().push(ms);
            }
        }
    }
    for v in out.values_mut() {
        v.sort_by(f64::total_cmp);
    }
    out
}

#[test]
fn the_simulators_own_traces_calibrate_back_to_the_mesh_that_made_them() {
    // `chaoscal run --trace` of a known mesh, every request kept, calibrates back to exactly that
    // mesh's graph (services, regions, replicas, calls, stages, conditional calls, fallback, flows
    // and entries), and the calibrated files, simulated, reproduce each flow's p50/p99 within the
    // quantiles' sampling error (order statistics: the observed p-quantile's rank uncertainty,
    // sqrt(p(1-p)/n), widened for the simulated side's own sample, at 3 standard errors, mapped
    // through the observed latencies) and its error rate within 3 standard errors.
    let dir = scratch("calibrate-own-telemetry");
    std::fs::write(dir.join("t.toml"), SIM_TOPOLOGY).unwrap();
    std::fs::write(dir.join("s.toml"), SIM_SCENARIO).unwrap();
    let traces = dir.join("traces.jsonl");
    let p = |p: &Path| p.display().to_string();
    let o = run_cli(&[
        "run",
        &p(&dir.join("s.toml")),
        "--replication",
        "0",
        "--trace",
        &p(&traces),
        "--trace-sample",
        "1",
        "--trace-sample-failed",
        "1",
        "--out",
        &p(&dir.join("results")),
        "--no-report",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    const R: usize = 4;
    let o = calibrate(
        &dir,
        &[&traces],
        &[
            "--flow-attribute",
            "chaoscal.flow",
            "--fit-replications",
            &R.to_string(),
            "--threads",
            "2",
            "--quiet",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // The graph, exactly.
    let truth = graph_of(&SIM_TOPOLOGY.parse().unwrap());
    let got = graph_of(&toml_of(&dir.join("topologies/cal.toml")));
    assert_eq!(got, truth);
    // The fit, per flow.
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report/calibration.json")).unwrap()).unwrap();
    let observed = root_latencies(&traces);
    let flows = report["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 2);
    for f in flows {
        let name = f["name"].as_str().unwrap();
        let (o, s) = (&f["observed"], &f["simulated"]);
        let lat = &observed[name];
        let n = lat.len() as f64;
        assert_eq!(o["requests"].as_f64(), Some(n), "{name}: every request traced");
        let q = |p: f64| lat[((p * n).ceil() as usize).clamp(1, lat.len()) - 1];
        for (key, p) in [("p50_ms", 0.5), ("p99_ms", 0.99)] {
            let (a, b) = (o[key].as_f64().unwrap(), s[key].as_f64().unwrap());
            // The observed and the simulated quantile each miss the model's by about
            // sqrt(p(1-p)/n) in probability (the simulation has R times the requests); 3 standard
            // errors of the difference, mapped through the observed latencies, and the report's
            // histogram rounding (0.4%).
            let se = (p * (1.0 - p) / n).sqrt() * (1.0 + 1.0 / R as f64).sqrt();
            let (lo, hi) = (q(p - 3.0 * se) * 0.996, q(p + 3.0 * se) * 1.004);
            eprintln!(
                "{name} {key}: observed {a}, simulated {b} ({:+.2}%), allowed {lo:.3}..{hi:.3} ({:+.2}%..{:+.2}%)",
                100.0 * (b / a - 1.0),
                100.0 * (lo / a - 1.0),
                100.0 * (hi / a - 1.0)
            );
            assert!(
                (a / q(p) - 1.0).abs() <= 0.01,
                "{name} {key}: report {a}, traces {}",
                q(p)
            );
            assert!(
                lo <= b && b <= hi,
                "{name} {key}: observed {a}, simulated {b}, allowed {lo}..{hi}"
            );
        }
        let (po, ps) = (o["error_rate"].as_f64().unwrap(), s["error_rate"].as_f64().unwrap());
        let ns = s["requests"].as_f64().unwrap() * R as f64;
        let pooled = (po * n + ps * ns) / (n + ns);
        let se = (pooled * (1.0 - pooled) * (1.0 / n + 1.0 / ns)).sqrt();
        eprintln!("{name} error rate: observed {po}, simulated {ps}, se {se:.5}");
        assert!(
            (po - ps).abs() <= 3.0 * se,
            "{name} error rate: observed {po}, simulated {ps}, se {se}"
        );
    }
}

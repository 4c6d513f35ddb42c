//! Writing the calibration: the topology (each value commented with
//! where it came from, or "not in traces" where a safe default stands),
//! the empirical service-time CSVs beside it, and a starter scenario with
//! the observed load.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::infer::{Calibrated, CallFit, DistFit, NetFit, ServiceFit};

/// What the files are called and how the starter scenario runs.
#[derive(Clone, Debug)]
pub struct EmitOptions {
    /// The topology's `name`.
    pub name: String,
    /// The folder (relative to the topology) holding empirical CSVs.
    pub data_dir: String,
    /// The topology as the scenario names it (relative to the scenario).
    pub topology_ref: String,
    /// Where the fit report goes (for the header comment).
    pub report_ref: String,
    /// One line on what was read (files, spans, traces).
    pub source: String,
    pub warmup_s: f64,
    pub seed: u64,
}

/// The texts to write.
#[derive(Clone, Debug, PartialEq)]
pub struct Written {
    pub topology: String,
    pub scenario: String,
    /// (path relative to the topology's folder, CSV text).
    pub csvs: Vec<(String, String)>,
    /// The scenario's `duration_s` and the experiment's name.
    pub duration_s: f64,
    pub experiment: String,
}

/// Replications the starter scenario asks for.
pub const SCENARIO_REPLICATIONS: u64 = 20;
/// Queue consumers written (traces cannot tell how many run at once).
pub const QUEUE_CONSUMERS: u64 = 64;

pub fn write(c: &Calibrated, o: &EmitOptions) -> Written {
    let mut t = String::new();
    let mut csvs = Vec::new();
    let _ = writeln!(t, "# Calibrated by `chaoscal calibrate` from {}.", o.source);
    let _ = writeln!(
        t,
        "# Each value says where it came from; what traces cannot show is a safe default\n\
         # marked \"not in traces\". How well this reproduces the traces: {}",
        o.report_ref
    );
    for n in &c.notes {
        let _ = writeln!(t, "# note: {}", one_line(n));
    }
    let _ = writeln!(t, "name = {}", q(&o.name));
    let _ = writeln!(
        t,
        "description = {}",
        q(&format!(
            "Calibrated from OpenTelemetry traces: {} requests over {:.1} s",
            c.requests, c.window_s
        ))
    );
    for r in &c.regions {
        let _ = writeln!(t, "\n[[regions]]\nname = {}", q(r));
    }
    network(&mut t, c);
    for f in &c.flows {
        let _ = writeln!(t, "\n[[flows]]\nname = {}\nentry = {}", q(&f.name), q(&f.entry));
        let _ = write!(
            t,
            "share = {}   # {} of {} requests",
            num(f.share),
            f.requests,
            c.requests
        );
        if !f.other_entries.is_empty() {
            let others: Vec<String> = f.other_entries.iter().map(|(s, n)| format!("{s} {n}")).collect();
            let _ = write!(t, "; other entry services seen: {}", others.join(", "));
        }
        t.push('\n');
    }
    let mut used = BTreeSet::new();
    for s in &c.services {
        service(&mut t, s, o, &mut csvs, &mut used);
    }
    for qf in &c.queues {
        let _ = writeln!(
            t,
            "\n[[queues]]\nname = {}\nregions = {}",
            q(&qf.name),
            list(&qf.regions)
        );
        let _ = writeln!(
            t,
            "consumer = {}   # {} deliveries of {} published messages",
            q(&qf.consumer),
            qf.deliveries,
            qf.published
        );
        let _ = writeln!(
            t,
            "consumers = {QUEUE_CONSUMERS}   # not in traces: deliveries in flight per region; set yours"
        );
        if qf.redeliver_attempts > 1 {
            let _ = writeln!(
                t,
                "redeliver = {{ attempts = {} }}   # the most deliveries of one message; backoff not in traces",
                qf.redeliver_attempts.min(100)
            );
        }
    }
    let (scenario, duration_s, experiment) = scenario(c, o);
    Written {
        topology: t,
        scenario,
        csvs,
        duration_s,
        experiment,
    }
}

fn network(t: &mut String, c: &Calibrated) {
    let note = |n: &NetFit| {
        let mut s = format!("one way, from {} client/server span pairs", n.samples);
        if n.skew_ms >= 0.001 {
            let _ = write!(s, "; clock offset of up to {} ms removed", num(n.skew_ms));
        }
        s
    };
    if c.intra.is_none() && c.links.is_empty() {
        return;
    }
    t.push_str("\n[network]\n");
    if let Some(n) = &c.intra {
        let _ = writeln!(t, "# {}", note(n));
        let _ = writeln!(t, "intra_region = {}", dist(&n.latency, None));
    }
    for (a, b, n) in &c.links {
        let _ = writeln!(t, "[[network.links]]\nbetween = {}", list(&[a.clone(), b.clone()]));
        let _ = writeln!(t, "latency = {}   # {}", dist(&n.latency, None), note(n));
    }
}

fn service(
    t: &mut String,
    s: &ServiceFit,
    o: &EmitOptions,
    csvs: &mut Vec<(String, String)>,
    used: &mut BTreeSet<String>,
) {
    let _ = writeln!(
        t,
        "\n[[services]]\nname = {}\nregions = {}",
        q(&s.name),
        list(&s.regions)
    );
    let seen: Vec<String> = s.instances.iter().map(|(r, n)| format!("{r} {n}")).collect();
    let replicas_note = if s.spans == 0 {
        "not in traces (no server spans)".to_string()
    } else {
        format!(
            "per region; distinct service.instance.id: {}{}",
            seen.join(", "),
            if s.replicas_lower_bound {
                " (a lower bound: too few spans to be sure every instance was seen)"
            } else {
                ""
            }
        )
    };
    let _ = writeln!(t, "replicas = {}   # {replicas_note}", s.replicas.clamp(1, 10_000));
    let _ = writeln!(
        t,
        "concurrency = {}   # not in traces: 4 × the mean requests in flight per instance ({}), at least {}, so the model adds no queueing the traces did not show; set your worker pool",
        s.concurrency.clamp(1, 1_000_000),
        num(s.in_flight),
        super::infer::MIN_CONCURRENCY
    );
    let _ = writeln!(
        t,
        "queue = {}   # not in traces: set your waiting room",
        super::infer::QUEUE
    );
    let csv = match &s.service_time {
        DistFit::Empirical(values) => {
            let file = unique_file(&s.name, used);
            let rel = format!("{}/{file}", o.data_dir);
            let mut text = String::from("service_time_ms\n");
            for v in values {
                let _ = writeln!(text, "{}", num(v.clamp(0.0, MAX_MS)));
            }
            csvs.push((rel.clone(), text));
            Some(rel)
        }
        DistFit::Percentiles { .. } => None,
    };
    let _ = writeln!(
        t,
        "service_time = {}   # {}",
        dist(&s.service_time, csv.as_deref()),
        s.service_time_note
    );
    if s.own_failures > 0 {
        let _ = writeln!(
            t,
            "error_rate = {}   # own failures: {} of {} server spans (failures of its calls excluded)",
            num(s.error_rate),
            s.own_failures,
            s.spans
        );
    }
    t.push_str("# health_check, outlier_detection, rate_limit: not in traces (off)\n");
    for c in &s.calls {
        call(t, c);
    }
}

fn call(t: &mut String, c: &CallFit) {
    let _ = writeln!(t, "\n  [[services.calls]]\n  to = {}", q(&c.to));
    if let Some(f) = &c.flows {
        let _ = writeln!(t, "  flows = {}", list(f));
    }
    let _ = writeln!(t, "  stage = {}", c.stage);
    let p = c.p.clamp(1e-6, 1.0);
    if p < 0.9995 {
        let _ = writeln!(
            t,
            "  p = {}   # {} calls over the spans that reached this stage",
            num(p),
            c.calls
        );
    }
    if let Some(ms) = c.timeout_ms {
        let _ = writeln!(t, "  timeout_ms = {}", num(ms.clamp(0.001, MAX_MS)));
    }
    if let Some(ms) = c.per_try_timeout_ms {
        let _ = writeln!(t, "  per_try_timeout_ms = {}", num(ms.clamp(0.001, MAX_MS)));
    }
    if let Some(r) = &c.retry {
        let backoff = r
            .backoff_ms
            .map(|b| format!(", backoff_ms = {}", num(b.clamp(0.0, 3_600_000.0))))
            .unwrap_or_default();
        let _ = writeln!(
            t,
            "  retry = {{ attempts = {}{backoff}, jitter = {} }}   # {}",
            r.attempts,
            q(r.jitter),
            r.retried_calls_note
        );
    }
    if let Some(f) = &c.fallback {
        let _ = writeln!(t, "  fallback = {}   # called only after this call failed", q(f));
    }
    if !c.required {
        t.push_str("  required = false\n");
    }
    for n in &c.notes {
        let _ = writeln!(t, "  # {}", one_line(n));
    }
    if !c.to_queue {
        t.push_str("  # circuit_breaker, max_in_flight: not in traces (off)\n");
    }
}

/// The starter scenario: the observed load, no faults, an availability
/// and a latency SLO per flow at what the traces met.
fn scenario(c: &Calibrated, o: &EmitOptions) -> (String, f64, String) {
    let experiment = format!("{}-baseline", safe(&o.name));
    let window = if c.window_s > 0.0 { c.window_s.ceil() } else { 60.0 };
    let duration_s = o.warmup_s + window;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# Starter scenario from `chaoscal calibrate`: the calibrated mesh under the load\n\
         # the traces showed, without faults. Add [[faults]] to make it an experiment."
    );
    let _ = writeln!(
        t,
        "[experiment]\nname = {}\ntopology = {}",
        q(&experiment),
        q(&o.topology_ref)
    );
    t.push_str("owner = \"unassigned\"   # set the owning team\n");
    t.push_str("hypothesis = \"The calibrated mesh meets the SLOs the traced mesh met, at the observed load\"\n");
    t.push_str("rollback = \"nothing to roll back: no faults\"\ntags = [\"calibrated\"]\n");
    let _ = writeln!(
        t,
        "\n[run]\nduration_s = {}   # warm-up + the {} s the traces cover\nwarmup_s = {}\nreplications = {SCENARIO_REPLICATIONS}\nseed = {}",
        num(duration_s),
        num(c.window_s),
        num(o.warmup_s),
        o.seed
    );
    let rates: Vec<String> = c
        .rates
        .iter()
        .map(|(r, x)| format!("{} = {}", key(r), num(*x)))
        .collect();
    let _ = writeln!(
        t,
        "\n[workload]\nrate_per_s = {{ {} }}   # root spans per second in each region",
        rates.join(", ")
    );
    for f in &c.flows {
        let availability = 1.0 - f.errors as f64 / f.requests.max(1) as f64;
        let objective = ((availability * 1000.0).floor() / 1000.0).clamp(0.001, 0.999);
        let _ = writeln!(
            t,
            "\n[[slos]]\nname = {}\nflow = {}\nkind = \"availability\"\nobjective = {}   # observed {}",
            q(&format!("{}-availability", f.name)),
            q(&f.name),
            num(objective),
            num(availability)
        );
        let p99 = (f.latency.quantile(0.99) as f64 / 1e6).ceil().max(1.0);
        let _ = writeln!(
            t,
            "\n[[slos]]\nname = {}\nflow = {}\nkind = \"latency\"\nthreshold_ms = {}   # the observed p99\nobjective = 0.99",
            q(&format!("{}-latency", f.name)),
            q(&f.name),
            num(p99)
        );
    }
    (t, duration_s, experiment)
}

fn dist(d: &DistFit, file: Option<&str>) -> String {
    match d {
        DistFit::Percentiles {
            min,
            p50,
            p90,
            p99,
            max,
        } => {
            // Rounding must keep the points in order.
            let mut v = [*min, *p50, *p90, *p99, *max].map(|x| round6(x.clamp(0.0, MAX_MS)));
            for i in 1..v.len() {
                v[i] = v[i].max(v[i - 1]);
            }
            format!(
                "{{ dist = \"percentiles\", min_ms = {}, p50_ms = {}, p90_ms = {}, p99_ms = {}, max_ms = {} }}",
                num(v[0]),
                num(v[1]),
                num(v[2]),
                num(v[3]),
                num(v[4])
            )
        }
        DistFit::Empirical(_) => format!("{{ dist = \"empirical\", file = {} }}", q(file.unwrap_or(""))),
    }
}

/// The largest duration written (a day, in ms): spans are at most a day
/// long, but differences between unsynchronised hosts' clocks are not.
pub const MAX_MS: f64 = 86_400_000.0;

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// A number as TOML: a float, at most 6 decimals, no exponent.
pub fn num(x: f64) -> String {
    let x = if x.is_finite() { round6(x) } else { 0.0 };
    let s = format!("{x:.6}");
    let s = s.trim_end_matches('0');
    if s.ends_with('.') {
        format!("{s}0")
    } else {
        s.to_string()
    }
}

/// A TOML basic string.
pub fn q(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML key: bare when it can be, else quoted.
fn key(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        s.to_string()
    } else {
        q(s)
    }
}

fn list(items: &[String]) -> String {
    let v: Vec<String> = items.iter().map(|s| q(s)).collect();
    format!("[{}]", v.join(", "))
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// A name usable as a file or experiment name: letters, digits, `-`, `_`, `.`.
pub fn safe(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    let out = out.trim_start_matches('.').to_string();
    if out.is_empty() { "calibrated".to_string() } else { out }
}

fn unique_file(service: &str, used: &mut BTreeSet<String>) -> String {
    let base = safe(service);
    let mut name = format!("{base}.csv");
    let mut k = 2;
    while !used.insert(name.to_lowercase()) {
        name = format!("{base}-{k}.csv");
        k += 1;
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_strings_are_toml() {
        // Numbers are floats without exponents; strings are escaped basic strings.
        assert_eq!(num(1.0), "1.0");
        assert_eq!(num(0.000_012_34), "0.000012");
        assert_eq!(num(1234.5), "1234.5");
        assert_eq!(q("a\"b\\c\u{1}"), "\"a\\\"b\\\\c\\u0001\"");
        assert_eq!(key("eu-west"), "eu-west");
        assert_eq!(key("eu west"), "\"eu west\"");
        assert_eq!(safe("../x y"), "_x_y");
    }
}

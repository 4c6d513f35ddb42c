//! From the tallies to a calibrated mesh: regions, network, flows,
//! services, their calls and queues, and the observed load — each value
//! with the note that says where it came from (written as a comment).
//!
//! The inference rules, and their limits, are documented for users in
//! `docs/calibrate.md`; each function here names the rule it applies.

mod calls;

use std::collections::{BTreeMap, BTreeSet};

use super::otlp::{NO_NAME, Names};
use super::tally::{SAMPLE, Sample, Tally, Target};
use crate::observe::Histogram;

/// How a service time is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceTimeForm {
    /// Empirical from [`EMPIRICAL_MIN`] samples on, percentiles below.
    Auto,
    Percentiles,
    Empirical,
}

/// From this many observed values on, `auto` writes an empirical CSV
/// (it keeps the shape of the tail beyond p99 with ≥ 10 values there);
/// below, a `percentiles` table.
pub const EMPIRICAL_MIN: u64 = 1000;

/// A distribution fitted to observations, in milliseconds.
#[derive(Clone, Debug, PartialEq)]
pub enum DistFit {
    Percentiles {
        min: f64,
        p50: f64,
        p90: f64,
        p99: f64,
        max: f64,
    },
    /// Values (ms), written to a CSV beside the topology.
    Empirical(Vec<f64>),
}

impl DistFit {
    /// From observed nanoseconds: the exact values when the sample holds
    /// them all, else the histogram's quantiles (within 0.4%) — for an
    /// empirical CSV at [`SAMPLE`] evenly spaced probabilities, which keeps
    /// the tail of every span where a random sample of them would not.
    pub fn of(h: &Histogram, s: &Sample, form: ServiceTimeForm) -> DistFit {
        let n = h.count();
        let empirical = match form {
            ServiceTimeForm::Auto => n >= EMPIRICAL_MIN,
            ServiceTimeForm::Empirical => true,
            ServiceTimeForm::Percentiles => false,
        };
        let values = s.sorted();
        if empirical && !values.is_empty() && values.len() as u64 == n {
            return DistFit::Empirical(values.iter().map(|&v| v.max(0) as f64 / 1e6).collect());
        }
        if empirical && n > 0 {
            let k = (SAMPLE as u64).min(n);
            let at = |i: u64| h.quantile((i as f64 + 0.5) / k as f64) as f64 / 1e6;
            return DistFit::Empirical((0..k).map(at).collect());
        }
        let q = |p: f64| -> f64 {
            if values.len() as u64 == n && !values.is_empty() {
                exact_quantile(&values, p) / 1e6
            } else {
                h.quantile(p) as f64 / 1e6
            }
        };
        DistFit::Percentiles {
            min: q(0.0),
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            max: q(1.0),
        }
    }

    pub fn describe(&self) -> &'static str {
        match self {
            DistFit::Percentiles { .. } => "percentiles",
            DistFit::Empirical(_) => "empirical",
        }
    }
}

/// The p-quantile of sorted values, interpolated between order statistics.
pub fn exact_quantile(sorted: &[i64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let h = p.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (lo, frac) = (h.floor() as usize, h - h.floor());
    let a = sorted[lo] as f64;
    let b = sorted[(lo + 1).min(sorted.len() - 1)] as f64;
    a + (b - a) * frac
}

/// The network between regions (one way).
#[derive(Clone, Debug, PartialEq)]
pub struct NetFit {
    pub latency: DistFit,
    pub samples: usize,
    /// Clock offset removed (ms): half the difference of the request and
    /// response ways' medians, per direction.
    pub skew_ms: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FlowFit {
    pub name: String,
    pub entry: String,
    pub share: f64,
    pub requests: u64,
    pub errors: u64,
    pub latency: Histogram,
    /// Root spans that are SERVER spans (see [`super::tally::FlowTally`]).
    pub server_roots: u64,
    /// Other entry services seen for this flow (the most common is used).
    pub other_entries: Vec<(String, u64)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RetryFit {
    pub attempts: u64,
    /// `None`: no retry wait was seen (the loader's default applies).
    pub backoff_ms: Option<f64>,
    /// `none` when the first retry's wait hardly varies, else `full`.
    pub jitter: &'static str,
    pub retried_calls_note: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CallFit {
    pub to: String,
    pub to_queue: bool,
    /// `None`: every flow.
    pub flows: Option<Vec<String>>,
    pub stage: u32,
    pub p: f64,
    pub calls: u64,
    pub timeout_ms: Option<f64>,
    pub per_try_timeout_ms: Option<f64>,
    pub retry: Option<RetryFit>,
    pub fallback: Option<String>,
    pub required: bool,
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ServiceFit {
    pub name: String,
    pub regions: Vec<String>,
    pub replicas: u64,
    /// Distinct instances per region.
    pub instances: Vec<(String, u64)>,
    /// Some region's count may miss instances (too few spans to be sure).
    pub replicas_lower_bound: bool,
    pub concurrency: u64,
    /// Mean requests in flight per instance (Little's law).
    pub in_flight: f64,
    pub service_time: DistFit,
    pub service_time_note: String,
    pub error_rate: f64,
    pub own_failures: u64,
    /// Server spans (0: known only from its callers' client spans).
    pub spans: u64,
    pub errors: u64,
    pub latency: Histogram,
    pub calls: Vec<CallFit>,
    /// Client spans to it that no server span answered.
    pub unpaired_tries: u64,
    /// Median same-region wait outside the server span beyond the
    /// region's network (ms): queueing the server span does not show.
    pub hidden_wait_ms: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct QueueFit {
    pub name: String,
    pub regions: Vec<String>,
    pub consumer: String,
    pub redeliver_attempts: u64,
    pub published: u64,
    pub deliveries: u64,
}

/// The calibrated mesh and its observed load.
#[derive(Clone, Debug, PartialEq)]
pub struct Calibrated {
    pub regions: Vec<String>,
    pub intra: Option<NetFit>,
    pub links: Vec<(String, String, NetFit)>,
    pub flows: Vec<FlowFit>,
    pub services: Vec<ServiceFit>,
    pub queues: Vec<QueueFit>,
    /// Arrivals per second per region over the observed window.
    pub rates: Vec<(String, f64)>,
    pub window_s: f64,
    pub requests: u64,
    /// What the inference had to give up or guess, for the user.
    pub notes: Vec<String>,
}

/// The most flows a topology holds; beyond, the least frequent are merged into [`OTHER_FLOW`].
pub const MAX_FLOWS: usize = 64;
pub const OTHER_FLOW: &str = "other";
/// Concurrency written when traces cannot tell: ample for the observed
/// load, so the model adds no queueing the traces did not show.
pub const MIN_CONCURRENCY: u64 = 32;
/// Waiting room written (traces cannot tell).
pub const QUEUE: u64 = 1000;

/// Options of the inference.
#[derive(Clone, Debug)]
pub struct InferOptions {
    pub service_time: ServiceTimeForm,
}

/// The whole inference.
pub fn infer(t: &Tally, names: &Names, opts: &InferOptions) -> Calibrated {
    let mut notes = Vec::new();
    let window_s = t.window_s();
    let (flows, flow_map) = flows(t, names, &mut notes);
    let mut regions: BTreeSet<String> = t.arrivals.keys().map(|&r| names.get(r).to_string()).collect();
    for st in t.services.values() {
        regions.extend(st.regions.keys().map(|&r| names.get(r).to_string()));
    }
    let (intra, links) = network(t, names);
    let mut cx = calls::Cx::new(t, names, &flow_map);
    let queues = calls::queues(&mut cx, &mut notes);
    let mut services = Vec::new();
    for (&sid, st) in &t.services {
        let mut s = service(sid, st, names, window_s, opts, intra.as_ref());
        s.calls = calls::calls_of(&mut cx, sid, &mut notes);
        services.push(s);
    }
    services.extend(calls::external_services(&mut cx, opts, &mut notes));
    calls::break_cycles(&mut services, &mut notes);
    services.sort_by(|a, b| a.name.cmp(&b.name));
    for s in &services {
        regions.extend(s.regions.iter().cloned());
    }
    let rates = regions
        .iter()
        .map(|r| {
            let n = names.lookup(r).and_then(|id| t.arrivals.get(&id)).copied().unwrap_or(0);
            (r.clone(), if window_s > 0.0 { n as f64 / window_s } else { n as f64 })
        })
        .collect();
    Calibrated {
        regions: regions.into_iter().collect(),
        intra,
        links,
        flows,
        services,
        queues,
        rates,
        window_s,
        requests: t.requests,
        notes,
    }
}

/// Flows: one per root span name (or flow attribute), the most frequent
/// first when more than [`MAX_FLOWS`]; entry = the most common service of
/// the first server span; share = requests / all requests.
fn flows(t: &Tally, names: &Names, notes: &mut Vec<String>) -> (Vec<FlowFit>, BTreeMap<u32, String>) {
    let mut by_count: Vec<(u32, u64)> = t.flows.iter().map(|(&f, ft)| (f, ft.requests)).collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| names.get(a.0).cmp(names.get(b.0))));
    let mut map = BTreeMap::new();
    let merged = by_count.len() > MAX_FLOWS;
    for (k, &(f, _)) in by_count.iter().enumerate() {
        let name = if merged && k >= MAX_FLOWS - 1 {
            OTHER_FLOW.to_string()
        } else {
            names.get(f).to_string()
        };
        map.insert(f, name);
    }
    if merged {
        notes.push(format!(
            "{} flows (root span names) seen; the {} least frequent are merged into the flow \"{OTHER_FLOW}\" (a topology holds at most {MAX_FLOWS}); use --flow-attribute to name flows by an attribute",
            by_count.len(),
            by_count.len() + 1 - MAX_FLOWS
        ));
    }
    let mut out: BTreeMap<String, FlowFit> = BTreeMap::new();
    for (&f, ft) in &t.flows {
        let name = map[&f].clone();
        let e = out.entry(name.clone()).or_insert_with(|| FlowFit {
            name,
            entry: String::new(),
            share: 0.0,
            requests: 0,
            errors: 0,
            latency: Histogram::new(),
            server_roots: 0,
            other_entries: Vec::new(),
        });
        e.requests += ft.requests;
        e.server_roots += ft.server_roots;
        e.errors += ft.errors;
        e.latency.merge(&ft.latency);
        for (&svc, &n) in &ft.entries {
            e.other_entries.push((names.get(svc).to_string(), n));
        }
    }
    let total: u64 = t.requests.max(1);
    let mut flows: Vec<FlowFit> = Vec::new();
    for (_, mut f) in out {
        let mut entries: BTreeMap<String, u64> = BTreeMap::new();
        for (s, n) in f.other_entries.drain(..) {
            *entries.entry(s).or_default() += n;
        }
        let mut ranked: Vec<(String, u64)> = entries.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let Some((entry, _)) = ranked.first().cloned() else {
            notes.push(format!(
                "flow \"{}\": no server span under its {} root span(s), so no entry service; left out",
                f.name, f.requests
            ));
            continue;
        };
        f.entry = entry;
        f.other_entries = ranked[1..].to_vec();
        f.share = f.requests as f64 / total as f64;
        flows.push(f);
    }
    (flows, map)
}

/// A service: regions and instances, its own work, own failures, and
/// the concurrency that adds no queueing at the observed load.
fn service(
    sid: u32,
    st: &super::tally::ServiceTally,
    names: &Names,
    window_s: f64,
    opts: &InferOptions,
    intra: Option<&NetFit>,
) -> ServiceFit {
    let mut instances = Vec::new();
    let mut lower_bound = false;
    let mut busy_ns: u128 = 0;
    let mut instance_total = 0u64;
    for (&r, rt) in &st.regions {
        let k = rt.instances.len() as u64;
        instances.push((names.get(r).to_string(), k));
        // With load spread over k instances, one more would have been missed
        // with probability about exp(−spans/(k+1)): call it missing below e^-10.
        if k == 0 || (rt.spans as f64) / (k as f64 + 1.0) < 10.0 {
            lower_bound = true;
        }
        busy_ns += rt.busy_ns;
        instance_total += k.max(1);
    }
    // By name: ids follow the order names were met in, which depends on the files.
    instances.sort();
    let replicas = instances.iter().map(|i| i.1).max().unwrap_or(1).max(1);
    let in_flight = if window_s > 0.0 {
        busy_ns as f64 / 1e9 / window_s / instance_total.max(1) as f64
    } else {
        0.0
    };
    let concurrency = MIN_CONCURRENCY.max((4.0 * in_flight).ceil() as u64);
    let service_time = DistFit::of(&st.own, &st.own_sample, opts.service_time);
    let service_time_note = format!(
        "own work from {} server span(s) (span minus the time waiting on its calls): {}{}",
        st.spans,
        service_time.describe(),
        match (&service_time, opts.service_time) {
            (DistFit::Empirical(v), _) if (v.len() as u64) < st.spans => {
                format!(", the spans' quantiles at {} evenly spaced probabilities", v.len())
            }
            (_, ServiceTimeForm::Auto) if st.spans < EMPIRICAL_MIN => format!(" (fewer than {EMPIRICAL_MIN} spans)"),
            _ => String::new(),
        }
    );
    let net_median_ns = intra
        .map(|n| match &n.latency {
            DistFit::Percentiles { p50, .. } => p50 * 1e6,
            DistFit::Empirical(v) => v.get(v.len() / 2).copied().unwrap_or(0.0) * 1e6,
        })
        .unwrap_or(0.0);
    let hidden_wait_ms = if st.gap_local.count() > 0 {
        ((st.gap_local.quantile(0.5) as f64 - 2.0 * net_median_ns) / 1e6).max(0.0)
    } else {
        0.0
    };
    ServiceFit {
        name: names.get(sid).to_string(),
        regions: instances.iter().map(|(r, _)| r.clone()).collect(),
        replicas,
        instances,
        replicas_lower_bound: lower_bound,
        concurrency,
        in_flight,
        service_time,
        service_time_note,
        error_rate: st.own_failures as f64 / st.spans.max(1) as f64,
        own_failures: st.own_failures,
        spans: st.spans,
        errors: st.errors,
        latency: st.latency.clone(),
        calls: Vec::new(),
        unpaired_tries: 0,
        hidden_wait_ms,
    }
}

/// One-way network: per direction, the request way (server start − client
/// start) and the response way (client end − server end); their medians'
/// half difference is the clock offset between the two regions' hosts
/// (links assumed symmetric), removed before pooling both ways.
fn network(t: &Tally, names: &Names) -> (Option<NetFit>, Vec<(String, String, NetFit)>) {
    let mut intra: (Vec<i64>, f64, usize) = (Vec::new(), 0.0, 0);
    let mut links: BTreeMap<(String, String), (Vec<i64>, f64, usize)> = BTreeMap::new();
    for (&(from, to), n) in &t.network {
        let (out, back) = (n.out.sorted(), n.back.sorted());
        if out.is_empty() {
            continue;
        }
        let skew = if back.is_empty() {
            0.0
        } else {
            (exact_quantile(&out, 0.5) - exact_quantile(&back, 0.5)) / 2.0
        };
        let corrected = out
            .iter()
            .map(|&v| (v as f64 - skew).max(0.0) as i64)
            .chain(back.iter().map(|&v| (v as f64 + skew).max(0.0) as i64));
        let slot = if from == to {
            &mut intra
        } else {
            let (a, b) = (names.get(from).to_string(), names.get(to).to_string());
            let key = if a <= b { (a, b) } else { (b, a) };
            links.entry(key).or_insert((Vec::new(), 0.0, 0))
        };
        slot.0.extend(corrected);
        slot.1 = slot.1.max(skew.abs() / 1e6);
        slot.2 += out.len();
    }
    let fit = |(mut v, skew, n): (Vec<i64>, f64, usize)| -> NetFit {
        v.sort_unstable();
        let q = |p: f64| exact_quantile(&v, p) / 1e6;
        NetFit {
            latency: DistFit::Percentiles {
                min: q(0.0),
                p50: q(0.5),
                p90: q(0.9),
                p99: q(0.99),
                max: q(1.0),
            },
            samples: n,
            skew_ms: skew,
        }
    };
    let intra = (!intra.0.is_empty()).then(|| fit(intra));
    let links = links.into_iter().map(|((a, b), s)| (a, b, fit(s))).collect();
    (intra, links)
}

/// The name of a call target.
pub fn target_name(target: Target, names: &Names) -> String {
    match target {
        Target::Service(s) | Target::Queue(s) | Target::Peer(s) if s != NO_NAME => names.get(s).to_string(),
        Target::Queue(_) => "unnamed-queue".to_string(),
        _ => "unknown-peer".to_string(),
    }
}

//! The series as OpenMetrics 1.0 text with a timestamp on every sample:
//! families one after the other, each series' points together and in time
//! order (the format forbids interleaving), `# EOF` at the end; what
//! `promtool tsdb create-blocks-from openmetrics` backfills.

use std::collections::BTreeMap;
use std::io::{self, Write};

use super::Names;
use crate::observe::telemetry::{EdgeKey, EdgeStats, Gauges, ISTIO_BUCKETS_MS, Reporter, Series};

/// A series' value at a scrape.
type Getter = Box<dyn Fn(&Gauges) -> f64>;

/// Every scrape of a replication.
#[derive(Default)]
pub struct Store {
    times: Vec<u64>,
    /// Per series: the scrape it first appeared in, and its values from there on.
    edges: BTreeMap<EdgeKey, (usize, Vec<EdgeStats>)>,
    gauges: Vec<Gauges>,
}

/// A label value, escaped.
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// `{a="x",b="y"}` from pairs (values escaped here).
fn labels(pairs: &[(&str, &str)]) -> String {
    let inner: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}=\"{}\"", esc(v))).collect();
    format!("{{{}}}", inner.join(","))
}

/// Istio's labels of a request series, in alphabetical order, `le` excluded.
fn edge_labels(k: &EdgeKey, names: &Names) -> Vec<(&'static str, String)> {
    let src = names.service(k.src_service).to_string();
    let dst = names.service(k.dst_service).to_string();
    let dst_ns = names.namespace(k.dst_service, k.dst_region).to_string();
    let destination = k.reporter == Reporter::Destination;
    vec![
        (
            "connection_security_policy",
            if destination { "mutual_tls" } else { "unknown" }.to_string(),
        ),
        ("destination_canonical_service", dst.clone()),
        ("destination_cluster", names.region(k.dst_region).to_string()),
        ("destination_service", format!("{dst}.{dst_ns}.svc.cluster.local")),
        ("destination_service_name", dst.clone()),
        ("destination_service_namespace", dst_ns.clone()),
        ("destination_workload", dst),
        ("destination_workload_namespace", dst_ns),
        (
            "reporter",
            if destination { "destination" } else { "source" }.to_string(),
        ),
        ("request_protocol", "http".to_string()),
        ("response_code", k.code.to_string()),
        ("response_flags", k.flags.to_string()),
        ("source_canonical_service", src.clone()),
        (
            "source_cluster",
            if k.src_service == crate::observe::telemetry::UNKNOWN {
                "unknown".to_string()
            } else {
                names.region(k.src_region).to_string()
            },
        ),
        ("source_workload", src),
        (
            "source_workload_namespace",
            names.namespace(k.src_service, k.src_region).to_string(),
        ),
    ]
}

fn join(pairs: &[(&'static str, String)], extra: Option<(&str, &str)>) -> String {
    let mut v: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    if let Some(e) = extra {
        v.push(e);
    }
    labels(&v)
}

fn header(out: &mut dyn Write, family: &str, kind: &str, help: &str) -> io::Result<()> {
    writeln!(out, "# TYPE {family} {kind}")?;
    writeln!(out, "# HELP {family} {help}")
}

impl Store {
    pub fn push(&mut self, time_ns: u64, series: &Series) {
        let k = self.times.len();
        self.times.push(time_ns);
        for (key, stats) in &series.edges {
            self.edges.entry(*key).or_insert_with(|| (k, Vec::new())).1.push(*stats);
        }
        self.gauges.push(series.gauges.clone());
    }

    /// Request series (each also a duration histogram).
    pub fn series(&self) -> usize {
        self.edges.len()
    }

    pub fn scrapes(&self) -> usize {
        self.times.len()
    }

    pub fn write(&self, out: &mut dyn Write, names: &Names) -> io::Result<()> {
        let ts: Vec<String> = self.times.iter().map(|&t| names.seconds(t)).collect();
        header(
            out,
            "istio_requests",
            "counter",
            "Requests, as Istio's proxies count them: reporter=source at the caller (each try), \
             reporter=destination at the callee (simulated by chaoscal).",
        )?;
        for (key, (first, points)) in &self.edges {
            let l = join(&edge_labels(key, names), None);
            for (i, p) in points.iter().enumerate() {
                writeln!(out, "istio_requests_total{l} {} {}", p.count, ts[first + i])?;
            }
        }
        header(
            out,
            "istio_request_duration_milliseconds",
            "histogram",
            "Request durations in milliseconds, Istio's default buckets (simulated by chaoscal).",
        )?;
        for (key, (first, points)) in &self.edges {
            let pairs = edge_labels(key, names);
            let plain = join(&pairs, None);
            let les: Vec<String> = ISTIO_BUCKETS_MS
                .iter()
                .map(|b| join(&pairs, Some(("le", &b.to_string()))))
                .chain(std::iter::once(join(&pairs, Some(("le", "+Inf")))))
                .collect();
            for (i, p) in points.iter().enumerate() {
                let t = &ts[first + i];
                let mut cumulative = 0;
                for (b, l) in les.iter().enumerate() {
                    cumulative = if b < p.buckets.len() {
                        cumulative + p.buckets[b]
                    } else {
                        p.count
                    };
                    writeln!(out, "istio_request_duration_milliseconds_bucket{l} {cumulative} {t}")?;
                }
                writeln!(out, "istio_request_duration_milliseconds_count{plain} {} {t}", p.count)?;
                let sum_ms = p.sum_ns as f64 / 1e6;
                writeln!(out, "istio_request_duration_milliseconds_sum{plain} {sum_ms} {t}")?;
            }
        }
        self.write_gauges(out, names, &ts)?;
        writeln!(out, "# EOF")
    }

    /// One gauge (or counter) family: `series` gives each series' labels and
    /// its value at a scrape.
    fn family(
        &self,
        out: &mut dyn Write,
        ts: &[String],
        head: (&str, &str, &str),
        series: &[(String, Getter)],
    ) -> io::Result<()> {
        if series.is_empty() {
            return Ok(());
        }
        let (family, kind, help) = head;
        header(out, family, kind, help)?;
        let sample = if kind == "counter" {
            format!("{family}_total")
        } else {
            family.to_string()
        };
        for (l, value) in series {
            for (g, t) in self.gauges.iter().zip(ts) {
                writeln!(out, "{sample}{l} {} {t}", value(g))?;
            }
        }
        Ok(())
    }

    fn write_gauges(&self, out: &mut dyn Write, names: &Names, ts: &[String]) -> io::Result<()> {
        let topo = names.topo;
        let nr = topo.regions.len();
        let mut breakers: Vec<(String, Getter)> = Vec::new();
        let sites: usize = topo.services.iter().map(|s| s.calls.len()).sum();
        let mut site_caller = Vec::with_capacity(sites);
        for (s, svc) in topo.services.iter().enumerate() {
            site_caller.extend(std::iter::repeat_n(s, svc.calls.len()));
        }
        for site in (0..sites).filter(|&k| names.has_breaker(k)) {
            let (caller, to) = names.site(site);
            for r in (0..nr).filter(|&r| topo.services[site_caller[site]].present[r]) {
                for (state, name) in ["closed", "open", "half_open"].into_iter().enumerate() {
                    let l = labels(&[
                        ("destination_service_name", to),
                        ("source_cluster", names.region(r as u16)),
                        ("source_workload", caller),
                        ("state", name),
                    ]);
                    let i = site * nr + r;
                    breakers.push((l, Box::new(move |g: &Gauges| g.breakers[i][state] as f64)));
                }
            }
        }
        self.family(
            out,
            ts,
            (
                "chaoscal_circuit_breakers",
                "gauge",
                "Caller replicas whose circuit breaker for a call is in each state.",
            ),
            &breakers,
        )?;
        let mut depth: Vec<(String, Getter)> = Vec::new();
        let mut age: Vec<(String, Getter)> = Vec::new();
        for (q, queue) in topo.queues.iter().enumerate() {
            for r in (0..nr).filter(|&r| queue.present[r]) {
                let l = labels(&[("cluster", names.region(r as u16)), ("queue", &queue.name)]);
                let i = q * nr + r;
                depth.push((l.clone(), Box::new(move |g: &Gauges| g.queue_depth[i] as f64)));
                age.push((l, Box::new(move |g: &Gauges| g.queue_oldest_ns[i] as f64 / 1e9)));
            }
        }
        self.family(
            out,
            ts,
            (
                "chaoscal_queue_depth",
                "gauge",
                "Messages waiting in a queue (redeliveries in backoff included).",
            ),
            &depth,
        )?;
        self.family(
            out,
            ts,
            (
                "chaoscal_queue_oldest_message_age_seconds",
                "gauge",
                "Age of the oldest message waiting in a queue, seconds (0: empty).",
            ),
            &age,
        )?;
        let mut up: Vec<(String, Getter)> = Vec::new();
        let mut routable: Vec<(String, Getter)> = Vec::new();
        for (s, svc) in topo.services.iter().enumerate() {
            for r in (0..nr).filter(|&r| svc.present[r]) {
                let l = labels(&[
                    ("cluster", names.region(r as u16)),
                    ("namespace", names.namespace(s as u32, r as u16)),
                    ("workload", &svc.name),
                ]);
                let i = s * nr + r;
                up.push((l.clone(), Box::new(move |g: &Gauges| g.replicas_up[i] as f64)));
                routable.push((l, Box::new(move |g: &Gauges| g.replicas_routable[i] as f64)));
            }
        }
        self.family(out, ts, ("chaoscal_replicas_up", "gauge", "Replicas running."), &up)?;
        self.family(
            out,
            ts,
            (
                "chaoscal_replicas_routable",
                "gauge",
                "Replicas the mesh routes to (running, believed healthy, not ejected).",
            ),
            &routable,
        )?;
        self.write_control(out, names, ts)
    }

    fn write_control(&self, out: &mut dyn Write, names: &Names, ts: &[String]) -> io::Result<()> {
        let mut actions: Vec<(String, Getter)> = Vec::new();
        let mut active: Vec<(String, Getter)> = Vec::new();
        for i in 0..names.scn.guardrails.len() {
            let (name, action) = names.guardrail(i as u16);
            let l = labels(&[("action", action), ("guardrail", name)]);
            actions.push((l.clone(), Box::new(move |g: &Gauges| g.guardrail_actions[i] as f64)));
            active.push((l, Box::new(move |g: &Gauges| g.guardrail_active[i] as u8 as f64)));
        }
        self.family(
            out,
            ts,
            (
                "chaoscal_guardrail_actions",
                "counter",
                "Guardrail actions that took effect.",
            ),
            &actions,
        )?;
        self.family(
            out,
            ts,
            (
                "chaoscal_guardrail_active",
                "gauge",
                "1 while a guardrail's action is in force.",
            ),
            &active,
        )?;
        let mut faults: Vec<(String, Getter)> = Vec::new();
        for i in 0..names.scn.faults.len() {
            let (name, kind) = names.fault(i as u16);
            let l = labels(&[("fault", name), ("kind", kind)]);
            faults.push((l, Box::new(move |g: &Gauges| g.faults_active[i].min(1) as f64)));
        }
        self.family(
            out,
            ts,
            ("chaoscal_fault_active", "gauge", "1 while a fault is active."),
            &faults,
        )?;
        if self.gauges.iter().any(|g| g.rollout_weight_pct.is_some()) {
            let w: Vec<(String, Getter)> = vec![(
                String::new(),
                Box::new(|g: &Gauges| g.rollout_weight_pct.unwrap_or(0.0)),
            )];
            self.family(
                out,
                ts,
                (
                    "chaoscal_rollout_weight_percent",
                    "gauge",
                    "The rollout's new version: its share of the calls, percent.",
                ),
                &w,
            )?;
        }
        Ok(())
    }
}

//! One trace as one line of OTLP/JSON: a `TracesData` object in the
//! protobuf JSON mapping as OTLP specifies it (ids in hex, enums as
//! integers, 64-bit integers as decimal strings), with one `resourceSpans`
//! entry per place the trace's spans ran (service × region × replica, the
//! ingress gateway of a region, the control plane), in order of first use.

use std::io::Write;

use super::Names;
use crate::observe::telemetry::{CONTROL, Cause, EventWhat, INGRESS, Place, Span, SpanWhat, Trace};

/// A JSON string literal.
fn string(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(&mut *out, s).expect("writing a JSON string into memory cannot fail");
}

enum Value<'a> {
    Str(&'a str),
    Owned(String),
    Int(i64),
    Bool(bool),
}

/// Writes `{"key":…,"value":{…}}` entries, comma-separated.
fn attributes(out: &mut Vec<u8>, attrs: &[(&str, Value)]) {
    out.extend_from_slice(b"[");
    for (i, (k, v)) in attrs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"key\":");
        string(out, k);
        out.extend_from_slice(b",\"value\":{");
        match v {
            Value::Str(s) => {
                out.extend_from_slice(b"\"stringValue\":");
                string(out, s);
            }
            Value::Owned(s) => {
                out.extend_from_slice(b"\"stringValue\":");
                string(out, s);
            }
            Value::Int(n) => {
                let _ = write!(out, "\"intValue\":\"{n}\"");
            }
            Value::Bool(b) => {
                let _ = write!(out, "\"boolValue\":{b}");
            }
        }
        out.extend_from_slice(b"}}");
    }
    out.extend_from_slice(b"]");
}

fn resource(out: &mut Vec<u8>, p: Place, names: &Names) {
    let service = names.service(p.service);
    let instance = match p.service {
        CONTROL => service.to_string(),
        INGRESS => format!("{service}-{}", names.region(p.region)),
        _ => format!("{service}-{}-{}", names.region(p.region), p.instance),
    };
    let mut attrs = vec![("service.name", Value::Str(service))];
    if p.service != CONTROL {
        attrs.push(("service.namespace", Value::Str(names.namespace(p.service, p.region))));
        attrs.push(("cloud.region", Value::Str(names.region(p.region))));
    }
    attrs.push(("service.instance.id", Value::Str(&instance)));
    out.extend_from_slice(b"{\"attributes\":");
    attributes(out, &attrs);
    out.extend_from_slice(b"}");
}

/// The span's name and attributes.
fn describe<'n>(s: &Span, trace: &Trace, names: &'n Names, route: &'n str) -> (String, Vec<(&'static str, Value<'n>)>) {
    let mut a: Vec<(&'static str, Value)> = Vec::new();
    let http = |a: &mut Vec<(&'static str, Value<'n>)>| a.push(("http.request.method", Value::Str("POST")));
    let outcome = |a: &mut Vec<(&'static str, Value<'n>)>, c: Cause| {
        if let Some(st) = c.status() {
            a.push(("http.response.status_code", Value::Int(st as i64)));
        }
        if let Some(e) = c.error_type() {
            a.push(("error.type", Value::Str(e)));
        }
    };
    let name = match s.what {
        SpanWhat::Request { .. } | SpanWhat::Try { .. } => {
            let target = match s.what {
                SpanWhat::Try { target, .. } => target,
                _ => names.topo.flows.get(flow_of(trace) as usize).map_or(0, |f| f.entry.0),
            };
            http(&mut a);
            a.push(("server.address", Value::Str(names.service(target))));
            a.push(("server.port", Value::Int(80)));
            a.push((
                "url.full",
                Value::Owned(format!("http://{}{route}", names.service(target))),
            ));
            a.push(("url.template", Value::Str(route)));
            outcome(&mut a, s.cause);
            if let SpanWhat::Try { attempt, fallback, .. } = s.what {
                if attempt > 0 {
                    a.push(("http.request.resend_count", Value::Int(attempt as i64)));
                }
                if fallback {
                    a.push(("chaoscal.fallback", Value::Bool(true)));
                }
            } else {
                a.push(("chaoscal.flow", Value::Str(names.flow(flow_of(trace)))));
            }
            format!("POST {route}")
        }
        SpanWhat::Serve => {
            http(&mut a);
            a.push(("url.scheme", Value::Str("http")));
            a.push(("url.path", Value::Str(route)));
            a.push(("http.route", Value::Str(route)));
            outcome(&mut a, s.cause);
            format!("POST {route}")
        }
        SpanWhat::Queue => {
            if s.cause.failed() {
                a.push(("error.type", Value::Str(s.cause.error_type().unwrap_or("_OTHER"))));
            }
            "queue wait".to_string()
        }
        SpanWhat::Publish { queue } => {
            let q = if queue == u32::MAX {
                "unknown"
            } else {
                names.queue(queue).0
            };
            a.push(("messaging.system", Value::Str("chaoscal")));
            a.push(("messaging.operation.type", Value::Str("send")));
            a.push(("messaging.destination.name", Value::Str(q)));
            if let Some(e) = s.cause.error_type() {
                a.push(("error.type", Value::Str(e)));
            }
            format!("send {q}")
        }
        SpanWhat::Guardrail { index } => {
            let (g, action) = names.guardrail(index);
            a.push(("chaoscal.guardrail.name", Value::Str(g)));
            a.push(("chaoscal.guardrail.action", Value::Str(action)));
            format!("guardrail {g}: {action}")
        }
        SpanWhat::RolloutStep { weight_pct } => {
            a.push(("chaoscal.rollout.weight", Value::Int(weight_pct as i64)));
            format!("rollout step: weight {weight_pct}%")
        }
    };
    if s.degraded {
        a.push(("chaoscal.degraded", Value::Bool(true)));
    }
    if s.delayed {
        a.push(("chaoscal.delay_injected", Value::Bool(true)));
    }
    (name, a)
}

/// The flow of a customer request's trace (its root's), 0 otherwise.
fn flow_of(trace: &Trace) -> u16 {
    match trace.root().map(|r| r.what) {
        Some(SpanWhat::Request { flow }) => flow,
        _ => 0,
    }
}

/// Whether the span's status is ERROR: failures, except a 4xx a server answered.
fn is_error(s: &Span) -> bool {
    match s.what {
        SpanWhat::Serve => s.cause.failed() && !s.cause.status().is_some_and(|c| (400..500).contains(&c)),
        SpanWhat::Guardrail { .. } | SpanWhat::RolloutStep { .. } => false,
        _ => s.cause.failed(),
    }
}

fn span(out: &mut Vec<u8>, trace: &Trace, i: usize, names: &Names, route: &str) {
    let s = &trace.spans[i];
    let _ = write!(out, "{{\"traceId\":\"{:032x}\",\"spanId\":\"{:016x}\"", trace.id, s.id);
    if let Some(p) = trace.spans.get(s.parent as usize) {
        let _ = write!(out, ",\"parentSpanId\":\"{:016x}\"", p.id);
    }
    let (name, attrs) = describe(s, trace, names, route);
    out.extend_from_slice(b",\"name\":");
    string(out, &name);
    let _ = write!(
        out,
        ",\"kind\":{},\"startTimeUnixNano\":\"{}\",\"endTimeUnixNano\":\"{}\",\"attributes\":",
        s.kind as u8,
        names.epoch_ns + s.start_ns,
        names.epoch_ns + s.end_ns
    );
    attributes(out, &attrs);
    out.extend_from_slice(b",\"events\":[");
    let mut first = true;
    for e in trace.events.iter().filter(|e| e.span as usize == i) {
        if !first {
            out.push(b',');
        }
        first = false;
        let _ = write!(out, "{{\"timeUnixNano\":\"{}\",\"name\":", names.epoch_ns + e.time_ns);
        match e.what {
            EventWhat::Fault(f) => {
                let (n, kind) = names.fault(f);
                string(out, "chaoscal.fault");
                out.extend_from_slice(b",\"attributes\":");
                attributes(
                    out,
                    &[
                        ("chaoscal.fault.name", Value::Str(n)),
                        ("chaoscal.fault.kind", Value::Str(kind)),
                    ],
                );
            }
            EventWhat::Guardrail(g) => {
                let (n, action) = names.guardrail(g);
                string(out, "chaoscal.guardrail");
                out.extend_from_slice(b",\"attributes\":");
                attributes(
                    out,
                    &[
                        ("chaoscal.guardrail.name", Value::Str(n)),
                        ("chaoscal.guardrail.action", Value::Str(action)),
                    ],
                );
            }
            EventWhat::Fallback { to } => {
                let to = to.map_or("degrade", |s| names.service(s));
                string(out, "chaoscal.fallback");
                out.extend_from_slice(b",\"attributes\":");
                attributes(out, &[("chaoscal.fallback.to", Value::Str(to))]);
            }
        }
        out.push(b'}');
    }
    out.push(b']');
    if is_error(s) {
        out.extend_from_slice(b",\"status\":{\"code\":2,\"message\":");
        string(out, s.cause.error_type().unwrap_or("_OTHER"));
        out.push(b'}');
    }
    out.push(b'}');
}

/// Writes `trace` as one `TracesData` JSON object (no newline).
pub fn write_trace(out: &mut Vec<u8>, trace: &Trace, names: &Names) {
    let route = format!("/{}", names.flow(flow_of(trace)));
    // Resources in order of first use; spans keep their order within each.
    let mut places: Vec<Place> = Vec::new();
    for s in &trace.spans {
        if !places.contains(&s.place) {
            places.push(s.place);
        }
    }
    out.extend_from_slice(b"{\"resourceSpans\":[");
    for (k, p) in places.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"resource\":");
        resource(out, *p, names);
        let _ = write!(
            out,
            ",\"scopeSpans\":[{{\"scope\":{{\"name\":\"chaoscal\",\"version\":\"{}\"}},\"spans\":[",
            env!("CARGO_PKG_VERSION")
        );
        let mut first = true;
        for (i, s) in trace.spans.iter().enumerate() {
            if s.place != *p {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            span(out, trace, i, names, &route);
        }
        out.extend_from_slice(b"]}]}");
    }
    out.extend_from_slice(b"]}");
}

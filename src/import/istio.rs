//! Istio (`networking.istio.io`): a VirtualService's `fault.delay` and
//! `fault.abort` become faults; its `retries` and `timeout`, and a
//! DestinationRule's `outlierDetection`, `connectionPool` and
//! `loadBalancer`, become topology overrides (the team's real settings).
//! The mapping: docs/import.md, "Istio".

use super::mapping::{self, Picked};
use super::units;
use super::yaml::{Node, join};
use super::{Cx, D, DelayOut, FaultOut, Override, OverrideValue, Scope, number};
use crate::model::FaultKind;

/// A gRPC status name as the HTTP status Envoy maps it to.
fn grpc_to_http(s: &str) -> Option<u16> {
    Some(match s {
        "CANCELLED" => 499,
        "UNKNOWN" | "INTERNAL" | "DATA_LOSS" => 500,
        "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => 400,
        "DEADLINE_EXCEEDED" => 504,
        "NOT_FOUND" => 404,
        "ALREADY_EXISTS" | "ABORTED" => 409,
        "PERMISSION_DENIED" => 403,
        "RESOURCE_EXHAUSTED" => 429,
        "UNIMPLEMENTED" => 501,
        "UNAVAILABLE" => 503,
        "UNAUTHENTICATED" => 401,
        _ => return None,
    })
}

/// `percentage: {value}` (or the deprecated integer `percent`); `None`: unset.
fn percentage(cx: &mut Cx, d: &D, n: &Node, path: &str) -> Option<f64> {
    let v = match (n.get("percentage"), n.get("percent")) {
        (Some(p), _) => p.get("value").and_then(number).unwrap_or(0.0),
        (None, Some(p)) => number(p)?,
        (None, None) => return None,
    };
    if !(0.0..=100.0).contains(&v) {
        cx.err(
            d,
            n,
            &join(path, "percentage"),
            format!("a percentage is between 0 and 100, found {v}"),
        );
        return None;
    }
    Some(v)
}

/// The services a route sends to (its destinations' hosts), else the
/// VirtualService's `hosts`.
fn route_services(cx: &mut Cx, d: &D, spec: &Node, route: &Node, rp: &str) -> Vec<Picked> {
    let mut out: Vec<Picked> = Vec::new();
    let dests = route.get("route").map(|r| r.items()).unwrap_or(&[]);
    let mut add = |cx: &mut Cx, node: &Node, path: &str, host: &str| {
        if let Some(p) = mapping::host(cx, d, node, path, host)
            && !out.iter().any(|x| x.service == p.service)
        {
            out.push(p);
        }
    };
    for (i, r) in dests.iter().enumerate() {
        let dp = format!("{rp}.route[{i}]");
        r.get("weight");
        if let Some(dest) = r.get("destination") {
            dest.get("subset");
            dest.get("port").map(Node::mark_all);
            if let Some(h) = dest.get("host").and_then(|h| h.scalar()) {
                add(cx, dest, &join(&dp, "destination.host"), h);
            }
        }
    }
    if dests.is_empty() {
        for (i, h) in spec.get("hosts").map(|h| h.items()).unwrap_or(&[]).iter().enumerate() {
            if let Some(s) = h.scalar() {
                add(cx, h, &format!("spec.hosts[{i}]"), s);
            }
        }
    }
    out
}

pub fn virtual_service(cx: &mut Cx, d: &D, root: &Node) {
    let Some(spec) = root.get("spec") else {
        cx.err(d, root, "spec", "a VirtualService needs `spec`");
        return;
    };
    spec.get("hosts").map(Node::mark_all);
    for key in ["gateways", "exportTo"] {
        if let Some(n) = spec.get(key) {
            n.mark_all();
        }
    }
    for (ri, route) in spec.get("http").map(|h| h.items()).unwrap_or(&[]).iter().enumerate() {
        let rp = format!("spec.http[{ri}]");
        route.get("name");
        if let Some(m) = route.get("match") {
            m.mark_all();
            cx.warn(d, m, &join(&rp, "match"), "not modelled: chaoscal calls have no URI or headers; the route's settings apply to every call to its service");
        }
        let services = route_services(cx, d, spec, route, &rp);
        if services.len() > 1 {
            cx.warn(d, route, &join(&rp, "route"), "several destinations: each gets the route's fault and settings (weights are not modelled; see [rollout])");
        }
        let fault = route.get("fault");
        if let Some(f) = fault {
            let fp = join(&rp, "fault");
            for p in &services {
                faults(cx, d, f, &fp, p);
            }
        }
        // The mesh's own settings: every call to the service.
        let settings = ["timeout", "retries"];
        if fault.is_some() {
            for key in settings {
                if let Some(n) = route.get(key) {
                    n.mark_all();
                    cx.warn(
                        d,
                        n,
                        &join(&rp, key),
                        "Istio does not apply timeouts and retries on a route with a fault; not imported",
                    );
                }
            }
            continue;
        }
        for p in &services {
            let service = p.name(cx.topo).to_string();
            let mut add = |key: &'static str, value: OverrideValue| {
                cx.plan.overrides.push(Override {
                    origin: format!("{}, {rp}", d.origin()),
                    service: service.clone(),
                    scope: Scope::Calls,
                    key,
                    value,
                })
            };
            if let Some(t) = route.get("timeout") {
                match units::istio_duration_ms(t.scalar().unwrap_or("")) {
                    Ok(ms) => add("timeout_ms", OverrideValue::Number(ms)),
                    Err(e) => cx.err(d, t, &join(&rp, "timeout"), e),
                }
            }
            if let Some(r) = route.get("retries") {
                retries(cx, d, r, &join(&rp, "retries"), &service, &rp);
            }
        }
    }
    for key in ["tcp", "tls"] {
        if let Some(n) = spec.get(key) {
            n.mark_all();
            cx.warn(
                d,
                n,
                &join("spec", key),
                "not modelled: chaoscal models HTTP calls only",
            );
        }
    }
}

/// `retries: {attempts, perTryTimeout, retryOn, backoff}` as call overrides.
fn retries(cx: &mut Cx, d: &D, r: &Node, path: &str, service: &str, rp: &str) {
    let origin = format!("{}, {rp}", d.origin());
    let attempts = r.get("attempts").and_then(number).unwrap_or(0.0);
    let mut table = vec![("attempts", 1.0 + attempts.max(0.0).floor())];
    if let Some(b) = r.get("backoff") {
        match units::istio_duration_ms(b.scalar().unwrap_or("")) {
            Ok(ms) => table.push(("backoff_ms", ms)),
            Err(e) => cx.err(d, b, &join(path, "backoff"), e),
        }
    }
    let retry_on = r
        .get("retryOn")
        .and_then(|n| n.scalar())
        .unwrap_or("connect-failure,refused-stream,unavailable,cancelled")
        .to_string();
    if !retry_on
        .split(',')
        .any(|p| matches!(p.trim(), "5xx" | "gateway-error" | "503" | "reset"))
    {
        cx.warn(
            d,
            r.get("retryOn").unwrap_or(r),
            &join(path, "retryOn"),
            format!(
                "approximated: Istio retries only on {retry_on}; chaoscal retries every failure but an injected 4xx"
            ),
        );
    }
    for key in ["retryRemoteLocalities", "retryIgnorePreviousHosts"] {
        r.get(key);
    }
    let mut push = |key, value| {
        cx.plan.overrides.push(Override {
            origin: origin.clone(),
            service: service.to_string(),
            scope: Scope::Calls,
            key,
            value,
        })
    };
    if attempts <= 0.0 {
        push("retry", OverrideValue::Table(vec![("attempts", 1.0)]));
    } else {
        push("retry", OverrideValue::Table(table));
    }
    if let Some(t) = r.get("perTryTimeout") {
        match units::istio_duration_ms(t.scalar().unwrap_or("")) {
            Ok(ms) => push("per_try_timeout_ms", OverrideValue::Number(ms)),
            Err(e) => cx.err(d, t, &join(path, "perTryTimeout"), e),
        }
    }
}

/// `fault: {delay, abort}` on one service.
fn faults(cx: &mut Cx, d: &D, f: &Node, fp: &str, p: &Picked) {
    let name = d.name.clone();
    let start = cx.start_s;
    if let Some(delay) = f.get("delay") {
        let dp = join(fp, "delay");
        let fixed = delay.get("fixedDelay");
        if let Some(e) = delay.get("exponentialDelay") {
            cx.warn(
                d,
                e,
                &join(&dp, "exponentialDelay"),
                "not modelled: Istio does not support it either; ignored",
            );
        }
        match (percentage(cx, d, delay, &dp), fixed) {
            (None, _) | (Some(0.0), _) => cx.warn(
                d,
                delay,
                &dp,
                "no percentage (or 0): Istio delays nothing; not imported",
            ),
            (Some(_), None) => cx.err(d, delay, &dp, "a delay needs `fixedDelay` (e.g. 5s)"),
            (Some(pct), Some(fx)) => match units::istio_duration_ms(fx.scalar().unwrap_or("")) {
                Ok(ms) => {
                    for t in p.targets(cx.topo) {
                        let mut out = FaultOut::new(d, FaultKind::Latency, t);
                        out.name = format!("{name}-delay");
                        out.delay = Some(DelayOut::ConstMs(ms));
                        out.percent = Some(pct);
                        out.start_s = start;
                        cx.plan.faults.push(out);
                    }
                }
                Err(e) => cx.err(d, fx, &join(&dp, "fixedDelay"), e),
            },
        }
    }
    if let Some(abort) = f.get("abort") {
        let ap = join(fp, "abort");
        let status = match (abort.get("httpStatus"), abort.get("grpcStatus")) {
            (Some(h), _) => number(h)
                .filter(|v| (400.0..=599.0).contains(v))
                .map(|v| v as u16)
                .or_else(|| {
                    cx.err(
                        d,
                        h,
                        &join(&ap, "httpStatus"),
                        "an HTTP status between 400 and 599 (chaoscal's errors)",
                    );
                    None
                }),
            (None, Some(g)) => grpc_to_http(g.scalar().unwrap_or("")).or_else(|| {
                cx.err(
                    d,
                    g,
                    &join(&ap, "grpcStatus"),
                    "an unknown gRPC status name (e.g. UNAVAILABLE)",
                );
                None
            }),
            (None, None) => {
                cx.err(d, abort, &ap, "an abort needs `httpStatus` or `grpcStatus`");
                None
            }
        };
        if let Some(h) = abort.get("http2Error") {
            cx.warn(d, h, &join(&ap, "http2Error"), "not modelled: read as a 503");
        }
        match percentage(cx, d, abort, &ap) {
            None | Some(0.0) => cx.warn(
                d,
                abort,
                &ap,
                "no percentage (or 0): Istio aborts nothing; not imported",
            ),
            Some(pct) => {
                if let Some(status) = status {
                    for t in p.targets(cx.topo) {
                        let mut out = FaultOut::new(d, FaultKind::Abort, t);
                        out.name = format!("{name}-abort");
                        out.error = Some(status);
                        out.percent = Some(pct);
                        out.start_s = start;
                        if abort.get("grpcStatus").is_some() {
                            out.notes
                                .push(format!("gRPC status as HTTP {status}, as Envoy maps it"));
                        }
                        cx.plan.faults.push(out);
                    }
                }
            }
        }
    }
}

pub fn destination_rule(cx: &mut Cx, d: &D, root: &Node) {
    let Some(spec) = root.get("spec") else {
        cx.err(d, root, "spec", "a DestinationRule needs `spec`");
        return;
    };
    let Some(host) = spec.get("host").and_then(|h| h.scalar()).map(str::to_string) else {
        cx.err(d, spec, "spec.host", "a DestinationRule needs `host`");
        return;
    };
    let Some(p) = mapping::host(cx, d, spec.get("host").unwrap_or(spec), "spec.host", &host) else {
        spec.mark_all();
        return;
    };
    let service = p.name(cx.topo).to_string();
    if let Some(n) = spec.get("exportTo") {
        n.mark_all();
    }
    if let Some(s) = spec.get("subsets") {
        s.mark_all();
        cx.warn(
            d,
            s,
            "spec.subsets",
            "not modelled: subsets' own policies (the service's policy applies to all its replicas)",
        );
    }
    let Some(tp) = spec.get("trafficPolicy") else { return };
    let origin = d.origin();
    let mut push = |scope, key, value| {
        cx.plan.overrides.push(Override {
            origin: origin.clone(),
            service: service.clone(),
            scope,
            key,
            value,
        })
    };
    let mut problems: Vec<(&Node, String, String)> = Vec::new();
    if let Some(od) = tp.get("outlierDetection") {
        let op = "spec.trafficPolicy.outlierDetection";
        let c5 = od.get("consecutive5xxErrors").and_then(number);
        let cg = od.get("consecutiveGatewayErrors").and_then(number);
        let consecutive = c5.or(cg).unwrap_or(5.0);
        let base = od
            .get("baseEjectionTime")
            .map(|b| units::istio_duration_ms(b.scalar().unwrap_or("")))
            .transpose();
        let max = od.get("maxEjectionPercent").and_then(number).unwrap_or(10.0);
        if let Some(i) = od.get("interval") {
            problems.push((i, format!("{op}.interval"), "approximated: chaoscal ejects at the Nth consecutive error, as Envoy's consecutive-5xx detector does; the sweep interval only delays the return".to_string()));
        }
        if let Some(m) = od.get("minHealthPercent")
            && number(m).is_some_and(|v| v > 0.0)
        {
            problems.push((
                m,
                format!("{op}.minHealthPercent"),
                "not modelled: chaoscal's panic mode routes to every replica only when none is healthy".to_string(),
            ));
        }
        if let Some(n) = od.get("splitExternalLocalOriginErrors") {
            problems.push((
                n,
                format!("{op}.splitExternalLocalOriginErrors"),
                "not modelled".to_string(),
            ));
        }
        match base {
            Ok(base) => {
                if consecutive > 0.0 {
                    let mut t = vec![("consecutive_errors", consecutive), ("max_ejection_percent", max)];
                    if let Some(b) = base {
                        t.insert(1, ("base_ejection_ms", b));
                    }
                    push(Scope::Service, "outlier_detection", OverrideValue::Table(t));
                }
            }
            Err(e) => problems.push((od, format!("{op}.baseEjectionTime"), e)),
        }
    }
    if let Some(cp) = tp.get("connectionPool") {
        let http = cp.get("http");
        let tcp = cp.get("tcp");
        let max_requests = http.and_then(|h| h.get("http2MaxRequests")).and_then(number);
        let max_conns = tcp.and_then(|t| t.get("maxConnections")).and_then(number);
        match (max_requests, max_conns) {
            (Some(m), _) => push(Scope::Calls, "max_in_flight", OverrideValue::Number(m)),
            (None, Some(c)) => push(Scope::Calls, "max_in_flight", OverrideValue::Number(c)),
            _ => {}
        }
        for (parent, key) in [
            (http, "http1MaxPendingRequests"),
            (http, "maxRequestsPerConnection"),
            (http, "maxRetries"),
            (http, "idleTimeout"),
            (tcp, "connectTimeout"),
            (tcp, "tcpKeepalive"),
        ] {
            if let Some(n) = parent.and_then(|p| p.get(key)) {
                n.mark_all();
                problems.push((n, format!("spec.trafficPolicy.connectionPool.{key}"), "not modelled: chaoscal's bulkhead (max_in_flight, per caller replica) refuses at once beyond its limit".to_string()));
            }
        }
        if let Some(h) = http {
            h.get("http2MaxRequests");
        }
    }
    if let Some(lb) = tp.get("loadBalancer") {
        match lb.get("simple").and_then(|s| s.scalar()) {
            Some("ROUND_ROBIN") => push(Scope::Service, "balancer", OverrideValue::Text("round_robin".into())),
            Some("RANDOM") => push(Scope::Service, "balancer", OverrideValue::Text("random".into())),
            Some("LEAST_REQUEST" | "LEAST_CONN") => push(
                Scope::Service,
                "balancer",
                OverrideValue::Text("least_outstanding".into()),
            ),
            _ => {}
        }
        for e in lb.entries() {
            if e.key != "simple" {
                problems.push((
                    &e.value,
                    format!("spec.trafficPolicy.loadBalancer.{}", e.key),
                    "not modelled (chaoscal's locality rule is the service's `locality`)".to_string(),
                ));
            }
        }
    }
    for (n, p, m) in problems {
        cx.warn(d, n, &p, m);
    }
    for key in ["tls", "portLevelSettings", "tunnel", "proxyProtocol"] {
        if let Some(n) = tp.get(key) {
            n.mark_all();
            cx.warn(d, n, &join("spec.trafficPolicy", key), "not modelled");
        }
    }
}

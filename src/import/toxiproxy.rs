//! Toxiproxy proxies and their toxics, as `GET /proxies` returns them (a
//! map of proxy name to proxy) or as a JSON array of proxies each with a
//! `toxics` list (the `-config` file with toxics added). A proxy stands for
//! a service (its `upstream` host, or `--proxy NAME=SERVICE[@REGION]`) or a
//! link (`--proxy NAME=between:A,B`). The mapping: docs/import.md, "Toxiproxy".

use super::mapping::{self, Picked};
use super::yaml::{Node, Value, join};
use super::{Cx, D, DelayOut, FaultOut, ProxyTarget, TargetOut, boolean, number};
use crate::model::{CallTarget, FaultKind};

/// A list or map of proxies (objects with `upstream` or `listen`).
pub fn is_proxy_list(root: &Node) -> bool {
    let proxy =
        |n: &Node| matches!(&n.value, Value::Map(e) if e.iter().any(|e| e.key == "upstream" || e.key == "listen"));
    match &root.value {
        Value::Seq(items) => !items.is_empty() && items.iter().all(proxy),
        Value::Map(entries) => proxy(root) || (!entries.is_empty() && entries.iter().all(|e| proxy(&e.value))),
        _ => false,
    }
}

pub fn convert(cx: &mut Cx, d: &D, root: &Node) {
    let list: Vec<(String, &Node)> = match &root.value {
        Value::Seq(_) => root
            .items()
            .iter()
            .enumerate()
            .map(|(i, p)| (format!("[{i}]"), p))
            .collect(),
        Value::Map(_) if root.get("upstream").is_some() || root.get("listen").is_some() => vec![(String::new(), root)],
        Value::Map(_) => root.entries().iter().map(|e| (e.key.clone(), &e.value)).collect(),
        _ => Vec::new(),
    };
    for (path, p) in list {
        proxy(cx, d, p, &path);
    }
}

/// Where the proxy sits.
enum Place {
    Service(Picked),
    Link(String, String),
}

fn place(cx: &mut Cx, d: &D, p: &Node, path: &str, name: &str) -> Option<Place> {
    if let Some((_, t)) = cx.opts.proxies.iter().find(|(n, _)| n == name) {
        let t = t.clone();
        return match t {
            ProxyTarget::Link(a, b) => {
                if cx.topo.region_by_name(&a).is_none() || cx.topo.region_by_name(&b).is_none() {
                    cx.err(d, p, path, format!("--proxy {name}: unknown region in between:{a},{b}"));
                    return None;
                }
                Some(Place::Link(a, b))
            }
            ProxyTarget::Service { service, region } => {
                let Some(s) = cx.topo.service_by_name(&service) else {
                    cx.err(d, p, path, format!("--proxy {name}: unknown service \"{service}\""));
                    return None;
                };
                let present = cx.topo.services[s.index()].present.clone();
                let regions = match &region {
                    None => present,
                    Some(r) => match cx.topo.region_by_name(r) {
                        Some(r) if present[r.index()] => (0..present.len()).map(|i| i == r.index()).collect(),
                        _ => {
                            cx.err(d, p, path, format!("--proxy {name}: {service} does not run in \"{r}\""));
                            return None;
                        }
                    },
                };
                Some(Place::Service(Picked { service: s, regions }))
            }
        };
    }
    let up = p.get("upstream").and_then(|u| u.scalar()).unwrap_or("").to_string();
    let host = up.rsplit_once(':').map_or(up.as_str(), |(h, _)| h).to_string();
    mapping::host(cx, d, p.get("upstream").unwrap_or(p), &join(path, "upstream"), &host).map(Place::Service)
}

fn proxy(cx: &mut Cx, d: &D, p: &Node, path: &str) {
    let name = p
        .get("name")
        .and_then(|n| n.scalar())
        .map(str::to_string)
        .unwrap_or_else(|| path.to_string());
    p.get("listen");
    p.get("upstream");
    let enabled = p.get("enabled").and_then(boolean).unwrap_or(true);
    let toxics = p.get("toxics").map(|t| t.items()).unwrap_or(&[]);
    if enabled && toxics.is_empty() {
        return;
    }
    let Some(place) = place(cx, d, p, path, &name) else {
        p.mark_all();
        return;
    };
    let start = cx.start_s;
    let emit = |cx: &mut Cx, kind: FaultKind, fname: String, fill: &dyn Fn(&mut FaultOut)| {
        let targets = match &place {
            Place::Service(pk) => pk.targets(cx.topo),
            Place::Link(a, b) => vec![TargetOut::Link(a.clone(), b.clone())],
        };
        for t in targets {
            let mut f = FaultOut::new(d, kind, t);
            f.origin = format!("{}, proxy {name}", d.origin());
            f.name = fname.clone();
            f.start_s = start;
            fill(&mut f);
            cx.plan.faults.push(f);
        }
    };
    let link = matches!(place, Place::Link(..));
    if !enabled {
        if link {
            emit(cx, FaultKind::Partition, format!("{name}-disabled"), &|f| {
                f.notes = vec!["a disabled proxy passes nothing: the link is cut".into()]
            });
        } else {
            emit(cx, FaultKind::Abort, format!("{name}-disabled"), &|f| {
                f.error = Some(503);
                f.notes = vec!["a disabled proxy refuses connections: calls fail at once (503)".into()];
            });
        }
    }
    // The caller timeouts of calls to the service, for the `timeout` toxic.
    let caller_timeouts: Vec<Option<u64>> = match &place {
        Place::Service(pk) => (cx.topo.services.iter())
            .flat_map(|s| s.calls.iter())
            .filter(|c| c.to == CallTarget::Service(pk.service))
            .map(|c| c.timeout_ns)
            .collect(),
        Place::Link(..) => Vec::new(),
    };
    for (i, t) in toxics.iter().enumerate() {
        let tp = format!("{}.toxics[{i}]", if path.is_empty() { "proxy" } else { path });
        let ty = t.get("type").and_then(|n| n.scalar()).unwrap_or("").to_string();
        let tname = t
            .get("name")
            .and_then(|n| n.scalar())
            .map(str::to_string)
            .unwrap_or_else(|| format!("{name}-{ty}"));
        t.get("stream");
        let toxicity = t.get("toxicity").and_then(number).unwrap_or(1.0);
        if !(0.0..=1.0).contains(&toxicity) {
            cx.err(
                d,
                t,
                &join(&tp, "toxicity"),
                format!("toxicity is a probability between 0 and 1, found {toxicity}"),
            );
            continue;
        }
        if toxicity == 0.0 {
            cx.warn(
                d,
                t,
                &join(&tp, "toxicity"),
                "toxicity 0: the toxic touches nothing; not imported",
            );
            continue;
        }
        let pct = toxicity * 100.0;
        let attrs = t.get("attributes");
        let attr = |k: &str| attrs.and_then(|a| a.get(k)).and_then(number);
        let conn_note = "toxicity picks connections; chaoscal picks calls".to_string();
        match ty.as_str() {
            "latency" => {
                let lat = attr("latency").unwrap_or(0.0);
                let jit = attr("jitter").unwrap_or(0.0);
                let delay = if jit == 0.0 {
                    DelayOut::ConstMs(lat)
                } else {
                    DelayOut::UniformMs((lat - jit).max(0.0), lat + jit)
                };
                emit(cx, FaultKind::Latency, tname, &|f| {
                    f.delay = Some(delay.clone());
                    f.percent = Some(pct);
                    if pct < 100.0 {
                        f.notes = vec![conn_note.clone()];
                    }
                });
            }
            "timeout" | "reset_peer" | "limit_data" => {
                let ms = attr(if ty == "limit_data" { "bytes" } else { "timeout" }).unwrap_or(0.0);
                if ty == "limit_data" && ms > 0.0 {
                    attrs.map(Node::mark_all);
                    cx.warn(d, t, &tp, "not modelled: chaoscal has no message sizes, so a byte limit cannot be; skipped (bytes: 0 closes every connection and is imported as an abort)");
                    continue;
                }
                // Callers all give up before the toxic closes: a hang (lost answers).
                let hang = ty == "timeout"
                    && (ms == 0.0
                        || (!caller_timeouts.is_empty()
                            && caller_timeouts
                                .iter()
                                .all(|c| c.is_some_and(|ns| (ns as f64) <= ms * 1e6))));
                if hang || link {
                    emit(cx, FaultKind::PacketLoss, tname, &|f| {
                        f.percent = Some(pct);
                        f.notes = vec![format!("{ty}: no answer comes, the caller times out")];
                    });
                } else {
                    emit(cx, FaultKind::Abort, tname, &|f| {
                        f.percent = Some(pct);
                        f.error = Some(503);
                        f.notes = vec![format!(
                            "{ty}: the connection is closed and the call fails (503){}",
                            if ms > 0.0 {
                                format!("; at once here, after {ms} ms in reality")
                            } else {
                                String::new()
                            }
                        )];
                    });
                }
            }
            "bandwidth" | "slow_close" | "slicer" => {
                t.mark_all();
                cx.warn(
                    d,
                    t,
                    &tp,
                    format!("not modelled: {ty} works on bytes and connections, which chaoscal does not have; skipped"),
                );
                continue;
            }
            _ => {
                t.mark_all();
                cx.err(d, t, &join(&tp, "type"), format!("unknown toxic type \"{ty}\""));
                continue;
            }
        }
        if let Some(a) = attrs {
            a.mark_all();
        }
    }
}

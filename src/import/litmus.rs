//! LitmusChaos (`litmuschaos.io/v1alpha1`) ChaosEngine: `pod-delete`,
//! `pod-network-latency`, `pod-network-loss` and `pod-cpu-hog`, with their
//! env strings read as Litmus reads them (whole seconds, whole
//! milliseconds), and probes as SLOs where they can be. The mapping:
//! docs/import.md, "LitmusChaos".

use super::mapping;
use super::prometheus::{self, Measure};
use super::units;
use super::yaml::{Node, join};
use super::{Cx, D, DelayOut, FaultOut, SloOut};
use crate::model::FaultKind;

/// The objective of an SLO that stands for an httpProbe: 99% of the flow's
/// requests succeed in every window as long as the chaos.
pub const PROBE_OBJECTIVE: f64 = 0.99;
/// `[expect]` for a probe's SLO: the probe's verdict is Pass in 95% of
/// replications.
pub const PROBE_EXPECT: f64 = 0.05;
/// The most kills one pod-delete is written as.
const KILLS_MAX: usize = 32;

/// The env variables each experiment reads, with Litmus' defaults.
fn known_env(experiment: &str) -> &'static [(&'static str, &'static str)] {
    match experiment {
        "pod-delete" => &[
            ("TOTAL_CHAOS_DURATION", "15"),
            ("CHAOS_INTERVAL", "5"),
            ("FORCE", "true"),
            ("PODS_AFFECTED_PERC", "0"),
            ("RAMP_TIME", "0"),
            ("SEQUENCE", "parallel"),
            ("RANDOMNESS", "false"),
            ("TARGET_PODS", ""),
        ],
        "pod-network-latency" => &[
            ("TOTAL_CHAOS_DURATION", "60"),
            ("NETWORK_LATENCY", "2000"),
            ("JITTER", "0"),
            ("PODS_AFFECTED_PERC", "0"),
            ("RAMP_TIME", "0"),
            ("SEQUENCE", "parallel"),
            ("TARGET_PODS", ""),
            ("DESTINATION_IPS", ""),
            ("DESTINATION_HOSTS", ""),
        ],
        "pod-network-loss" => &[
            ("TOTAL_CHAOS_DURATION", "60"),
            ("NETWORK_PACKET_LOSS_PERCENTAGE", "100"),
            ("PODS_AFFECTED_PERC", "0"),
            ("RAMP_TIME", "0"),
            ("SEQUENCE", "parallel"),
            ("TARGET_PODS", ""),
            ("DESTINATION_IPS", ""),
            ("DESTINATION_HOSTS", ""),
        ],
        "pod-cpu-hog" => &[
            ("TOTAL_CHAOS_DURATION", "60"),
            ("CPU_CORES", "1"),
            ("CPU_LOAD", "100"),
            ("PODS_AFFECTED_PERC", "0"),
            ("RAMP_TIME", "0"),
            ("SEQUENCE", "parallel"),
            ("TARGET_PODS", ""),
        ],
        _ => &[],
    }
}

/// Env variables that only steer how Litmus runs (images, sockets,
/// interfaces): read, with no effect on a simulation.
const OPERATIONAL_ENV: &[&str] = &[
    "NETWORK_INTERFACE",
    "CONTAINER_RUNTIME",
    "SOCKET_PATH",
    "LIB",
    "LIB_IMAGE",
    "TC_IMAGE",
    "DEFAULT_HEALTH_CHECK",
    "STRESS_IMAGE",
    "NODE_LABEL",
];

pub fn convert(cx: &mut Cx, d: &D, root: &Node) {
    let Some(spec) = root.get("spec") else {
        cx.err(d, root, "spec", "a ChaosEngine needs `spec`");
        return;
    };
    for key in [
        "chaosServiceAccount",
        "jobCleanUpPolicy",
        "annotationCheck",
        "appinfo.appkind",
        "terminationGracePeriodSeconds",
        "components",
    ] {
        if let Some(n) = spec.get(key) {
            n.mark_all();
        }
    }
    if let Some(s) = spec.get("engineState")
        && s.scalar() == Some("stop")
    {
        spec.mark_all();
        cx.warn(d, s, "spec.engineState", "the engine is stopped: nothing imported");
        return;
    }
    let appinfo = spec.get("appinfo");
    let ns = appinfo
        .and_then(|a| a.get("appns"))
        .and_then(|n| n.scalar())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .or_else(|| d.namespace.clone());
    let label = appinfo
        .and_then(|a| a.get("applabel"))
        .and_then(|n| n.scalar())
        .unwrap_or("")
        .to_string();
    if let Some(a) = appinfo {
        a.get("appkind");
    }
    let labels: Vec<(String, String)> = label
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    let experiments = spec.get("experiments").map(|e| e.items()).unwrap_or(&[]);
    for (i, e) in experiments.iter().enumerate() {
        let ep = format!("spec.experiments[{i}]");
        let name = e.get("name").and_then(|n| n.scalar()).unwrap_or("").to_string();
        let es = e.get("spec");
        let env_node = es.and_then(|s| s.get("components")).and_then(|c| c.get("env"));
        if let Some(c) = es.and_then(|s| s.get("components")) {
            c.mark();
        }
        let known = known_env(&name);
        if known.is_empty() {
            e.mark_all();
            cx.warn(d, e, &ep, format!("experiment \"{name}\" is not modelled (the import reads pod-delete, pod-network-latency, pod-network-loss, pod-cpu-hog); skipped"));
            continue;
        }
        let mut env: Vec<(String, String, &Node)> = Vec::new();
        for (j, v) in env_node.map(|n| n.items()).unwrap_or(&[]).iter().enumerate() {
            let k = v.get("name").and_then(|n| n.scalar()).unwrap_or("").to_string();
            let val = v.get("value").and_then(|n| n.scalar()).unwrap_or("").to_string();
            if !known.iter().any(|(n, _)| *n == k) && !OPERATIONAL_ENV.contains(&k.as_str()) {
                cx.warn(
                    d,
                    v,
                    &format!("{ep}.spec.components.env[{j}]"),
                    format!("not modelled: {k} is not read for {name}; ignored"),
                );
            }
            env.push((k, val, v));
        }
        let get = |key: &str| -> (String, Option<&Node>) {
            match env.iter().find(|(k, ..)| k == key) {
                Some((_, v, n)) => (v.clone(), Some(*n)),
                None => (
                    known
                        .iter()
                        .find(|(k, _)| *k == key)
                        .map(|(_, v)| v.to_string())
                        .unwrap_or_default(),
                    None,
                ),
            }
        };
        let envp = format!("{ep}.spec.components.env");
        let int = |cx: &mut Cx, key: &str, unit: &str| -> Option<f64> {
            let (v, n) = get(key);
            match units::litmus_int(&v, unit) {
                Ok(x) => Some(x),
                Err(msg) => {
                    cx.err(d, n.unwrap_or(e), &format!("{envp}.{key}"), msg);
                    None
                }
            }
        };
        let (Some(total), Some(ramp), Some(perc)) = (
            int(cx, "TOTAL_CHAOS_DURATION", "seconds"),
            int(cx, "RAMP_TIME", "seconds"),
            int(cx, "PODS_AFFECTED_PERC", "percent"),
        ) else {
            continue;
        };
        for key in ["TARGET_PODS", "DESTINATION_IPS", "DESTINATION_HOSTS"] {
            let (v, n) = get(key);
            if !v.trim().is_empty() {
                cx.warn(d, n.unwrap_or(e), &format!("{envp}.{key}"), format!("not modelled: {key} narrows the chaos to some pods or destinations; chaoscal applies it to every call to the service"));
            }
        }
        // Pods: appinfo's labels in appns; PODS_AFFECTED_PERC of them, at least one.
        let namespaces = [ns.clone()];
        let found = mapping::matching(cx.topo, &labels, &namespaces);
        let Some(picked) = mapping::one(
            cx,
            d,
            appinfo.unwrap_or(spec),
            "spec.appinfo",
            &mapping::describe(&labels, &namespaces),
            found,
        ) else {
            e.mark_all();
            continue;
        };
        let n = picked.pods(cx.topo);
        let k = ((perc as u32).saturating_mul(n) / 100).clamp(1, n.max(1));
        let share = 100.0 * f64::from(k) / f64::from(n.max(1));
        let (seq, seq_node) = get("SEQUENCE");
        if seq == "serial" && k > 1 {
            cx.warn(
                d,
                seq_node.unwrap_or(e),
                &format!("{envp}.SEQUENCE"),
                "approximated: serial chaos takes the pods one after another; chaoscal applies it to all at once",
            );
        }
        let fault_name = format!("{}-{name}", d.name);
        let mut faults: Vec<FaultOut> = Vec::new();
        let make = |kind, fill: &dyn Fn(&mut FaultOut)| -> Vec<FaultOut> {
            picked
                .targets(cx.topo)
                .into_iter()
                .enumerate()
                .map(|(ti, t)| {
                    let mut f = FaultOut::new(d, kind, t);
                    f.name = if ti == 0 {
                        fault_name.clone()
                    } else {
                        format!("{fault_name}-{ti}")
                    };
                    f.start_s = ramp;
                    f.duration_s = Some(total);
                    fill(&mut f);
                    f
                })
                .collect()
        };
        match name.as_str() {
            "pod-delete" => {
                let Some(interval) = int(cx, "CHAOS_INTERVAL", "seconds") else {
                    continue;
                };
                let (force, fnode) = get("FORCE");
                if force == "false" {
                    cx.warn(
                        d,
                        fnode.unwrap_or(e),
                        &format!("{envp}.FORCE"),
                        "not modelled: a graceful delete lets requests finish; chaoscal fails them at once",
                    );
                }
                let (random, rnode) = get("RANDOMNESS");
                if random == "true" {
                    cx.warn(
                        d,
                        rnode.unwrap_or(e),
                        &format!("{envp}.RANDOMNESS"),
                        "approximated: kills at every CHAOS_INTERVAL, not at random times within it",
                    );
                }
                let interval = interval.max(1.0);
                let rounds = ((total / interval).ceil() as usize).max(1);
                if rounds > KILLS_MAX {
                    cx.warn(
                        d,
                        e,
                        &ep,
                        format!("{rounds} rounds of deletes: the first {KILLS_MAX} are imported"),
                    );
                }
                let restart = cx.opts.pod_restart_s;
                for r in 0..rounds.min(KILLS_MAX) {
                    let mut fs = make(FaultKind::Kill, &|f| {
                        f.replicas = Some(k);
                        f.duration_s = Some(restart);
                        f.notes = vec![format!(
                            "round {} of pod-delete: {k} of {n} pods deleted, replaced after {restart} s (--pod-restart-s)",
                            r + 1
                        )];
                    });
                    for f in &mut fs {
                        f.start_s = ramp + r as f64 * interval;
                        f.name = format!("{}-{}", f.name, r + 1);
                        if k > cx.topo.services[picked.service.index()].replicas {
                            f.replicas = None;
                            f.percent = Some(100.0);
                        }
                    }
                    faults.extend(fs);
                }
            }
            "pod-network-latency" => {
                let (Some(lat), Some(jit)) = (
                    int(cx, "NETWORK_LATENCY", "milliseconds"),
                    int(cx, "JITTER", "milliseconds"),
                ) else {
                    continue;
                };
                let delay = if jit == 0.0 {
                    DelayOut::ConstMs(lat)
                } else {
                    DelayOut::UniformMs((lat - jit).max(0.0), lat + jit)
                };
                faults.extend(make(FaultKind::Latency, &|f| {
                    f.delay = Some(delay.clone());
                    f.percent = Some(share);
                    f.notes = vec!["tc netem delays what the pod sends: calls to it wait (jitter: uniform ± JITTER, netem's default)".to_string()];
                }));
            }
            "pod-network-loss" => {
                let Some(p) = int(cx, "NETWORK_PACKET_LOSS_PERCENTAGE", "percent") else {
                    continue;
                };
                faults.extend(make(FaultKind::PacketLoss, &|f| {
                    f.percent = Some(p.min(100.0) * share / 100.0);
                    f.notes = vec!["a lost packet loses the whole answer and the caller times out (TCP would retransmit it: the pessimistic end)".to_string()];
                }));
            }
            "pod-cpu-hog" => {
                let (Some(cores), Some(load)) = (int(cx, "CPU_CORES", "cores"), int(cx, "CPU_LOAD", "percent")) else {
                    continue;
                };
                let cpus = cx.opts.cpus_per_pod;
                let full = 1.0 + cores * load.min(100.0) / 100.0 / cpus;
                let factor = (1.0 + (full - 1.0) * share / 100.0).min(1000.0);
                faults.extend(make(FaultKind::Slowdown, &|f| {
                    f.factor = Some(factor);
                    f.notes = vec![format!("{cores} core(s) at {load}% share the pod's {cpus} CPU(s) with the service: factor 1 + cores·load/cpus = {full}, spread over the pods ({share:.1}% stressed)")];
                }));
            }
            _ => {}
        }
        let start = cx.start_s;
        cx.plan.faults.extend(faults.into_iter().map(|mut f| {
            f.start_s += start;
            f
        }));
        if let Some(probes) = es.and_then(|s| s.get("probe")) {
            for (j, p) in probes.items().iter().enumerate() {
                probe(cx, d, p, &format!("{ep}.spec.probe[{j}]"), total);
            }
        }
    }
}

/// A probe as an SLO (and its `[expect]`), where it can be.
fn probe(cx: &mut Cx, d: &D, p: &Node, path: &str, chaos_s: f64) {
    let name = p.get("name").and_then(|n| n.scalar()).unwrap_or("probe").to_string();
    let ty = p.get("type").and_then(|n| n.scalar()).unwrap_or("").to_string();
    let mode = p.get("mode").and_then(|n| n.scalar()).unwrap_or("").to_string();
    if let Some(rp) = p.get("runProperties") {
        rp.mark_all();
    }
    if !matches!(mode.as_str(), "Continuous" | "OnChaos") {
        p.mark_all();
        cx.warn(
            d,
            p,
            &join(path, "mode"),
            format!(
                "not modelled: mode {mode} checks before or after the chaos; chaoscal's SLOs measure the whole run"
            ),
        );
        return;
    }
    let window_s = chaos_s.max(10.0);
    let inputs = p.get(&format!("{ty}/inputs"));
    match ty.as_str() {
        "httpProbe" => {
            let Some(inputs) = inputs else {
                cx.err(d, p, path, "an httpProbe needs `httpProbe/inputs`");
                return;
            };
            let url = inputs.get("url").and_then(|u| u.scalar()).unwrap_or("").to_string();
            inputs.get("method").map(Node::mark_all);
            inputs.get("insecureSkipVerify");
            let host = url
                .split("://")
                .nth(1)
                .unwrap_or(&url)
                .split('/')
                .next()
                .unwrap_or("")
                .to_string();
            let Some(flow) = flow_entered_at(cx, d, inputs, &join(path, "httpProbe/inputs.url"), &host) else {
                return;
            };
            let mut slos = vec![SloOut {
                origin: format!("{}, {path}", d.origin()),
                notes: vec![format!(
                    "httpProbe {url}: {}% of the flow's requests succeed in every {window_s} s window (the chaos' length); [expect] its verdict passes in {}% of replications",
                    PROBE_OBJECTIVE * 100.0,
                    (1.0 - PROBE_EXPECT) * 100.0
                )],
                name: safe(&name),
                flow: flow.clone(),
                kind: "availability",
                objective: PROBE_OBJECTIVE,
                threshold_ms: None,
                window_s: Some(window_s),
                expect: Some(PROBE_EXPECT),
            }];
            if let Some(t) = inputs.get("responseTimeout").and_then(super::number) {
                slos.push(SloOut {
                    name: format!("{}-latency", safe(&name)),
                    kind: "latency",
                    threshold_ms: Some(t),
                    notes: vec![format!(
                        "the probe's responseTimeout {t} ms: {}% of requests within it",
                        PROBE_OBJECTIVE * 100.0
                    )],
                    ..slos[0].clone()
                });
            }
            cx.plan.slos.extend(slos);
        }
        "promProbe" => {
            let Some(inputs) = inputs else {
                cx.err(d, p, path, "a promProbe needs `promProbe/inputs`");
                return;
            };
            inputs.get("endpoint");
            let query = inputs.get("query").and_then(|q| q.scalar()).unwrap_or("").to_string();
            let cmp = inputs.get("comparator");
            let criteria = cmp
                .and_then(|c| c.get("criteria"))
                .and_then(|c| c.scalar())
                .unwrap_or("")
                .to_string();
            let value = cmp.and_then(|c| c.get("value")).and_then(super::number);
            let slo = match (prometheus::measure(&query), criteria.as_str(), value) {
                (Some(Measure::SuccessRatio), ">=" | ">", Some(v)) if v > 0.0 && v < 1.0 => {
                    Some(("availability", v, None))
                }
                (Some(Measure::ErrorRatio), "<=" | "<", Some(v)) if v > 0.0 && v < 1.0 => {
                    Some(("availability", 1.0 - v, None))
                }
                (Some(Measure::P99Ms), "<=" | "<", Some(v)) if v > 0.0 => Some(("latency", 0.99, Some(v))),
                _ => None,
            };
            let Some((kind, objective, threshold_ms)) = slo else {
                inputs.mark_all();
                cx.warn(d, inputs, &join(path, "promProbe/inputs"), "not understood: the query and comparator are not an Istio success/error ratio or p99 with a bound (see docs/import.md); skipped");
                return;
            };
            let flows: Vec<String> = cx.topo.flows.iter().map(|f| f.name.clone()).collect();
            let flow = if flows.len() == 1 {
                flows[0].clone()
            } else {
                String::new()
            };
            cx.plan.slos.push(SloOut {
                origin: format!("{}, {path}", d.origin()),
                notes: vec![format!(
                    "promProbe {criteria} {}: an {kind} SLO over every {window_s} s window",
                    value.unwrap_or(0.0)
                )],
                name: safe(&name),
                flow,
                kind,
                objective,
                threshold_ms,
                window_s: Some(window_s),
                expect: Some(PROBE_EXPECT),
            });
        }
        _ => {
            p.mark_all();
            cx.warn(
                d,
                p,
                &join(path, "type"),
                format!("not modelled: a {ty} checks something chaoscal does not simulate; skipped"),
            );
        }
    }
}

/// The flow whose entry service a host names (an SLO is per flow).
fn flow_entered_at(cx: &mut Cx, d: &D, node: &Node, path: &str, host: &str) -> Option<String> {
    let picked = mapping::host(cx, d, node, path, host)?;
    let flows: Vec<&str> = cx
        .topo
        .flows
        .iter()
        .filter(|f| f.entry == picked.service)
        .map(|f| f.name.as_str())
        .collect();
    match flows.as_slice() {
        [] => {
            cx.warn(
                d,
                node,
                path,
                format!(
                    "not modelled: {} is no flow's entry, and chaoscal's SLOs are per flow; skipped",
                    picked.name(cx.topo)
                ),
            );
            None
        }
        _ if flows.len() == cx.topo.flows.len() => Some(String::new()),
        [first, ..] => Some(first.to_string()),
    }
}

/// A name usable as an SLO name.
fn safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}
